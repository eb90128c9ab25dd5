package testutil

import (
	"context"
	"os"
	"testing"

	"github.com/dgp-proxy/dgp/internal/testharness"
)

// PrivateMinIO is a MinIO process one test owns (DGP_TEST_MINIO_BIN), on
// 127.0.0.1, restartable on the same address and data directory, stopped
// by its PID when the test ends. Its output is logged if the test fails.
type PrivateMinIO struct {
	MinIO
	Addr string
	t    testing.TB
	opts testharness.MinIOOptions
	proc *testharness.MinIO
	out  *LogBuffer
}

// StartMinIO starts a private MinIO with the extra environment env
// (notification targets), skipping the test without DGP_TEST_MINIO_BIN.
func StartMinIO(t testing.TB, env ...string) *PrivateMinIO {
	t.Helper()
	return StartMinIOWith(t, testharness.MinIOOptions{Env: env})
}

// StartMinIOWith starts a private MinIO with o; Bin, Dir and Output are
// filled in when empty.
func StartMinIOWith(t testing.TB, o testharness.MinIOOptions) *PrivateMinIO {
	t.Helper()
	if o.Bin == "" {
		o.Bin = MinIOBin(t)
	}
	if o.Dir == "" {
		o.Dir = t.TempDir()
	}
	m := &PrivateMinIO{t: t, opts: o, out: &LogBuffer{}}
	if m.opts.Output == nil {
		m.opts.Output = m.out
	}
	m.Start()
	t.Cleanup(func() {
		m.Stop()
		if t.Failed() && m.out.String() != "" {
			t.Logf("minio output:\n%s", Tail(m.out.String(), 4000))
		}
	})
	return m
}

// Start (re)starts the server on its address and data directory.
func (m *PrivateMinIO) Start() {
	m.t.Helper()
	p, err := testharness.StartMinIO(context.Background(), m.opts)
	Must(m.t, err, "start minio")
	m.proc, m.opts.Addr = p, p.Addr
	m.Addr = p.Addr
	m.MinIO = MinIO{Endpoint: p.Endpoint, AccessKey: p.AccessKey, SecretKey: p.SecretKey, NATSARN: m.MinIO.NATSARN}
}

// Stop kills the server (as a crash would) and waits for it.
func (m *PrivateMinIO) Stop() {
	if m.proc == nil {
		return
	}
	if err := m.proc.Stop(); err != nil {
		m.t.Error(err)
	}
	m.proc = nil
}

// PID returns the server's process id.
func (m *PrivateMinIO) PID() int { return m.proc.PID() }

// PrivateNATS is a nats-server process (DGP_TEST_NATS_SERVER_BIN) with
// JetStream one test owns, restartable on the same address and store
// directory, stopped by its PID when the test ends.
type PrivateNATS struct {
	Addr string // host:port
	URL  string // nats://host:port
	t    testing.TB
	opts testharness.NATSOptions
	proc *testharness.NATS
	out  *LogBuffer
}

// StartNATS starts a private nats-server, skipping the test without
// DGP_TEST_NATS_SERVER_BIN.
func StartNATS(t testing.TB) *PrivateNATS {
	t.Helper()
	bin := os.Getenv("DGP_TEST_NATS_SERVER_BIN")
	if bin == "" {
		t.Skip("DGP_TEST_NATS_SERVER_BIN not set (run through .ci/run)")
	}
	n := &PrivateNATS{t: t, out: &LogBuffer{}}
	n.opts = testharness.NATSOptions{Bin: bin, Dir: t.TempDir(), Output: n.out}
	n.Start()
	t.Cleanup(func() {
		n.Stop()
		if t.Failed() {
			t.Logf("nats-server output:\n%s", Tail(n.out.String(), 4000))
		}
	})
	return n
}

// Start (re)starts the server on its address and store directory.
func (n *PrivateNATS) Start() {
	n.t.Helper()
	p, err := testharness.StartNATS(context.Background(), n.opts)
	Must(n.t, err, "start nats-server")
	n.proc, n.opts.Addr = p, p.Addr
	n.Addr, n.URL = p.Addr, p.URL
}

// Stop kills the server (as a crash would) and waits for it.
func (n *PrivateNATS) Stop() {
	if n.proc == nil {
		return
	}
	if err := n.proc.Stop(); err != nil {
		n.t.Error(err)
	}
	n.proc = nil
}

// Tail returns the last n bytes of s.
func Tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[len(s)-n:]
}
