package soak

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"sync"
	"time"
)

// Sample is one instance's resources at one moment.
type Sample struct {
	At         time.Duration // since the traffic started
	Instance   string
	RSSKiB     int64 // VmRSS of /proc/<pid>/status
	FDs        int   // entries of /proc/<pid>/fd
	Goroutines int   // go_goroutines
	// HeapKiB is the heap the last collection marked live
	// (go_gc_heap_live_bytes / 1024): what a leak grows, whatever garbage
	// the collector's pacing lets accumulate between collections.
	HeapKiB int64
	Ops     int64 // the workers' requests so far (all instances)
	Err     string
}

// sampler samples every process every interval.
type sampler struct {
	procs    []*proc
	progress io.Writer
	ops      func() int64

	mu  sync.Mutex
	out []Sample
}

func newSampler(procs []*proc, progress io.Writer, ops func() int64) *sampler {
	return &sampler{procs: procs, progress: progress, ops: ops}
}

func (s *sampler) run(ctx context.Context, interval time.Duration) {
	start := time.Now()
	t := time.NewTicker(interval)
	defer t.Stop()
	if s.progress != nil {
		fmt.Fprintln(s.progress, tableHeader)
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		at := time.Since(start).Round(time.Second)
		for _, p := range s.procs {
			smp := sampleProc(ctx, p)
			if ctx.Err() != nil {
				return
			}
			smp.At, smp.Ops = at, s.ops()
			s.mu.Lock()
			s.out = append(s.out, smp)
			s.mu.Unlock()
			if s.progress != nil {
				fmt.Fprintln(s.progress, smp.row())
			}
		}
	}
}

func (s *sampler) samples() []Sample {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Sample(nil), s.out...)
}

// sampleProc reads p's RSS and descriptors from /proc and its goroutines
// and heap from its metrics.
func sampleProc(ctx context.Context, p *proc) Sample {
	smp := Sample{Instance: p.name}
	var errs []string
	if rss, err := procRSS(p.pid()); err == nil {
		smp.RSSKiB = rss
	} else {
		errs = append(errs, err.Error())
	}
	if ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", p.pid())); err == nil {
		smp.FDs = len(ents)
	} else {
		errs = append(errs, err.Error())
	}
	if m, err := p.metrics(ctx); err == nil {
		smp.Goroutines = int(m.Sum("go_goroutines"))
		smp.HeapKiB = int64(m.Sum("go_gc_heap_live_bytes")) / 1024
	} else {
		errs = append(errs, err.Error())
	}
	if len(errs) > 0 {
		smp.Err = fmt.Sprint(errs)
	}
	return smp
}

// procRSS returns VmRSS in KiB.
func procRSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := bytes.Fields(sc.Bytes())
		if len(f) >= 2 && string(f[0]) == "VmRSS:" {
			return strconv.ParseInt(string(f[1]), 10, 64)
		}
	}
	return 0, fmt.Errorf("/proc/%d/status: no VmRSS", pid)
}

const tableHeader = "| t | instance | RSS MiB | FDs | goroutines | Go live heap MiB | requests |\n|---:|---|---:|---:|---:|---:|---:|"

func (s Sample) row() string {
	r := fmt.Sprintf("| %s | %s | %.1f | %d | %d | %.1f | %d |", s.At, s.Instance, float64(s.RSSKiB)/1024, s.FDs,
		s.Goroutines, float64(s.HeapKiB)/1024, s.Ops)
	if s.Err != "" {
		r += " " + s.Err
	}
	return r
}
