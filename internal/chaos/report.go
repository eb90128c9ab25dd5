package chaos

import (
	"encoding/json"
	"fmt"
	"maps"
	"sort"
	"strings"
	"sync"
	"text/tabwriter"
	"time"
)

// Report is the outcome of a run.
type Report struct {
	Seed         uint64
	Faults       int
	PollInterval time.Duration
	Setup        time.Duration
	FaultPhase   time.Duration
	Duration     time.Duration

	mu         sync.Mutex
	injections []injection
	conv       map[int]time.Duration // fault seq -> convergence

	// Workload totals.
	Mutations, Acked, Refused, NotMade, Ambiguous int
	S3Puts, S3PutErrors, S3Gets, S3GetErrors      int
	S3Corrupt, S3Missing                          []string
	S3Errors                                      map[string]int

	// Per kind: acknowledged mutations while a fault of the kind was
	// active, and lost ones attributed to it.
	rows map[string]*row

	Lost         []lostMutation
	Phantoms     []lostMutation
	UsersChecked int

	FinalWithEvents, FinalWithoutEvents time.Duration
	FinalDetail                         []string // per instance
	// EventsRestored: after the last fault, until every instance received
	// an event again (a half-open NATS connection lasts until its ping).
	EventsRestored            time.Duration
	EventsSeen                int // MinIO events the harness received
	FinalGeneration           uint64
	Unverified                []violation
	DistinctETags, DBsWritten int
	LocalDBs                  []string
	LocalChecked              int // local DB files opened after a SIGKILL during the run
	Problems                  []string
}

type row struct {
	injected, acked, lost int
	conv                  []time.Duration
	notConverged          int
	disturbed             int // measures overlapped by a fault stalling the fleet
	notes                 map[string]int
	errs                  []string
}

func (r *Report) rowOf(kind string) *row {
	if r.rows == nil {
		r.rows = map[string]*row{}
	}
	if r.rows[kind] == nil {
		r.rows[kind] = &row{notes: map[string]int{}}
	}
	return r.rows[kind]
}

func (r *Report) add(inj injection) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.injections = append(r.injections, inj)
	rw := r.rowOf(inj.Kind)
	rw.injected++
	if inj.Note != "" {
		rw.notes[inj.Note]++
	}
	if inj.Err != nil {
		rw.errs = append(rw.errs, fmt.Sprintf("#%d: %v", inj.Seq, inj.Err))
	}
}

func (r *Report) setConvergence(seq int, d time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.conv == nil {
		r.conv = map[int]time.Duration{}
	}
	r.conv[seq] = d
}

// active reports the kinds of the faults active during [from, to].
func (r *Report) active(from, to time.Time) map[string]bool {
	kinds := map[string]bool{}
	for _, inj := range r.injections {
		if !inj.Start.After(to) && !inj.Healed.Before(from) {
			kinds[inj.Kind] = true
		}
	}
	return kinds
}

// activeList names the faults active during [from, to] (the caller holds mu).
func (r *Report) activeList(from, to time.Time) string {
	var out []string
	for _, inj := range r.injections {
		if !inj.Start.After(to) && !inj.Healed.Before(from) {
			s := fmt.Sprintf("#%d %s", inj.Seq, inj.Kind)
			if strings.HasPrefix(inj.fault.resource(), "instance-") {
				s += fmt.Sprintf(" dgp-%d", inj.Target+1)
			}
			out = append(out, s)
		}
	}
	if len(out) == 0 {
		return "none"
	}
	return strings.Join(out, ", ")
}

// finish counts the workload against the faults.
func (r *Report) finish(led *ledger, t *s3Traffic) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, inj := range r.injections {
		rw := r.rowOf(inj.Kind)
		if d, ok := r.conv[inj.Seq]; ok && d < 0 {
			rw.disturbed++
		} else if ok {
			rw.conv = append(rw.conv, d)
		} else {
			rw.notConverged++
		}
	}
	led.mu.Lock()
	for _, m := range led.muts {
		r.Mutations++
		switch m.Outcome {
		case acked:
			r.Acked++
			for k := range r.active(m.Start, m.End) {
				r.rowOf(k).acked++
			}
		case refused:
			r.Refused++
		case notMade:
			r.NotMade++
		case ambiguous:
			r.Ambiguous++
		}
	}
	led.mu.Unlock()
	t.mu.Lock()
	r.S3Puts, r.S3PutErrors, r.S3Gets, r.S3GetErrors = t.puts, t.putErrs, t.gets, t.getErrs
	r.S3Corrupt = append([]string(nil), t.corrupt...)
	r.S3Errors = maps.Clone(t.errKind)
	t.mu.Unlock()
}

func (r *Report) attributeLost(m mutation) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for k := range r.active(m.Start, m.End) {
		r.rowOf(k).lost++
	}
}

// OK reports whether every promise held; the reasons when not.
func (r *Report) OK() (bool, []string) {
	var why []string
	if len(r.Lost) > 0 {
		why = append(why, fmt.Sprintf("%d acknowledged mutations lost", len(r.Lost)))
	}
	if len(r.Phantoms) > 0 {
		why = append(why, fmt.Sprintf("%d changes answered 503 'not made' were made", len(r.Phantoms)))
	}
	if len(r.Unverified) > 0 {
		why = append(why, fmt.Sprintf("%d ETags held that dgp did not write", len(r.Unverified)))
	}
	if len(r.S3Corrupt) > 0 || len(r.S3Missing) > 0 {
		why = append(why, fmt.Sprintf("S3: %d corrupt reads, %d acknowledged objects missing", len(r.S3Corrupt), len(r.S3Missing)))
	}
	why = append(why, r.Problems...)
	// Convergence: with events within one poll interval; without, within
	// one poll (the interval and its 10% jitter, and a second to pull).
	if r.FinalWithEvents > r.PollInterval {
		why = append(why, fmt.Sprintf("with events the fleet took %s to converge, more than the poll interval %s", r.FinalWithEvents, r.PollInterval))
	}
	if limit := r.PollInterval*11/10 + time.Second; r.FinalWithoutEvents > limit {
		why = append(why, fmt.Sprintf("without events the fleet took %s to converge, more than one poll (%s)", r.FinalWithoutEvents, limit))
	}
	injected := 0
	for k, rw := range r.rows {
		injected += rw.injected
		if _, mx := medianMax(rw.conv); mx > 2*r.PollInterval || rw.notConverged > 0 {
			why = append(why, fmt.Sprintf("%s: the fleet converged %d times in at most %s, %d times not within two poll intervals", k, len(rw.conv), mx, rw.notConverged))
		}
		for _, e := range rw.errs {
			why = append(why, "injection failed: "+e)
		}
	}
	if injected < r.Faults {
		why = append(why, fmt.Sprintf("only %d of %d faults injected", injected, r.Faults))
	}
	return len(why) == 0, why
}

// Table is the fault matrix, for people.
func (r *Report) Table() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var b strings.Builder
	fmt.Fprintf(&b, "seed %d, %d faults, poll interval %s; setup %s, faults %s, total %s\n\n",
		r.Seed, r.Faults, r.PollInterval, r.Setup.Round(time.Second), r.FaultPhase.Round(time.Second), r.Duration.Round(time.Second))
	tw := tabwriter.NewWriter(&b, 2, 0, 2, ' ', tabwriter.AlignRight|tabwriter.Debug)
	fmt.Fprintln(tw, "fault\tinjected\tmutations acked\tlost\tconvergence median\tmax\tnotes\t")
	total := &row{}
	for _, k := range FaultKinds {
		rw := r.rows[k]
		if rw == nil {
			rw = &row{notes: map[string]int{}}
		}
		med, mx := medianMax(rw.conv)
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%s\t%s\t%s\t\n", k, rw.injected, rw.acked, rw.lost, fmtDur(med, len(rw.conv)), fmtDur(mx, len(rw.conv)), notes(rw))
		total.injected += rw.injected
		total.lost += rw.lost
		total.conv = append(total.conv, rw.conv...)
	}
	med, mx := medianMax(total.conv)
	fmt.Fprintf(tw, "all\t%d\t%d\t%d\t%s\t%s\t\t\n", total.injected, r.Acked, len(r.Lost), fmtDur(med, len(total.conv)), fmtDur(mx, len(total.conv)))
	tw.Flush()
	fmt.Fprintf(&b, "\nIAM mutations: %d sent, %d acknowledged, %d refused (4xx), %d answered 503 (not made), %d without an answer; %d users checked, %d lost, %d phantoms\n",
		r.Mutations, r.Acked, r.Refused, r.NotMade, r.Ambiguous, r.UsersChecked, len(r.Lost), len(r.Phantoms))
	fmt.Fprintf(&b, "S3: %d PUTs acknowledged (%d failed), %d GETs (%d failed), %d corrupt reads, %d acknowledged objects missing at the end\n",
		r.S3Puts, r.S3PutErrors, r.S3Gets, r.S3GetErrors, len(r.S3Corrupt), len(r.S3Missing))
	if len(r.S3Errors) > 0 {
		var parts []string
		for k, n := range r.S3Errors {
			parts = append(parts, fmt.Sprintf("%s %d", k, n))
		}
		sort.Strings(parts)
		fmt.Fprintf(&b, "  (S3 failures during faults: %s)\n", strings.Join(parts, ", "))
	}
	fmt.Fprintf(&b, "events reached every instance again after %s of healing\n", r.EventsRestored.Round(100*time.Millisecond))
	fmt.Fprintf(&b, "final convergence: %s with events, %s without (NATS stopped, poll %s)\n",
		r.FinalWithEvents.Round(time.Millisecond), r.FinalWithoutEvents.Round(time.Millisecond), r.PollInterval)
	fmt.Fprintf(&b, "  (%s); events received by the harness: %d\n", strings.Join(r.FinalDetail, "; "), r.EventsSeen)
	fmt.Fprintf(&b, "DBs written by dgp: %d; distinct ETags held by instances: %d; held but not written by dgp: %d\n",
		r.DBsWritten, r.DistinctETags, len(r.Unverified))
	fmt.Fprintf(&b, "local DB files opened after a SIGKILL during the run: %d\n", r.LocalChecked)
	fmt.Fprintf(&b, "final generation %d; local DB files after the final SIGKILL: %s\n", r.FinalGeneration, strings.Join(r.LocalDBs, "; "))
	for _, l := range r.Lost {
		fmt.Fprintf(&b, "LOST: %s %s through dgp-%d at %s (faults active: %s): want %v, got %s\n",
			l.Op, l.User, l.Worker+1, l.End.Format("15:04:05.000"), r.activeList(l.Start, l.End), l.Want, l.Got)
	}
	for _, p := range r.Phantoms {
		fmt.Fprintf(&b, "PHANTOM: %s %s through dgp-%d answered 503 \"not made\" at %s (faults active: %s) but was made: want %v, got %s\n",
			p.Op, p.User, p.Worker+1, p.End.Format("15:04:05.000"), r.activeList(p.Start, p.End), p.Want, p.Got)
	}
	for _, v := range r.Unverified {
		fmt.Fprintf(&b, "UNVERIFIED: %s held %s (%s) at %s\n", v.Node, v.ETag, v.Why, v.At.Format(time.RFC3339Nano))
	}
	for _, p := range r.Problems {
		fmt.Fprintf(&b, "PROBLEM: %s\n", p)
	}
	for _, k := range FaultKinds {
		if rw := r.rows[k]; rw != nil {
			for _, e := range rw.errs {
				fmt.Fprintf(&b, "INJECTION ERROR %s %s\n", k, e)
			}
		}
	}
	return b.String()
}

func fmtDur(d time.Duration, n int) string {
	if n == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2fs", d.Seconds())
}

func notes(rw *row) string {
	var parts []string
	for n, c := range rw.notes {
		if strings.HasSuffix(n, "messages") {
			continue
		}
		parts = append(parts, fmt.Sprintf("%s: %d", n, c))
	}
	if rw.notConverged > 0 {
		parts = append(parts, fmt.Sprintf("not converged: %d", rw.notConverged))
	}
	if rw.disturbed > 0 {
		parts = append(parts, fmt.Sprintf("overlapped: %d", rw.disturbed))
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}

func jsonUnmarshal(b []byte, into any) error { return json.Unmarshal(b, into) }
