package main

import (
	"bytes"
	"errors"
	"fmt"
	"syscall"
	"time"

	"github.com/google/pprof/profile"
)

// processCPU is the user and system CPU time of the process so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// cpuByLabel sums the CPU time of a runtime/pprof CPU profile by the value
// of one sample label; samples without the label count under "".
func cpuByLabel(gz []byte, key string) (map[string]time.Duration, error) {
	p, err := profile.Parse(bytes.NewReader(gz))
	if err != nil {
		return nil, fmt.Errorf("read cpu profile: %w", err)
	}
	cpu := -1
	for i, st := range p.SampleType {
		if st.Type == "cpu" && st.Unit == "nanoseconds" {
			cpu = i
		}
	}
	if cpu < 0 {
		return nil, errors.New("read cpu profile: no cpu/nanoseconds sample type")
	}
	out := map[string]time.Duration{}
	for _, s := range p.Sample {
		if cpu >= len(s.Value) {
			continue
		}
		val := ""
		if vs := s.Label[key]; len(vs) > 0 {
			val = vs[len(vs)-1]
		}
		out[val] += time.Duration(s.Value[cpu])
	}
	return out, nil
}
