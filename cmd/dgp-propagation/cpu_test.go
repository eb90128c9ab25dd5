package main

import (
	"os"
	"testing"
	"time"
)

// TestProcCountersOfThisProcess: the /proc readers give this process's
// counters, and the context switches grow when a thread sleeps.
func TestProcCountersOfThisProcess(t *testing.T) {
	pid := os.Getpid()
	if _, err := os.Stat("/proc/self/task"); err != nil {
		t.Skip("no /proc here")
	}
	s0, err := procSwitches(pid)
	if err != nil {
		t.Fatalf("switches: %v", err)
	}
	for range 3 {
		time.Sleep(2 * time.Millisecond) // each sleep parks a thread at least once
	}
	s1, err := procSwitches(pid)
	if err != nil {
		t.Fatalf("switches: %v", err)
	}
	if s0 <= 0 || s1 <= s0 {
		t.Fatalf("switches %d then %d: want positive and growing", s0, s1)
	}
	if _, err := procSwitches(1 << 30); err == nil {
		t.Fatal("switches of a process that does not exist: no error")
	}
	if f, err := procFaults(pid); err != nil || f <= 0 {
		t.Fatalf("faults %d, %v", f, err)
	}
}
