package admin

import (
	"context"
	"net/http"
	"path/filepath"
	"testing"

	"github.com/rs/zerolog"

	"github.com/dgp-proxy/dgp/internal/configdb"
	"github.com/dgp-proxy/dgp/internal/configsync"
	"github.com/dgp-proxy/dgp/internal/configsync/configsynctest"
)

// syncerSync adapts a *configsync.Syncer to Sync (its Status returns a
// configsync.Status; the API only needs something JSON-encodable). The app
// needs the same three lines.
type syncerSync struct{ *configsync.Syncer }

func (s syncerSync) Status() any { return s.Syncer.Status() }

var _ IAM = (*configsync.Syncer)(nil)
var _ Sync = syncerSync{}

// startSyncer starts a real Syncer on bucket with role.
func startSyncer(t *testing.T, bucket configsync.Bucket, role string, c *clock) *configsync.Syncer {
	t.Helper()
	s, err := configsync.New(configsync.Options{
		Bucket: bucket, BucketName: "dgp-iam-sync", Key: ".deltaglider/config.db", Role: role,
		WriterURL: "https://dgp-writer:9000", NodeID: role, Secret: []byte(testPassword),
		KDF:       configdb.KDFParams{Time: 1, MemoryKiB: 64, Threads: 1},
		LocalPath: filepath.Join(t.TempDir(), "deltaglider_config.db"), Logger: zerolog.Nop(), Now: c.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatalf("start %s: %v", role, err)
	}
	return s
}

// TestWithRealSyncers runs the seed guide's Verify against two real
// Syncers (a writer and a reader) sharing an in-memory sync bucket, and
// shows that a logout on the writer reaches the reader through the bucket.
func TestWithRealSyncers(t *testing.T) {
	bucket := configsynctest.NewMemBucket()
	c := newClock()
	ws := startSyncer(t, bucket, "writer", c)
	rs := startSyncer(t, bucket, "reader", c)
	writer := newHarness(t, func(o *Options) { o.IAM = ws; o.Sync = syncerSync{ws}; o.Now = c.Now })
	reader := newHarness(t, func(o *Options) {
		o.IAM = rs
		o.Sync = syncerSync{rs}
		o.Now = c.Now
		o.WriterURL = "https://dgp-writer:9000"
	})

	wc := writer.client(t)
	wc.login()
	wc.createUser(map[string]any{"name": "throwaway"})

	rc := reader.client(t)
	token := sessionCookie(t, rc.login()).Value
	res := rc.must(http.StatusOK, "POST", "/config/sync-now", nil).obj(t)
	if res["downloaded"] != true || res["status"] != "updated" || res["generation"] != float64(1) {
		t.Fatalf("sync-now %v", res)
	}
	var users []struct {
		Name string `json:"name"`
	}
	rc.must(http.StatusOK, "GET", "/users", nil).json(t, &users)
	if len(users) != 1 || users[0].Name != "throwaway" {
		t.Fatalf("reader lists %+v", users)
	}
	if st := rc.must(http.StatusOK, "GET", "/config/sync-status", nil).obj(t); st["role"] != "reader" {
		t.Fatalf("sync-status %v", st)
	}
	m := wantError(t, rc.do("POST", "/users", map[string]any{"name": "x"}), http.StatusConflict, "read_only_replica")
	if m["writer_url"] != "https://dgp-writer:9000" {
		t.Fatalf("reader refusal %v", m)
	}

	// The reader's session, logged out on the writer, dies on the reader
	// once the reader has pulled.
	if r := withToken(t, writer.srv.URL, "POST", "/logout", token); r.obj(t)["revoked"] != true {
		t.Fatalf("logout on the writer: %s", r.body)
	}
	if r := withToken(t, reader.srv.URL, "GET", "/whoami", token); r.status != http.StatusOK {
		t.Fatalf("before the pull: %d", r.status)
	}
	if _, err := rs.SyncNow(context.Background()); err != nil {
		t.Fatal(err)
	}
	wantError(t, withToken(t, reader.srv.URL, "GET", "/whoami", token), http.StatusUnauthorized, "unauthenticated")
}
