package main

import (
	"syscall"
	"time"

	"github.com/dgp-proxy/dgp/internal/procuse"
)

// cpuTimes is the CPU time (user + system) used so far by this process
// (every in-process dgp instance and the probes) and by each server the
// environment started.
type cpuTimes map[string]time.Duration

// cpu reads the CPU times now.
func (e *env) cpu() cpuTimes {
	out := cpuTimes{}
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		out["dgp"] = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	for name, pid := range e.pids {
		if u, err := procuse.Read(pid); err == nil {
			out[name] = u.CPU
		}
	}
	return out
}

// sub returns c - before, per name.
func (c cpuTimes) sub(before cpuTimes) cpuTimes {
	out := cpuTimes{}
	for k, v := range c {
		out[k] = v - before[k]
	}
	return out
}
