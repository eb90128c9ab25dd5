//go:build integration

package main

import (
	"context"
	"os"
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
		"--readers", "2", "--mutations", "2", "--poll-interval", "1s", "--pause", "10ms",
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
