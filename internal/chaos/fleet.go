package chaos

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/dgp-proxy/dgp/internal/notifysetup"
	"github.com/dgp-proxy/dgp/internal/testharness/containers"
)

// Names the fleet shares.
const (
	syncBucket = "dgp-iam-sync"
	dataBucket = "chaos-data"
	syncKey    = ".deltaglider/config.db"
	subject    = "dgp.config-sync"
	natsARN    = "arn:minio:sqs::PRIMARY:nats"
	minioUser  = "minioadmin"
	minioPass  = "minioadmin"
	password   = "chaos-fleet-bootstrap-password"
	dataDBPath = "/data/deltaglider_config.db"
)

// Fleet is the containers of one chaos run: MinIO, nats-server, the sync
// proxy and the dgp instances, on four networks:
//
//   - front-svc (MinIO, NATS, proxy) and front-dgp (the instances) carry
//     the ports published on 127.0.0.1 and are never cut; MinIO reaches
//     NATS through front-svc (its notifications);
//   - minio (internal: MinIO, the proxy, the instances) and nats (internal:
//     NATS, the instances) are what a cut removes an instance from, so it
//     can lose MinIO, NATS or both. Addresses there are fixed, so a short
//     cut resumes the connections it interrupted.
type Fleet struct {
	d      *containers.Docker
	prefix string
	imgs   containers.Images
	proxy  string // the sync proxy's image
	poll   time.Duration

	frontSvc, frontDGP, netMinIO, netNATS string
	minioSubnet, natsSubnet               string

	minio, nats, syncProxy *container
	inst                   []*Instance
	http                   *http.Client // the harness's probes
}

// container is a container whose published port the harness follows
// (a restart may move it).
type container struct {
	name string
	port string // container port published

	mu   sync.Mutex
	addr string // 127.0.0.1:port
}

func (c *container) Addr() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.addr
}

func (c *container) URL() string { return "http://" + c.Addr() }

// Instance is one dgp instance.
type Instance struct {
	container
	Index   int
	Node    string
	minioIP string
	natsIP  string
}

func (f *Fleet) refresh(ctx context.Context, c *container) error {
	addr, err := f.d.HostPort(ctx, c.name, c.port)
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.addr = addr
	c.mu.Unlock()
	return nil
}

// startFleet creates the networks and containers and waits until every
// dgp instance is ready.
func startFleet(ctx context.Context, d *containers.Docker, imgs containers.Images, proxyImage string, n int, poll time.Duration, log io.Writer) (*Fleet, error) {
	p := "dgpchaos-" + d.RunID
	f := &Fleet{d: d, prefix: p, imgs: imgs, proxy: proxyImage, poll: poll, http: &http.Client{Timeout: 10 * time.Second},
		frontSvc: p + "-front-svc", frontDGP: p + "-front-dgp", netMinIO: p + "-minio", netNATS: p + "-nats"}
	var err error
	for _, name := range []string{f.frontSvc, f.frontDGP} {
		if err := d.NetworkCreate(ctx, name, containers.NetworkOptions{}); err != nil {
			return f, err
		}
	}
	if f.minioSubnet, err = d.NetworkCreateFree(ctx, f.netMinIO, true); err != nil {
		return f, err
	}
	if f.natsSubnet, err = d.NetworkCreateFree(ctx, f.netNATS, true); err != nil {
		return f, err
	}

	f.nats = &container{name: p + "-nats", port: "4222"}
	if err := f.create(ctx, f.nats, containers.RunOptions{
		Image: imgs.NATS, Network: f.frontSvc, Aliases: []string{"nats"},
		Cmd: []string{"-a", "0.0.0.0", "-p", "4222"},
	}, attach{f.netNATS, containers.HostInSubnet(f.natsSubnet, 2), "nats"}); err != nil {
		return f, err
	}
	f.minio = &container{name: p + "-minio", port: "9000"}
	if err := f.create(ctx, f.minio, containers.RunOptions{
		Image: imgs.MinIO, Network: f.frontSvc, Aliases: []string{"minio"},
		Env: []string{
			"MINIO_ROOT_USER=" + minioUser, "MINIO_ROOT_PASSWORD=" + minioPass,
			"MINIO_NOTIFY_NATS_ENABLE_PRIMARY=on", "MINIO_NOTIFY_NATS_ADDRESS_PRIMARY=nats:4222",
			"MINIO_NOTIFY_NATS_SUBJECT_PRIMARY=" + subject,
		},
		Cmd: []string{"server", "/data", "--address", ":9000"},
	}, attach{f.netMinIO, containers.HostInSubnet(f.minioSubnet, 2), "minio"}); err != nil {
		return f, err
	}
	f.syncProxy = &container{name: p + "-syncproxy", port: "9100"}
	if err := f.create(ctx, f.syncProxy, containers.RunOptions{
		Image: proxyImage, Network: f.frontSvc,
		Cmd: []string{"-listen", ":9000", "-control", ":9100", "-upstream", "http://minio:9000", "-key", "/" + syncBucket + "/" + syncKey},
	}, attach{f.netMinIO, containers.HostInSubnet(f.minioSubnet, 3), "syncproxy"}); err != nil {
		return f, err
	}
	if err := f.waitHTTP(ctx, f.minio.URL()+"/minio/health/ready"); err != nil {
		return f, fmt.Errorf("minio: %w", err)
	}
	if err := f.waitHTTP(ctx, f.syncProxy.URL()+"/health"); err != nil {
		return f, fmt.Errorf("sync proxy: %w", err)
	}
	if err := setupBuckets(ctx, f.minio.URL()); err != nil {
		return f, err
	}
	for i := range n {
		in := &Instance{container: container{name: fmt.Sprintf("%s-dgp-%d", p, i+1), port: "9000"}, Index: i, Node: fmt.Sprintf("dgp-%d", i+1),
			minioIP: containers.HostInSubnet(f.minioSubnet, 10+i), natsIP: containers.HostInSubnet(f.natsSubnet, 10+i)}
		f.inst = append(f.inst, in)
		if err := f.create(ctx, &in.container, containers.RunOptions{
			Image: imgs.DGP, Network: f.frontDGP, Env: f.dgpEnv(in),
		}, attach{f.netMinIO, in.minioIP, ""}, attach{f.netNATS, in.natsIP, ""}); err != nil {
			return f, err
		}
		fmt.Fprintf(log, "started %s (%s) on %s\n", in.Node, in.name, in.Addr())
	}
	for _, in := range f.inst {
		if err := f.waitReady(ctx, in, 90*time.Second); err != nil {
			return f, err
		}
	}
	return f, nil
}

func (f *Fleet) dgpEnv(in *Instance) []string {
	return []string{
		"DGP_NODE_ID=" + in.Node,
		"DGP_BOOTSTRAP_PASSWORD=" + password,
		"DGP_LOG_FORMAT=json",
		"DGP_STORAGE_S3=http://minio:9000",
		"DGP_STORAGE_REGION=us-east-1",
		"DGP_STORAGE_FORCE_PATH_STYLE=true",
		"DGP_STORAGE_ACCESS_KEY_ID=" + minioUser,
		"DGP_STORAGE_SECRET_ACCESS_KEY=" + minioPass,
		"DGP_CONFIG_SYNC_BUCKET=" + syncBucket,
		"DGP_CONFIG_SYNC_KEY=" + syncKey,
		// The sync bucket through the proxy (same MinIO, same network).
		"DGP_CONFIG_SYNC_S3_ENDPOINT=http://syncproxy:9000",
		"DGP_CONFIG_SYNC_S3_REGION=us-east-1",
		"DGP_CONFIG_SYNC_S3_FORCE_PATH_STYLE=true",
		"DGP_CONFIG_SYNC_S3_ACCESS_KEY_ID=" + minioUser,
		"DGP_CONFIG_SYNC_S3_SECRET_ACCESS_KEY=" + minioPass,
		"DGP_CONFIG_SYNC_POLL_INTERVAL=" + f.poll.String(),
		"DGP_CONFIG_SYNC_NATS_URL=nats://nats:4222",
		"DGP_CONFIG_SYNC_NATS_SUBJECT=" + subject,
		"DGP_CONFIG_SYNC_ROLE=writer",
	}
}

// attach is a network a container joins besides its first one.
type attach struct{ network, ip, alias string }

func (f *Fleet) create(ctx context.Context, c *container, o containers.RunOptions, more ...attach) error {
	o.Name = c.name
	o.Publish = []string{c.port}
	if _, err := f.d.Create(ctx, o); err != nil {
		return err
	}
	for _, a := range more {
		co := containers.ConnectOptions{IP: a.ip}
		if a.alias != "" {
			co.Aliases = []string{a.alias}
		}
		if err := f.d.NetworkConnect(ctx, a.network, c.name, co); err != nil {
			return err
		}
	}
	if err := f.d.Start(ctx, c.name); err != nil {
		return err
	}
	return f.refresh(ctx, c)
}

// waitHTTP waits until url answers 200.
func (f *Fleet) waitHTTP(ctx context.Context, url string) error {
	return retry(ctx, 60*time.Second, 100*time.Millisecond, func() error {
		resp, err := f.http.Get(url)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("GET %s: %s", url, resp.Status)
		}
		return nil
	})
}

// waitReady waits until the instance answers /_/ready with 200 on its
// (possibly new) published port.
func (f *Fleet) waitReady(ctx context.Context, in *Instance, limit time.Duration) error {
	err := retry(ctx, limit, 100*time.Millisecond, func() error {
		if err := f.refresh(ctx, &in.container); err != nil {
			return err
		}
		resp, err := f.http.Get(in.URL() + "/_/ready")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("%s: /_/ready %s", in.Node, resp.Status)
		}
		return nil
	})
	if err != nil {
		logs, _ := f.d.Logs(context.Background(), in.name)
		return fmt.Errorf("%s not ready: %w\n%s", in.Node, err, tail(logs, 30))
	}
	return nil
}

// retry calls fn every interval until it succeeds or limit passes.
func retry(ctx context.Context, limit, interval time.Duration, fn func() error) error {
	deadline := time.Now().Add(limit)
	for {
		err := fn()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last: %v)", ctx.Err(), err)
		case <-time.After(interval):
		}
	}
}

func tail(s string, n int) string {
	lines := 0
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == '\n' {
			if lines++; lines > n {
				return s[i+1:]
			}
		}
	}
	return s
}

// BuildProxyImage builds the sync proxy's image: a static build of
// cmd/dgp-chaos (its "syncproxy" subcommand) FROM scratch, tagged by the
// binary's hash so an unchanged binary reuses the image.
func BuildProxyImage(ctx context.Context, d *containers.Docker, repoRoot string) (string, error) {
	dir, err := os.MkdirTemp("", "dgp-chaos-proxy-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "dgp-chaos")
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags", "-s -w", "-o", bin, "./cmd/dgp-chaos")
	cmd.Dir = repoRoot
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=-buildvcs=false")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build dgp-chaos: %w: %s", err, out)
	}
	b, err := os.ReadFile(bin)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	tag := "dgp-test/chaos-proxy:" + hex.EncodeToString(sum[:6])
	if _, err := d.Cmd(ctx, "image", "inspect", "--format", "{{.Id}}", tag); err == nil {
		return tag, nil
	}
	df := "FROM scratch\nCOPY dgp-chaos /dgp-chaos\nEXPOSE 9000 9100\nENTRYPOINT [\"/dgp-chaos\", \"syncproxy\"]\n"
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(df), 0o644); err != nil {
		return "", err
	}
	return tag, d.Build(ctx, dir, tag)
}

// itoa is strconv.Itoa, short.
func itoa(i int) string { return strconv.Itoa(i) }

// minioClient is the host's S3 client of MinIO (root credentials); pass
// at(f.minio.URL()) to each call, since a restart may move the port.
func minioClient() *s3.Client {
	return s3Client(minioUser, minioPass)
}

// ensureNotification adds the rule that sends every new config DB to NATS.
func ensureNotification(ctx context.Context, c *s3.Client, url string) error {
	target, err := notifysetup.NATSTarget(natsARN)
	if err != nil {
		return err
	}
	cc := s3.New(c.Options(), at(url))
	_, err = notifysetup.Ensure(ctx, cc, syncBucket, notifysetup.Rule{Target: target, Key: syncKey}, false)
	return err
}

func containersConnect(ip string) containers.ConnectOptions {
	return containers.ConnectOptions{IP: ip}
}
