//go:build integration

package soak_test

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/dgp-proxy/dgp/internal/soak"
	"github.com/dgp-proxy/dgp/internal/testutil"
)

// TestSoak runs a bounded soak (90 s) against the shared MinIO and NATS: a
// writer and a reader built from this tree, S3 traffic from 4 workers per
// core, an IAM mutation every second on the writer. No request may fail
// but those the mutations meant to refuse, every kind of mutation must
// have been made and verified on both instances, and RSS, descriptors,
// goroutines and heap must stay flat.
func TestSoak(t *testing.T) {
	m := testutil.RequireMinIO(t)
	nats := os.Getenv("DGP_TEST_NATS_URL")
	if nats == "" || m.NATSARN == "" {
		t.Skip("DGP_TEST_NATS_URL and DGP_TEST_MINIO_NATS_ARN not set (run through .ci/run)")
	}
	work := t.TempDir()
	bin, err := soak.BuildDGP(context.Background(), filepath.Join(work, "dgp"))
	testutil.Must(t, err, "build dgp")
	res, err := soak.Run(context.Background(), soak.Options{
		MinIOURL: m.Endpoint, MinIOAccessKey: m.AccessKey, MinIOSecretKey: m.SecretKey,
		MinIONATSARN: m.NATSARN, NATSURL: nats, NATSSubject: os.Getenv("DGP_TEST_NATS_SUBJECT"),
		DGPBin: bin, WorkDir: work,
		Duration: 90 * time.Second, Concurrency: 4 * runtime.NumCPU(), MutationInterval: time.Second,
		SampleInterval: 5 * time.Second,
	})
	if err != nil {
		logs(t, work)
		t.Fatalf("soak: %v", err)
	}
	var report strings.Builder
	soak.WriteReport(&report, res)
	t.Logf("report:\n%s", report.String())
	if err := res.Failed(); err != nil {
		logs(t, work)
		t.Fatalf("the soak failed: %v", err)
	}
	for _, kind := range []string{"create-user", "disable-user", "enable-user", "rotate-keys", "update-group", "delete-user"} {
		if res.Mutations[kind] == 0 {
			t.Errorf("no %s mutation was made and verified", kind)
		}
	}
	if res.IntendedRefusals == 0 {
		t.Error("no request was refused: the disabled, rotated and deleted keys were never tried")
	}
	for _, op := range []string{"put", "get", "head", "list", "delete"} {
		if res.Ops[op] == 0 {
			t.Errorf("no successful %s", op)
		}
	}
	if res.Propagation.N == 0 {
		t.Error("no mutation's effect was seen on every instance")
	}
}

// logs prints the tail of each instance's log.
func logs(t *testing.T, work string) {
	files, _ := filepath.Glob(filepath.Join(work, "*.log"))
	for _, f := range files {
		b, _ := os.ReadFile(f)
		if len(b) > 8<<10 {
			b = b[len(b)-8<<10:]
		}
		t.Logf("%s (tail):\n%s", filepath.Base(f), b)
	}
}
