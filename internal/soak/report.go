package soak

import (
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"time"
)

// LatencySummary summarises durations.
type LatencySummary struct {
	N             int
	P50, P99, Max time.Duration
}

func summarize(ds []time.Duration) LatencySummary {
	if len(ds) == 0 {
		return LatencySummary{}
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	at := func(p float64) time.Duration { return s[min(len(s)-1, int(p*float64(len(s))))] }
	return LatencySummary{N: len(s), P50: at(0.50), P99: at(0.99), Max: s[len(s)-1]}
}

// Flatness is the verdict on one resource of one instance: the median of
// the last third of its samples must not exceed Bound, 1.5 times the
// median of the first third plus a slack (growth that levels off, such as
// pools filling, stays under it; a leak does not).
type Flatness struct {
	Instance, Resource string
	First, Last, Bound float64
	Flat               bool
	unit               string
}

func (f Flatness) format(v float64) string {
	switch f.unit {
	case "KiB":
		return fmt.Sprintf("%.1f MiB", v/1024)
	default:
		return fmt.Sprintf("%.0f", v)
	}
}

// The resources judged: how to read them from a sample, the slack, the unit.
var resources = []struct {
	name  string
	get   func(Sample) float64
	slack float64
	unit  string
}{
	{"RSS", func(s Sample) float64 { return float64(s.RSSKiB) }, 32 << 10, "KiB"},
	{"FDs", func(s Sample) float64 { return float64(s.FDs) }, 32, ""},
	{"goroutines", func(s Sample) float64 { return float64(s.Goroutines) }, 100, ""},
	{"Go heap", func(s Sample) float64 { return float64(s.HeapKiB) }, 32 << 10, "KiB"},
}

// warmup is how long after the traffic starts samples are left out of the
// verdict: the key derivation of the first pull (Argon2id, tens of MiB for
// a moment) and the connection pools filling are not growth.
func warmup(d time.Duration) time.Duration { return min(d/6, 30*time.Second) }

// judge gives the verdict per instance and resource on the samples taken
// after the warm-up. An instance with fewer than three such samples is not
// flat (nothing was shown).
func judge(samples []Sample, warm time.Duration) []Flatness {
	var names []string
	by := map[string][]Sample{}
	for _, s := range samples {
		if s.Err != "" || s.At < warm {
			continue
		}
		if _, ok := by[s.Instance]; !ok {
			names = append(names, s.Instance)
		}
		by[s.Instance] = append(by[s.Instance], s)
	}
	var out []Flatness
	for _, name := range names {
		ss := by[name]
		for _, r := range resources {
			f := Flatness{Instance: name, Resource: r.name, unit: r.unit}
			if n := len(ss) / 3; n > 0 {
				vals := make([]float64, len(ss))
				for i, s := range ss {
					vals[i] = r.get(s)
				}
				f.First, f.Last = median(vals[:n]), median(vals[len(vals)-n:])
				f.Bound = 1.5*f.First + r.slack
				f.Flat = f.Last <= f.Bound
			}
			out = append(out, f)
		}
	}
	return out
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f", float64(d)/float64(time.Millisecond)) }

// WriteReport prints r as markdown: the settings, the requests and their
// latency, the mutations, the resource samples and the verdicts.
func WriteReport(w io.Writer, r *Result) {
	o := r.Options
	fmt.Fprintf(w, "Soak: %s, %d S3 workers over %d instances (1 writer, %d readers), one IAM mutation every %s, %d-byte objects, samples every %s.\n\n",
		r.Elapsed.Round(time.Second), o.Concurrency, o.Readers+1, o.Readers, o.MutationInterval, o.ObjectSize, o.SampleInterval)

	fmt.Fprintln(w, "| operation | requests | req/s | p50 ms | p99 ms | max ms |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|")
	ops := make([]string, 0, len(r.Latency))
	for op := range r.Latency {
		if op != "all" {
			ops = append(ops, op)
		}
	}
	sort.Strings(ops)
	for _, op := range append(ops, "all") {
		l := r.Latency[op]
		fmt.Fprintf(w, "| %s | %d | %.0f | %s | %s | %s |\n", op, l.N, float64(l.N)/r.Elapsed.Seconds(), ms(l.P50), ms(l.P99), ms(l.Max))
	}

	var muts []string
	total := 0
	for k, v := range r.Mutations {
		muts = append(muts, fmt.Sprintf("%s %d", k, v))
		total += v
	}
	sort.Strings(muts)
	fmt.Fprintf(w, "\nIAM mutations acknowledged: %d (%s). Checks of their effect on every instance: %d, of which %d refused as the mutation meant.\n",
		total, strings.Join(muts, ", "), r.Checks, r.IntendedRefusals)
	p := r.Propagation
	fmt.Fprintf(w, "Time until the slowest instance showed a mutation's effect: p50 %s ms, p99 %s ms, max %s ms (%d mutations).\n",
		ms(p.P50), ms(p.P99), ms(p.Max), p.N)
	fmt.Fprintf(w, "Unexpected failures: %d.\n", r.Unexpected)
	for _, s := range r.UnexpectedSamples {
		fmt.Fprintf(w, "- %s\n", s)
	}

	fmt.Fprintln(w, "\nResources per instance: RSS MiB / open FDs / goroutines / Go live heap MiB (marked by the last collection).")
	writeSamples(w, r.Samples)
	fmt.Fprintf(w, "\nVerdict on the samples after the first %s: the last third's median must stay within 1.5x the first third's plus a slack.\n", warmup(o.Duration))
	fmt.Fprintln(w, "\n| instance | resource | first-third median | last-third median | bound | flat |")
	fmt.Fprintln(w, "|---|---|---:|---:|---:|---|")
	for _, f := range r.Flatness {
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %v |\n", f.Instance, f.Resource, f.format(f.First), f.format(f.Last), f.format(f.Bound), f.Flat)
	}
}

// writeSamples prints one row per sampling time, one column per instance.
func writeSamples(w io.Writer, samples []Sample) {
	var names []string
	seen := map[string]bool{}
	type key struct {
		at   time.Duration
		name string
	}
	cell := map[key]Sample{}
	var ats []time.Duration
	for _, s := range samples {
		if !seen[s.Instance] {
			seen[s.Instance] = true
			names = append(names, s.Instance)
		}
		if _, ok := cell[key{s.At, ""}]; !ok {
			ats = append(ats, s.At)
			cell[key{s.At, ""}] = s
		}
		cell[key{s.At, s.Instance}] = s
	}
	fmt.Fprintf(w, "\n| t | requests | %s |\n|---:|---:|%s\n", strings.Join(names, " | "), strings.Repeat("---:|", len(names)))
	for _, at := range ats {
		row := fmt.Sprintf("| %s | %d |", at, cell[key{at, ""}].Ops)
		for _, n := range names {
			s, ok := cell[key{at, n}]
			switch {
			case !ok:
				row += " |"
			case s.Err != "":
				row += " error |"
			default:
				row += fmt.Sprintf(" %.1f / %d / %d / %.1f |", float64(s.RSSKiB)/1024, s.FDs, s.Goroutines, float64(s.HeapKiB)/1024)
			}
		}
		fmt.Fprintln(w, row)
	}
}
