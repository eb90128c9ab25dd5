//go:build integration

package conformance

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/rs/zerolog"

	"github.com/dgp-proxy/dgp/internal/config"
	"github.com/dgp-proxy/dgp/internal/testharness/dgpfleet"
	"github.com/dgp-proxy/dgp/internal/testutil"
)

// region is the region every client signs for.
const region = "us-east-1"

// target is one S3 endpoint a suite talks to: dgp on a directory, dgp in
// front of MinIO, or MinIO itself.
type target struct {
	Name      string // "dgp-dir/https", "minio"
	URL       string // http(s)://127.0.0.1:port
	CA        *testutil.TestCA
	AccessKey string
	SecretKey string
	Logs      *testutil.LogBuffer // dgp's log (nil for MinIO)
}

// HTTPClient returns a client that trusts the target's CA.
func (tg *target) HTTPClient() *http.Client {
	if tg.CA != nil {
		return tg.CA.Client()
	}
	return &http.Client{}
}

// Host is the target's host:port.
func (tg *target) Host() string {
	return strings.TrimPrefix(strings.TrimPrefix(tg.URL, "https://"), "http://")
}

// TLS reports whether the target is served over HTTPS.
func (tg *target) TLS() bool { return strings.HasPrefix(tg.URL, "https://") }

// SDK returns an aws-sdk-go-v2 client (path style) for the target.
func (tg *target) SDK() *s3.Client {
	return s3.New(s3.Options{
		Region:       region,
		BaseEndpoint: aws.String(tg.URL),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(tg.AccessKey, tg.SecretKey, ""),
		HTTPClient:   tg.HTTPClient(),
	})
}

// backendKind says what dgp stores objects on.
type backendKind string

const (
	onDirectory backendKind = "dir"
	onMinIO     backendKind = "minio"
)

// startDGP starts an in-process dgp bound to 127.0.0.1:0 on the given
// backend, serving TLS with ca when ca is not nil. It stops with the test.
func startDGP(t *testing.T, kind backendKind, ca *testutil.TestCA) *target {
	t.Helper()
	logs := &testutil.LogBuffer{}
	spec := dgpfleet.Spec{
		DataDir:           t.TempDir(),
		AccessKeyID:       "CONFORMANCEROOTKEY00",
		SecretAccessKey:   "conformanceRootSecret00000000000000000000",
		BootstrapPassword: "conformance-bootstrap-password",
		Logger:            zerolog.New(logs).With().Timestamp().Logger(),
	}
	if kind == onMinIO {
		m := testutil.RequireMinIO(t)
		spec.Configure = func(cfg *config.Config) {
			cfg.Storage.S3 = m.Endpoint
			cfg.Storage.Region = region
			cfg.Storage.AccessKeyID = m.AccessKey
			cfg.Storage.SecretAccessKey = m.SecretKey
			cfg.Storage.ForcePathStyle = true
		}
	}
	if ca != nil {
		spec.CertFile, spec.KeyFile = ca.CertFile, ca.KeyFile
	}
	in, err := dgpfleet.Start(context.Background(), spec)
	if err != nil {
		t.Fatalf("start dgp: %v", err)
	}
	name := "dgp-" + string(kind) + "/http"
	if ca != nil {
		name = "dgp-" + string(kind) + "/https"
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := in.Stop(ctx); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		if t.Failed() {
			t.Logf("%s log (tail):\n%s", name, tail(logs.String(), 12))
		}
	})
	rc := in.Root()
	return &target{Name: name, URL: in.URL(), CA: ca, AccessKey: rc.AccessKeyID, SecretKey: rc.SecretAccessKey, Logs: logs}
}

// minioTarget is the shared MinIO itself, over HTTP.
func minioTarget(t *testing.T) *target {
	m := testutil.RequireMinIO(t)
	return &target{Name: "minio", URL: strings.TrimRight(m.Endpoint, "/"), AccessKey: m.AccessKey, SecretKey: m.SecretKey}
}

// forEachDGP runs suite as a subtest against dgp on a directory and dgp in
// front of MinIO, each over HTTP and HTTPS (four instances, in parallel:
// the clients spend most of their time starting up).
func forEachDGP(t *testing.T, suite func(t *testing.T, tg *target)) {
	testutil.RequireMinIO(t)
	for _, kind := range []backendKind{onDirectory, onMinIO} {
		for _, scheme := range []string{"http", "https"} {
			t.Run(string(kind)+"/"+scheme, func(t *testing.T) {
				t.Parallel()
				var ca *testutil.TestCA
				if scheme == "https" {
					ca = testutil.NewTestCA(t)
				}
				suite(t, startDGP(t, kind, ca))
			})
		}
	}
}

// runCmd runs a client program with env and returns its standard output.
// It fails the test when the program fails.
func runCmd(t *testing.T, env []string, name string, args ...string) string {
	t.Helper()
	start := time.Now()
	out, err := tryCmd(env, name, args...)
	if crashed(err) {
		// The client program itself crashed (the pyenv AWS CLI v1 once
		// died of SIGSEGV in .ci/run after every download of an s3 sync
		// had completed): that is not an answer dgp gave, so it is run
		// once more, and the test asserts what the second run did.
		t.Logf("%s crashed, running it again: %v", filepath.Base(name), err)
		out, err = tryCmd(env, name, args...)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Logf("slow client call (%s): %s %s", d.Round(time.Second), filepath.Base(name), strings.Join(args, " "))
	}
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return out
}

// crashed reports whether err says a client program was killed by a
// signal of its own fault (a crash), not one a timeout sent.
func crashed(err error) bool {
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		return false
	}
	ws, ok := ee.Sys().(syscall.WaitStatus)
	if !ok || !ws.Signaled() {
		return false
	}
	switch ws.Signal() {
	case syscall.SIGSEGV, syscall.SIGBUS, syscall.SIGABRT, syscall.SIGILL:
		return true
	}
	return false
}

// tryCmd runs a client program and returns its standard output; the error
// carries its standard error.
func tryCmd(env []string, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = env
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		err = fmt.Errorf("%w; stderr:\n%s", err, stderr.String())
	}
	return string(out), err
}

// lookBin returns the program named by the environment variable env, or
// skips the test with why when it is unset.
func lookBin(t *testing.T, env, why string) string {
	t.Helper()
	p := os.Getenv(env)
	if p == "" {
		t.Skipf("%s not set: %s (run through .ci/run)", env, why)
	}
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("%s=%s: %v", env, p, err)
	}
	return p
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// crashed tells a client's crash from its failures and from a kill.
func TestCrashed(t *testing.T) {
	for _, tt := range []struct {
		script string
		want   bool
	}{
		{"kill -SEGV $$", true},
		{"kill -ABRT $$", true},
		{"exit 1", false},
		{"kill -KILL $$", false},
		{"kill -TERM $$", false},
	} {
		_, err := tryCmd(os.Environ(), "sh", "-c", tt.script)
		if err == nil {
			t.Fatalf("%s: no error", tt.script)
		}
		if got := crashed(err); got != tt.want {
			t.Errorf("%s: crashed = %v, want %v (%v)", tt.script, got, tt.want, err)
		}
	}
}
