//go:build integration

package configsync_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"testing"

	"github.com/dgp-proxy/dgp/internal/configdb"
	"github.com/dgp-proxy/dgp/internal/storage"
	"github.com/dgp-proxy/dgp/internal/testutil"
)

// TestIntegrationPublishOverBrokenObject: on MinIO, a foreign writer puts
// a truncated copy of the DB in the sync key; the next mutation succeeds
// and the key holds a valid DB again. Garbage (which does not say which DB
// it replaced) and a tampered object (one ciphertext byte flipped) are
// still refused and left alone.
func TestIntegrationPublishOverBrokenObject(t *testing.T) {
	be := harnessBackend(t)
	bucket := mustBucket(t, be)
	ctx := context.Background()
	n := s3Node(t, be, bucket)
	mustStart(t, n)
	mustPublish(t, n, createUser("alice"))
	foreignPut := func(body []byte) {
		t.Helper()
		_, err := be.PutObject(ctx, bucket, testKey, bytes.NewReader(body), int64(len(body)), storage.PutOptions{})
		testutil.Must(t, err, "foreign put")
	}
	read := func() []byte {
		t.Helper()
		obj, err := be.GetObject(ctx, bucket, testKey, storage.GetOptions{})
		testutil.Must(t, err, "get")
		defer obj.Body.Close()
		b, err := io.ReadAll(obj.Body)
		testutil.Must(t, err, "read")
		return b
	}
	valid := read()
	for _, cut := range []int{len(valid) / 2, len(valid) - 7} {
		valid = read()
		foreignPut(valid[:cut])
		gen := n.Current().Generation()
		user := fmt.Sprintf("u-%d", cut)
		mustPublish(t, n, createUser(user))
		st, h, err := configdb.Open(read(), nil, testSecret)
		if err != nil {
			t.Fatalf("cut at %d: the sync key does not hold a valid db after the publish: %v", cut, err)
		}
		if h.Generation != gen+1 || !hasUser(st, "alice") || !hasUser(st, user) {
			t.Fatalf("cut at %d: generation %d (want %d), alice %v, %s %v", cut, h.Generation, gen+1, hasUser(st, "alice"), user, hasUser(st, user))
		}
	}

	garbage := []byte("garbage from a foreign writer")
	foreignPut(garbage)
	if _, err := n.Publish(ctx, createUser("bob")); err == nil {
		t.Fatal("a publish overwrote garbage that does not say which db it replaced")
	}
	if !bytes.Equal(read(), garbage) {
		t.Fatal("the garbage was overwritten")
	}

	tampered := bytes.Clone(valid)
	tampered[len(tampered)-5] ^= 0x01
	foreignPut(tampered)
	if _, err := n.Publish(ctx, createUser("bob")); err == nil {
		t.Fatal("a publish overwrote a tampered object")
	}
	if !bytes.Equal(read(), tampered) {
		t.Fatal("the tampered object was overwritten")
	}
}
