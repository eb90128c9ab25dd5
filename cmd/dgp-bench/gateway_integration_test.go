//go:build integration

package main

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// minioFromEnv returns the test MinIO's endpoint and keys, skipping the
// test when DGP_TEST_MINIO is unset.
func minioFromEnv(t *testing.T) (endpoint, accessKey, secretKey string) {
	t.Helper()
	endpoint = os.Getenv("DGP_TEST_MINIO")
	if endpoint == "" {
		t.Skip("DGP_TEST_MINIO is not set")
	}
	return endpoint, os.Getenv("DGP_TEST_MINIO_ACCESS_KEY"), os.Getenv("DGP_TEST_MINIO_SECRET_KEY")
}

// TestGatewayRuns runs every workload briefly against the test MinIO and
// checks the report has every row; it asserts nothing about speed.
func TestGatewayRuns(t *testing.T) {
	endpoint, ak, sk := minioFromEnv(t)
	prof := filepath.Join(t.TempDir(), "cpu.pprof")
	var out, errOut bytes.Buffer
	err := run(t.Context(), []string{"gateway",
		"--minio", endpoint, "--minio-access-key", ak, "--minio-secret-key", sk,
		"--duration", "300ms", "--rounds", "2", "--concurrency", "2", "--large-count", "1",
		"--large-size", "2MiB", "--cpuprofile", prof,
	}, &out, &errOut)
	if err != nil {
		t.Fatalf("gateway: %v\nstderr:\n%s", err, errOut.String())
	}
	report := out.String()
	for _, want := range []string{
		"| 2 MiB PUT, UNSIGNED-PAYLOAD (MiB/s) |",
		"| 2 MiB PUT, signed payload",
		"| 2 MiB GET (MiB/s) |",
		"| 4 KiB PUT, signed payload (ops/s) |",
		"| 4 KiB GET (ops/s) |",
		"SigV4 verification (GetObject",
		"| PUT 2 MiB, UNSIGNED-PAYLOAD | 8 |",
		"| GET 4 KiB | 400 |",
		"| get-small | ",
		"bare proxy µs/request",
		"--minio-secret-key …",
	} {
		if !strings.Contains(report, want) {
			t.Errorf("report lacks %q:\n%s", want, report)
		}
	}
	if strings.Contains(report, "--minio-secret-key "+sk) {
		t.Error("report shows the MinIO secret key")
	}
	for _, w := range allWorkloads {
		p := profilePath(prof, w)
		b, err := os.ReadFile(p)
		if err != nil {
			t.Errorf("cpu profile of %s: %v", w, err)
			continue
		}
		if _, err := cpuByLabel(b, "role"); err != nil {
			t.Errorf("cpu profile %s: %v", p, err)
		}
	}
}

// TestGatewayProcesses: with --processes the bare proxy and dgp run as
// child processes; the report gives each one's CPU time per request
// (non-zero: read from /proc), for the interleaved and the paired rounds,
// and the children are gone afterwards.
func TestGatewayProcesses(t *testing.T) {
	endpoint, ak, sk := minioFromEnv(t)
	var out, errOut bytes.Buffer
	err := run(t.Context(), []string{"gateway",
		"--minio", endpoint, "--minio-access-key", ak, "--minio-secret-key", sk,
		"--duration", "400ms", "--rounds", "2", "--concurrency", "2", "--paired-rounds", "2",
		"--workloads", "get-small", "--allocs=false", "--processes",
	}, &out, &errOut)
	if err != nil {
		t.Fatalf("gateway: %v\nstderr:\n%s", err, errOut.String())
	}
	report := out.String()
	i := strings.Index(report, "CPU time per request of the server processes")
	j := strings.Index(report, "Thread switches and read/write system calls per request")
	if i < 0 || j < i {
		t.Fatalf("no process CPU table, or no counts table after it:\n%s", report)
	}
	rows := 0
	for line := range strings.Lines(report[i:j]) {
		f := strings.Split(line, "|")
		if len(f) < 5 || strings.TrimSpace(f[1]) != "get-small" || !strings.Contains(line, ".") {
			continue
		}
		// The process table: | get-small | n / n | proxy | dgp | ...; the
		// paired table: | get-small | proxy | dgp | ...
		col := 3
		if strings.Contains(f[2], "/") {
			col = 4
		}
		for _, c := range []int{col - 1, col} {
			if v, err := strconv.ParseFloat(strings.TrimSpace(f[c]), 64); err != nil || v <= 0 {
				t.Errorf("CPU per request %q in %q", f[c], line)
			}
		}
		rows++
	}
	if rows != 2 {
		t.Fatalf("want the process and paired rows of get-small:\n%s", report)
	}
	// The counts: | get-small | interleaved|paired | switches x2 | calls x2 |.
	// Every GET wakes each server and costs it a read and a write at least.
	counts := 0
	for line := range strings.Lines(report[j:]) {
		f := strings.Split(line, "|")
		if len(f) != 8 || strings.TrimSpace(f[1]) != "get-small" {
			continue
		}
		for c := 3; c <= 6; c++ {
			if v, err := strconv.ParseFloat(strings.TrimSpace(f[c]), 64); err != nil || v < 1 {
				t.Errorf("count per request %q in %q", f[c], line)
			}
		}
		counts++
	}
	if counts != 2 {
		t.Fatalf("want the interleaved and paired count rows of get-small:\n%s", report)
	}
	if strings.Contains(report, "--minio-secret-key "+sk) {
		t.Error("report shows the MinIO secret key")
	}
}

// TestGatewayFailsOnRequestError: requests MinIO refuses make the run
// fail with a runtime (not usage) error.
func TestGatewayFailsOnRequestError(t *testing.T) {
	endpoint, ak, _ := minioFromEnv(t)
	var out bytes.Buffer
	err := run(t.Context(), []string{"gateway",
		"--minio", endpoint, "--minio-access-key", ak, "--minio-secret-key", "not-the-secret",
		"--duration", "100ms", "--rounds", "1", "--large-size", "1MiB",
	}, &out, io.Discard)
	var ee *exitError
	if err == nil || errors.As(err, &ee) {
		t.Fatalf("run = %v, want a runtime error", err)
	}
	if !strings.Contains(err.Error(), "SignatureDoesNotMatch") {
		t.Errorf("error %q does not name MinIO's refusal", err)
	}
	if out.Len() != 0 {
		t.Errorf("a failed run printed a report:\n%s", out.String())
	}
}
