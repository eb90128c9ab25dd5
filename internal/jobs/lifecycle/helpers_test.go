package lifecycle_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dgp-proxy/dgp/internal/config"
	"github.com/dgp-proxy/dgp/internal/jobs/lifecycle"
	"github.com/dgp-proxy/dgp/internal/storage"
	"github.com/dgp-proxy/dgp/internal/storage/fsbackend"
	"github.com/dgp-proxy/dgp/internal/testutil"
)

// t0 is the tests' epoch: objects are written at t0 + offsets on an
// injected clock.
var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

const day = 24 * time.Hour

// dirStore is a real directory backend in a temp dir, on clock, with the
// given buckets.
func dirStore(t *testing.T, clock *testutil.Clock, buckets ...string) *fsbackend.Backend {
	t.Helper()
	return namedDirStore(t, "dir", clock, buckets...)
}

// namedDirStore is dirStore with a backend name (routers need distinct ones).
func namedDirStore(t *testing.T, name string, clock *testutil.Clock, buckets ...string) *fsbackend.Backend {
	t.Helper()
	be, err := fsbackend.New(name, t.TempDir(), clock.Now)
	testutil.Must(t, err, "fsbackend.New")
	t.Cleanup(func() { _ = be.Close() })
	for _, b := range buckets {
		testutil.Must(t, be.CreateBucket(context.Background(), b, storage.CreateBucketOptions{}), "create bucket %s", b)
	}
	return be
}

// object is one object a test writes.
type object struct {
	key  string
	at   time.Duration // written at t0 + at
	size int
}

// body is an object's content: its key repeated to size bytes.
func body(key string, size int) []byte {
	if size == 0 {
		return nil
	}
	return bytes.Repeat([]byte(key+"|"), size/(len(key)+1)+1)[:size]
}

// putAll writes objs in the order of their times, moving clock to each.
func putAll(t *testing.T, st lifecycle.Store, clock *testutil.Clock, bucket string, objs []object) {
	t.Helper()
	sorted := slices.Clone(objs)
	slices.SortStableFunc(sorted, func(a, b object) int { return int(a.at - b.at) })
	for _, o := range sorted {
		if d := t0.Add(o.at).Sub(clock.Now()); d > 0 {
			clock.Advance(d)
		}
		put(t, st, bucket, o.key, body(o.key, o.size))
	}
}

func put(t testing.TB, st lifecycle.Store, bucket, key string, data []byte) {
	t.Helper()
	_, err := st.PutObject(context.Background(), bucket, key, bytes.NewReader(data), int64(len(data)), storage.PutOptions{
		ContentType:  "application/x-test",
		UserMetadata: map[string]string{"origin": "lifecycle-test", "key-len": fmt.Sprint(len(key))},
	})
	testutil.Must(t, err, "put %s/%s", bucket, key)
}

// keys lists every key of bucket.
func keys(t testing.TB, st lifecycle.Store, bucket string) []string {
	t.Helper()
	var out []string
	marker := ""
	for {
		page, err := st.ListObjects(context.Background(), bucket, storage.ListOptions{Marker: marker, MaxKeys: 1000})
		testutil.Must(t, err, "list %s", bucket)
		for _, o := range page.Objects {
			out = append(out, o.Key)
		}
		if !page.IsTruncated {
			return out
		}
		marker = page.Objects[len(page.Objects)-1].Key
	}
}

// read returns an object's bytes and metadata.
func read(t testing.TB, st lifecycle.Store, bucket, key string) ([]byte, storage.ObjectInfo) {
	t.Helper()
	obj, err := st.GetObject(context.Background(), bucket, key, storage.GetOptions{})
	testutil.Must(t, err, "get %s/%s", bucket, key)
	defer obj.Body.Close()
	data, err := io.ReadAll(obj.Body)
	testutil.Must(t, err, "read %s/%s", bucket, key)
	return data, obj.Info
}

// rule builds a validated-looking rule.
func rule(bucket, prefix string, action config.LifecycleAction, expire time.Duration) config.LifecycleRule {
	r := config.NewLifecycleRule("r1", config.JobLocation{Bucket: bucket, Prefix: prefix}, action)
	r.Enabled = true
	r.ExpireAfter = expire
	return r
}

// openFence never refuses.
type openFence struct{}

func (openFence) Check() error { return nil }

var errTestFenced = errors.New("test fence: lease lost")

// countdownFence allows n checks, then refuses every one.
type countdownFence struct {
	left   atomic.Int64
	checks atomic.Int64
}

func newCountdown(n int64) *countdownFence {
	f := &countdownFence{}
	f.left.Store(n)
	return f
}

func (f *countdownFence) Check() error {
	f.checks.Add(1)
	if f.left.Add(-1) < 0 {
		return errTestFenced
	}
	return nil
}

// condFence refuses once refuse returns true.
type condFence func() bool

func (f condFence) Check() error {
	if f() {
		return errTestFenced
	}
	return nil
}

// actionKeys are the keys of actions, in order.
func actionKeys(as []lifecycle.Action) []string {
	out := make([]string, 0, len(as))
	for _, a := range as {
		out = append(out, a.Key)
	}
	return out
}

// comparable drops Reason, which carries the age.
func comparable(as []lifecycle.Action) []lifecycle.Action {
	out := slices.Clone(as)
	for i := range out {
		out[i].Reason = ""
		out[i].LastModified = out[i].LastModified.UTC()
	}
	return out
}

// previewThenApply previews rule, applies it at the same now and checks
// the run did exactly what the preview listed, without failures.
func previewThenApply(t *testing.T, resolve lifecycle.Resolver, r config.LifecycleRule, now time.Time) (*lifecycle.Plan, *lifecycle.Result) {
	t.Helper()
	ctx := context.Background()
	plan, err := lifecycle.PlanRule(ctx, resolve, r, now)
	testutil.Must(t, err, "plan")
	res, err := lifecycle.Apply(ctx, resolve, r, now, openFence{}, nil)
	testutil.Must(t, err, "apply")
	if res.Failed != 0 {
		t.Fatalf("run failed %d actions: %+v", res.Failed, res.Failures)
	}
	byKey := func(a, b lifecycle.Action) int { return strings.Compare(a.Key, b.Key) }
	planned, done := comparable(plan.Actions), comparable(res.Done)
	slices.SortFunc(planned, byKey)
	slices.SortFunc(done, byKey) // workers finish in any order
	if !slices.Equal(planned, done) {
		t.Fatalf("preview listed %v\nthe run did %v", actionKeys(plan.Actions), actionKeys(res.Done))
	}
	if plan.Stats != res.Stats {
		t.Fatalf("preview stats %+v, run stats %+v", plan.Stats, res.Stats)
	}
	return plan, res
}

// mustKeys fails unless bucket holds exactly want.
func mustKeys(t *testing.T, st lifecycle.Store, bucket string, want ...string) {
	t.Helper()
	got := keys(t, st, bucket)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("bucket %s holds %v, want %v", bucket, got, want)
	}
}
