package main

import (
	"errors"
	"io"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestMain runs this test binary as a floor reader when the tool's
// --floor starts it as one (it starts its own executable).
func TestMain(m *testing.M) {
	if isFloorReader(os.Args) {
		os.Exit(floorReaderMain())
	}
	os.Exit(m.Run())
}

func TestPercentile(t *testing.T) {
	ds := []time.Duration{5, 1, 4, 2, 3, 10, 9, 8, 7, 6} // 1..10
	cases := []struct {
		p    float64
		want time.Duration
	}{{0, 1}, {10, 1}, {50, 5}, {51, 6}, {95, 10}, {99, 10}, {100, 10}}
	for _, c := range cases {
		if got := percentile(ds, c.p); got != c.want {
			t.Errorf("p%v = %v, want %v", c.p, got, c.want)
		}
	}
	if percentile(nil, 50) != 0 {
		t.Error("empty")
	}
	if !slices.Equal(ds, []time.Duration{5, 1, 4, 2, 3, 10, 9, 8, 7, 6}) {
		t.Error("percentile sorted its input")
	}
}

func TestSummarize(t *testing.T) {
	m := &measurement{mode: modeNATSCore, readers: 2, saltReused: true, firstGen: 1, lastGen: 3, probeInterval: time.Millisecond,
		ack: []time.Duration{4 * time.Millisecond},
		samples: []sample{
			{probed: true, accept: 2 * time.Millisecond, hasApply: true, apply: -time.Millisecond, source: "event", pullMS: 3},
			{probed: true, accept: 4 * time.Millisecond, hasApply: true, apply: 3 * time.Millisecond, source: "event", pullMS: 5},
			{timedOut: true},
		}}
	s := summarize(m)
	if s.samples != "3" || s.timeouts != "1" || s.p50 != "2.0" || s.max != "4.0" || s.applyBeforeAck != "50%" ||
		s.sources != "event 2" || s.salt != "reused" || s.genSpan != "1-3" || s.eventP50 != "-" || s.hintP50 != "-" {
		t.Fatalf("%+v", s)
	}
	var b strings.Builder
	writeReport(&b, "test machine", "go run ./cmd/dgp-propagation", []*measurement{m})
	if !strings.Contains(b.String(), "| nats-core | 2 | 3 | 2.0 | 4.0 | 4.0 | 4.0 | 1 |") {
		t.Fatalf("report:\n%s", b.String())
	}
}

func TestParseFlags(t *testing.T) {
	self := []string{"--minio-bin", "/bin/minio", "--nats-server-bin", "/bin/nats-server"}
	o, err := parseFlags(self, io.Discard)
	if err != nil || !slices.Equal(o.modes, allModes()) || !slices.Equal(o.readers, []int{1, 5, 10, 100}) {
		t.Fatalf("defaults: %+v %v", o, err)
	}
	o, err = parseFlags([]string{"--minio", "http://127.0.0.1:9000", "--nats-url", "nats://127.0.0.1:4222"}, io.Discard)
	if err != nil || !slices.Equal(o.modes, []string{modeNATSCore, modePoll}) {
		t.Fatalf("external: %+v %v", o, err)
	}
	if o.probeFinal {
		t.Fatal("--probes defaults to every")
	}
	if o, err := parseFlags(append(slices.Clone(self), "--probes", "final"), io.Discard); err != nil || !o.probeFinal {
		t.Fatalf("--probes final: %+v %v", o, err)
	}
	if o.probe(modeNATSCore, 1) != time.Millisecond || o.probe(modeNATSCore, 100) != 10*time.Millisecond || o.probe(modePoll, 1) != 10*time.Millisecond {
		t.Fatalf("probe intervals %v %v %v", o.probe(modeNATSCore, 1), o.probe(modeNATSCore, 100), o.probe(modePoll, 1))
	}
	for _, bad := range [][]string{
		{},
		{"--minio-bin", "/bin/minio"},
		{"--minio", "http://x", "--mode", "sqs"},
		{"--minio", "http://x", "--mode", "nats-core"},
		append(slices.Clone(self), "--mode", "carrier-pigeon"),
		append(slices.Clone(self), "--readers", "0"),
		append(slices.Clone(self), "--readers", "1,x"),
		append(slices.Clone(self), "--mutations", "0"),
		append(slices.Clone(self), "extra"),
		append(slices.Clone(self), "--poll-interval", "100ms"),
		append(slices.Clone(self), "--perf", "/tmp/p"),
		append(slices.Clone(self), "--probes", "sometimes"),
		append(slices.Clone(self), "--warmup", "-1"),
	} {
		var ee *exitError
		if _, err := parseFlags(bad, io.Discard); !errors.As(err, &ee) || ee.code != 2 {
			t.Errorf("%v: %v, want a usage error", bad, err)
		}
	}
}

func TestPerfArgs(t *testing.T) {
	got := perfArgs("/tmp/p.nats-core-2", []int{41, 42})
	want := []string{"record", "-e", "cpu-clock", "-g", "-q", "-o", "/tmp/p.nats-core-2", "-p", "41,42"}
	if !slices.Equal(got, want) {
		t.Fatalf("perf args %q, want %q", got, want)
	}
	floor := []string{"--minio-bin", "/bin/minio", "--nats-server-bin", "/bin/nats-server", "--floor"}
	for _, extra := range [][]string{
		{"--processes", "--probes", "final"},                  // no mode: every mode
		{"--processes", "--mode", "nats-core"},                // --probes every
		{"--probes", "final", "--mode", "nats-core"},          // in process
		{"--processes", "--probes", "final", "--mode", "sqs"}, // not NATS core
	} {
		if _, err := parseFlags(append(slices.Clone(floor), extra...), io.Discard); err == nil {
			t.Errorf("--floor %q: no error", extra)
		}
	}
	if o, err := parseFlags(append(slices.Clone(floor), "--processes", "--probes", "final", "--mode", "nats-core"), io.Discard); err != nil || !o.floor {
		t.Errorf("--floor with --processes --probes final --mode nats-core: %+v %v", o, err)
	}
	ab := []string{"--minio-bin", "/bin/minio", "--nats-server-bin", "/bin/nats-server", "--dgp-bin-b", "/bin/dgp-b"}
	for _, extra := range [][]string{
		{"--probes", "final"}, // in process
		{"--processes"},       // --probes every
		{"--processes", "--probes", "final", "--floor", "--mode", "nats-core"}, // floor readers
	} {
		if _, err := parseFlags(append(slices.Clone(ab), extra...), io.Discard); err == nil {
			t.Errorf("--dgp-bin-b %q: no error", extra)
		}
	}
	if o, err := parseFlags(append(slices.Clone(ab), "--processes", "--probes", "final"), io.Discard); err != nil || o.dgpBinB != "/bin/dgp-b" {
		t.Errorf("--dgp-bin-b with --processes --probes final: %+v %v", o, err)
	}
	events := []string{"--minio-bin", "/bin/minio", "--nats-server-bin", "/bin/nats-server", "--processes", "--probes", "final", "--mode", "nats-core", "--floor-events-only"}
	if _, err := parseFlags(events, io.Discard); err == nil {
		t.Error("--floor-events-only without --floor: no error")
	}
	if o, err := parseFlags(append(slices.Clone(events), "--floor"), io.Discard); err != nil || !o.floor || !o.floorEvents {
		t.Errorf("--floor --floor-events-only: %+v %v", o, err)
	}
	self := []string{"--minio-bin", "/bin/minio", "--nats-server-bin", "/bin/nats-server", "--processes", "--perf", "/tmp/p"}
	if o, err := parseFlags(self, io.Discard); err != nil || o.perf != "/tmp/p" || o.perfBin != "perf" {
		t.Fatalf("--perf with --processes: %+v %v", o, err)
	}
}
