package testharness

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
)

// MinIO's root credentials unless MinIOOptions say otherwise.
const (
	MinIORootUser     = "minioadmin"
	MinIORootPassword = "minioadmin"
)

// MinIOOptions say how to run MinIO.
type MinIOOptions struct {
	Bin string // the minio binary
	Dir string // data directory
	// Addr is host:port of the S3 API; empty picks a free port on 127.0.0.1.
	// Set it to restart a stopped server on the same port.
	Addr string
	// User and Password are the root credentials (default minioadmin).
	User, Password string
	// CertsDir, when set, holds public.crt and private.key: MinIO serves
	// HTTPS and HealthClient must trust the certificate.
	CertsDir     string
	HealthClient *http.Client
	// Env is extra KEY=VALUE environment (notification targets); it
	// overrides the inherited environment.
	Env []string
	// Output receives MinIO's output (discarded when nil).
	Output io.Writer
}

// MinIO is a running MinIO server.
type MinIO struct {
	*Process
	Addr      string // host:port
	Endpoint  string // http(s)://host:port
	AccessKey string
	SecretKey string
}

// StartMinIO runs MinIO and waits until its S3 API answers (ready, and no
// longer 503 "not initialized"). The caller stops it.
func StartMinIO(ctx context.Context, o MinIOOptions) (*MinIO, error) {
	if o.User == "" {
		o.User, o.Password = MinIORootUser, MinIORootPassword
	}
	var err error
	if o.Addr == "" {
		if o.Addr, err = FreeAddr(); err != nil {
			return nil, err
		}
	}
	console, err := FreeAddr()
	if err != nil {
		return nil, err
	}
	args := []string{"server", "--quiet", "--address", o.Addr, "--console-address", console}
	scheme := "http"
	if o.CertsDir != "" {
		args = append(args, "--certs-dir", o.CertsDir)
		scheme = "https"
	}
	cmd := exec.Command(o.Bin, append(args, o.Dir)...)
	cmd.Env = append(os.Environ(), append([]string{"MINIO_ROOT_USER=" + o.User, "MINIO_ROOT_PASSWORD=" + o.Password, "MINIO_BROWSER=off"}, o.Env...)...)
	p, err := startProcess("minio", cmd, o.Output)
	if err != nil {
		return nil, err
	}
	m := &MinIO{Process: p, Addr: o.Addr, Endpoint: scheme + "://" + o.Addr, AccessKey: o.User, SecretKey: o.Password}
	if err := WaitHTTP(ctx, o.HealthClient, m.Endpoint+"/minio/health/ready"); err != nil {
		_ = p.Stop()
		return nil, fmt.Errorf("minio: %w", err)
	}
	if err := waitInitialized(ctx, o.HealthClient, m.Endpoint); err != nil {
		_ = p.Stop()
		return nil, fmt.Errorf("minio: %w", err)
	}
	return m, nil
}

// waitInitialized waits until MinIO's S3 API stops answering 503 (Server
// not initialized yet): "ready" can come first when notification targets
// are configured. An anonymous ListBuckets is refused (403) once it is up.
func waitInitialized(ctx context.Context, client *http.Client, endpoint string) error {
	if client == nil {
		client = http.DefaultClient
	}
	return Retry(ctx, startTimeout, func() error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, endpoint+"/", nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusServiceUnavailable {
			return errors.New("s3 api: " + resp.Status)
		}
		return nil
	})
}

// MinIONATSTarget returns the environment that gives MinIO a NATS
// notification target id publishing to subject on the server at addr
// (through JetStream when jetStream is set), and the target's ARN.
// The stream of a JetStream target must exist before the first upload, or
// MinIO drops the event.
func MinIONATSTarget(id, addr, subject string, jetStream bool) (env []string, arn string) {
	env = []string{
		"MINIO_NOTIFY_NATS_ENABLE_" + id + "=on",
		"MINIO_NOTIFY_NATS_ADDRESS_" + id + "=" + addr,
		"MINIO_NOTIFY_NATS_SUBJECT_" + id + "=" + subject,
	}
	if jetStream {
		env = append(env, "MINIO_NOTIFY_NATS_JETSTREAM_"+id+"=on")
	}
	return env, "arn:minio:sqs::" + id + ":nats"
}

// MinIOWebhookTarget returns the environment that gives MinIO a webhook
// notification target id posting to url, and the target's ARN.
func MinIOWebhookTarget(id, url string) (env []string, arn string) {
	return []string{"MINIO_NOTIFY_WEBHOOK_ENABLE_" + id + "=on", "MINIO_NOTIFY_WEBHOOK_ENDPOINT_" + id + "=" + url},
		"arn:minio:sqs::" + id + ":webhook"
}

// NATSOptions say how to run nats-server.
type NATSOptions struct {
	Bin string // the nats-server binary
	Dir string // JetStream store directory
	// Addr is host:port; empty picks a free port on 127.0.0.1. Set it to
	// restart a stopped server on the same port.
	Addr   string
	Output io.Writer // discarded when nil
}

// NATS is a running nats-server with JetStream.
type NATS struct {
	*Process
	Addr string // host:port
	URL  string // nats://host:port
}

// StartNATS runs nats-server with JetStream and waits until it accepts
// connections. The caller stops it.
func StartNATS(ctx context.Context, o NATSOptions) (*NATS, error) {
	var err error
	if o.Addr == "" {
		if o.Addr, err = FreeAddr(); err != nil {
			return nil, err
		}
	}
	host, port, err := splitHostPort(o.Addr)
	if err != nil {
		return nil, err
	}
	p, err := startProcess("nats-server", exec.Command(o.Bin, "-a", host, "-p", port, "-js", "-sd", o.Dir), o.Output)
	if err != nil {
		return nil, err
	}
	if err := WaitTCP(ctx, o.Addr); err != nil {
		_ = p.Stop()
		return nil, fmt.Errorf("nats-server: %w", err)
	}
	return &NATS{Process: p, Addr: o.Addr, URL: "nats://" + o.Addr}, nil
}
