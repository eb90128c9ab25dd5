//go:build integration

package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestEveryModeRuns runs the tool self-contained, tiny, in every mode, and
// checks that the report has a row per mode with no reader timed out. It
// says nothing about speed.
func TestEveryModeRuns(t *testing.T) {
	minio, natsServer := os.Getenv("DGP_TEST_MINIO_BIN"), os.Getenv("DGP_TEST_NATS_SERVER_BIN")
	if minio == "" || natsServer == "" {
		t.Skip("DGP_TEST_MINIO_BIN or DGP_TEST_NATS_SERVER_BIN not set (run through .ci/run)")
	}
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	var out, errOut strings.Builder
	err := run(context.Background(), []string{
		"--minio-bin", minio, "--nats-server-bin", natsServer, "--work-dir", t.TempDir(),
		"--readers", "2", "--mutations", "2", "--poll-interval", "1s", "--pause", "10ms", "--users", "3", "--warmup", "0",
	}, &out, &errOut)
	if err != nil {
		t.Fatalf("run: %v\n%s", err, errOut.String())
	}
	for _, mode := range allModes() {
		row := "| " + mode + " | 2 | 4 | "
		i := strings.Index(out.String(), row)
		if i < 0 {
			t.Fatalf("no row %q in:\n%s", row, out.String())
		}
		line := out.String()[i:]
		line = line[:strings.IndexByte(line, '\n')]
		if !strings.HasSuffix(line, "| 0 |") {
			t.Errorf("timeouts in %q", line)
		}
	}
	if strings.Contains(out.String(), "NEW SALT") {
		t.Errorf("the writer changed the salt:\n%s", out.String())
	}
}

// TestProcessesModeRuns runs the tool with its readers as dgp processes
// (built from this tree), tiny, with each probing mode, and as floor
// readers (with their GET and without), and checks that no
// reader timed out, that the per-reader CPU row was measured on processes,
// and that --probes final sent no probe while measured (its final probe
// of the last key failing would have failed the run).
func TestProcessesModeRuns(t *testing.T) {
	minio, natsServer := os.Getenv("DGP_TEST_MINIO_BIN"), os.Getenv("DGP_TEST_NATS_SERVER_BIN")
	if minio == "" || natsServer == "" {
		t.Skip("DGP_TEST_MINIO_BIN or DGP_TEST_NATS_SERVER_BIN not set (run through .ci/run)")
	}
	bin, err := buildDGP(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, probes := range []string{"every", "final", "floor", "floor-events", "ab"} {
		t.Run(probes, func(t *testing.T) {
			var out, errOut strings.Builder
			args := []string{
				"--minio-bin", minio, "--nats-server-bin", natsServer, "--work-dir", t.TempDir(),
				"--mode", "nats-core", "--readers", "2", "--mutations", "3", "--pause", "10ms", "--users", "5", "--warmup", "2",
				"--processes", "--dgp-bin", bin, "--reader-env", "GOMAXPROCS=1", "--probes", probes,
			}
			if probes == "ab" {
				// Reader 1 runs the same binary as --dgp-bin-b: one row each,
				// measured on its own process: CPU, switches and memory.
				args[len(args)-1] = "final"
				args = append(args, "--dgp-bin-b", bin)
			}
			if strings.HasPrefix(probes, "floor") {
				// The floor readers (this test binary, see TestMain) must
				// see every change, as dgp readers.
				args[len(args)-1] = "final"
				args = append(args, "--floor")
				if probes == "floor-events" {
					args = append(args, "--floor-events-only")
				}
			}
			err := run(context.Background(), args, &out, &errOut)
			if err != nil {
				t.Fatalf("run: %v\n%s", err, errOut.String())
			}
			latency := reportRow(t, out.String(), "| nats-core | 2 | 6 | ")
			if !strings.HasSuffix(latency, "| 0 |") {
				t.Errorf("timeouts in %q", latency)
			}
			if probes == "ab" {
				base := filepath.Base(bin)
				for _, g := range []string{"A: ", "B: "} {
					row := reportRow(t, out.String(), "| nats-core | 1 | 5 | processes, "+g+base+" | ")
					f := strings.Split(row, "|")
					if len(f) != 14 || strings.Trim(strings.TrimSpace(f[5]), "0.") == "" || strings.TrimSpace(f[11]) == "0.0" ||
						strings.HasPrefix(strings.TrimSpace(f[12]), "0 ") {
						t.Errorf("reader group %s not measured: %q", g, row)
					}
				}
				return
			}
			cpu := reportRow(t, out.String(), "| nats-core | 2 | 5 | processes | ")
			if probes != "every" && !strings.Contains(cpu, "| 0.0 |") {
				t.Errorf("--probes final: probes were sent while measured: %q", cpu)
			}
			if probes == "every" && strings.Contains(cpu, "| 0.0 |") {
				t.Errorf("--probes every: no probe counted: %q", cpu)
			}
		})
	}
}

// reportRow returns the line of report that starts with prefix.
func reportRow(t *testing.T, report, prefix string) string {
	t.Helper()
	i := strings.Index(report, prefix)
	if i < 0 {
		t.Fatalf("no row %q in:\n%s", prefix, report)
	}
	line := report[i:]
	return line[:strings.IndexByte(line, '\n')]
}
