//go:build !linux

package rawio

import "os"

// LogWriter writes to f: raw system calls are used on Linux only.
type LogWriter struct{ orig *os.File }

// NewLogWriter returns a LogWriter whose writes go to f.
func NewLogWriter(f *os.File) *LogWriter { return &LogWriter{orig: f} }

// Raw reports false: writes go to f.
func (w *LogWriter) Raw() bool { return false }

// Write implements io.Writer.
func (w *LogWriter) Write(p []byte) (int, error) { return w.orig.Write(p) }

// Close does nothing.
func (w *LogWriter) Close() error { return nil }
