//go:build unix

package lease

import (
	"os"
	"syscall"
)

// flock takes an exclusive advisory lock on f (dropped when f is closed).
func flock(f *os.File) error {
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
		if err != syscall.EINTR {
			return err
		}
	}
}
