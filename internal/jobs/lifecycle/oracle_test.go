package lifecycle_test

import (
	"fmt"
	"math/rand/v2"
	"path"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dgp-proxy/dgp/internal/config"
	"github.com/dgp-proxy/dgp/internal/jobs/lifecycle"
	"github.com/dgp-proxy/dgp/internal/testutil"
)

// retain-newest's streaming selection (a directory walk, a heap of count
// per directory, pages of batch_size) against a reference that holds
// everything: group by directory, keep the qualifying ones, sort newest
// first, delete past count unless protected. Random trees, times (with
// ties), sizes, counts and pages.
func TestRetainNewestAgainstReference(t *testing.T) {
	dirs := []string{"", "a/", "a/b/", "a/b/c/", "a/x/", "bb/", "bb/a/"}
	for seed := range uint64(8) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 13))
			clock := testutil.NewClock(t0)
			be := dirStore(t, clock, "b")
			var objs []object
			for i := range 40 + rng.IntN(40) {
				dir := dirs[rng.IntN(len(dirs))]
				objs = append(objs, object{fmt.Sprintf("%sk%02d", dir, i), time.Duration(rng.IntN(30)) * time.Hour, rng.IntN(200)})
			}
			putAll(t, be, clock, "b", objs)
			a := config.LifecycleAction{
				Type:               config.ActionRetainNewest,
				Count:              1 + rng.IntN(4),
				Qualify:            config.RetainQualify{MinSizeBytes: int64(rng.IntN(60)), MinAge: time.Duration(rng.IntN(6)) * time.Hour},
				ProtectYoungerThan: time.Duration(rng.IntN(12)) * time.Hour,
			}
			prefix := []string{"", "a/", "a", "bb/"}[rng.IntN(4)]
			r := rule("b", prefix, a, 0)
			r.BatchSize = 1 + rng.IntN(5)
			now := t0.Add(30 * time.Hour)

			want, protected := reference(objs, prefix, a, now)
			plan, _ := previewThenApply(t, lifecycle.StoreResolver(be), r, now)
			got := actionKeys(plan.Actions)
			slices.Sort(got)
			if !slices.Equal(got, want) || plan.Stats.Protected != protected {
				t.Fatalf("rule %+v prefix %q pages %d:\ndeletes   %v (protected %d)\nreference %v (protected %d)",
					a, prefix, r.BatchSize, got, plan.Stats.Protected, want, protected)
			}
			var left []string
			for _, o := range objs {
				if !slices.Contains(want, o.key) {
					left = append(left, o.key)
				}
			}
			mustKeys(t, be, "b", left...)
		})
	}
}

// reference is retain-newest computed over the whole listing at once.
func reference(objs []object, prefix string, a config.LifecycleAction, now time.Time) (deletes []string, protected int64) {
	groups := map[string][]object{}
	for _, o := range objs {
		if !strings.HasPrefix(o.key, prefix) {
			continue
		}
		age := now.Sub(t0.Add(o.at))
		if int64(o.size) < a.Qualify.MinSizeBytes || age < a.Qualify.MinAge {
			continue
		}
		dir, _ := path.Split(o.key)
		groups[dir] = append(groups[dir], o)
	}
	for _, g := range groups {
		slices.SortFunc(g, func(x, y object) int { // newest first
			if x.at != y.at {
				return int(y.at - x.at)
			}
			return strings.Compare(y.key, x.key)
		})
		for _, o := range g[min(a.Count, len(g)):] {
			if now.Sub(t0.Add(o.at)) < a.ProtectYoungerThan {
				protected++
				continue
			}
			deletes = append(deletes, o.key)
		}
	}
	slices.Sort(deletes)
	return deletes, protected
}
