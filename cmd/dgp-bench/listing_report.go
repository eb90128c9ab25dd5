package main

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// dropPageCache writes dirty pages back and drops the kernel's clean page,
// dentry and inode caches (--drop-caches: Linux, as root), so that what
// is listed next is read from disk: the first listing after a restart of
// the machine, or after other work evicted the files.
func dropPageCache() error {
	syscall.Sync()
	if err := os.WriteFile("/proc/sys/vm/drop_caches", []byte("3\n"), 0); err != nil {
		return fmt.Errorf("--drop-caches: %w", err)
	}
	return nil
}

// resetPeakRSS resets the process's peak resident set size (VmHWM), so
// peakRSS tells the peak of what ran since; best effort (Linux only).
func resetPeakRSS() { _ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }

// peakRSS is the process's peak resident set size in bytes (0: unknown).
func peakRSS() uint64 {
	v := procField("/proc/self/status", "VmHWM")
	f := strings.Fields(v)
	if len(f) == 0 {
		return 0
	}
	kb, err := strconv.ParseUint(f[0], 10, 64)
	if err != nil {
		return 0
	}
	return kb << 10
}

type listingReport struct {
	opts                  listingOptions
	machine               machine
	loadBefore, loadAfter string
	order                 []string
	// results[case][target] are the rounds.
	results map[string]map[string][]measurement
	rss     map[string]map[string]uint64 // peak over the rounds
}

func (r *listingReport) add(title, target string, m measurement, rss uint64) {
	if r.results[title] == nil {
		r.results[title] = map[string][]measurement{}
	}
	r.results[title][target] = append(r.results[title][target], m)
	if r.rss == nil {
		r.rss = map[string]map[string]uint64{}
	}
	if r.rss[title] == nil {
		r.rss[title] = map[string]uint64{}
	}
	r.rss[title][target] = max(r.rss[title][target], rss)
}

func (o listingOptions) commandLine() string {
	var b strings.Builder
	b.WriteString("dgp-bench listing")
	for i := 0; i < len(o.args); i++ {
		a := o.args[i]
		b.WriteString(" " + a)
		if (a == "--minio-secret-key" || a == "-minio-secret-key") && i+1 < len(o.args) {
			b.WriteString(" …")
			i++
		} else if strings.HasPrefix(strings.TrimLeft(a, "-"), "minio-secret-key=") {
			s := b.String()
			b.Reset()
			b.WriteString(s[:len(s)-len(a)] + "--minio-secret-key=…")
		}
	}
	return b.String()
}

func fmtDur(d float64) string {
	switch {
	case d >= 1e9:
		return fmt.Sprintf("%.2f s", d/1e9)
	case d >= 1e6:
		return fmt.Sprintf("%.1f ms", d/1e6)
	}
	return fmt.Sprintf("%.0f µs", d/1e3)
}

func fmtBytes(b float64) string {
	switch {
	case b >= 1<<30:
		return fmt.Sprintf("%.1f GiB", b/(1<<30))
	case b >= 1<<20:
		return fmt.Sprintf("%.1f MiB", b/(1<<20))
	case b >= 1<<10:
		return fmt.Sprintf("%.0f KiB", b/(1<<10))
	}
	return fmt.Sprintf("%.0f B", b)
}

func (r *listingReport) write(w io.Writer) {
	o := r.opts
	fmt.Fprintf(w, "## Listing: %d keys per layout\n\n", o.n)
	fmt.Fprintf(w, "Command: `%s`\n\n", o.commandLine())
	m := r.machine
	fmt.Fprintf(w, "Machine: %s, %d cores (GOMAXPROCS %d), %s, Linux %s, %s %s; load %s before, %s after.\n\n",
		m.cpu, m.cores, m.maxprocs, m.memory, m.kernel, m.goVersion, m.osArch, r.loadBefore, r.loadAfter)
	fmt.Fprintf(w, "Median of %d rounds (full listings: %d), targets interleaved. Time is the wall time of the listing "+
		"(full: all pages, the targets asked for their next page in turn); \"vs minio\" is the ratio of medians; alloc is the bytes the whole process allocated "+
		"per page (client included; dir-api is the backend alone); RSS is the process's peak during the case.\n\n",
		o.rounds, o.fullRounds)
	fmt.Fprintf(w, "\"1st\" is the first round's time: for the directory backend, a cold listing (its directory cache empty).\n\n")
	fmt.Fprintf(w, "| case | target | time | per page | vs minio | 1st | alloc/page | peak RSS |\n|---|---|---|---|---|---|---|---|\n")
	for _, title := range r.order {
		var base float64
		if ms := r.results[title][tgtMinio]; len(ms) > 0 {
			base = medianWall(ms)
		}
		for _, t := range o.targets {
			ms := r.results[title][t]
			if len(ms) == 0 {
				continue
			}
			wall := medianWall(ms)
			pages := float64(ms[0].pages)
			var allocs []float64
			for _, x := range ms {
				allocs = append(allocs, float64(x.alloc)/float64(max(x.pages, 1)))
			}
			ratio := "-"
			if base > 0 {
				ratio = fmt.Sprintf("%.2fx", wall/base)
			}
			fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s | %s |\n", title, t, fmtDur(wall), fmtDur(wall/pages),
				ratio, fmtDur(float64(ms[0].wall)), fmtBytes(median(allocs)), fmtBytes(float64(r.rss[title][t])))
		}
	}
	fmt.Fprintln(w)
}

func medianWall(ms []measurement) float64 {
	xs := make([]float64, len(ms))
	for i, m := range ms {
		xs[i] = float64(m.wall) / float64(time.Nanosecond)
	}
	return median(xs)
}
