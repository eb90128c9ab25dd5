// Package testutil holds helpers shared by the tests of several packages:
// the servers the CI harness started (MinIO, NATS, the AWS CLI), private
// servers a test starts and stops (MinIO, nats-server, goaws, through
// internal/testharness), a test CA for TLS, RetryUntil for asynchronous
// assertions, a manual Clock, and test data (BigIAM). Only tests import it.
package testutil

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// MinIO describes the shared MinIO server started by the harness.
type MinIO struct {
	Endpoint  string
	AccessKey string
	SecretKey string
	// NATSARN is the ARN of MinIO's NATS notification target, when configured.
	NATSARN string
}

// RequireMinIO returns the harness's MinIO. It skips the test when
// DGP_TEST_MINIO is unset and fails it when set but unreachable.
func RequireMinIO(t testing.TB) MinIO {
	t.Helper()
	ep := os.Getenv("DGP_TEST_MINIO")
	if ep == "" {
		t.Skip("DGP_TEST_MINIO not set (run through .ci/run)")
	}
	m := MinIO{
		Endpoint:  ep,
		AccessKey: envOr("DGP_TEST_MINIO_ACCESS_KEY", "minioadmin"),
		SecretKey: envOr("DGP_TEST_MINIO_SECRET_KEY", "minioadmin"),
		NATSARN:   os.Getenv("DGP_TEST_MINIO_NATS_ARN"),
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, ep+"/minio/health/live", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("DGP_TEST_MINIO=%s is set but unreachable: %v", ep, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("DGP_TEST_MINIO=%s is not live: %s", ep, resp.Status)
	}
	return m
}

// AWSCLI returns the path of the AWS CLI v2 the harness names, skipping the
// test when none is configured.
func AWSCLI(t testing.TB) string {
	t.Helper()
	p := os.Getenv("DGP_TEST_AWS_CLI")
	if p == "" {
		t.Skip("DGP_TEST_AWS_CLI not set (run through .ci/run)")
	}
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("DGP_TEST_AWS_CLI=%s: %v", p, err)
	}
	return p
}

// MinIOBin returns the MinIO binary for tests that run a private server.
func MinIOBin(t testing.TB) string {
	t.Helper()
	p := os.Getenv("DGP_TEST_MINIO_BIN")
	if p == "" {
		t.Skip("DGP_TEST_MINIO_BIN not set (run through .ci/run)")
	}
	return p
}

// UniqueName returns prefix followed by a random lowercase hex suffix,
// usable as an S3 bucket name.
func UniqueName(prefix string) string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return prefix + "-" + hex.EncodeToString(b)
}

// RetryUntil calls f until it returns nil or timeout passes, then fails the
// test with f's last error. Use it for asynchronous outcomes; never assert
// on how long something took.
func RetryUntil(t testing.TB, timeout time.Duration, f func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var err error
	for {
		if err = f(); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("condition not reached within %s: %v", timeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// FreePorts returns n distinct ports that were free on 127.0.0.1: each is
// held until all are chosen, since a port closed at once can be handed out
// again by the next FreePort.
func FreePorts(t testing.TB, n int) []int {
	t.Helper()
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// Env returns os.Environ() with the given KEY=VALUE pairs replacing any of
// the same key, for running child processes.
func Env(kv ...string) []string {
	out := make([]string, 0, len(os.Environ())+len(kv))
	override := map[string]bool{}
	for _, p := range kv {
		override[strings.SplitN(p, "=", 2)[0]] = true
	}
	for _, p := range os.Environ() {
		if !override[strings.SplitN(p, "=", 2)[0]] {
			out = append(out, p)
		}
	}
	return append(out, kv...)
}

// Must fails the test when err is not nil.
func Must(t testing.TB, err error, what string, args ...any) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", fmt.Sprintf(what, args...), err)
	}
}

// Curl runs the real curl in dir with -sS --fail-with-body (an HTTP error
// fails the test, with what curl printed) and returns its standard output.
// env adds KEY=VALUE pairs to the environment (see Env).
func Curl(t testing.TB, dir string, env []string, args ...string) string {
	t.Helper()
	cmd := exec.Command("curl", append([]string{"-sS", "--fail-with-body"}, args...)...)
	cmd.Dir = dir
	cmd.Env = Env(env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("curl %s: %v\n%s%s", strings.Join(args, " "), err, out, stderr.Bytes())
	}
	return string(out)
}
