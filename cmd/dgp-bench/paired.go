package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"runtime/pprof"
	"sync"
	"time"

	"github.com/dgp-proxy/dgp/internal/procuse"
)

// pairedRound is one round in which the bare proxy and dgp served a
// workload at the same time: what each server used (in one process, the
// CPU time alone) and the requests it served.
type pairedRound struct {
	proxy, dgp procRound
}

// perRequest is a server's CPU time per request in µs.
func perRequest(cpu time.Duration, reqs int64) float64 {
	if reqs == 0 {
		return 0
	}
	return float64(cpu.Nanoseconds()) / 1e3 / float64(reqs)
}

// runPaired runs n rounds of a time-boxed workload in which the bare proxy
// and dgp are each sent their own round (with their own workers) at the
// same time, under a CPU profile of that round alone. The two servers
// then share one machine state, which the interleaved rounds cannot
// give them: on a shared, noisy machine consecutive rounds differ by
// more than the few percent the gateway's CPU budget is about. In
// --processes mode each server process's CPU time is read around the
// round instead.
func runPaired(ctx context.Context, w workload, proxy, dgp *target, n int, progress func(string)) ([]pairedRound, error) {
	var out []pairedRound
	for r := range n {
		// A server process's CPU time is read before and after; in one
		// process the round is profiled and split by role.
		var prof bytes.Buffer
		var before []procuse.Use
		procs := proxy.usage != nil && dgp.usage != nil
		if procs {
			var err error
			if before, err = usages(proxy, dgp); err != nil {
				return nil, err
			}
		} else if err := pprof.StartCPUProfile(&prof); err != nil {
			return nil, fmt.Errorf("cpu profile: %w", err)
		}
		var (
			reqs [2]int64
			errs [2]error
			wg   sync.WaitGroup
		)
		for i, t := range []*target{proxy, dgp} {
			wg.Go(func() {
				pprof.Do(ctx, pprof.Labels("role", roleClient, "workload", w.id, "target", t.id), func(ctx context.Context) {
					_, reqs[i], errs[i] = w.round(ctx, t, false)
				})
			})
		}
		wg.Wait()
		if !procs {
			pprof.StopCPUProfile()
		}
		if err := errors.Join(errs[:]...); err != nil {
			return nil, fmt.Errorf("%s, paired round %d: %w", w.id, r+1, err)
		}
		if reqs[0] == 0 || reqs[1] == 0 {
			return nil, fmt.Errorf("%s, paired round %d: no requests made (proxy %d, dgp %d)", w.id, r+1, reqs[0], reqs[1])
		}
		pr := pairedRound{proxy: procRound{requests: reqs[0]}, dgp: procRound{requests: reqs[1]}}
		if procs {
			after, err := usages(proxy, dgp)
			if err != nil {
				return nil, err
			}
			pr.proxy.Use, pr.dgp.Use = after[0].Minus(before[0]), after[1].Minus(before[1])
		} else {
			cpu, err := cpuByLabel(prof.Bytes(), "role")
			if err != nil {
				return nil, err
			}
			pr.proxy.CPU, pr.dgp.CPU = cpu[roleProxy], cpu[roleDGP]
		}
		out = append(out, pr)
		progress(fmt.Sprintf("%s paired round %d/%d: proxy %.1f µs/request (%d), dgp %.1f µs/request (%d)",
			w.id, r+1, n, perRequest(pr.proxy.CPU, pr.proxy.requests), pr.proxy.requests, perRequest(pr.dgp.CPU, pr.dgp.requests), pr.dgp.requests))
	}
	return out, nil
}

// usages reads what each target's server process has used (targets with
// usage set: --processes mode).
func usages(ts ...*target) ([]procuse.Use, error) {
	out := make([]procuse.Use, len(ts))
	for i, t := range ts {
		var err error
		if out[i], err = t.usage(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// pairedSummary is the report's view of a workload's paired rounds: CPU
// per request over all of them (the most samples, the least counting
// noise), and each round's ratio for the spread.
type pairedSummary struct {
	proxy, dgp float64   // µs per request over every round
	ratios     []float64 // dgp / proxy of each round with proxy CPU
}

func summarizePaired(rs []pairedRound) pairedSummary {
	var s pairedSummary
	proxy, dgp := pairedSides(rs)
	pt, pr := sumRounds(proxy)
	dt, dr := sumRounds(dgp)
	s.proxy, s.dgp = perRequest(pt.CPU, pt.requests), perRequest(dt.CPU, dt.requests)
	s.ratios = pairedRatios(dr, pr)
	return s
}

// pairedSides splits paired rounds into the proxy's and dgp's.
func pairedSides(rs []pairedRound) (proxy, dgp []procRound) {
	for _, r := range rs {
		proxy, dgp = append(proxy, r.proxy), append(dgp, r.dgp)
	}
	return proxy, dgp
}
