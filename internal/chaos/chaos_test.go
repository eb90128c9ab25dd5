//go:build integration

package chaos

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/dgp-proxy/dgp/internal/testharness/containers"
)

// TestChaos runs the fault matrix: at least 200 faults (DGP_TEST_CHAOS_FAULTS
// for more) in the order of DGP_TEST_CHAOS_SEED (default: the current
// time, logged), and fails when a promise did not hold.
func TestChaos(t *testing.T) {
	if os.Getenv("DGP_TEST_DOCKER") == "" {
		t.Skip("DGP_TEST_DOCKER not set")
	}
	minio, nats, busybox := os.Getenv("DGP_TEST_MINIO_BIN"), os.Getenv("DGP_TEST_NATS_SERVER_BIN"), os.Getenv("DGP_TEST_BUSYBOX")
	if minio == "" || nats == "" || busybox == "" {
		t.Fatal("DGP_TEST_DOCKER is set: DGP_TEST_MINIO_BIN, DGP_TEST_NATS_SERVER_BIN and DGP_TEST_BUSYBOX are needed")
	}
	faults := 200
	if v := os.Getenv("DGP_TEST_CHAOS_FAULTS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("DGP_TEST_CHAOS_FAULTS=%q", v)
		}
		faults = n
	}
	seed := uint64(time.Now().UnixNano()) >> 1
	if v := os.Getenv("DGP_TEST_CHAOS_SEED"); v != "" {
		s, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("DGP_TEST_CHAOS_SEED=%q", v)
		}
		seed = s
	}
	t.Logf("seed %d (rerun: DGP_TEST_CHAOS_SEED=%d), %d faults", seed, seed, faults)

	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	var log logWriter = t
	d := containers.NewDocker(fmt.Sprintf("chaos-%d", time.Now().UnixNano()%1e10), nil)
	imgs, err := containers.BuildImages(ctx, containers.ImageOptions{RepoRoot: root, MinIOBin: minio, NATSBin: nats, BusyboxBin: busybox})
	if err != nil {
		t.Fatalf("build images: %v", err)
	}
	proxy, err := BuildProxyImage(ctx, d, root)
	if err != nil {
		t.Fatalf("build the sync proxy image: %v", err)
	}
	rep, err := Run(ctx, Options{Docker: d, Images: imgs, ProxyImage: proxy, Faults: faults, Seed: seed, Log: tLog{log}})
	t.Log("\n" + rep.Table())
	if err != nil {
		t.Fatalf("seed %d: %v", seed, err)
	}
	if ok, why := rep.OK(); !ok {
		for _, w := range why {
			t.Error(w)
		}
		t.Fatalf("seed %d: the promises did not hold", seed)
	}
	left, err := d.Leftovers(context.Background())
	if err != nil || len(left) > 0 {
		t.Errorf("left on the engine after the run: %v %v", left, err)
	}
}

type logWriter interface{ Logf(string, ...any) }

// tLog writes lines to the test log.
type tLog struct{ l logWriter }

func (w tLog) Write(p []byte) (int, error) {
	w.l.Logf("%s", bytes.TrimRight(p, "\n"))
	return len(p), nil
}
