package lifecycle_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dgp-proxy/dgp/internal/config"
	"github.com/dgp-proxy/dgp/internal/jobs/lifecycle"
	"github.com/dgp-proxy/dgp/internal/storage"
	"github.com/dgp-proxy/dgp/internal/testutil"
)

// delete removes what reached expire_after (ages on the injected clock),
// spares the younger objects, the excluded ones and .deltaglider/, and a
// second run finds nothing to do.
func TestDeleteExpireAfter(t *testing.T) {
	clock := testutil.NewClock(t0)
	be := dirStore(t, clock, "logs")
	putAll(t, be, clock, "logs", []object{
		{".deltaglider/leases/lifecycle/r1.json", 0, 10},
		{"app/2026-01-01.log", 0, 100},
		{"app/2026-01-02.log", 1 * day, 100},
		{"app/2026-01-02.keep", 1 * day, 100},
		{"app/2026-01-20.log", 19 * day, 100},
		{"web/2026-01-01.log", 0, 50},
		{"x", 2 * day, 1},
	})
	r := rule("logs", "", config.LifecycleAction{Type: config.ActionDelete}, 30*day)
	r.ExcludeGlobs = []string{"**/*.keep"}
	r.BatchSize = 2         // several pages
	now := t0.Add(32 * day) // ages: 32d, 31d, 31d, 13d, 32d, 30d

	plan, res := previewThenApply(t, lifecycle.StoreResolver(be), r, now)
	want := []string{"app/2026-01-01.log", "app/2026-01-02.log", "web/2026-01-01.log", "x"}
	if got := actionKeys(plan.Actions); !slices.Equal(got, want) {
		t.Fatalf("plan deletes %v, want %v", got, want)
	}
	if plan.Stats.Scanned != 5 || plan.Stats.ActionBytes != 251 {
		t.Fatalf("plan stats %+v: want 5 scanned (.deltaglider/ and *.keep left out), 251 bytes", plan.Stats)
	}
	if res.Deleted != 4 || res.BytesDeleted != 251 {
		t.Fatalf("run deleted %d (%d bytes), want 4 (251)", res.Deleted, res.BytesDeleted)
	}
	mustKeys(t, be, "logs", ".deltaglider/leases/lifecycle/r1.json", "app/2026-01-02.keep", "app/2026-01-20.log")

	again, _ := previewThenApply(t, lifecycle.StoreResolver(be), r, now)
	if len(again.Actions) != 0 {
		t.Fatalf("second run plans %v", actionKeys(again.Actions))
	}
}

// retain-newest keeps the newest count qualifying objects of each
// directory, leaves the non-qualifying ones alone and spares those
// younger than protect_younger_than.
func TestRetainNewest(t *testing.T) {
	clock := testutil.NewClock(t0)
	be := dirStore(t, clock, "builds")
	h := time.Hour
	putAll(t, be, clock, "builds", []object{
		// builds/main/: m1..m6 qualify; tiny is too small; fresh too young.
		{"main/m1.zip", 1 * h, 100},
		{"main/m2.zip", 2 * h, 100},
		{"main/m3.zip", 3 * h, 100},
		{"main/m4.zip", 4 * h, 100},
		{"main/m5.zip", 5 * h, 100},
		{"main/m6.zip", 6 * h, 100},
		{"main/tiny.txt", 30 * time.Minute, 5},
		{"main/fresh.zip", 6*h + 30*time.Minute, 100},
		// builds/main/sub/: a group of its own.
		{"main/sub/s1.zip", 10 * time.Minute, 100},
		{"main/sub/s2.zip", 20 * time.Minute, 100},
		{"main/sub/s3.zip", 30 * time.Minute, 100},
		{"main/sub/s4.zip", 40 * time.Minute, 100},
		// builds/dev/: fewer than count.
		{"dev/d1.zip", 1 * h, 100},
		{"dev/d2.zip", 2 * h, 100},
		// outside the prefix.
		{"top.zip", 0, 100},
		{"zzz/old.zip", 0, 100},
	})
	r := rule("builds", "main/", config.LifecycleAction{
		Type:               config.ActionRetainNewest,
		Count:              3,
		Qualify:            config.RetainQualify{MinSizeBytes: 10, MinAge: h},
		ProtectYoungerThan: 5 * h,
	}, 0)
	r.BatchSize = 1 // pages of one key or common prefix
	now := t0.Add(7 * h)
	// main/: qualifying m1..m6 (m6 is 1h old: min_age reached), newest 3
	// kept (m4, m5, m6); m3 is 4h old: protected; m1 (6h), m2 (5h) go.
	// main/sub/: s1 (6h50m old) goes.
	plan, _ := previewThenApply(t, lifecycle.StoreResolver(be), r, now)
	got := actionKeys(plan.Actions)
	slices.Sort(got)
	want := []string{"main/m1.zip", "main/m2.zip", "main/sub/s1.zip"}
	if !slices.Equal(got, want) {
		t.Fatalf("plan deletes %v, want %v", got, want)
	}
	if plan.Stats.Protected != 1 {
		t.Fatalf("protected %d, want 1 (main/m3.zip)", plan.Stats.Protected)
	}
	mustKeys(t, be, "builds",
		"main/m3.zip", "main/m4.zip", "main/m5.zip", "main/m6.zip", "main/tiny.txt", "main/fresh.zip",
		"main/sub/s2.zip", "main/sub/s3.zip", "main/sub/s4.zip",
		"dev/d1.zip", "dev/d2.zip", "top.zip", "zzz/old.zip")

	// An hour later m3 is 5h old, no longer protected; fresh now
	// qualifies and is the newest, so m4 leaves the newest 3 as well (4h
	// old: protected).
	now = now.Add(h)
	plan, _ = previewThenApply(t, lifecycle.StoreResolver(be), r, now)
	if got := actionKeys(plan.Actions); !slices.Equal(got, []string{"main/m3.zip"}) || plan.Stats.Protected != 1 {
		t.Fatalf("an hour later: plan deletes %v (protected %d), want [main/m3.zip] (1)", got, plan.Stats.Protected)
	}

	// Whole bucket, count 1: each directory keeps its newest.
	r2 := rule("builds", "", config.LifecycleAction{Type: config.ActionRetainNewest, Count: 1}, 0)
	previewThenApply(t, lifecycle.StoreResolver(be), r2, now)
	mustKeys(t, be, "builds", "main/fresh.zip", "main/sub/s4.zip", "dev/d2.zip", "top.zip", "zzz/old.zip")
}

// transition copies to another backend, keeping bytes, content type and
// user metadata; the source is deleted only with
// delete_source_after_success; a second run copies nothing again.
func TestTransition(t *testing.T) {
	for _, move := range []bool{false, true} {
		name := map[bool]string{false: "archive", true: "move"}[move]
		t.Run(name, func(t *testing.T) {
			clock := testutil.NewClock(t0)
			hot := dirStore(t, clock, "hot")
			cold := dirStore(t, clock, "cold")
			resolve := func(bucket string) (lifecycle.Store, string) {
				if bucket == "cold" {
					return cold, bucket
				}
				return hot, bucket
			}
			putAll(t, hot, clock, "hot", []object{
				{"data/a.bin", 0, 300 << 10},
				{"data/b/c.bin", 1 * day, 1000},
				{"data/new.bin", 9 * day, 10},
				{"other/o.bin", 0, 10},
			})
			r := rule("hot", "data/", config.LifecycleAction{
				Type:                     config.ActionTransition,
				Destination:              config.JobLocation{Bucket: "cold", Prefix: "archive/"},
				DeleteSourceAfterSuccess: move,
			}, 7*day)
			now := t0.Add(10 * day)
			plan, res := previewThenApply(t, resolve, r, now)
			if got := actionKeys(plan.Actions); !slices.Equal(got, []string{"data/a.bin", "data/b/c.bin"}) {
				t.Fatalf("plan %v", got)
			}
			if res.Copied != 2 || res.BytesCopied != 300<<10+1000 {
				t.Fatalf("copied %d (%d bytes)", res.Copied, res.BytesCopied)
			}
			mustKeys(t, cold, "cold", "archive/a.bin", "archive/b/c.bin")
			for _, k := range []string{"a.bin", "b/c.bin"} {
				data, info := read(t, cold, "cold", "archive/"+k)
				if !bytes.Equal(data, body("data/"+k, len(data))) || len(data) == 0 {
					t.Fatalf("archive/%s: bytes differ from the source", k)
				}
				if info.ContentType != "application/x-test" || info.UserMetadata["origin"] != "lifecycle-test" {
					t.Fatalf("archive/%s: content type %q, metadata %v", k, info.ContentType, info.UserMetadata)
				}
			}
			if move {
				if res.Deleted != 2 {
					t.Fatalf("deleted %d sources, want 2", res.Deleted)
				}
				mustKeys(t, hot, "hot", "data/new.bin", "other/o.bin")
			} else {
				if res.Deleted != 0 {
					t.Fatalf("deleted %d sources, want 0", res.Deleted)
				}
				mustKeys(t, hot, "hot", "data/a.bin", "data/b/c.bin", "data/new.bin", "other/o.bin")
			}
			again, res2 := previewThenApply(t, resolve, r, now)
			if len(again.Actions) != 0 || res2.Copied != 0 {
				t.Fatalf("second run: plan %v, copied %d", actionKeys(again.Actions), res2.Copied)
			}
			if !move && again.Stats.AlreadyTransitioned != 2 {
				t.Fatalf("second run: %d already transitioned, want 2", again.Stats.AlreadyTransitioned)
			}
		})
	}
}

// A run interrupted after the copy and before the source's delete (a
// crash) is completed by the next run without copying again.
func TestTransitionResumesAfterCrash(t *testing.T) {
	clock := testutil.NewClock(t0)
	be := dirStore(t, clock, "hot", "cold")
	putAll(t, be, clock, "hot", []object{{"a", 0, 5000}, {"b", 0, 5000}})
	r := rule("hot", "", config.LifecycleAction{
		Type: config.ActionTransition, Destination: config.JobLocation{Bucket: "cold"}, DeleteSourceAfterSuccess: true,
	}, day)
	now := t0.Add(2 * day)
	// The fence refuses once b is at the destination: before b's delete.
	fence := condFence(func() bool { return slices.Contains(keys(t, be, "cold"), "b") })
	_, err := lifecycle.ApplyWith(context.Background(), lifecycle.StoreResolver(be), r, now, fence, nil, lifecycle.Options{Concurrency: 1})
	if !errors.Is(err, errTestFenced) {
		t.Fatalf("apply: %v, want the fence's refusal", err)
	}
	mustKeys(t, be, "hot", "b")
	mustKeys(t, be, "cold", "a", "b")
	plan, res := previewThenApply(t, lifecycle.StoreResolver(be), r, now)
	if len(plan.Actions) != 1 || !plan.Actions[0].AlreadyAtDestination || res.Copied != 0 || res.Deleted != 1 {
		t.Fatalf("resumed run: plan %+v, copied %d, deleted %d", plan.Actions, res.Copied, res.Deleted)
	}
	mustKeys(t, be, "hot")
	mustKeys(t, be, "cold", "a", "b")
}

// A fence that refuses mid-run stops the run before its next write: one
// worker in listing order, and eight (no write starts after the refusal).
func TestFenceStopsRun(t *testing.T) {
	for _, workers := range []int{1, 8} {
		t.Run(fmt.Sprint(workers), func(t *testing.T) {
			clock := testutil.NewClock(t0)
			be := dirStore(t, clock, "b")
			var objs []object
			for _, k := range strings.Fields("k0 k1 k2 k3 k4 k5 k6 k7 k8 k9") {
				objs = append(objs, object{k, 0, 10})
			}
			putAll(t, be, clock, "b", objs)
			r := rule("b", "", config.LifecycleAction{Type: config.ActionDelete}, day)
			fence := newCountdown(4)
			res, err := lifecycle.ApplyWith(context.Background(), lifecycle.StoreResolver(be), r, t0.Add(2*day), fence, nil, lifecycle.Options{Concurrency: workers})
			if !errors.Is(err, errTestFenced) {
				t.Fatalf("apply: %v, want the fence's refusal", err)
			}
			// Several workers: a delete that passed its check may still be
			// cancelled by the refusal's stop, so at most 4.
			left := keys(t, be, "b")
			if res.Deleted > 4 || len(left) != 10-int(res.Deleted) {
				t.Fatalf("deleted %d, %d left, want at most 4 deleted (one per allowed check), the rest left", res.Deleted, len(left))
			}
			if workers == 1 {
				if res.Deleted != 4 {
					t.Fatalf("deleted %d, want 4", res.Deleted)
				}
				if fence.checks.Load() != 5 {
					t.Fatalf("%d checks, want the 5th refused and no more", fence.checks.Load())
				}
				mustKeys(t, be, "b", "k4", "k5", "k6", "k7", "k8", "k9")
			}
		})
	}
}

// A fence lost while a copy's body streams fails the copy: nothing is
// stored at the destination and the source stays.
func TestFenceStopsCopyMidBody(t *testing.T) {
	clock := testutil.NewClock(t0)
	be := dirStore(t, clock, "hot", "cold")
	putAll(t, be, clock, "hot", []object{{"big", 0, 4 << 20}})
	r := rule("hot", "", config.LifecycleAction{
		Type: config.ActionTransition, Destination: config.JobLocation{Bucket: "cold"}, DeleteSourceAfterSuccess: true,
	}, day)
	fence := newCountdown(3) // the check before the put, then two reads
	_, err := lifecycle.Apply(context.Background(), lifecycle.StoreResolver(be), r, t0.Add(2*day), fence, nil)
	if !errors.Is(err, errTestFenced) || fence.checks.Load() != 4 {
		t.Fatalf("apply: %v after %d checks, want the fence's refusal at the 4th (3rd read)", err, fence.checks.Load())
	}
	mustKeys(t, be, "cold")
	mustKeys(t, be, "hot", "big")
}

// Two runs of the same rule at once (two instances ticking without a
// lease) leave the state one run leaves: Apply is safe to repeat.
func TestConcurrentApply(t *testing.T) {
	cases := []struct {
		name   string
		action config.LifecycleAction
		expire time.Duration
		hot    []string
		cold   []string
	}{
		{"delete", config.LifecycleAction{Type: config.ActionDelete}, 5 * day, []string{"d/k06", "d/k07", "d/k08", "d/k09"}, nil},
		{"retain-newest", config.LifecycleAction{Type: config.ActionRetainNewest, Count: 3}, 0, []string{"d/k07", "d/k08", "d/k09"}, nil},
		{"move", config.LifecycleAction{Type: config.ActionTransition, Destination: config.JobLocation{Bucket: "cold"}, DeleteSourceAfterSuccess: true}, 5 * day,
			[]string{"d/k06", "d/k07", "d/k08", "d/k09"}, []string{"k00", "k01", "k02", "k03", "k04", "k05"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			clock := testutil.NewClock(t0)
			be := dirStore(t, clock, "hot", "cold")
			var objs []object
			for i := range 10 {
				objs = append(objs, object{"d/k0" + string(rune('0'+i)), time.Duration(i) * day, 20000})
			}
			putAll(t, be, clock, "hot", objs)
			r := rule("hot", "d/", tc.action, tc.expire)
			r.BatchSize = 3
			now := t0.Add(10 * day) // ages 10d (k00) .. 1d (k09)
			var wg sync.WaitGroup
			results := make([]*lifecycle.Result, 2)
			errs := make([]error, 2)
			for i := range 2 {
				wg.Go(func() {
					results[i], errs[i] = lifecycle.Apply(context.Background(), lifecycle.StoreResolver(be), r, now, openFence{}, nil)
				})
			}
			wg.Wait()
			for i := range 2 {
				if errs[i] != nil || results[i].Failed != 0 {
					t.Fatalf("run %d: %v, failures %+v", i, errs[i], results[i].Failures)
				}
			}
			mustKeys(t, be, "hot", tc.hot...)
			mustKeys(t, be, "cold", tc.cold...)
			for _, k := range tc.cold {
				data, _ := read(t, be, "cold", k)
				if !bytes.Equal(data, body("d/"+k, 20000)) {
					t.Fatalf("cold/%s: bytes differ", k)
				}
			}
		})
	}
}

// Rules that would touch dgp's own objects are refused.
func TestReservedRefused(t *testing.T) {
	clock := testutil.NewClock(t0)
	be := dirStore(t, clock, "b")
	for _, r := range []config.LifecycleRule{
		rule("b", ".deltaglider/leases/", config.LifecycleAction{Type: config.ActionDelete}, day),
		rule("b", "x/", config.LifecycleAction{Type: config.ActionTransition, Destination: config.JobLocation{Bucket: "c", Prefix: ".deltaglider/"}}, day),
	} {
		if _, err := lifecycle.PlanRule(context.Background(), lifecycle.StoreResolver(be), r, t0); !errors.Is(err, lifecycle.ErrReserved) {
			t.Fatalf("prefix %q -> %q: %v, want ErrReserved", r.Prefix, r.Action.Destination.Prefix, err)
		}
	}
}

// A source written by a multipart upload (its ETag is not an MD5): the
// copy is verified by the MD5 of the bytes copied, and a later run finds
// it at the destination by reading the source's MD5 instead of copying.
func TestTransitionMultipartSource(t *testing.T) {
	clock := testutil.NewClock(t0)
	be := dirStore(t, clock, "hot", "cold")
	ctx := context.Background()
	id, err := be.CreateMultipartUpload(ctx, "hot", "mp", storage.PutOptions{ContentType: "application/x-mp"})
	testutil.Must(t, err, "create upload")
	part := body("mp", 5<<20)
	var parts []storage.CompletedPart
	for n := 1; n <= 2; n++ {
		pr, err := be.UploadPart(ctx, "hot", "mp", id, n, bytes.NewReader(part), int64(len(part)), storage.PartOptions{})
		testutil.Must(t, err, "upload part %d", n)
		parts = append(parts, storage.CompletedPart{PartNumber: n, ETag: pr.ETag})
	}
	done, err := be.CompleteMultipartUpload(ctx, "hot", "mp", id, parts)
	testutil.Must(t, err, "complete")
	if !strings.Contains(done.ETag, "-") {
		t.Fatalf("multipart ETag %s: want the <md5>-<n> form", done.ETag)
	}
	r := rule("hot", "", config.LifecycleAction{Type: config.ActionTransition, Destination: config.JobLocation{Bucket: "cold"}}, day)
	now := t0.Add(2 * day)
	_, res := previewThenApply(t, lifecycle.StoreResolver(be), r, now)
	if res.Copied != 1 {
		t.Fatalf("copied %d, want 1", res.Copied)
	}
	data, info := read(t, be, "cold", "mp")
	if !bytes.Equal(data, append(slices.Clone(part), part...)) || info.ContentType != "application/x-mp" {
		t.Fatalf("copy: %d bytes, content type %q", len(data), info.ContentType)
	}
	again, _ := previewThenApply(t, lifecycle.StoreResolver(be), r, now)
	if len(again.Actions) != 0 || again.Stats.AlreadyTransitioned != 1 {
		t.Fatalf("second run: plan %v, already transitioned %d", actionKeys(again.Actions), again.Stats.AlreadyTransitioned)
	}
}

// A destination that does not hold the source's bytes (a corrupted or
// different object of the same size) is copied over, not taken as done.
func TestTransitionDifferentDestination(t *testing.T) {
	clock := testutil.NewClock(t0)
	be := dirStore(t, clock, "hot", "cold")
	putAll(t, be, clock, "hot", []object{{"a", 0, 64}})
	put(t, be, "cold", "a", bytes.Repeat([]byte("x"), 64))
	r := rule("hot", "", config.LifecycleAction{Type: config.ActionTransition, Destination: config.JobLocation{Bucket: "cold"}, DeleteSourceAfterSuccess: true}, day)
	_, res := previewThenApply(t, lifecycle.StoreResolver(be), r, t0.Add(2*day))
	if res.Copied != 1 || res.Deleted != 1 {
		t.Fatalf("copied %d, deleted %d; want 1, 1", res.Copied, res.Deleted)
	}
	if data, _ := read(t, be, "cold", "a"); !bytes.Equal(data, body("a", 64)) {
		t.Fatalf("destination holds %q", data)
	}
}
