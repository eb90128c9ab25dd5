package soak

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/dgp-proxy/dgp/internal/config"
	"github.com/dgp-proxy/dgp/internal/notifysetup"
	"github.com/dgp-proxy/dgp/internal/testharness"
)

// The fleet's credentials (loopback only, thrown away with the work dir).
const (
	rootKey           = "SOAKROOTACCESSKEY000"
	rootSecret        = "soakRootSecret000000000000000000000000000"
	bootstrapPassword = "soak-bootstrap-password"
	region            = "us-east-1"
)

// BuildDGP builds cmd/dgp of this module into out and returns its path.
func BuildDGP(ctx context.Context, out string) (string, error) {
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, "github.com/dgp-proxy/dgp/cmd/dgp")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build dgp: %w\n%s", err, b)
	}
	return out, nil
}

// proc is one dgp process.
type proc struct {
	name   string
	writer bool
	url    string
	cmd    *exec.Cmd
	log    *os.File
	done   chan struct{} // closed when the process has exited
	hc     *http.Client
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

// exited reports whether the process has exited.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop ends the process gracefully (SIGTERM), killing it after 30 s, and
// waits for it.
func (p *proc) stop() {
	defer p.log.Close()
	if p.exited() {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// env is the fleet and the buckets one soak runs against.
type env struct {
	o          Options
	minio      *s3.Client
	dataBucket string
	syncBucket string
	procs      []*proc // writer first
	hc         *http.Client
}

func (e *env) writer() *proc { return e.procs[0] }

// setup creates the buckets and the notification rule, then starts the
// writer and the readers and waits until each is ready (readers: with
// their NATS subscription up).
func setup(ctx context.Context, o Options, work string) (_ *env, err error) {
	suffix := randHex(6)
	e := &env{
		o:          o,
		dataBucket: "dgp-soak-data-" + suffix,
		syncBucket: "dgp-soak-sync-" + suffix,
		hc:         &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256, IdleConnTimeout: 90 * time.Second}},
	}
	e.minio = s3.New(s3.Options{
		Region: region, BaseEndpoint: aws.String(o.MinIOURL), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(o.MinIOAccessKey, o.MinIOSecretKey, ""),
	})
	defer func() {
		if err != nil {
			e.close()
		}
	}()
	for _, b := range []string{e.dataBucket, e.syncBucket} {
		if _, err := e.minio.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(b)}); err != nil {
			return nil, fmt.Errorf("create bucket %s: %w", b, err)
		}
	}
	target, err := notifysetup.NATSTarget(o.MinIONATSARN)
	if err != nil {
		return nil, err
	}
	err = testharness.Retry(ctx, 30*time.Second, func() error {
		_, err := notifysetup.Ensure(ctx, e.minio, e.syncBucket,
			notifysetup.Rule{Target: target, Key: config.DefaultConfigSyncObjectKey}, false)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("notification rule on %s: %w", e.syncBucket, err)
	}
	w, err := e.start(ctx, work, "writer", true)
	if err != nil {
		return nil, err
	}
	e.procs = append(e.procs, w)
	for i := range o.Readers {
		r, err := e.start(ctx, work, fmt.Sprintf("reader-%d", i+1), false)
		if err != nil {
			return nil, err
		}
		e.procs = append(e.procs, r)
	}
	for _, p := range e.procs[1:] {
		err := testharness.Retry(ctx, 30*time.Second, func() error {
			m, err := p.metrics(ctx)
			if err != nil {
				return err
			}
			if m.Sum("dgp_config_sync_event_source_connected", `source="nats"`) != 1 {
				return fmt.Errorf("%s: NATS not connected", p.name)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return e, nil
}

// start runs one dgp process and waits until /_/ready answers 200.
func (e *env) start(ctx context.Context, work, name string, writer bool) (*proc, error) {
	addr, err := testharness.FreeAddr()
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(work, name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	logf, err := os.Create(filepath.Join(work, name+".log"))
	if err != nil {
		return nil, err
	}
	o := e.o
	vars := map[string]string{
		"DGP_LISTEN_ADDR": addr, "DGP_DATA_DIR": dir, "DGP_NODE_ID": name,
		"DGP_ACCESS_KEY_ID": rootKey, "DGP_SECRET_ACCESS_KEY": rootSecret, "DGP_BOOTSTRAP_PASSWORD": bootstrapPassword,
		"DGP_STORAGE_S3": o.MinIOURL, "DGP_STORAGE_REGION": region, "DGP_STORAGE_FORCE_PATH_STYLE": "true",
		"DGP_STORAGE_ACCESS_KEY_ID": o.MinIOAccessKey, "DGP_STORAGE_SECRET_ACCESS_KEY": o.MinIOSecretKey,
		"DGP_CONFIG_SYNC_BUCKET": e.syncBucket, "DGP_CONFIG_SYNC_S3_ENDPOINT": o.MinIOURL,
		"DGP_CONFIG_SYNC_S3_REGION": region, "DGP_CONFIG_SYNC_S3_FORCE_PATH_STYLE": "true",
		"DGP_CONFIG_SYNC_S3_ACCESS_KEY_ID": o.MinIOAccessKey, "DGP_CONFIG_SYNC_S3_SECRET_ACCESS_KEY": o.MinIOSecretKey,
		"DGP_CONFIG_SYNC_POLL_INTERVAL": "1h",
		"DGP_CONFIG_SYNC_NATS_URL":      o.NATSURL, "DGP_CONFIG_SYNC_NATS_SUBJECT": o.NATSSubject,
		"DGP_LOG_FORMAT": "json", "DGP_LOG_LEVEL": "info",
		"DGP_LOGIN_RATE_LIMIT": "0",
	}
	if !writer {
		vars["DGP_CONFIG_SYNC_ROLE"] = "reader"
		vars["DGP_CONFIG_SYNC_WRITER_URL"] = e.writer().url
	}
	// The environment: the process's own without DGP_* (a developer's
	// settings must not leak in), then the fleet's.
	var environ []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "DGP_") {
			environ = append(environ, kv)
		}
	}
	for k, v := range vars {
		environ = append(environ, k+"="+v)
	}
	cmd := exec.Command(e.o.DGPBin, "serve")
	cmd.Dir, cmd.Env, cmd.Stdout, cmd.Stderr = dir, environ, logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &proc{name: name, writer: writer, url: "http://" + addr, cmd: cmd, log: logf, done: make(chan struct{}), hc: e.hc}
	go func() { // owned by p: stop waits for done
		_ = cmd.Wait()
		close(p.done)
	}()
	err = testharness.Retry(ctx, 60*time.Second, func() error {
		if p.exited() {
			return nil // reported below
		}
		return p.ready(ctx)
	})
	if err == nil && p.exited() {
		err = fmt.Errorf("%s exited at start (log %s)", name, logf.Name())
	}
	if err != nil {
		p.stop()
		return nil, err
	}
	return p, nil
}

// ready returns nil when the instance answers /_/ready with 200.
func (p *proc) ready(ctx context.Context) error {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, p.url+"/_/ready", nil)
	resp, err := p.hc.Do(req)
	if err != nil {
		return err
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s not ready: %s %s", p.name, resp.Status, b)
	}
	return nil
}

// metrics returns the instance's Prometheus samples, keyed "name{labels}".
func (p *proc) metrics(ctx context.Context) (testharness.Metrics, error) {
	return testharness.ScrapeMetrics(ctx, p.hc, p.url+"/_/metrics")
}

// converged checks that every instance is still running, ready, and holds
// the writer's generation (waiting a little for the last event).
func (e *env) converged(ctx context.Context) error {
	for _, p := range e.procs {
		if p.exited() {
			return fmt.Errorf("%s exited during the soak: %s", p.name, p.cmd.ProcessState)
		}
	}
	m, err := e.writer().metrics(ctx)
	if err != nil {
		return err
	}
	gen := m.Sum("dgp_config_sync_generation")
	return testharness.Retry(ctx, 15*time.Second, func() error {
		for _, p := range e.procs {
			if err := p.ready(ctx); err != nil {
				return err
			}
			m, err := p.metrics(ctx)
			if err != nil {
				return err
			}
			if g := m.Sum("dgp_config_sync_generation"); g != gen {
				return fmt.Errorf("%s holds generation %v, the writer %v", p.name, g, gen)
			}
		}
		return nil
	})
}

// close stops the processes and removes the buckets.
func (e *env) close() {
	for i := len(e.procs) - 1; i >= 0; i-- {
		e.procs[i].stop()
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, b := range []string{e.dataBucket, e.syncBucket} {
		emptyAndDelete(ctx, e.minio, b)
	}
}

func emptyAndDelete(ctx context.Context, c *s3.Client, bucket string) {
	p := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			break
		}
		for _, o := range page.Contents {
			_, _ = c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: o.Key})
		}
	}
	_, _ = c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String(bucket)})
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
