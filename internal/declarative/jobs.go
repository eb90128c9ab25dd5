package declarative

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/dgp-proxy/dgp/internal/config"
	"github.com/dgp-proxy/dgp/internal/jobs"
	"github.com/dgp-proxy/dgp/internal/jobs/lifecycle"
	"github.com/dgp-proxy/dgp/internal/lease"
)

// JobRule is one replication or lifecycle rule a configuration defines:
// what `dgp iam plan` shows of it, and the hash its lease records.
type JobRule struct {
	ID   string // "replication:<name>" or "lifecycle:<name>"
	Kind string // lease.KindReplication or lease.KindLifecycle
	Name string
	// Enabled is whether this configuration runs it (the section's switch
	// and the rule's own).
	Enabled bool
	Hash    string // config.ReplicationRule.Hash or LifecycleRule.Hash
	What    string // "src/prefix -> dst/prefix", "bucket/prefix: delete after 720h0m0s"
}

// JobRules returns the configuration's rules, replication first, each in
// the configuration's order.
func JobRules(cfg *config.Config) []JobRule {
	var out []JobRule
	rc, lc := cfg.Storage.Replication, cfg.Storage.Lifecycle
	for _, r := range rc.Rules {
		what := fmt.Sprintf("%s/%s -> %s/%s, every %s, conflict %s", r.Source.Bucket, r.Source.Prefix,
			r.Destination.Bucket, r.Destination.Prefix, r.Interval, r.Conflict)
		if r.ReplicateDeletes {
			what += ", deletes replicated"
		}
		out = append(out, JobRule{ID: r.JobID(), Kind: lease.KindReplication, Name: r.Name,
			Enabled: rc.Enabled && r.Enabled, Hash: r.Hash(), What: what})
	}
	for _, r := range lc.Rules {
		out = append(out, JobRule{ID: r.JobID(), Kind: lease.KindLifecycle, Name: r.Name,
			Enabled: lc.Enabled && r.Enabled, Hash: r.Hash(), What: describeLifecycle(r)})
	}
	return out
}

func describeLifecycle(r config.LifecycleRule) string {
	at := r.Bucket + "/" + r.Prefix
	a := r.Action
	switch a.Type {
	case config.ActionRetainNewest:
		s := fmt.Sprintf("%s: retain the newest %d", at, a.Count)
		if a.Qualify.MinSizeBytes > 0 || a.Qualify.MinAge > 0 {
			s += fmt.Sprintf(" (of those of at least %d bytes and %s old)", a.Qualify.MinSizeBytes, a.Qualify.MinAge)
		}
		if a.ProtectYoungerThan > 0 {
			s += fmt.Sprintf(", none younger than %s deleted", a.ProtectYoungerThan)
		}
		return s
	case config.ActionTransition:
		s := fmt.Sprintf("%s: transition after %s to %s/%s", at, r.ExpireAfter, a.Destination.Bucket, a.Destination.Prefix)
		if a.DeleteSourceAfterSuccess {
			s += ", source deleted once the copy is verified"
		}
		return s
	}
	return fmt.Sprintf("%s: delete after %s", at, r.ExpireAfter)
}

// FleetReader is what a jobs plan reads of the fleet's objects (the sync
// bucket's, or the data directory's): jobs.Store's reads. A plan never
// writes and never takes a lease.
type FleetReader interface {
	Get(ctx context.Context, key string) (body []byte, etag string, err error)
	List(ctx context.Context, prefix, after string, max int) ([]string, error)
}

// JobFleet is what the fleet's objects say of one rule now.
type JobFleet struct {
	// Lease is the rule's lease object (nil: never taken); Held whether it
	// names a live holder now (by the object's own times).
	Lease *lease.Record
	Held  bool
	// HashDiffers: the lease records another definition than this
	// configuration's (the holder, or the last one, runs another rule).
	HashDiffers bool
	// State is the rule's state object (nil: none yet).
	State *jobs.State
	// Err is why the objects could not be read.
	Err error
}

// JobPlanEntry is one rule of the plan: this configuration's (Rule.ID
// set), or one the fleet has state of that this configuration does not
// define (Rule has only ID, Kind and Name).
type JobPlanEntry struct {
	Rule      JobRule
	Undefined bool      // the fleet knows it, this configuration does not
	Fleet     *JobFleet // nil when the fleet was not read
	// Preview is a lifecycle rule's preview counts (PreviewLifecycle),
	// PreviewErr why it could not be made; both nil when not asked.
	Preview    *lifecycle.Stats
	PreviewErr error
}

// JobsPlan is the jobs part of `dgp iam plan`: the configuration's rules
// and, when read, what the fleet's lease and state objects say of them.
type JobsPlan struct {
	Entries []JobPlanEntry
	// Where names the objects read ("sync bucket b", "data dir d"), empty
	// when the fleet was not read; ReadErr is why the listing of the
	// fleet's rules failed (the entries may still have been read).
	Where   string
	ReadErr error
}

// listMax bounds the state objects of each kind a plan lists (to find
// rules of other configurations); more are not shown.
const listMax = 1000

// PlanJobs returns the jobs plan of rules; with r not nil it reads each
// rule's lease and state object, judging who holds a lease at now, and
// lists the fleet's state objects for rules not in rules. It only reads.
func PlanJobs(ctx context.Context, rules []JobRule, r FleetReader, where string, now time.Time) JobsPlan {
	p := JobsPlan{Where: where}
	known := map[string]bool{}
	for _, rule := range rules {
		known[rule.Kind+"/"+rule.Name] = true
		e := JobPlanEntry{Rule: rule}
		if r != nil {
			e.Fleet = readFleet(ctx, r, rule.Kind, rule.Name, rule.Hash, now)
		}
		p.Entries = append(p.Entries, e)
	}
	if r == nil {
		return p
	}
	for _, kind := range []string{lease.KindReplication, lease.KindLifecycle} {
		dir := jobs.StatePrefix + kind + "/"
		keys, err := r.List(ctx, dir, "", listMax)
		if err != nil {
			p.ReadErr = err
			return p
		}
		for _, k := range keys {
			name, ok := strings.CutSuffix(strings.TrimPrefix(k, dir), ".json")
			if !ok || known[kind+"/"+name] || strings.Contains(name, "/") {
				continue
			}
			p.Entries = append(p.Entries, JobPlanEntry{
				Rule:      JobRule{ID: kind + ":" + name, Kind: kind, Name: name},
				Undefined: true,
				Fleet:     readFleet(ctx, r, kind, name, "", now),
			})
		}
	}
	return p
}

// PreviewLifecycle adds to each lifecycle rule of cfg in the plan what a
// run would do now (lifecycle.PlanRule over resolve: listings only, no
// write, no lease): the counts, not the actions.
func (p *JobsPlan) PreviewLifecycle(ctx context.Context, cfg *config.Config, resolve lifecycle.Resolver, now time.Time) {
	rules := map[string]config.LifecycleRule{}
	for _, r := range cfg.Storage.Lifecycle.Rules {
		rules[r.Name] = r
	}
	for i := range p.Entries {
		e := &p.Entries[i]
		r, ok := rules[e.Rule.Name]
		if e.Undefined || e.Rule.Kind != lease.KindLifecycle || !ok {
			continue
		}
		plan, err := lifecycle.PlanRule(ctx, resolve, r, now)
		if err != nil {
			e.PreviewErr = err
			continue
		}
		e.Preview = &plan.Stats
	}
}

func readFleet(ctx context.Context, r FleetReader, kind, name, hash string, now time.Time) *JobFleet {
	f := &JobFleet{}
	var rec lease.Record
	ok, err := readJSON(ctx, r, lease.Key(kind, name), &rec)
	if err != nil {
		f.Err = err
		return f
	}
	if ok {
		f.Lease = &rec
		f.Held = rec.HeldAt(now)
		f.HashDiffers = hash != "" && rec.RuleHash != "" && rec.RuleHash != hash
	}
	var st jobs.State
	if ok, err = readJSON(ctx, r, jobs.StateKey(kind, name), &st); err != nil {
		f.Err = err
		return f
	}
	if ok {
		f.State = &st
	}
	return f
}

// readJSON reads key into v; false when there is no such object.
func readJSON(ctx context.Context, r FleetReader, key string, v any) (bool, error) {
	body, _, err := r.Get(ctx, key)
	if errors.Is(err, lease.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if err := json.Unmarshal(body, v); err != nil {
		return false, fmt.Errorf("%s: %w", key, err)
	}
	return true, nil
}

// Write renders the plan for people: one rule a line (enabled or not, its
// hash and definition), and below it what the fleet's objects say.
func (p JobsPlan) Write(w io.Writer, now time.Time) error {
	var b strings.Builder
	b.WriteString("Jobs:\n")
	if len(p.Entries) == 0 {
		b.WriteString("  no replication or lifecycle rules\n")
	}
	switch {
	case p.Where == "":
		b.WriteString("  (the fleet's lease and state objects were not read)\n")
	default:
		fmt.Fprintf(&b, "  (lease and state objects read from %s at %s; nothing taken)\n", p.Where, now.UTC().Format(time.RFC3339))
	}
	for _, e := range p.Entries {
		if e.Undefined {
			fmt.Fprintf(&b, "? %s: not defined by this config (another instance's, or a removed rule)\n", e.Rule.ID)
		} else {
			state := "enabled"
			if !e.Rule.Enabled {
				state = "disabled"
			}
			fmt.Fprintf(&b, "  %s: %s, %s\n      %s\n", e.Rule.ID, state, e.Rule.Hash, e.Rule.What)
		}
		if e.Fleet != nil {
			writeFleet(&b, e, now)
		}
		writePreview(&b, e)
	}
	if p.ReadErr != nil {
		fmt.Fprintf(&b, "  (the fleet's other rules could not be listed: %v)\n", p.ReadErr)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func writeFleet(b *strings.Builder, e JobPlanEntry, now time.Time) {
	f := e.Fleet
	if f.Err != nil {
		fmt.Fprintf(b, "      fleet: unreadable: %v\n", f.Err)
		return
	}
	switch rec := f.Lease; {
	case rec == nil:
		b.WriteString("      lease: never taken\n")
	case f.Held:
		fmt.Fprintf(b, "      lease: held by %s (token %d) until %s (%s from now)\n", rec.Holder, rec.Token,
			rec.Expires.UTC().Format(time.RFC3339), rec.Expires.Sub(now).Round(time.Second))
	case rec.Released:
		fmt.Fprintf(b, "      lease: free (released by %s, token %d)\n", rec.Holder, rec.Token)
	default:
		fmt.Fprintf(b, "      lease: free (expired %s, last held by %s, token %d)\n",
			rec.Expires.UTC().Format(time.RFC3339), rec.Holder, rec.Token)
	}
	if rec := f.Lease; rec != nil && rec.RuleHash != "" && !e.Undefined {
		if f.HashDiffers {
			fmt.Fprintf(b, "      definition: DIFFERS: the lease records %s, this config %s\n", rec.RuleHash, e.Rule.Hash)
		} else {
			b.WriteString("      definition: same as the lease's\n")
		}
	} else if rec != nil && rec.RuleHash != "" {
		fmt.Fprintf(b, "      definition: the lease records %s\n", rec.RuleHash)
	}
	st := f.State
	if st == nil {
		b.WriteString("      state: none yet\n")
		return
	}
	if st.Paused {
		fmt.Fprintf(b, "      paused: yes, by %s at %s\n", st.PausedBy, st.PausedAt.UTC().Format(time.RFC3339))
	} else {
		b.WriteString("      paused: no\n")
	}
	if c := st.Current; c != nil && c.Status == jobs.StatusRunning {
		fmt.Fprintf(b, "      run in progress: %s on %s since %s\n", c.ID, c.Node, c.Started.UTC().Format(time.RFC3339))
	}
	if n := len(st.Runs); n > 0 {
		r := st.Runs[n-1]
		fmt.Fprintf(b, "      last run: %s %s on %s at %s (%d copied, %d deleted, %d failed)\n", r.ID, r.Status, r.Node,
			r.Finished.UTC().Format(time.RFC3339), r.Counts.Copied, r.Counts.Deleted, r.Counts.Failed)
	}
}

func writePreview(b *strings.Builder, e JobPlanEntry) {
	switch st := e.Preview; {
	case e.PreviewErr != nil:
		fmt.Fprintf(b, "      preview: failed: %v\n", e.PreviewErr)
	case st != nil:
		fmt.Fprintf(b, "      preview: %d objects in scope, %d to act on (%d bytes)", st.Scanned, st.Actions, st.ActionBytes)
		if st.Protected > 0 {
			fmt.Fprintf(b, ", %d protected by protect_younger_than", st.Protected)
		}
		if st.AlreadyTransitioned > 0 {
			fmt.Fprintf(b, ", %d already at the destination", st.AlreadyTransitioned)
		}
		b.WriteString("\n")
	}
}
