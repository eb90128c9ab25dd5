//go:build unix

package containers

import (
	"os"
	"syscall"
)

// lockInputs takes an exclusive lock on the file path (created if needed),
// waiting for another process that holds it; unlock releases it.
func lockInputs(path string) (unlock func(), err error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}
