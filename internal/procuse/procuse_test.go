package procuse

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

func selfCPU(t *testing.T) time.Duration {
	t.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// TestReadSelf reads this test's own process around work of each kind it
// counts: the readings grow by what was done.
func TestReadSelf(t *testing.T) {
	pid := os.Getpid()
	before, err := Read(pid)
	if err != nil {
		t.Fatal(err)
	}
	if before.CPU <= 0 || before.Switches <= 0 || before.MinorFaults <= 0 {
		t.Fatalf("a running process has used nothing: %+v", before)
	}

	// 50 ms of CPU by getrusage's count, 200 writes, 256 fresh pages, and
	// 20 sleeps (each a switch out and back in).
	ru0 := selfCPU(t)
	x := 0
	for selfCPU(t)-ru0 < 50*time.Millisecond {
		for i := range 100000 {
			x += i ^ x
		}
	}
	f, err := os.Create(filepath.Join(t.TempDir(), "w"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for range 200 {
		if _, err := f.Write([]byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	mem, err := syscall.Mmap(-1, 0, 256<<12, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Munmap(mem)
	for i := 0; i < len(mem); i += 1 << 12 {
		mem[i] = byte(x)
	}
	for range 20 {
		time.Sleep(time.Millisecond)
	}
	ru1 := selfCPU(t)

	after, err := Read(pid)
	if err != nil {
		t.Fatal(err)
	}
	d := after.Minus(before)
	if d.CPU < (ru1-ru0)/2 || d.CPU > 2*(ru1-ru0)+100*time.Millisecond {
		t.Errorf("CPU grew by %v, getrusage by %v", d.CPU, ru1-ru0)
	}
	if d.Syscalls < 200 {
		t.Errorf("system calls grew by %d, want at least the 200 writes", d.Syscalls)
	}
	if d.MinorFaults < 256 {
		t.Errorf("minor faults grew by %d, want at least the 256 pages touched", d.MinorFaults)
	}
	if d.Switches < 20 {
		t.Errorf("switches grew by %d, want at least the 20 sleeps", d.Switches)
	}
	if sum := before.Plus(d); sum != after {
		t.Errorf("before + (after - before) = %+v, want %+v", sum, after)
	}
}

func TestReadNoProcess(t *testing.T) {
	if u, err := Read(1 << 30); err == nil {
		t.Fatalf("no process, read %+v", u)
	}
}
