package rawio

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// pipe returns the two ends of an os.Pipe, closed at the test's end.
func pipe(t *testing.T) (r, w *os.File) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close(); w.Close() })
	return r, w
}

// On a pipe the writer takes the raw path, on a descriptor of its own
// that is non-blocking, and the pipe's own descriptor keeps its flags
// (other processes share them).
func TestLogWriterOpensThePipeAnew(t *testing.T) {
	r, w := pipe(t)
	lw := NewLogWriter(w)
	defer lw.Close()
	if !lw.Raw() || lw.own.Fd() == w.Fd() {
		t.Fatalf("raw %v, own fd %v, pipe fd %d", lw.Raw(), lw.own, w.Fd())
	}
	flags := func(fd uintptr) int {
		fl, _, e := syscall.Syscall(syscall.SYS_FCNTL, fd, syscall.F_GETFL, 0)
		if e != 0 {
			t.Fatal(e)
		}
		return int(fl)
	}
	if flags(w.Fd())&syscall.O_NONBLOCK != 0 {
		t.Error("the pipe's own descriptor was made non-blocking")
	}
	if flags(lw.own.Fd())&syscall.O_NONBLOCK == 0 {
		t.Error("the writer's descriptor blocks")
	}
	if n, err := lw.Write([]byte("one line\n")); n != 9 || err != nil {
		t.Fatalf("write: %d %v", n, err)
	}
	got := make([]byte, 9)
	if _, err := io.ReadFull(r, got); err != nil || string(got) != "one line\n" {
		t.Fatalf("read %q %v", got, err)
	}
}

// More than the pipe holds, written while the reader starts late: the
// writer waits for room (EAGAIN, in the poller) and nothing is lost,
// reordered or cut; lines from several goroutines stay whole.
func TestLogWriterWaitsForRoom(t *testing.T) {
	r, w := pipe(t)
	lw := NewLogWriter(w)
	defer lw.Close()
	const writers, lines = 4, 2000 // 8,000 lines of 100 bytes: 12 pipes' worth
	var wg sync.WaitGroup
	for g := range writers {
		wg.Go(func() {
			for i := range lines {
				line := fmt.Sprintf("%d %06d %s\n", g, i, strings.Repeat("x", 90))
				if n, err := lw.Write([]byte(line)); n != len(line) || err != nil {
					t.Errorf("write: %d %v", n, err)
					return
				}
			}
		})
	}
	time.Sleep(50 * time.Millisecond) // the pipe fills before anything reads it
	next := make([]int, writers)
	sc := bufio.NewScanner(r)
	for n := 0; n < writers*lines && sc.Scan(); n++ {
		var g, i int
		var rest string
		if _, err := fmt.Sscanf(sc.Text(), "%d %d %s", &g, &i, &rest); err != nil || len(rest) != 90 || g < 0 || g >= writers {
			t.Fatalf("line %q cut or mixed: %v", sc.Text(), err)
		}
		if i != next[g] {
			t.Fatalf("writer %d: line %d after %d", g, i, next[g]-1)
		}
		next[g]++
	}
	wg.Wait()
	if n := lw.fallbacks.Load(); n != 0 {
		t.Errorf("%d writes went to the original file: the writer did not wait for room", n)
	}
	for g, n := range next {
		if n != lines {
			t.Errorf("writer %d: %d lines read, want %d", g, n, lines)
		}
	}
}

// A pipe without a reader: the write is made again on the original file,
// which reports the broken pipe as a write to it would.
func TestLogWriterBrokenPipeGoesToTheOriginal(t *testing.T) {
	r, w := pipe(t)
	lw := NewLogWriter(w)
	defer lw.Close()
	r.Close()
	_, err := lw.Write([]byte("lost\n"))
	if n := lw.fallbacks.Load(); n != 1 {
		t.Errorf("%d writes went to the original file, want 1", n)
	}
	if !errors.Is(err, syscall.EPIPE) {
		t.Fatalf("write to a pipe without a reader: %v, want EPIPE", err)
	}
	var pe *os.PathError
	if !errors.As(err, &pe) || pe.Path != w.Name() {
		t.Errorf("error %v does not come from the original file %q", err, w.Name())
	}
}

// Anything but a pipe (here a file) is written as it is; after Close the
// writes go to the original file too.
func TestLogWriterOtherFilesUnchanged(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "log"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	lw := NewLogWriter(f)
	if lw.Raw() {
		t.Fatal("a regular file takes the raw path")
	}
	if _, err := lw.Write([]byte("a\n")); err != nil {
		t.Fatal(err)
	}
	if err := lw.Close(); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(f.Name()); string(b) != "a\n" {
		t.Fatalf("file holds %q", b)
	}

	r, w := pipe(t)
	pw := NewLogWriter(w)
	if err := pw.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := pw.Write([]byte("after close\n")); err != nil {
		t.Fatalf("write after Close: %v", err)
	}
	got := make([]byte, len("after close\n"))
	if _, err := io.ReadFull(r, got); err != nil || !bytes.Equal(got, []byte("after close\n")) {
		t.Fatalf("read %q %v", got, err)
	}
}

// LogOutput writes a pipe raw and leaves a regular file as it is.
func TestLogOutput(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	out, done := LogOutput(w)
	if _, ok := out.(*LogWriter); !ok {
		t.Errorf("a pipe: LogOutput gave %T, want *LogWriter", out)
	}
	if _, err := io.WriteString(out, "line\n"); err != nil {
		t.Fatal(err)
	}
	done()
	buf := make([]byte, 16)
	if n, err := r.Read(buf); err != nil || string(buf[:n]) != "line\n" {
		t.Errorf("read %q, %v through the pipe", buf[:n], err)
	}

	f, err := os.Create(filepath.Join(t.TempDir(), "log"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out, done = LogOutput(f)
	defer done()
	if out != io.Writer(f) {
		t.Errorf("a regular file: LogOutput gave %T, want the file itself", out)
	}
}
