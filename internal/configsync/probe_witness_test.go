package configsync_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/dgp-proxy/dgp/internal/configsync"
	"github.com/dgp-proxy/dgp/internal/configsync/configsynctest"
	"github.com/dgp-proxy/dgp/internal/testutil"
)

const testEndpoint = "https://s3.example.test:9000"

func withEndpoint(ep string) func(*configsync.Options) {
	return func(o *configsync.Options) { o.Endpoint = ep }
}

// witnessOf returns the witness the bucket holds (failing without one).
func witnessOf(t testing.TB, mem *configsynctest.MemBucket) configsync.Witness {
	t.Helper()
	body, _, ok := mem.Object(configsync.WitnessKey(testKey))
	if !ok {
		t.Fatal("the bucket holds no probe witness")
	}
	w, err := configsync.ParseWitness(body)
	testutil.Must(t, err, "parse the witness %q", body)
	return w
}

// The first writer probes and leaves a witness saying when, who, where;
// the next one (a new process: a new Syncer) reads it and writes nothing.
func TestProbeWitnessSkipsTheNextProbe(t *testing.T) {
	mem := configsynctest.NewMemBucket()
	first := newNode(t, mem, withEndpoint(testEndpoint))
	mustStart(t, first)
	w := witnessOf(t, mem)
	if w.Kind != configsync.WitnessKind || !w.ProbedAt.Equal(t0) || w.Node != first.Status().NodeID ||
		w.Endpoint != testEndpoint || w.Bucket != "sync-bucket" || len(w.Checks) != 2 {
		t.Fatalf("witness %+v", w)
	}
	if w.DGPVersion == "" {
		t.Error("the witness does not say which dgp wrote it")
	}
	if got := configsync.WitnessKey(testKey); got != ".deltaglider/.dgp-probe-witness.json" {
		t.Fatalf("witness key %q", got)
	}

	counted := configsynctest.NewFaulty(mem)
	second := newNode(t, counted, withEndpoint(testEndpoint))
	mustStart(t, second)
	if counted.Puts() != 0 {
		t.Fatalf("the second start wrote %d objects despite the witness", counted.Puts())
	}
	if len(second.logs.lines("witness of an earlier probe")) != 1 {
		t.Fatalf("the skip is not logged:\n%s", second.logs)
	}
	// The skipped probe still counts as done: publishing works and writes
	// only the config object.
	mustPublish(t, second, createUser("alice"))
	if counted.Puts() != 1 {
		t.Fatalf("publish after a witnessed start: %d puts, want 1", counted.Puts())
	}
}

// A witness that does not parse, is not a witness, or records another
// endpoint or bucket is ignored: the probe runs and a good witness replaces it.
func TestProbeWitnessIgnoredUnlessValid(t *testing.T) {
	good := func() configsync.Witness {
		return configsync.Witness{Kind: configsync.WitnessKind, ProbedAt: t0, Node: "n", Endpoint: testEndpoint,
			Bucket: "sync-bucket", Checks: []string{configsync.CheckIfNoneMatch, configsync.CheckIfMatch}}
	}
	enc := func(mod func(*configsync.Witness)) []byte {
		w := good()
		mod(&w)
		b, err := json.Marshal(w)
		testutil.Must(t, err, "marshal")
		return b
	}
	cases := map[string]struct {
		body []byte
		log  string
	}{
		"not json":        {[]byte("{\"kind\": \"dgp-cond"), "witness unreadable"},
		"empty":           {nil, "witness unreadable"},
		"other kind":      {enc(func(w *configsync.Witness) { w.Kind = "something-else" }), "witness unreadable"},
		"no time":         {enc(func(w *configsync.Witness) { w.ProbedAt = time.Time{} }), "witness unreadable"},
		"checks missing":  {enc(func(w *configsync.Witness) { w.Checks = w.Checks[:1] }), "witness unreadable"},
		"other endpoint":  {enc(func(w *configsync.Witness) { w.Endpoint = "http://other:9000" }), "another endpoint"},
		"other bucket":    {enc(func(w *configsync.Witness) { w.Bucket = "other-bucket" }), "another endpoint"},
		"wrong field set": {[]byte(`{"Kind":"x","probed":"2026-01-01T00:00:00Z"}`), "witness unreadable"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			mem := configsynctest.NewMemBucket()
			mem.Set(configsync.WitnessKey(testKey), tc.body)
			counted := configsynctest.NewFaulty(mem)
			n := newNode(t, counted, withEndpoint(testEndpoint))
			mustStart(t, n)
			if counted.Puts() != 4 {
				t.Fatalf("%d puts, want the 3 of the probe and the new witness", counted.Puts())
			}
			if w := witnessOf(t, mem); w.Node != n.Status().NodeID || w.Endpoint != testEndpoint {
				t.Fatalf("the witness was not replaced: %+v", w)
			}
			if len(n.logs.lines(tc.log)) != 1 {
				t.Fatalf("no log %q:\n%s", tc.log, n.logs)
			}
		})
	}
	// The good one parses (the cases above fail for their one change).
	if _, err := configsync.ParseWitness(enc(func(*configsync.Witness) {})); err != nil {
		t.Fatal(err)
	}
}

// A bucket that ignores the conditions is refused at Start with an error
// naming the endpoint and the bucket, and no witness is left.
func TestProbeRefusalNamesTheBackend(t *testing.T) {
	for _, ep := range []string{testEndpoint, ""} {
		mem := configsynctest.NewMemBucket()
		mem.IgnoreConditions()
		n := newNode(t, mem, withEndpoint(ep))
		err := n.Start(context.Background())
		wantErrIs(t, err, configsync.ErrNoConditionalWrites)
		wantEP := ep
		if ep == "" {
			wantEP = "default AWS S3 endpoint"
		}
		for _, want := range []string{wantEP, `"sync-bucket"`, "If-None-Match", "refuses to start"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("refusal %q does not say %q", err, want)
			}
		}
		if mem.Keys() != 0 {
			t.Fatalf("the refused probe left %d objects", mem.Keys())
		}
		if _, err := n.Publish(context.Background(), createUser("alice")); err == nil {
			t.Fatal("a refused syncer published")
		}
	}
}

// The witness is an optimisation: a bucket that refuses to read it (a
// policy granting the probe's writes only) or to store it does not stop
// the start, which probes instead.
func TestProbeWitnessRefusedStillProbes(t *testing.T) {
	denied := &configsync.BucketError{Op: "get", Status: 403, Code: "AccessDenied", Err: errors.New("access denied")}
	mem := configsynctest.NewMemBucket()
	f := configsynctest.NewFaulty(mem)
	f.OnGet(func(ctx context.Context, key, inm string, next configsynctest.GetFunc) ([]byte, string, error) {
		if key == configsync.WitnessKey(testKey) {
			return nil, "", denied
		}
		return next(ctx, key, inm)
	})
	f.OnPut(func(ctx context.Context, key string, body []byte, im, inm string, next configsynctest.PutFunc) (string, error) {
		if key == configsync.WitnessKey(testKey) {
			return "", &configsync.BucketError{Op: "put", Status: 403, Code: "AccessDenied", Err: errors.New("access denied")}
		}
		return next(ctx, key, body, im, inm)
	})
	n := newNode(t, f)
	mustStart(t, n)
	if f.Puts() != 4 || mem.Keys() != 0 {
		t.Fatalf("%d puts (want the probe's 3 and the refused witness), %d objects left", f.Puts(), mem.Keys())
	}
	if len(n.logs.lines("witness not written")) != 1 {
		t.Fatalf("the refused witness write is not logged:\n%s", n.logs)
	}

	// An unreachable bucket is not a missing witness: Start serves the
	// local copy and the probe runs when the bucket answers again.
	g := configsynctest.NewFaulty(configsynctest.NewMemBucket())
	g.SetDown(&configsync.BucketError{Op: "get", Status: 503, Code: "ServiceUnavailable", Err: errors.New("slow down")})
	late := newNode(t, g)
	mustStart(t, late)
	if g.Puts() != 0 {
		t.Fatalf("%d puts to an unreachable bucket", g.Puts())
	}
	g.SetDown(nil)
	testutil.Must(t, late.Poll(context.Background()), "poll after recovery")
	if g.Puts() != 4 {
		t.Fatalf("%d puts after recovery, want the probe and its witness", g.Puts())
	}
}

// A bucket unreachable at Start and found ignoring the conditions at first
// contact stops Run (the app exits) before anything is published.
func TestProbeRefusalAtFirstContact(t *testing.T) {
	mem := configsynctest.NewMemBucket()
	mem.IgnoreConditions()
	f := configsynctest.NewFaulty(mem)
	f.SetDown(&configsync.BucketError{Op: "get", Status: 0, Err: errors.New("connection refused")})
	n := newNode(t, f, withEndpoint(testEndpoint), func(o *configsync.Options) { o.RetryMax = 10 * time.Millisecond })
	mustStart(t, n)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx) }()
	var err error
	returned := false
	t.Cleanup(func() { // the goroutine's owner: stop it and wait
		cancel()
		if !returned {
			<-done
		}
	})
	f.SetDown(nil)
	testutil.RetryUntil(t, 20*time.Second, func() error {
		select {
		case err = <-done:
			returned = true
			return nil
		default:
			return errors.New("Run still running")
		}
	})
	wantErrIs(t, err, configsync.ErrNoConditionalWrites)
	if !strings.Contains(err.Error(), testEndpoint) {
		t.Fatalf("Run's error %q does not name the endpoint", err)
	}
	if _, _, ok := mem.Object(testKey); ok || mem.Keys() != 0 {
		t.Fatalf("%d objects in the bucket after the refusal", mem.Keys())
	}
}
