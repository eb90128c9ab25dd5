//go:build integration

package configsync_test

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"

	"github.com/dgp-proxy/dgp/internal/configsync"
	"github.com/dgp-proxy/dgp/internal/configsync/configsynctest"
	"github.com/dgp-proxy/dgp/internal/storage"
	"github.com/dgp-proxy/dgp/internal/storage/s3backend"
	"github.com/dgp-proxy/dgp/internal/testutil"
)

// readWitness returns the witness object MinIO holds.
func readWitness(t testing.TB, be *s3backend.Backend, bucket string) configsync.Witness {
	t.Helper()
	obj, err := be.GetObject(context.Background(), bucket, configsync.WitnessKey(testKey), storage.GetOptions{})
	testutil.Must(t, err, "get the witness")
	defer obj.Body.Close()
	body, err := io.ReadAll(obj.Body)
	testutil.Must(t, err, "read the witness")
	w, err := configsync.ParseWitness(body)
	testutil.Must(t, err, "parse the witness %q", body)
	return w
}

// On MinIO (which enforces conditional writes) the first writer probes and
// leaves a witness; the second start, through a counting wrapper of the
// real bucket, writes nothing; a witness overwritten with garbage is
// ignored and replaced by the next start's probe.
func TestIntegrationProbeWitness(t *testing.T) {
	m := testutil.RequireMinIO(t)
	be := harnessBackend(t)
	bucket := mustBucket(t, be)
	ep := withEndpoint(m.Endpoint)

	first := configsynctest.NewFaulty(configsync.NewS3Bucket(be, bucket))
	n1 := s3Node(t, be, bucket, ep, func(o *configsync.Options) { o.Bucket = first })
	mustStart(t, n1)
	if first.Puts() != 4 {
		t.Fatalf("first start: %d puts, want the probe's 3 and the witness", first.Puts())
	}
	if keys := listKeys(t, be, bucket); len(keys) != 1 || keys[0] != configsync.WitnessKey(testKey) {
		t.Fatalf("after the first start the bucket holds %v, want the witness only", keys)
	}
	w := readWitness(t, be, bucket)
	if w.Endpoint != m.Endpoint || w.Bucket != bucket || w.Node != n1.Status().NodeID || w.ProbedAt.IsZero() {
		t.Fatalf("witness %+v", w)
	}

	second := configsynctest.NewFaulty(configsync.NewS3Bucket(be, bucket))
	n2 := s3Node(t, be, bucket, ep, func(o *configsync.Options) { o.Bucket = second })
	mustStart(t, n2)
	if second.Puts() != 0 {
		t.Fatalf("second start: %d puts despite the witness", second.Puts())
	}
	mustPublish(t, n2, createUser("alice"))
	if second.Puts() != 1 {
		t.Fatalf("publish after a witnessed start: %d puts, want 1", second.Puts())
	}

	_, err := be.PutObject(context.Background(), bucket, configsync.WitnessKey(testKey),
		bytes.NewReader([]byte("not a witness")), int64(len("not a witness")), storage.PutOptions{})
	testutil.Must(t, err, "overwrite the witness")
	third := configsynctest.NewFaulty(configsync.NewS3Bucket(be, bucket))
	n3 := s3Node(t, be, bucket, ep, func(o *configsync.Options) { o.Bucket = third })
	mustStart(t, n3)
	if third.Puts() != 4 {
		t.Fatalf("start over a garbage witness: %d puts, want the probe's 3 and a new witness", third.Puts())
	}
	if w := readWitness(t, be, bucket); w.Node != n3.Status().NodeID {
		t.Fatalf("the garbage witness was not replaced: %+v", w)
	}
	if !hasUser(n3.Current(), "alice") {
		t.Fatal("the third instance did not pull the published db")
	}
}

// A wrapper of the real MinIO bucket that drops the conditions (a backend
// that ignores If-None-Match and If-Match, which MinIO cannot be made to
// be): Start refuses, naming the endpoint and the bucket, and leaves
// nothing in the bucket; a reader on it starts (it never publishes).
func TestIntegrationProbeRefusesIgnoredConditions(t *testing.T) {
	m := testutil.RequireMinIO(t)
	be := harnessBackend(t)
	bucket := mustBucket(t, be)
	drop := configsynctest.NewFaulty(configsync.NewS3Bucket(be, bucket))
	drop.OnPut(func(ctx context.Context, key string, body []byte, _, _ string, next configsynctest.PutFunc) (string, error) {
		return next(ctx, key, body, "", "")
	})
	n := s3Node(t, be, bucket, withEndpoint(m.Endpoint), func(o *configsync.Options) { o.Bucket = drop })
	err := n.Start(context.Background())
	wantErrIs(t, err, configsync.ErrNoConditionalWrites)
	for _, want := range []string{m.Endpoint, `"` + bucket + `"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("refusal %q does not name %s", err, want)
		}
	}
	t.Logf("refusal: %v", err)
	if keys := listKeys(t, be, bucket); len(keys) != 0 {
		t.Fatalf("the refused start left %v", keys)
	}

	reader := s3Node(t, be, bucket, withEndpoint(m.Endpoint), func(o *configsync.Options) {
		o.Bucket = drop
		o.Role = configsync.RoleReader
	})
	mustStart(t, reader)
	if drop.Puts() != 2 {
		t.Fatalf("%d puts in all, want the refused probe's 2 (the reader writes nothing)", drop.Puts())
	}
}
