package rawio

import (
	"io"
	"os"
)

// LogOutput returns where a program's log to f is best written: a
// LogWriter when it writes f raw (f is a pipe, on Linux), f itself
// otherwise, so that a terminal stays an *os.File for a logger that looks
// at it (zerolog's console format). done releases what LogOutput opened;
// call it when the log is no longer written.
func LogOutput(f *os.File) (w io.Writer, done func()) {
	if lw := NewLogWriter(f); lw.Raw() {
		return lw, func() { _ = lw.Close() }
	}
	return f, func() {}
}
