//go:build integration

package configsync_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/dgp-proxy/dgp/internal/configsync"
	"github.com/dgp-proxy/dgp/internal/s3err"
	"github.com/dgp-proxy/dgp/internal/storage"
	"github.com/dgp-proxy/dgp/internal/storage/s3backend"
	"github.com/dgp-proxy/dgp/internal/testutil"
)

// newBackend returns an s3backend on endpoint.
func newBackend(t testing.TB, endpoint, access, secret string) *s3backend.Backend {
	t.Helper()
	be, err := s3backend.New(context.Background(), s3backend.Options{
		Name: "sync", Endpoint: endpoint, AccessKeyID: access, SecretAccessKey: secret,
		ForcePathStyle: true, PingTimeout: 5 * time.Second,
	})
	testutil.Must(t, err, "s3backend.New")
	return be
}

// harnessBackend returns an s3backend on the harness's MinIO (skipping the
// test when there is none, failing when it is unreachable).
func harnessBackend(t testing.TB) *s3backend.Backend {
	t.Helper()
	m := testutil.RequireMinIO(t)
	be := newBackend(t, m.Endpoint, m.AccessKey, m.SecretKey)
	testutil.Must(t, be.Ping(context.Background()), "ping MinIO %s", m.Endpoint)
	return be
}

// mustBucket creates a uniquely named bucket, emptied and removed when the
// test ends.
func mustBucket(t testing.TB, be *s3backend.Backend) string {
	t.Helper()
	name := testutil.UniqueName("dgp-cs")
	testutil.Must(t, be.CreateBucket(context.Background(), name, storage.CreateBucketOptions{}), "create bucket %s", name)
	t.Cleanup(func() { removeBucket(t, be, name) })
	return name
}

func removeBucket(t testing.TB, be *s3backend.Backend, bucket string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		res, err := be.ListObjects(ctx, bucket, storage.ListOptions{MaxKeys: 1000})
		if err != nil {
			if !errors.Is(err, s3err.ErrNoSuchBucket) {
				t.Logf("cleanup: list %s: %v", bucket, err)
			}
			return
		}
		for _, o := range res.Objects {
			_, _ = be.DeleteObject(ctx, bucket, o.Key, storage.DeleteOptions{})
		}
		if !res.IsTruncated {
			break
		}
	}
	if err := be.DeleteBucket(ctx, bucket); err != nil && !errors.Is(err, s3err.ErrNoSuchBucket) {
		t.Logf("cleanup: delete bucket %s: %v", bucket, err)
	}
}

// listKeys returns the keys in bucket.
func listKeys(t testing.TB, be *s3backend.Backend, bucket string) []string {
	t.Helper()
	res, err := be.ListObjects(context.Background(), bucket, storage.ListOptions{MaxKeys: 1000})
	testutil.Must(t, err, "list %s", bucket)
	keys := make([]string, 0, len(res.Objects))
	for _, o := range res.Objects {
		keys = append(keys, o.Key)
	}
	return keys
}

// s3Node is a node on bucket of be through the production adapter.
func s3Node(t testing.TB, be *s3backend.Backend, bucket string, mods ...func(*configsync.Options)) *node {
	t.Helper()
	mods = append([]func(*configsync.Options){func(o *configsync.Options) {
		o.BucketName = bucket
		o.Now = time.Now // real time: the nodes are separate instances
		o.Rand = nil
		o.ConflictBackoff = 0
	}}, mods...)
	return newNode(t, configsync.NewS3Bucket(be, bucket), mods...)
}

// privateMinIO is a MinIO process this test owns, restartable on the same
// port and data dir.
type privateMinIO struct {
	bin, dir string
	port     int
	cmd      *exec.Cmd
	waitDone chan struct{}
}

func (m *privateMinIO) endpoint() string { return "http://127.0.0.1:" + strconv.Itoa(m.port) }

// startPrivateMinIO starts MinIO from DGP_TEST_MINIO_BIN (skipping without
// it) on a free port; it is stopped when the test ends.
func startPrivateMinIO(t testing.TB) *privateMinIO {
	t.Helper()
	m := &privateMinIO{bin: testutil.MinIOBin(t), dir: t.TempDir(), port: testutil.FreePort(t)}
	m.start(t)
	t.Cleanup(func() { m.stop(t) })
	return m
}

func (m *privateMinIO) start(t testing.TB) {
	t.Helper()
	cmd := exec.Command(m.bin, "server", "--quiet", "--address", "127.0.0.1:"+strconv.Itoa(m.port),
		"--console-address", "127.0.0.1:"+strconv.Itoa(testutil.FreePort(t)), m.dir)
	cmd.Env = testutil.Env("MINIO_ROOT_USER=minioadmin", "MINIO_ROOT_PASSWORD=minioadmin", "MINIO_BROWSER=off")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	testutil.Must(t, cmd.Start(), "start minio")
	m.cmd = cmd
	m.waitDone = make(chan struct{})
	go func() { _ = cmd.Wait(); close(m.waitDone) }()
	testutil.RetryUntil(t, 30*time.Second, func() error {
		resp, err := http.Get(m.endpoint() + "/minio/health/live")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("status %s", resp.Status)
		}
		return nil
	})
}

// stop kills the MinIO process (by its pid) and waits for it.
func (m *privateMinIO) stop(t testing.TB) {
	if m.cmd == nil {
		return
	}
	_ = m.cmd.Process.Signal(syscall.SIGKILL)
	select {
	case <-m.waitDone:
	case <-time.After(30 * time.Second):
		t.Errorf("minio pid %d did not exit", m.cmd.Process.Pid)
	}
	m.cmd = nil
}
