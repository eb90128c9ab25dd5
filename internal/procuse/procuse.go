// Package procuse reads what a running process has used so far, from
// Linux's /proc: CPU time and thread switches to the nanosecond and the
// switch (every thread's schedstat), read and write system calls, and minor
// page faults. The benchmark tools read their server and reader processes
// through it, before and after what they measure.
package procuse

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Use is what a process has used so far.
type Use struct {
	// CPU is the time its threads ran on a core (the sum of schedstat's
	// run time over /proc/PID/task/*; /proc/PID/schedstat is the main
	// thread's alone). Nanoseconds, not the 10 ms ticks of /proc/PID/stat.
	CPU time.Duration
	// Switches counts the times its threads were switched in to run (the
	// run count of schedstat): each is a thread switch on a core.
	Switches int64
	// Syscalls counts its read- and write-like system calls (syscr and
	// syscw of /proc/PID/io: read, write and their vector and positional
	// forms; not epoll, futex or nanosleep).
	Syscalls int64
	// MinorFaults counts its minor page faults (minflt of /proc/PID/stat).
	MinorFaults int64
}

// Minus is u - v.
func (u Use) Minus(v Use) Use {
	return Use{CPU: u.CPU - v.CPU, Switches: u.Switches - v.Switches, Syscalls: u.Syscalls - v.Syscalls,
		MinorFaults: u.MinorFaults - v.MinorFaults}
}

// Plus is u + v.
func (u Use) Plus(v Use) Use {
	return Use{CPU: u.CPU + v.CPU, Switches: u.Switches + v.Switches, Syscalls: u.Syscalls + v.Syscalls,
		MinorFaults: u.MinorFaults + v.MinorFaults}
}

// Read reads what process pid has used so far. A thread that ends while
// it is read is left out: its run time leaves the sums, so compare
// readings of processes that keep their threads (Go programs do).
func Read(pid int) (Use, error) {
	var u Use
	proc := "/proc/" + strconv.Itoa(pid)
	fail := func(err error) (Use, error) { return Use{}, fmt.Errorf("use of process %d: %w", pid, err) }
	tasks, err := os.ReadDir(proc + "/task")
	if err != nil {
		return fail(err)
	}
	for _, t := range tasks {
		b, err := os.ReadFile(proc + "/task/" + t.Name() + "/schedstat")
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ESRCH) {
			continue // the thread ended since the listing
		}
		if err != nil {
			return fail(err)
		}
		f := strings.Fields(string(b))
		if len(f) != 3 {
			return fail(fmt.Errorf("schedstat %q: want 3 fields", b))
		}
		ns, err1 := strconv.ParseInt(f[0], 10, 64)
		runs, err2 := strconv.ParseInt(f[2], 10, 64)
		if err := errors.Join(err1, err2); err != nil {
			return fail(fmt.Errorf("schedstat %q: %w", b, err))
		}
		u.CPU += time.Duration(ns)
		u.Switches += runs
	}
	counters, err := os.ReadFile(proc + "/io")
	if err != nil {
		return fail(err)
	}
	for line := range strings.Lines(string(counters)) {
		k, v, _ := strings.Cut(strings.TrimSpace(line), ": ")
		if k == "syscr" || k == "syscw" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return fail(fmt.Errorf("io %s: %w", k, err))
			}
			u.Syscalls += n
		}
	}
	if u.MinorFaults, err = minorFaults(proc); err != nil {
		return fail(err)
	}
	return u, nil
}

// minorFaults reads field 10 (minflt) of proc/stat.
func minorFaults(proc string) (int64, error) {
	b, err := os.ReadFile(proc + "/stat")
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may hold spaces and parentheses: the
	// fields count from after the last ')', which ends it.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	f := strings.Fields(s[i+1:])
	if i < 0 || len(f) < 8 {
		return 0, fmt.Errorf("stat %q: unexpected format", b)
	}
	// f[0] is field 3 (state): minflt is field 10.
	n, err := strconv.ParseInt(f[7], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("stat minflt: %w", err)
	}
	return n, nil
}
