package main

import (
	"bytes"
	"errors"
	"flag"
	"io"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/dgp-proxy/dgp/internal/procuse"
)

func TestMedian(t *testing.T) {
	tests := []struct {
		in   []float64
		want float64
	}{
		{nil, 0},
		{[]float64{3}, 3},
		{[]float64{5, 1, 3}, 3},
		{[]float64{4, 1, 3, 2}, 2.5},
		{[]float64{10, 10, 1, 10, 1000}, 10},
	}
	for _, tt := range tests {
		in := append([]float64(nil), tt.in...)
		if got := median(tt.in); got != tt.want {
			t.Errorf("median(%v) = %v, want %v", tt.in, got, tt.want)
		}
		for i := range in {
			if in[i] != tt.in[i] {
				t.Errorf("median reordered its input: %v", tt.in)
			}
		}
	}
}

func TestPairedRatios(t *testing.T) {
	got := pairedRatios([]float64{10, 20, 30, 40}, []float64{5, 0, 60})
	want := []float64{2, 0.5} // the zero denominator and the unpaired round are left out
	if len(got) != len(want) {
		t.Fatalf("pairedRatios = %v, want %v", got, want)
	}
	for i := range want {
		if math.Abs(got[i]-want[i]) > 1e-12 {
			t.Fatalf("pairedRatios = %v, want %v", got, want)
		}
	}
}

func TestParseAndFormatSize(t *testing.T) {
	tests := []struct {
		in      string
		want    int64
		format  string
		wantErr bool
	}{
		{in: "4KiB", want: 4 << 10, format: "4 KiB"},
		{in: "64MiB", want: 64 << 20, format: "64 MiB"},
		{in: "64 MiB", want: 64 << 20, format: "64 MiB"},
		{in: "1GiB", want: 1 << 30, format: "1 GiB"},
		{in: "1000", want: 1000, format: "1000 B"},
		{in: "1536KiB", want: 1536 << 10, format: "1536 KiB"},
		{in: "0", wantErr: true},
		{in: "-4KiB", wantErr: true},
		{in: "4KB", wantErr: true},
		{in: "lots", wantErr: true},
		{in: "2000GiB", wantErr: true},
	}
	for _, tt := range tests {
		got, err := parseSize(tt.in)
		if tt.wantErr {
			if err == nil {
				t.Errorf("parseSize(%q) = %d, want an error", tt.in, got)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
			continue
		}
		if f := formatSize(got); f != tt.format {
			t.Errorf("formatSize(%d) = %q, want %q", got, f, tt.format)
		}
	}
}

func TestRate(t *testing.T) {
	for in, want := range map[float64]string{1234.56: "1235", 99.94: "99.9", 5.678: "5.68", -4000: "-4000", -12.34: "-12.3"} {
		if got := rate(in); got != want {
			t.Errorf("rate(%v) = %q, want %q", in, got, want)
		}
	}
}

func TestParseGatewayFlags(t *testing.T) {
	base := []string{"--minio", "http://127.0.0.1:9000", "--minio-access-key", "ak", "--minio-secret-key", "sk"}
	o, err := parseGatewayFlags(base, io.Discard)
	if err != nil {
		t.Fatalf("defaults: %v", err)
	}
	if o.largeSize != 64<<20 || o.smallSize != 4<<10 || o.concurrency != 8 || o.duration != 10*time.Second ||
		o.rounds != 5 || !o.allocs || strings.Join(o.workloads, ",") != strings.Join(allWorkloads, ",") {
		t.Errorf("defaults = %+v", o)
	}
	if o.roundTime() != 2*time.Second {
		t.Errorf("roundTime = %v, want 2s", o.roundTime())
	}

	o, err = parseGatewayFlags(append(base, "--workloads", "get-small, put-large", "--large-size", "8MiB"), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(o.workloads, ",") != "get-small,put-large" || o.largeSize != 8<<20 {
		t.Errorf("got workloads %v, large size %d", o.workloads, o.largeSize)
	}
	if o, err = parseGatewayFlags(append(base, "--workloads", ""), io.Discard); err != nil || len(o.workloads) != 0 {
		t.Errorf("empty --workloads: %v, %v", o.workloads, err)
	}

	bad := []struct {
		name string
		args []string
		want string
	}{
		{"no minio", []string{"--minio-access-key", "a", "--minio-secret-key", "b"}, "required"},
		{"unknown workload", append(base, "--workloads", "put-large,put-huge"), `unknown workload "put-huge"`},
		{"zero rounds", append(base, "--rounds", "0"), "--rounds"},
		{"zero workers", append(base, "--concurrency", "0"), "--concurrency"},
		{"zero large count", append(base, "--large-count", "0"), "--large-count"},
		{"tiny rounds", append(base, "--duration", "20ms", "--rounds", "5"), "--duration"},
		{"bad size", append(base, "--small-size", "4KB"), "--small-size"},
		{"small above large", append(base, "--small-size", "2MiB", "--large-size", "1MiB"), "must not exceed"},
		{"stray argument", append(base, "extra"), `unexpected argument "extra"`},
		{"unknown flag", append(base, "--nope"), "nope"},
	}
	for _, tt := range bad {
		_, err := parseGatewayFlags(tt.args, io.Discard)
		var ee *exitError
		if !errors.As(err, &ee) || ee.code != 2 || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err = %v, want a usage error mentioning %q", tt.name, err, tt.want)
		}
	}
	if _, err := parseGatewayFlags([]string{"-h"}, io.Discard); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("-h: err = %v, want flag.ErrHelp", err)
	}
}

func TestCommandLineHidesSecret(t *testing.T) {
	for _, args := range [][]string{
		{"--minio", "http://x", "--minio-secret-key", "s3cr3t!", "--duration", "1s"},
		{"--minio", "http://x", "--minio-secret-key=s3cr3t!", "--duration", "1s"},
	} {
		got := gatewayOptions{args: args}.commandLine()
		if strings.Contains(got, "s3cr3t!") || !strings.Contains(got, "--duration 1s") ||
			!strings.HasPrefix(got, "go run ./cmd/dgp-bench gateway --minio http://x") {
			t.Errorf("commandLine(%q) = %q", args, got)
		}
	}
}

func TestRunUsage(t *testing.T) {
	var out bytes.Buffer
	for _, args := range [][]string{nil, {"nope"}} {
		err := run(t.Context(), args, &out, io.Discard)
		var ee *exitError
		if !errors.As(err, &ee) || ee.code != 2 {
			t.Errorf("run(%q) = %v, want a usage error", args, err)
		}
	}
	if err := run(t.Context(), []string{"help"}, &out, io.Discard); err != nil || !strings.Contains(out.String(), "gateway --minio") {
		t.Errorf("help: %v, %q", err, out.String())
	}
}

func TestReportWrite(t *testing.T) {
	r := &report{
		command:    "go run ./cmd/dgp-bench gateway --minio http://x",
		machine:    machine{cpu: "Test CPU", cores: 2, maxprocs: 2, memory: "1.0 GiB", kernel: "6.1", goVersion: "go1.26", osArch: "linux/amd64"},
		opts:       gatewayOptions{rounds: 3, duration: 3 * time.Second, concurrency: 8, largeCount: 2},
		loadBefore: "0.10 0.20 0.30", loadAfter: "1.00 0.50 0.40",
		results: []*result{{
			w: workload{id: wlGetSmall, title: "4 KiB GET", unit: "ops/s"},
			rounds: map[string][]float64{
				"direct": {1000, 1100, 1200},
				"proxy":  {900, 1000, 800},
				"dgp":    {900, 950, 760},
			},
		}},
		verify: &verifyResult{request: "GetObject", nsPerOp: 4200, allocsPerOp: 14, bytesPerOp: 1376, n: 1000},
		allocs: []allocResult{{c: allocCase{method: "PUT", size: 64 << 20, n: 8}, allocsPerReq: 545, bytesPerReq: 74000, baselineAllocs: 6}},
	}
	var b bytes.Buffer
	r.write(&b)
	got := b.String()
	for _, want := range []string{
		"Command: `go run ./cmd/dgp-bench gateway --minio http://x`",
		"Test CPU, 2 cores (GOMAXPROCS 2)",
		"0.10 0.20 0.30 before, 1.00 0.50 0.40 after",
		"| workload | MinIO direct | bare proxy | dgp | dgp/proxy | dgp/direct |",
		// medians 1100, 900, 900; per-round dgp/proxy 1, 0.95, 0.95 -> 0.95;
		// dgp/direct 0.9, 0.864, 0.633 -> 0.864
		"| 4 KiB GET (ops/s) | 1100 | 900 | 900 | 0.950 | 0.864 |",
		"| get-small | 1000-1200 | 800-1000 | 760-950 | 0.950-1.000 |",
		"4.20 µs/op (4200 ns), 14 allocs/op, 1376 B/op",
		"| PUT 64 MiB, UNSIGNED-PAYLOAD | 8 | 545 | 74000 |",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("report lacks %q:\n%s", want, got)
		}
	}
}

// TestReportProcessTables: --processes figures are totals over the
// measured rounds (CPU over requests), with each round's ratio for the
// spread; paired rounds likewise.
func TestReportProcessTables(t *testing.T) {
	ms := time.Millisecond
	r := &report{
		opts: gatewayOptions{rounds: 2, duration: 4 * time.Second, concurrency: 8, processes: true, pairedRounds: 2},
		results: []*result{{
			w:      workload{id: wlGetSmall, title: "4 KiB GET", unit: "ops/s"},
			rounds: map[string][]float64{"direct": {1, 1}, "proxy": {1, 1}, "dgp": {1, 1}},
			procRounds: map[string][]procRound{
				// proxy: 100 and 300 µs a request -> 400 ms / 2,000 = 200 µs
				// switches (10,000 + 20,000) / 2,000 = 15; calls 8,000 / 2,000 = 4
				"proxy": {
					{Use: procuse.Use{CPU: 100 * ms, Switches: 10000, Syscalls: 4000}, requests: 1000},
					{Use: procuse.Use{CPU: 300 * ms, Switches: 20000, Syscalls: 4000}, requests: 1000},
				},
				// dgp: 110 and 330 µs -> 220 µs; ratios 1.1, 1.1
				"dgp": {
					{Use: procuse.Use{CPU: 110 * ms, Switches: 16000, Syscalls: 5000}, requests: 1000},
					{Use: procuse.Use{CPU: 330 * ms, Switches: 16000, Syscalls: 5000}, requests: 1000},
				},
			},
			paired: []pairedRound{
				{proxy: procRound{Use: procuse.Use{CPU: 100 * ms, Switches: 3000}, requests: 1000},
					dgp: procRound{Use: procuse.Use{CPU: 105 * ms, Switches: 3500, Syscalls: 100}, requests: 1000}},
				{proxy: procRound{Use: procuse.Use{CPU: 100 * ms, Switches: 3000}, requests: 1000},
					dgp: procRound{Use: procuse.Use{CPU: 230 * ms, Switches: 6500, Syscalls: 200}, requests: 2000}},
			},
		}},
	}
	var b bytes.Buffer
	r.write(&b)
	got := b.String()
	for _, want := range []string{
		"CPU time per request of the server processes",
		"| get-small | 2000 / 2000 | 200.0 | 220.0 | 20.0 | 1.100 | 1.100-1.100 |",
		// proxy 200 ms / 2,000 = 100 µs; dgp 335 ms / 3,000 = 111.7 µs;
		// rounds 1.05 and 1.15
		"| get-small | 100.0 | 111.7 | 1.117 | 1.050-1.150 |",
		"Thread switches and read/write system calls per request of the server processes",
		"| get-small | interleaved | 15.0 | 16.0 | 4.0 | 5.0 |",
		// proxy 6,000 / 2,000; dgp 10,000 / 3,000 and 300 / 3,000
		"| get-small | paired | 3.0 | 3.3 | 0.0 | 0.1 |",
		"each server process's CPU time read around each round",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("report lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "from the CPU profile") {
		t.Errorf("the profile's table in --processes mode:\n%s", got)
	}
}
