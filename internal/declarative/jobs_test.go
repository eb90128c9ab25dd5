package declarative_test

import (
	"context"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dgp-proxy/dgp/internal/config"
	"github.com/dgp-proxy/dgp/internal/declarative"
	"github.com/dgp-proxy/dgp/internal/jobs"
	"github.com/dgp-proxy/dgp/internal/lease"
	"github.com/dgp-proxy/dgp/internal/testutil"
)

// jobsYAML defines two replication rules and a lifecycle rule.
const jobsYAML = `
storage:
  backends:
    - {name: local, type: filesystem, path: /srv/objects}
  replication:
    rules:
      - name: releases
        source: {bucket: releases}
        destination: {bucket: releases-dr, prefix: copy/}
        replicate_deletes: true
      - name: logs
        enabled: false
        source: {bucket: logs}
        destination: {bucket: logs-dr}
  lifecycle:
    enabled: true
    rules:
      - name: old-logs
        enabled: true
        bucket: logs
        prefix: app/
        action: delete
        expire_after: 720h
`

func TestJobRules(t *testing.T) {
	cfg := parse(t, jobsYAML, nil)
	rules := declarative.JobRules(cfg)
	if len(rules) != 3 {
		t.Fatalf("%d rules: %+v", len(rules), rules)
	}
	r, l := cfg.Storage.Replication.Rules[0], cfg.Storage.Lifecycle.Rules[0]
	want := []struct {
		id, hash string
		enabled  bool
		what     string
	}{
		{"replication:releases", r.Hash(), true, "releases/ -> releases-dr/copy/"},
		{"replication:logs", cfg.Storage.Replication.Rules[1].Hash(), false, "logs/ -> logs-dr/"},
		{"lifecycle:old-logs", l.Hash(), true, "logs/app/: delete after 720h0m0s"},
	}
	for i, w := range want {
		g := rules[i]
		if g.ID != w.id || g.Hash != w.hash || g.Enabled != w.enabled || !strings.Contains(g.What, w.what) {
			t.Errorf("rule %d = %+v, want %+v", i, g, w)
		}
	}
	if !strings.Contains(rules[0].What, "deletes replicated") {
		t.Errorf("replicate_deletes not said: %q", rules[0].What)
	}
}

// TestPlanJobsReadsFleet: a lease held by another node with another
// definition, a paused rule, a rule only the fleet knows; and the plan
// writes nothing.
func TestPlanJobsReadsFleet(t *testing.T) {
	ctx := context.Background()
	cfg := parse(t, jobsYAML, nil)
	rules := declarative.JobRules(cfg)
	dir := t.TempDir()
	store, err := jobs.NewDirStore(dir)
	testutil.Must(t, err, "dir store")
	clock := testutil.NewClock(t0)
	m, err := lease.New(lease.Options{Store: store, Node: "node-b", Now: clock.Now})
	testutil.Must(t, err, "lease manager")

	// releases: held by node-b, which runs another definition.
	_, err = m.Acquire(ctx, lease.KindReplication, "releases", "sha256:0000000000000000")
	testutil.Must(t, err, "acquire releases")
	// old-logs: held, then released, by node-b with this definition; paused.
	l, err := m.Acquire(ctx, lease.KindLifecycle, "old-logs", rules[2].Hash)
	testutil.Must(t, err, "acquire old-logs")
	testutil.Must(t, l.Release(ctx), "release old-logs")
	putState(t, store, jobs.State{Version: 1, Kind: lease.KindLifecycle, Rule: "old-logs", Paused: true, PausedBy: "node-c", PausedAt: t0,
		Runs: []jobs.Run{{ID: "r-1", Node: "node-b", Status: jobs.StatusSucceeded, Finished: t0, Counts: jobs.Counts{Deleted: 7}}}})
	// gone: a rule of another configuration.
	putState(t, store, jobs.State{Version: 1, Kind: lease.KindReplication, Rule: "gone"})

	before := snapshot(t, dir)
	p := declarative.PlanJobs(ctx, rules, store, "data dir x", t0.Add(10*time.Second))
	if after := snapshot(t, dir); !equalMaps(before, after) {
		t.Fatalf("the plan wrote:\nbefore %v\nafter  %v", before, after)
	}
	if p.ReadErr != nil || len(p.Entries) != 4 {
		t.Fatalf("plan: %v, %d entries", p.ReadErr, len(p.Entries))
	}
	rel, logs, old, gone := p.Entries[0], p.Entries[1], p.Entries[2], p.Entries[3]
	if f := rel.Fleet; f.Err != nil || f.Lease == nil || !f.Held || f.Lease.Holder != "node-b" || !f.HashDiffers || f.State != nil {
		t.Errorf("releases: %+v", f)
	}
	if f := logs.Fleet; f.Err != nil || f.Lease != nil || f.State != nil {
		t.Errorf("logs: %+v", f)
	}
	if f := old.Fleet; f.Err != nil || f.Lease == nil || f.Held || f.HashDiffers || f.State == nil || !f.State.Paused {
		t.Errorf("old-logs: %+v", f)
	}
	if !gone.Undefined || gone.Rule.ID != "replication:gone" || gone.Fleet == nil || gone.Fleet.State == nil {
		t.Errorf("gone: %+v", gone)
	}

	var out strings.Builder
	testutil.Must(t, p.Write(&out, t0.Add(10*time.Second)), "write")
	text := out.String()
	for _, want := range []string{
		"replication:releases: enabled, " + rules[0].Hash,
		"lease: held by node-b (token 1) until 2026-05-06T07:09:09Z (50s from now)",
		"definition: DIFFERS: the lease records sha256:0000000000000000, this config " + rules[0].Hash,
		"replication:logs: disabled",
		"lease: never taken",
		"lease: free (released by node-b, token 1)",
		"definition: same as the lease's",
		"paused: yes, by node-c",
		"last run: r-1 succeeded on node-b",
		"? replication:gone: not defined by this config",
		"read from data dir x",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("plan lacks %q:\n%s", want, text)
		}
	}
}

// TestPlanJobsOffline: without a reader only the rules are shown.
func TestPlanJobsOffline(t *testing.T) {
	p := declarative.PlanJobs(context.Background(), declarative.JobRules(parse(t, jobsYAML, nil)), nil, "", t0)
	var out strings.Builder
	testutil.Must(t, p.Write(&out, t0), "write")
	if len(p.Entries) != 3 || p.Entries[0].Fleet != nil || !strings.Contains(out.String(), "were not read") ||
		strings.Contains(out.String(), "lease:") {
		t.Fatalf("offline plan:\n%s", out.String())
	}
	p = declarative.PlanJobs(context.Background(), declarative.JobRules(&config.Config{}), nil, "", t0)
	out.Reset()
	testutil.Must(t, p.Write(&out, t0), "write")
	if !strings.Contains(out.String(), "no replication or lifecycle rules") {
		t.Fatalf("empty plan:\n%s", out.String())
	}
}

func putState(t *testing.T, s jobs.Store, st jobs.State) {
	t.Helper()
	b, err := json.Marshal(st)
	testutil.Must(t, err, "marshal")
	_, err = s.PutIfNoneMatch(context.Background(), jobs.StateKey(st.Kind, st.Rule), b)
	testutil.Must(t, err, "put state")
}

// snapshot maps every file under dir to its contents and mode time.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	m := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		body := ""
		if !d.IsDir() {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			body = string(b)
		}
		m[p] = info.ModTime().String() + " " + body
		return nil
	})
	testutil.Must(t, err, "walk")
	return m
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}
