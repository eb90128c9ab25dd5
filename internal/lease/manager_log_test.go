package lease_test

import (
	"strings"
	"testing"

	"github.com/dgp-proxy/dgp/internal/lease"
	"github.com/dgp-proxy/dgp/internal/testutil"
	"github.com/rs/zerolog"
)

// TestLogNodeOnce: a Logger that already names the node (as internal/app's
// does) gets no second node key in lease lines; one without gets Node.
func TestLogNodeOnce(t *testing.T) {
	store, clock := dirStore(t), testutil.NewClock(t0)
	buf := &testutil.LogBuffer{}
	a := newNode(t, store, "a", clock, func(o *lease.Options) {
		o.Logger = zerolog.New(buf).With().Str("component", "jobs").Str("node", "a").Logger()
	})
	mustAcquire(t, a)
	out := buf.String()
	if out == "" {
		t.Fatal("no lease log line")
	}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if n := strings.Count(line, `"node":`); n != 1 {
			t.Fatalf("%d node keys in %s", n, line)
		}
	}

	b := newNode(t, dirStore(t), "b", clock)
	mustAcquire(t, b)
	for _, line := range strings.Split(strings.TrimSpace(b.log.String()), "\n") {
		if n := strings.Count(line, `"node":"b"`); n != 1 {
			t.Fatalf("%d node keys in %s", n, line)
		}
	}
}
