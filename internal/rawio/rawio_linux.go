//go:build linux

package rawio

import (
	"errors"
	"io"
	"net"
	"os"
	"syscall"
	"unsafe"
)

// Conn is a TCP connection whose Read and Write use raw system calls.
// The other methods are the *net.TCPConn's (io.Copy into or out of a Conn
// takes its ReadFrom and WriteTo, which use ordinary system calls).
type Conn struct {
	*net.TCPConn
	rc syscall.RawConn
}

// Wrap returns c as a Conn when it is a TCP connection, and c itself
// otherwise (and on systems other than Linux).
func Wrap(c net.Conn) net.Conn {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return c
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return c
	}
	return &Conn{TCPConn: tc, rc: rc}
}

// Read implements io.Reader.
func (c *Conn) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	var n int
	var errno syscall.Errno
	err := c.rc.Read(func(fd uintptr) bool {
		for {
			r, _, e := syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
			switch e {
			case syscall.EINTR:
				continue
			case syscall.EAGAIN:
				return false // wait in the poller
			}
			n, errno = int(r), e
			return true
		}
	})
	switch {
	case err != nil:
		return 0, c.opErr("read", err)
	case errno != 0:
		return 0, c.opErr("read", os.NewSyscallError("read", errno))
	case n == 0:
		return 0, io.EOF
	}
	return n, nil
}

// Write implements io.Writer.
func (c *Conn) Write(p []byte) (int, error) {
	done, errno, err := rawWrite(c.rc, p)
	switch {
	case err != nil:
		return done, c.opErr("write", err)
	case errno != 0:
		return done, c.opErr("write", os.NewSyscallError("write", errno))
	}
	return done, nil
}

// rawWrite writes all of p to rc's non-blocking descriptor with raw
// system calls, waiting in the poller while it is full. It returns how
// much was written, and the RawConn's error (a deadline, a closed
// descriptor) or the system call's.
func rawWrite(rc syscall.RawConn, p []byte) (done int, errno syscall.Errno, err error) {
	err = rc.Write(func(fd uintptr) bool {
		for done < len(p) {
			r, _, e := syscall.RawSyscall(syscall.SYS_WRITE, fd, uintptr(unsafe.Pointer(&p[done])), uintptr(len(p)-done))
			switch e {
			case 0:
				done += int(r)
			case syscall.EINTR:
			case syscall.EAGAIN:
				return false // wait in the poller
			default:
				errno = e
				return true
			}
		}
		return true
	})
	return done, errno, err
}

// opErr reports err as net.TCPConn's Read and Write do. The RawConn's own
// errors (a deadline, a closed connection) come as a *net.OpError of op
// "raw-read" or "raw-write": its cause is reported instead.
func (c *Conn) opErr(op string, err error) error {
	if oe, ok := errors.AsType[*net.OpError](err); ok {
		err = oe.Err
	}
	return &net.OpError{Op: op, Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: err}
}
