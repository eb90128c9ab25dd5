package configsync_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dgp-proxy/dgp/internal/configsync"
	"github.com/dgp-proxy/dgp/internal/configsync/configsynctest"
	"github.com/dgp-proxy/dgp/internal/notify"
	"github.com/dgp-proxy/dgp/internal/testutil"
)

func TestPullCoalescing(t *testing.T) {
	mem := configsynctest.NewMemBucket()
	f := configsynctest.NewFaulty(mem)
	w := newNode(t, mem)
	n := newNode(t, f)
	mustStart(t, w)
	mustStart(t, n)
	mustPublish(t, w, createUser("alice"))

	entered, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	f.OnGet(func(ctx context.Context, key, inm string, next configsynctest.GetFunc) ([]byte, string, error) {
		once.Do(func() {
			close(entered)
			<-release
		})
		return next(ctx, key, inm)
	})
	gets := f.Gets()

	n.Hint(notify.Hint{ETag: "e-0"}, "nats")
	first := make(chan error, 1)
	go func() {
		_, ran, err := n.PullPending(context.Background())
		if !ran {
			err = errors.New("no pull was pending")
		}
		first <- err
	}()
	<-entered
	// While the pull is stuck in its GET, a storm of triggers: none may
	// block, and together they ask for exactly one more pull.
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				if i%10 == 0 {
					n.Resync("nats", notify.ReasonReconnected)
				} else {
					n.Hint(notify.Hint{ETag: fmt.Sprintf("e-%d-%d", g, i)}, "sqs")
				}
			}
		}()
	}
	wg.Wait()
	close(release)
	if err := <-first; err != nil {
		t.Fatalf("first pull: %v", err)
	}
	if _, ran, err := n.PullPending(context.Background()); !ran || err != nil {
		t.Fatalf("the triggers during the pull did not leave one pull pending (ran %v, %v)", ran, err)
	}
	if _, ran, _ := n.PullPending(context.Background()); ran {
		t.Fatal("more than one pull was pending after the storm")
	}
	if got := f.Gets() - gets; got != 2 {
		t.Fatalf("201 triggers made %d GETs, want 2", got)
	}
	if !hasUser(n.Current(), "alice") {
		t.Fatal("the pull did not apply the db")
	}
}

func TestTriggersWithRun(t *testing.T) {
	mem := configsynctest.NewMemBucket()
	f := configsynctest.NewFaulty(mem)
	w := newNode(t, mem)
	n := newNode(t, f)
	mustStart(t, w)
	mustStart(t, n)
	runLoop(t, n)

	gets := f.Gets()
	for i := 0; i < 100; i++ {
		mustPublish(t, w, createUser(fmt.Sprintf("u%03d", i)))
		n.Hint(notify.Hint{ETag: w.Status().ETag}, "nats")
	}
	testutil.RetryUntil(t, 20*time.Second, func() error {
		if n.Current().Generation() != 100 {
			return fmt.Errorf("generation %d", n.Current().Generation())
		}
		return nil
	})
	if got := f.Gets() - gets; got < 1 || got > 100 {
		t.Fatalf("100 hints made %d GETs, want 1..100", got)
	}
	// A resync pulls (a conditional GET: nothing new).
	n.Resync("nats", notify.ReasonConnected)
	testutil.RetryUntil(t, 20*time.Second, func() error {
		if n.metric(t, "dgp_config_sync_pulls_total", "source", "reconnect", "result", "current") != 1 {
			return errors.New("the resync pull has not run")
		}
		return nil
	})
}

func TestHintWithHeldETagDoesNothing(t *testing.T) {
	mem := configsynctest.NewMemBucket()
	n := newNode(t, mem)
	mustStart(t, n)
	mustPublish(t, n, createUser("alice"))
	etag := n.Status().ETag
	for _, e := range []string{etag, `"` + etag + `"`} {
		n.Hint(notify.Hint{ETag: e}, "nats")
		if _, ran, _ := n.PullPending(context.Background()); ran {
			t.Fatalf("a hint with the held etag %s asked for a pull", e)
		}
	}
	n.Hint(notify.Hint{ETag: "something-else"}, "nats")
	if _, ran, _ := n.PullPending(context.Background()); !ran {
		t.Fatal("a hint with another etag did not ask for a pull")
	}
}

func TestEventLag(t *testing.T) {
	mem := configsynctest.NewMemBucket()
	w := newNode(t, mem)
	n := newNode(t, mem)
	mustStart(t, w)
	mustStart(t, n)
	mustPublish(t, w, createUser("alice"))
	n.Hint(notify.Hint{ETag: w.Status().ETag, EventTime: n.clock.Now().Add(-1500 * time.Millisecond)}, "nats")
	res, ran, err := n.PullPending(context.Background())
	if !ran || err != nil || !res.Downloaded {
		t.Fatalf("event pull: %+v %v %v", res, ran, err)
	}
	if got := n.metric(t, "dgp_config_sync_event_apply_lag_seconds"); got != 1 {
		t.Fatalf("lag histogram count = %v, want 1", got)
	}
	lines := n.logs.lines("config db applied")
	if len(lines) != 1 || lines[0]["lag_ms"] != float64(1500) || lines[0]["source"] != "event" {
		t.Fatalf("applied log: %v", lines)
	}
	if got := n.metric(t, "dgp_config_sync_pulls_total", "source", "event", "result", "updated"); got != 1 {
		t.Fatalf("pulls_total{event,updated} = %v", got)
	}
}

func TestPollJitterAndLoop(t *testing.T) {
	const interval = 40 * time.Millisecond
	for _, tc := range []struct {
		r    float64
		want time.Duration
	}{{0, 36 * time.Millisecond}, {0.5, 40 * time.Millisecond}, {0.75, 42 * time.Millisecond}} {
		n := newNode(t, configsynctest.NewMemBucket(), func(o *configsync.Options) {
			o.PollInterval = interval
			o.Rand = func() float64 { return tc.r }
		})
		if got := n.PollDelay(); got != tc.want {
			t.Errorf("rand %v: poll delay %v, want %v", tc.r, got, tc.want)
		}
	}

	mem := configsynctest.NewMemBucket()
	f := configsynctest.NewFaulty(mem)
	w := newNode(t, mem)
	n := newNode(t, f, func(o *configsync.Options) {
		o.PollInterval = interval
		o.Rand = func() float64 { return 0 }
	})
	mustStart(t, w)
	mustStart(t, n)

	// The loop body alone: a conditional GET.
	gets := f.Gets()
	if err := n.Poll(context.Background()); err != nil {
		t.Fatal(err)
	}
	if f.Gets()-gets != 1 || n.metric(t, "dgp_config_sync_pulls_total", "source", "poll", "result", "empty") != 1 {
		t.Fatal("Poll did not pull once")
	}

	runLoop(t, n)
	testutil.RetryUntil(t, 20*time.Second, func() error {
		// The clock is frozen: next poll = now + 0.9 x interval.
		if got := n.Status().NextPoll; !got.Equal(t0.Add(36 * time.Millisecond)) {
			return fmt.Errorf("next poll %v", got)
		}
		return nil
	})
	mustPublish(t, w, createUser("alice"))
	testutil.RetryUntil(t, 20*time.Second, func() error {
		if n.metric(t, "dgp_config_sync_pulls_total", "source", "poll", "result", "updated") != 1 {
			return errors.New("no poll has applied a db")
		}
		return nil
	})
	if !hasUser(n.Current(), "alice") {
		t.Fatal("the poll did not bring alice")
	}
}

func TestNoPollWhenIntervalZero(t *testing.T) {
	mem := configsynctest.NewMemBucket()
	n := newNode(t, mem)
	mustStart(t, n)
	runLoop(t, n)
	// Once the loop has served a trigger it is running; still no poll is
	// scheduled.
	n.Resync("nats", notify.ReasonConnected)
	testutil.RetryUntil(t, 20*time.Second, func() error {
		if n.metric(t, "dgp_config_sync_pulls_total", "source", "reconnect", "result", "empty") != 1 {
			return errors.New("the loop has not run the resync")
		}
		return nil
	})
	if st := n.Status(); !st.NextPoll.IsZero() || st.PollInterval != "0s" {
		t.Fatalf("poll scheduled with interval 0: %+v", st)
	}
}

func TestUnreachableErrorsRateLimited(t *testing.T) {
	mem := configsynctest.NewMemBucket()
	f := configsynctest.NewFaulty(mem)
	n := newNode(t, f)
	mustStart(t, n)
	down := func(msg string) error {
		return &configsync.BucketError{Op: "get", Status: 503, Code: "ServiceUnavailable", Err: errors.New(msg)}
	}
	logged := func() int { return len(n.logs.lines("sync bucket unreachable")) }

	f.SetDown(down("connection refused"))
	for i := 0; i < 5; i++ {
		if err := n.Poll(context.Background()); !errors.Is(err, configsync.ErrUnavailable) {
			t.Fatalf("poll %d: %v", i, err)
		}
		n.clock.Advance(time.Minute)
	}
	if got := logged(); got != 1 {
		t.Fatalf("5 identical poll errors logged %d times, want 1", got)
	}
	f.SetDown(down("no route to host"))
	_ = n.Poll(context.Background())
	if got := logged(); got != 2 {
		t.Fatalf("a different error: %d lines, want 2", got)
	}
	n.clock.Advance(11 * time.Minute)
	_ = n.Poll(context.Background())
	if got := logged(); got != 3 {
		t.Fatalf("same error after 11 minutes: %d lines, want 3", got)
	}
	if r, _ := n.Ready(context.Background()); r != configsync.ReadyStale {
		t.Fatalf("ready = %q", r)
	}
	f.SetDown(nil)
	if err := n.Poll(context.Background()); err != nil {
		t.Fatal(err)
	}
	if r, _ := n.Ready(context.Background()); r != configsync.ReadyOK || len(n.logs.lines("reachable again")) != 1 {
		t.Fatalf("after recovery: ready %q\n%s", r, n.logs)
	}
	if got := n.metric(t, "dgp_config_sync_pulls_total", "source", "poll", "result", "unavailable"); got != 7 {
		t.Fatalf("pulls_total{poll,unavailable} = %v, want 7", got)
	}
}

func TestStatusJSON(t *testing.T) {
	mem := configsynctest.NewMemBucket()
	n := newNode(t, mem, func(o *configsync.Options) { o.PollInterval = 5 * time.Minute })
	mustStart(t, n)
	mustPublish(t, n, createUser("alice"))
	n.AddSource("nats", func() notify.SourceStatus { return notify.SourceStatus{Name: "nats", Connected: true} })
	n.AddSource("sqs", func() notify.SourceStatus { return notify.SourceStatus{Connected: false, LastError: "boom"} })
	b, err := json.Marshal(n.Status())
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"enabled", "state", "bucket", "key", "role", "node_id", "etag", "generation", "schema",
		"last_pull", "last_publish", "conflicts_rebased", "poll_interval", "event_sources"} {
		if _, ok := m[k]; !ok {
			t.Errorf("status JSON lacks %q: %s", k, b)
		}
	}
	st := n.Status()
	if st.Role != "writer" || st.Generation != 1 || st.PollInterval != "5m0s" || st.LastPublish.Attempts != 1 ||
		len(st.EventSources) != 2 || st.EventSources[1].Name != "sqs" || st.EventSources[1].LastError != "boom" {
		t.Fatalf("status = %+v", st)
	}
	if strings.Contains(string(b), string(testSecret)) || strings.Contains(string(b), n.Current().Users()[0].SecretAccessKey) {
		t.Fatal("status leaks a secret")
	}
}
