//go:build linux

package rawio

import (
	"errors"
	"io"
	"os"
	"strconv"
	"sync/atomic"
	"syscall"
)

// LogWriter writes a process's log lines to its standard error without
// waking sysmon, when that is a pipe (as under Docker, Kubernetes and
// any parent that reads a child's output).
//
// Writing to the pipe's own descriptor cannot be made non-blocking: its
// flags are shared with every process holding the pipe. LogWriter opens
// the pipe anew through /proc/self/fd, which gives this process a
// descriptor of its own, non-blocking and waited on in the network
// poller. Its writes are raw system calls: a line fits in the pipe, or the
// call fails with EAGAIN and the goroutine waits in the poller for room,
// as a Conn's write does. Lines of up to PIPE_BUF bytes (4 KiB) stay whole
// between writers, as they do on the shared descriptor.
//
// A write that fails otherwise (the pipe has no reader: EPIPE) is made
// again on the original file, so that the process behaves as it does
// without LogWriter (Go ends a program whose write to fd 1 or 2 finds a
// broken pipe).
type LogWriter struct {
	orig *os.File
	own  *os.File        // the pipe opened anew; nil: writes go to orig
	rc   syscall.RawConn // own's
	// fallbacks counts the writes made again on orig (tests).
	fallbacks atomic.Int64
}

// NewLogWriter returns a LogWriter for f. When f is not a pipe, or the
// pipe cannot be opened anew, its writes go to f unchanged.
func NewLogWriter(f *os.File) *LogWriter {
	w := &LogWriter{orig: f}
	var st syscall.Stat_t
	if err := syscall.Fstat(int(f.Fd()), &st); err != nil || st.Mode&syscall.S_IFMT != syscall.S_IFIFO {
		return w
	}
	own, err := os.OpenFile("/proc/self/fd/"+strconv.Itoa(int(f.Fd())), os.O_WRONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return w
	}
	rc, err := own.SyscallConn()
	if err != nil {
		_ = own.Close()
		return w
	}
	w.own, w.rc = own, rc
	return w
}

// Raw reports whether writes take the raw path (f is a pipe).
func (w *LogWriter) Raw() bool { return w.own != nil }

// Write implements io.Writer.
func (w *LogWriter) Write(p []byte) (int, error) {
	if w.own == nil || len(p) == 0 {
		return w.orig.Write(p)
	}
	done, errno, err := rawWrite(w.rc, p) // waits in the poller for room
	if err == nil && errno == 0 {
		return done, nil
	}
	// EPIPE, or the descriptor closed: the original file says what that
	// means for this process.
	w.fallbacks.Add(1)
	n, err := w.orig.Write(p[done:])
	return done + n, err
}

// Close closes the descriptor LogWriter opened (not f). Writes after it go
// to f.
func (w *LogWriter) Close() error {
	if w.own == nil {
		return nil
	}
	err := w.own.Close()
	if errors.Is(err, os.ErrClosed) {
		err = nil
	}
	return err
}

var _ io.WriteCloser = (*LogWriter)(nil)
