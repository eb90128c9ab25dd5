package main

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
)

// median returns the median of xs (the mean of the middle two for an even
// count), 0 for none.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	m := len(s) / 2
	if len(s)%2 == 1 {
		return s[m]
	}
	return (s[m-1] + s[m]) / 2
}

// pairedRatios returns num[i]/den[i] for every round both have.
func pairedRatios(num, den []float64) []float64 {
	n := min(len(num), len(den))
	out := make([]float64, 0, n)
	for i := range n {
		if den[i] > 0 {
			out = append(out, num[i]/den[i])
		}
	}
	return out
}

// machine describes where the bench ran.
type machine struct {
	cpu, kernel, memory string
	cores, maxprocs     int
	goVersion, osArch   string
}

// loadAverage returns the 1, 5 and 15 minute load averages, or "unknown".
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

func readMachine() machine {
	m := machine{
		cpu:       "unknown",
		kernel:    "unknown",
		memory:    "unknown",
		cores:     runtime.NumCPU(),
		maxprocs:  runtime.GOMAXPROCS(0),
		goVersion: runtime.Version(),
		osArch:    runtime.GOOS + "/" + runtime.GOARCH,
	}
	if v := procField("/proc/cpuinfo", "model name"); v != "" {
		m.cpu = v
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.kernel = strings.TrimSpace(string(b))
	}
	if v := procField("/proc/meminfo", "MemTotal"); v != "" {
		f := strings.Fields(v)
		if kb, err := strconv.ParseInt(f[0], 10, 64); err == nil {
			m.memory = fmt.Sprintf("%.1f GiB", float64(kb)/(1<<20))
		}
	}
	return m
}

// procField returns the value of the first "name : value" line of path.
func procField(path, name string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == name {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// formatSize renders a byte count as KiB/MiB/GiB when it divides evenly.
func formatSize(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return strconv.FormatInt(n>>30, 10) + " GiB"
	case n >= 1<<20 && n%(1<<20) == 0:
		return strconv.FormatInt(n>>20, 10) + " MiB"
	case n >= 1<<10 && n%(1<<10) == 0:
		return strconv.FormatInt(n>>10, 10) + " KiB"
	}
	return strconv.FormatInt(n, 10) + " B"
}

// parseSize reads "4KiB", "64MiB", "1GiB" or a plain byte count.
func parseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"B", 1}} {
		if strings.HasSuffix(t, u.suffix) {
			t, mult = strings.TrimSpace(strings.TrimSuffix(t, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n <= 0 || n > (1<<40)/mult {
		return 0, fmt.Errorf("size %q: want a positive count of B, KiB, MiB or GiB", s)
	}
	return n * mult, nil
}

// rate renders a throughput figure with three significant digits at most.
func rate(v float64) string {
	switch a := math.Abs(v); {
	case a >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case a >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	}
	return strconv.FormatFloat(v, 'f', 2, 64)
}

// report is everything the gateway bench prints.
type report struct {
	command  string
	machine  machine
	opts     gatewayOptions
	results  []*result
	verify   *verifyResult
	allocs   []allocResult
	profiled string
	// loadBefore and loadAfter are the load averages around the run: the
	// figures mean little when other work competed for the cores.
	loadBefore, loadAfter string
}

func (r *report) write(w io.Writer) {
	m := r.machine
	fmt.Fprintf(w, "## Gateway benchmark\n\n")
	fmt.Fprintf(w, "Command: `%s`\n\n", r.command)
	fmt.Fprintf(w, "Machine: %s, %d cores (GOMAXPROCS %d), %s RAM, Linux %s, %s %s. "+
		"Client, bare proxy and dgp share this process; MinIO is a separate process on the same machine.\n\n",
		m.cpu, m.cores, m.maxprocs, m.memory, m.kernel, m.goVersion, m.osArch)
	fmt.Fprintf(w, "Load average (1, 5, 15 min): %s before, %s after.\n\n", r.loadBefore, r.loadAfter)
	fmt.Fprintf(w, "Rounds: %d per workload, targets interleaved (rotating start); %s per small-object round with %d workers; %d sequential transfers per large-object round.\n\n",
		r.opts.rounds, r.opts.roundTime(), r.opts.concurrency, r.opts.largeCount)

	if len(r.results) > 0 {
		fmt.Fprintf(w, "| workload | MinIO direct | bare proxy | dgp | dgp/proxy | dgp/direct |\n")
		fmt.Fprintf(w, "|---|---:|---:|---:|---:|---:|\n")
		for _, res := range r.results {
			d, p, g := res.rounds["direct"], res.rounds["proxy"], res.rounds["dgp"]
			fmt.Fprintf(w, "| %s (%s) | %s | %s | %s | %.3f | %.3f |\n", res.w.title, res.w.unit,
				rate(median(d)), rate(median(p)), rate(median(g)),
				median(pairedRatios(g, p)), median(pairedRatios(g, d)))
		}
		fmt.Fprintf(w, "\nFigures are medians over rounds; the ratios are medians of the per-round ratios "+
			"(each round measures the three targets back to back).\n\n")

		fmt.Fprintf(w, "Spread over rounds (min-max):\n\n")
		fmt.Fprintf(w, "| workload | MinIO direct | bare proxy | dgp | dgp/proxy |\n")
		fmt.Fprintf(w, "|---|---:|---:|---:|---:|\n")
		for _, res := range r.results {
			d, p, g := res.rounds["direct"], res.rounds["proxy"], res.rounds["dgp"]
			fmt.Fprintf(w, "| %s | %s | %s | %s | %s |\n", res.w.id, spread(d, rate), spread(p, rate), spread(g, rate),
				spread(pairedRatios(g, p), ratio3))
		}
		fmt.Fprintln(w)
	}

	if r.opts.processes && len(r.results) > 0 {
		fmt.Fprintf(w, "CPU time per request of the server processes (--processes: /proc/PID/task/*/schedstat, every thread of "+
			"each process, garbage collection included), over the measured rounds:\n\n")
		fmt.Fprintf(w, "| workload | requests proxy / dgp | bare proxy µs/request | dgp µs/request | dgp - proxy µs | dgp/proxy | dgp/proxy by round (min-max) |\n")
		fmt.Fprintf(w, "|---|---:|---:|---:|---:|---:|---:|\n")
		for _, res := range r.results {
			pt, pr := sumRounds(res.procRounds["proxy"])
			dt, dr := sumRounds(res.procRounds["dgp"])
			p, g := perRequest(pt.CPU, pt.requests), perRequest(dt.CPU, dt.requests)
			fmt.Fprintf(w, "| %s | %d / %d | %.1f | %.1f | %.1f | %s | %s |\n", res.w.id, pt.requests, dt.requests, p, g, g-p, ratioText(g, p),
				spread(pairedRatios(dr, pr), ratio3))
		}
		fmt.Fprintln(w)
	} else if len(r.results) > 0 && r.results[0].cpu != nil {
		fmt.Fprintf(w, "CPU time per request of the in-process servers, from the CPU profile (labels role=proxy, role=dgp), "+
			"warm-up included; less sensitive to other load on the machine than throughput "+
			"(the profiles hold %s of the process's CPU time, getrusage; the profiler loses samples):\n\n", r.coverage())
		fmt.Fprintf(w, "| workload | requests proxy / dgp | bare proxy µs/request | dgp µs/request | dgp - proxy µs | dgp/proxy | client CPU s | runtime CPU s (GC etc.) |\n")
		fmt.Fprintf(w, "|---|---:|---:|---:|---:|---:|---:|---:|\n")
		for _, res := range r.results {
			p, g := res.cpuPerRequest(roleProxy, "proxy"), res.cpuPerRequest(roleDGP, "dgp")
			ratio := "-"
			if p > 0 {
				ratio = strconv.FormatFloat(g/p, 'f', 2, 64)
			}
			fmt.Fprintf(w, "| %s | %d / %d | %s | %s | %s | %s | %.2f | %.2f |\n", res.w.id,
				res.requests["proxy"], res.requests["dgp"], rate(p), rate(g), rate(g-p), ratio,
				res.cpu[roleClient].Seconds(), res.cpu[""].Seconds())
		}
		fmt.Fprintln(w)
	}

	if paired := r.pairedResults(); len(paired) > 0 {
		how := "each round profiled alone"
		if r.opts.processes {
			how = "each server process's CPU time read around each round"
		}
		fmt.Fprintf(w, "CPU time per request with the bare proxy and dgp serving at the same time (%d rounds of %s per workload, "+
			"%d workers each, %s; both servers see the same load, so this ratio varies less "+
			"from run to run than the one above):\n\n", r.opts.pairedRounds, r.opts.roundTime(), r.opts.concurrency, how)
		fmt.Fprintf(w, "| workload | bare proxy µs/request | dgp µs/request | dgp/proxy | dgp/proxy by round (min-max) |\n")
		fmt.Fprintf(w, "|---|---:|---:|---:|---:|\n")
		for _, res := range paired {
			ps := summarizePaired(res.paired)
			fmt.Fprintf(w, "| %s | %.1f | %.1f | %s | %s |\n", res.w.id, ps.proxy, ps.dgp, ratioText(ps.dgp, ps.proxy),
				spread(ps.ratios, ratio3))
		}
		fmt.Fprintln(w)
	}

	if r.opts.processes && len(r.results) > 0 {
		r.writeCounts(w)
	}

	if v := r.verify; v != nil {
		fmt.Fprintf(w, "SigV4 verification (%s): %.2f µs/op (%d ns), %d allocs/op, %d B/op over %d iterations (goal: under 20 µs).\n\n",
			v.request, float64(v.nsPerOp)/1000, v.nsPerOp, v.allocsPerOp, v.bytesPerOp, v.n)
	}

	if len(r.allocs) > 0 {
		fmt.Fprintf(w, "Heap allocations per request through dgp's handler (in-process, dgp -> MinIO over HTTP; "+
			"the cost of building the test request, about %.0f allocations, is subtracted):\n\n", r.allocs[0].baselineAllocs)
		fmt.Fprintf(w, "| request | requests | allocs/request | bytes/request |\n|---|---:|---:|---:|\n")
		for _, a := range r.allocs {
			fmt.Fprintf(w, "| %s | %d | %.0f | %.0f |\n", a.c.title(), a.c.n, a.allocsPerReq, a.bytesPerReq)
		}
		fmt.Fprintln(w)
	}
	if r.profiled != "" {
		fmt.Fprintf(w, "CPU profile written to %s (labels: role=client|proxy|dgp, workload=<id> on client goroutines).\n", r.profiled)
	}
}

// writeCounts writes the server processes' thread switches and read and
// write system calls per request, over the interleaved and the paired
// rounds.
func (r *report) writeCounts(w io.Writer) {
	fmt.Fprintf(w, "Thread switches and read/write system calls per request of the server processes (--processes: "+
		"the run count of /proc/PID/task/*/schedstat, every thread; syscr + syscw of /proc/PID/io), over the measured rounds:\n\n")
	fmt.Fprintf(w, "| workload | rounds | bare proxy switches | dgp switches | bare proxy read+write calls | dgp read+write calls |\n")
	fmt.Fprintf(w, "|---|---|---:|---:|---:|---:|\n")
	row := func(id, rounds string, proxy, dgp []procRound) {
		p, _ := sumRounds(proxy)
		g, _ := sumRounds(dgp)
		fmt.Fprintf(w, "| %s | %s | %.1f | %.1f | %.1f | %.1f |\n", id, rounds,
			p.per(p.Switches), g.per(g.Switches), p.per(p.Syscalls), g.per(g.Syscalls))
	}
	for _, res := range r.results {
		row(res.w.id, "interleaved", res.procRounds["proxy"], res.procRounds["dgp"])
		if len(res.paired) > 0 {
			proxy, dgp := pairedSides(res.paired)
			row(res.w.id, "paired", proxy, dgp)
		}
	}
	fmt.Fprintln(w)
}

// per is n per request of r's; 0 without requests.
func (r procRound) per(n int64) float64 {
	if r.requests == 0 {
		return 0
	}
	return float64(n) / float64(r.requests)
}

// ratio3 renders a ratio with three decimals.
func ratio3(v float64) string { return strconv.FormatFloat(v, 'f', 3, 64) }

// ratioText renders num/den with three decimals, "-" without a
// denominator.
func ratioText(num, den float64) string {
	if den <= 0 {
		return "-"
	}
	return ratio3(num / den)
}

// sumRounds totals a server process's rounds (CPU time, switches, system
// calls, requests) and gives each round's µs per request.
func sumRounds(rs []procRound) (total procRound, per []float64) {
	for _, r := range rs {
		total.Use = total.Use.Plus(r.Use)
		total.requests += r.requests
		per = append(per, perRequest(r.CPU, r.requests))
	}
	return total, per
}

// coverage renders the share of the process's CPU time the workloads'
// profiles hold (the lowest, when they differ).
func (r *report) coverage() string {
	low := 0.0
	for i, res := range r.results {
		if i == 0 || res.coverage < low {
			low = res.coverage
		}
	}
	if low <= 0 {
		return "an unknown share"
	}
	return strconv.FormatFloat(100*low, 'f', 0, 64) + " %"
}

// pairedResults are the results with paired rounds.
func (r *report) pairedResults() []*result {
	var out []*result
	for _, res := range r.results {
		if len(res.paired) > 0 {
			out = append(out, res)
		}
	}
	return out
}

// cpuPerRequest is the CPU time of role divided by the requests made to
// target, in µs; 0 without requests.
func (r *result) cpuPerRequest(role, target string) float64 {
	n := r.requests[target]
	if n == 0 {
		return 0
	}
	return float64(r.cpu[role].Microseconds()) / float64(n)
}

func spread(xs []float64, f func(float64) string) string {
	if len(xs) == 0 {
		return "-"
	}
	return f(slices.Min(xs)) + "-" + f(slices.Max(xs))
}
