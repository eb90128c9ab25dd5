package lifecycle_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/dgp-proxy/dgp/internal/config"
	"github.com/dgp-proxy/dgp/internal/jobs"
	"github.com/dgp-proxy/dgp/internal/jobs/lifecycle"
	"github.com/dgp-proxy/dgp/internal/lease"
	"github.com/dgp-proxy/dgp/internal/storage"
	"github.com/dgp-proxy/dgp/internal/testutil"
)

// Two instances (two engines over one shared state directory, as a fleet
// over one sync bucket) tick the same lifecycle rule at once: the engine
// preview lists the moves, the rule runs once (every object copied and
// deleted once over all runs of both), and the runs are recorded with
// their counts.
func TestEngineRunsRuleOnce(t *testing.T) {
	clock := testutil.NewClock(t0)
	hot := namedDirStore(t, "hot-dir", clock, "hot")
	cold := namedDirStore(t, "cold-dir", clock, "cold")
	router, err := storage.NewRouter([]storage.Backend{hot, cold}, hot.Name(), map[string]storage.Route{"cold": {Backend: cold.Name()}})
	testutil.Must(t, err, "router")
	const n = 40
	var objs []object
	for i := range n {
		objs = append(objs, object{fmt.Sprintf("rel/%03d", i), time.Duration(i) * time.Minute, 1000 + i})
	}
	putAll(t, hot, clock, "hot", objs)

	r := rule("hot", "rel/", config.LifecycleAction{
		Type: config.ActionTransition, Destination: config.JobLocation{Bucket: "cold", Prefix: "rel/"}, DeleteSourceAfterSuccess: true,
	}, day)
	r.BatchSize = 7
	lc := config.LifecycleConfig{Enabled: true, TickInterval: 20 * time.Millisecond, MaxFailuresRetained: 10, Rules: []config.LifecycleRule{r}}
	now := func() time.Time { return t0.Add(2 * day) }
	state := t.TempDir()
	engine := func(node string) *jobs.Engine {
		ls, err := lease.NewDirStore(state)
		testutil.Must(t, err, "lease store")
		m, err := lease.New(lease.Options{Store: ls, Node: node, TTL: 3 * time.Second, Heartbeat: time.Second, Logger: zerolog.Nop()})
		testutil.Must(t, err, "lease manager")
		st, err := jobs.NewDirStore(state)
		testutil.Must(t, err, "jobs store")
		e, err := jobs.New(jobs.Options{Node: node, Leases: m, Store: st, Buckets: router, Lifecycle: lc,
			LifecycleWork: lifecycle.NewWork(lifecycle.RouterResolver(router), now), Logger: zerolog.Nop()})
		testutil.Must(t, err, "engine %s", node)
		return e
	}
	e1, e2 := engine("node-1"), engine("node-2")
	ctx := context.Background()

	pv, err := e2.Preview(ctx, r.JobID())
	testutil.Must(t, err, "preview")
	plan, ok := pv.(*lifecycle.Plan)
	if !ok || len(plan.Actions) != n {
		t.Fatalf("preview: %T with %d actions, want *lifecycle.Plan with %d", pv, len(plan.Actions), n)
	}

	runCtx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for _, e := range []*jobs.Engine{e1, e2} {
		wg.Go(func() { _ = e.Run(runCtx) })
	}
	testutil.RetryUntil(t, 30*time.Second, func() error {
		if k := keys(t, hot, "hot"); len(k) != 0 {
			return fmt.Errorf("%d objects still in hot", len(k))
		}
		runs, err := e1.Runs(ctx, r.JobID())
		if err != nil {
			return err
		}
		if len(runs) == 0 {
			return fmt.Errorf("no run recorded yet")
		}
		for _, run := range runs {
			if run.Finished.IsZero() {
				return fmt.Errorf("run %s still %s", run.ID, run.Status)
			}
		}
		return nil
	})
	cancel()
	wg.Wait()

	if k := keys(t, cold, "cold"); len(k) != n {
		t.Fatalf("cold holds %d objects, want %d", len(k), n)
	}
	runs, err := e2.Runs(ctx, r.JobID())
	testutil.Must(t, err, "runs")
	slices.SortFunc(runs, func(a, b jobs.Run) int { return a.Started.Compare(b.Started) })
	for i := 1; i < len(runs); i++ {
		if runs[i].Started.Before(runs[i-1].Finished) {
			t.Fatalf("runs overlap: %+v and %+v", runs[i-1], runs[i])
		}
	}
	var total jobs.Counts
	for _, run := range runs {
		if run.Status != "succeeded" {
			t.Fatalf("run %+v", run)
		}
		total.Copied += run.Counts.Copied
		total.Deleted += run.Counts.Deleted
		total.Failed += run.Counts.Failed
	}
	if total.Copied != n || total.Deleted != n || total.Failed != 0 {
		t.Fatalf("runs %+v: copied %d, deleted %d, failed %d; want each object copied and deleted once", runs, total.Copied, total.Deleted, total.Failed)
	}
}
