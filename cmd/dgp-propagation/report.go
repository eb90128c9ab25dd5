package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"
)

// percentile returns the p-th percentile (0-100) of ds by nearest rank; 0
// for no samples.
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	rank := int(p/100*float64(len(s)) + 0.999999999)
	rank = min(max(rank, 1), len(s))
	return s[rank-1]
}

// msOf is percentile p of ds formatted by ms, or "-" for no samples.
func msOf(ds []time.Duration, p float64) string {
	if len(ds) == 0 {
		return "-"
	}
	return ms(percentile(ds, p))
}

func ms(d time.Duration) string {
	return fmt.Sprintf("%.1f", float64(d)/float64(time.Millisecond))
}

// summary is one row of the report.
type summary struct {
	mode, readers, samples                string
	p50, p95, p99, max                    string
	applyP50, applyP99, applyBeforeAck    string
	eventP50, pullP50, ackP50, timeouts   string
	hintP50, hintP99                      string
	sources, probeInterval, salt, genSpan string
	cpu                                   string
}

func summarize(m *measurement) summary {
	var accept, apply []time.Duration
	var pull, hint []time.Duration
	timeouts, before := 0, 0
	sources := map[string]int{}
	for _, s := range m.samples {
		if s.timedOut {
			timeouts++
			continue
		}
		if s.probed {
			accept = append(accept, s.accept)
		}
		if s.hasHint {
			hint = append(hint, s.hint)
		}
		if s.hasApply {
			apply = append(apply, s.apply)
			pull = append(pull, time.Duration(s.pullMS)*time.Millisecond)
			sources[s.source]++
			if s.apply < 0 {
				before++
			}
		}
	}
	var src []string
	for k, v := range sources {
		src = append(src, fmt.Sprintf("%s %d", k, v))
	}
	slices.Sort(src)
	salt := "reused"
	if !m.saltReused {
		salt = "NEW SALT"
	}
	ev := "-"
	if len(m.event) > 0 {
		ev = ms(percentile(m.event, 50))
	}
	s := summary{
		mode: m.mode, readers: fmt.Sprint(m.readers), samples: fmt.Sprint(len(m.samples)),
		p50: msOf(accept, 50), p95: msOf(accept, 95), p99: msOf(accept, 99), max: msOf(accept, 100),
		applyP50: ms(percentile(apply, 50)), applyP99: ms(percentile(apply, 99)),
		applyBeforeAck: fmt.Sprintf("%d%%", percent(before, len(apply))),
		eventP50:       ev, pullP50: ms(percentile(pull, 50)), ackP50: ms(percentile(m.ack, 50)),
		timeouts: fmt.Sprint(timeouts), sources: strings.Join(src, ", "), probeInterval: m.probeInterval.String(),
		salt: salt, genSpan: fmt.Sprintf("%d-%d", m.firstGen, m.lastGen),
		hintP50: "-", hintP99: "-",
	}
	if len(hint) > 0 {
		s.hintP50, s.hintP99 = ms(percentile(hint, 50)), ms(percentile(hint, 99))
	}
	s.cpu = cpuPerMutation(m)
	return s
}

// cpuPerMutation is the CPU time per mutation of each process, and how busy
// the machine's CPUs were on average, during the measured phase.
func cpuPerMutation(m *measurement) string {
	if len(m.cpu) == 0 || m.mutations == 0 {
		return "-"
	}
	var names []string
	var total time.Duration
	for k, v := range m.cpu {
		names = append(names, k)
		total += v
	}
	slices.Sort(names)
	var parts []string
	for _, k := range names {
		parts = append(parts, fmt.Sprintf("%s %s", k, ms(m.cpu[k]/time.Duration(m.mutations))))
	}
	busy := ""
	if m.wall > 0 {
		busy = fmt.Sprintf(" (%d%% of %d CPUs)", int(float64(total)/float64(m.wall)/float64(runtime.NumCPU())*100), runtime.NumCPU())
	}
	return strings.Join(parts, ", ") + busy
}

func percent(a, b int) int {
	if b == 0 {
		return 0
	}
	return a * 100 / b
}

// writeReport prints the markdown report.
func writeReport(w io.Writer, machine, command string, ms []*measurement) {
	fmt.Fprintf(w, "## Propagation: writer acknowledgement -> reader accepts the new key\n\n")
	fmt.Fprintf(w, "Machine: %s. Go %s %s/%s.\n\n", machine, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	fmt.Fprintf(w, "Command:\n\n```\n%s\n```\n\n", command)
	fmt.Fprintln(w, "Accept latency, ms (from the writer's 201 to a signed ListBuckets with the new key answered 200 by the reader; \"-\" with --probes final, which sends no probe while measured: see the applied latency):")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| mode | readers | samples | p50 | p95 | p99 | max | timeouts |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|---:|---:|")
	var rows []summary
	for _, m := range ms {
		s := summarize(m)
		rows = append(rows, s)
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s | %s |\n", s.mode, s.readers, s.samples, s.p50, s.p95, s.p99, s.max, s.timeouts)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Where the time goes, ms (applied = the reader's \"config db applied\" log line, after the swap (a running dgp writes the local file later, off the pull); event = MinIO's event seen by the tool on NATS or at the webhook; hint = the reader's event source handed over the hint (--trace); pull = the pull's own duration as logged, ms resolution; ack = admin request -> 201 on the writer):")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| mode | readers | event p50 | hint p50 | hint p99 | applied p50 | applied p99 | applied before ack | pull p50 | ack p50 | pulls by trigger | probe every | salt | generations |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---|---|")
	defer func() {
		fmt.Fprintln(w)
		fmt.Fprintln(w, "CPU time per mutation, ms, during the measured phase (dgp = this process: writer, readers and probes; busy = all of it over the wall time and every CPU):")
		fmt.Fprintln(w)
		fmt.Fprintln(w, "| mode | readers | CPU per mutation |")
		fmt.Fprintln(w, "|---|---:|---|")
		for _, s := range rows {
			fmt.Fprintf(w, "| %s | %s | %s |\n", s.mode, s.readers, s.cpu)
		}
		writeReaderCPU(w, ms)
	}()
	for _, s := range rows {
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
			s.mode, s.readers, s.eventP50, s.hintP50, s.hintP99, s.applyP50, s.applyP99, s.applyBeforeAck, s.pullP50, s.ackP50, s.sources, s.probeInterval, s.salt, s.genSpan)
	}
}

// describeMachine describes the CPU and the load, for the record.
func describeMachine() string {
	model := "unknown CPU"
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
		f.Close()
	}
	load := ""
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		if f := strings.Fields(string(b)); len(f) >= 3 {
			load = ", load average " + strings.Join(f[:3], " ") + " at start"
		}
	}
	return fmt.Sprintf("%s, %d CPUs%s", model, runtime.NumCPU(), load)
}

// readerCPU is the per-reader CPU row of one measurement.
type readerCPURow struct {
	mode, readers, users, where string
	raw, probes, probeCPU, net  string
	idle, rss, faults, switches string
}

// readerCPURows are the CPU time per reader per mutation: with reader
// processes, measured on each (raw), with the cost of the same probes
// alone (probe), and the difference (net: the propagation's own cost),
// a row for each binary with --dgp-bin-b; in process, the whole
// process's CPU over the readers (an upper bound: it holds the writer and
// the probes as well).
func readerCPURows(m *measurement) []readerCPURow {
	r := readerCPURow{mode: m.mode, readers: fmt.Sprint(m.readers), users: fmt.Sprint(m.users),
		raw: "-", probes: "-", probeCPU: "-", net: "-", idle: "-", rss: "-", faults: "-", switches: "-"}
	per := time.Duration(m.readers * max(m.mutations, 1))
	probes := 0
	for _, s := range m.samples {
		probes += s.probes
	}
	r.probes = fmt.Sprintf("%.1f", float64(probes)/float64(per))
	if !m.processes {
		r.where = "in process (dgp process / readers)"
		r.raw = usec(m.cpu["dgp"] / per)
		return []readerCPURow{r}
	}
	var rows []readerCPURow
	for _, s := range m.stats {
		g := r
		g.where = "processes"
		if s.label != "" {
			g.readers, g.where = fmt.Sprint(s.n), "processes, "+s.label
		}
		gper := time.Duration(max(s.n, 1) * max(m.mutations, 1)) // the group's readers x mutations
		g.raw, g.probeCPU, g.idle = usec(s.CPU/gper), usec(s.probe/gper), usec(s.idle/gper)
		g.net = usec((s.CPU - s.probe - s.idle) / gper)
		g.rss = fmt.Sprintf("%.0f MiB", float64(s.rss)/float64(max(s.n, 1))/(1<<20))
		g.faults = fmt.Sprintf("%.1f", float64(s.MinorFaults)/float64(gper))
		g.switches = fmt.Sprintf("%.1f", float64(s.Switches)/float64(gper))
		rows = append(rows, g)
	}
	return rows
}

// usec formats d in milliseconds with three decimals.
func usec(d time.Duration) string {
	return fmt.Sprintf("%.3f", float64(d)/float64(time.Millisecond))
}

// writeReaderCPU prints the per-reader CPU table.
func writeReaderCPU(w io.Writer, ms []*measurement) {
	fmt.Fprintln(w)
	fmt.Fprintln(w, "CPU per reader per mutation, ms (processes: the run time of every thread of every reader process from /proc/<pid>/task/*/schedstat, in nanoseconds, over the measured phase; probe = the same number of accepted probes sent afterwards; idle = the readers doing nothing for as long, measured afterwards; net = raw - probe - idle; faults = minor page faults (/proc/<pid>/stat minflt) per reader per mutation, probes included; switches = thread switches of every reader thread (the run count of the same schedstat) per reader per mutation, probes included; in process: the tool's whole process, writer and probes included, over the readers; with --dgp-bin-b, a row for each binary's readers):")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| mode | readers | users | readers run | raw | probes per reader | probe | idle | net | faults | switches | RSS per reader |")
	fmt.Fprintln(w, "|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, m := range ms {
		for _, r := range readerCPURows(m) {
			fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", r.mode, r.readers, r.users, r.where, r.raw, r.probes, r.probeCPU, r.idle, r.net, r.faults, r.switches, r.rss)
		}
	}
}
