//go:build integration

package app

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/dgp-proxy/dgp/internal/config"
	"github.com/dgp-proxy/dgp/internal/testutil"
)

// startInstance starts dgp with cfg adjusted by mutate (data dir, listen
// address and credentials are set for the test). With ca non-nil it serves TLS.
// Kept here, not dgpfleet: dgpfleet imports app, so app's in-package tests would form a cycle.
func startInstance(t *testing.T, ca *testutil.TestCA, mutate func(*config.Config)) *instance {
	t.Helper()
	cfg := config.Default()
	cfg.Advanced.DataDir = t.TempDir()
	cfg.Advanced.ListenAddr = "127.0.0.1:0"
	cfg.Access.AccessKeyID = "TESTROOTACCESSKEY000"
	cfg.Access.SecretAccessKey = "testRootSecretKey0000000000000000000000000"
	cfg.Access.BootstrapPassword = "test-bootstrap-password"
	if ca != nil {
		cfg.Advanced.TLS.CertFile = ca.CertFile
		cfg.Advanced.TLS.KeyFile = ca.KeyFile
	}
	if mutate != nil {
		mutate(cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("test config invalid: %v", err)
	}
	logs := &syncBuffer{}
	logger := zerolog.New(logs).With().Timestamp().Logger()
	ctx, cancel := context.WithCancel(context.Background())
	a, err := New(ctx, Options{Config: cfg, Logger: logger, Stderr: io.Discard})
	if err != nil {
		cancel()
		t.Fatalf("start dgp: %v", err)
	}
	in := &instance{app: a, cfg: cfg, ca: ca, logs: logs, cancel: cancel, done: make(chan error, 1)}
	go func() { in.done <- a.Run(ctx) }()
	t.Cleanup(in.stop)
	return in
}

// awsCLI runs the real AWS CLI v2 against the instance with the given keys.
type awsCLI struct {
	t        *testing.T
	bin      string
	endpoint string
	env      []string
}

func (in *instance) cli(t *testing.T, accessKey, secretKey string) *awsCLI {
	var extra []string
	if in.ca != nil {
		extra = append(extra, "AWS_CA_BUNDLE="+in.ca.CAFile)
	}
	r := testutil.NewAWSCLI(t, accessKey, secretKey, extra...)
	return &awsCLI{t: t, bin: r.Bin, endpoint: in.app.URL(), env: r.Env}
}

// run executes `aws --endpoint-url URL args...` (with --no-progress for
// copies) and returns its output and error.
func (c *awsCLI) run(args ...string) (string, error) {
	c.t.Helper()
	if len(args) > 1 && args[0] == "s3" && (args[1] == "cp" || args[1] == "sync" || args[1] == "mv") {
		args = append(args[:len(args):len(args)], "--no-progress")
	}
	return (&testutil.AWSCLIRunner{Bin: c.bin, Env: c.env}).Run(c.endpoint, args...)
}

// must runs the CLI and fails the test on error.
func (c *awsCLI) must(args ...string) string {
	c.t.Helper()
	out, err := c.run(args...)
	if err != nil {
		c.t.Fatalf("aws %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func writeRandomFile(t *testing.T, path string, size int) []byte {
	t.Helper()
	b := testutil.Pattern(size)
	testutil.Must(t, os.MkdirAll(filepath.Dir(path), 0o755), "mkdir")
	testutil.Must(t, os.WriteFile(path, b, 0o644), "write %s", path)
	return b
}

type rule struct {
	Effect    string   `json:"effect"`
	Actions   []string `json:"actions"`
	Resources []string `json:"resources"`
}

func (c *adminClient) createUser(name string, rules ...rule) apiUser {
	c.t.Helper()
	var u apiUser
	c.must(http.StatusCreated, http.MethodPost, "/users", map[string]any{"name": name, "permissions": rules}, &u)
	if u.SecretAccessKey == "" || u.AccessKeyID == "" {
		c.t.Fatalf("create user %s: no keys in answer %+v", name, u)
	}
	return u
}

func allow(actions []string, resources ...string) rule {
	return rule{Effect: "Allow", Actions: actions, Resources: resources}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
