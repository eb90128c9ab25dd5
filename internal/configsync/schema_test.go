package configsync_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"testing"
	"time"

	"github.com/dgp-proxy/dgp/internal/configdb"
	"github.com/dgp-proxy/dgp/internal/configsync"
	"github.com/dgp-proxy/dgp/internal/configsync/configsynctest"
)

// additive returns the content of st as the payload of a synthetic
// additive schema (CurrentSchema+1): a field this binary does not know at
// the top and in every user, and the users named in disable disabled.
func additive(t testing.TB, st *configdb.State, disable ...string) []byte {
	t.Helper()
	b, err := json.Marshal(st.Data())
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	m["quota"] = map[string]any{"bytes": 1, "per_user": []any{"x", nil}}
	for _, u := range m["users"].([]any) {
		u := u.(map[string]any)
		u["mfa"] = []any{"totp", map[string]any{"webauthn": true}}
		for _, name := range disable {
			if u["name"] == name {
				u["enabled"] = false
			}
		}
	}
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// wantSchema checks the schema the node reports holding, in its status and
// its metrics.
func wantSchema(t testing.TB, n *node, schema, minReader int) {
	t.Helper()
	st := n.Status()
	if st.Schema != schema || st.MinReaderSchema != minReader || st.SupportedSchema != configdb.CurrentSchema {
		t.Fatalf("status schema %d, min reader %d, supported %d; want %d, %d, %d",
			st.Schema, st.MinReaderSchema, st.SupportedSchema, schema, minReader, configdb.CurrentSchema)
	}
	if got := n.metric(t, "dgp_config_sync_schema"); got != float64(schema) {
		t.Fatalf("dgp_config_sync_schema = %v, want %d", got, schema)
	}
	if got := n.metric(t, "dgp_config_sync_min_reader_schema"); got != float64(minReader) {
		t.Fatalf("dgp_config_sync_min_reader_schema = %v, want %d", got, minReader)
	}
	if got := n.metric(t, "dgp_config_sync_supported_schema"); got != configdb.CurrentSchema {
		t.Fatalf("dgp_config_sync_supported_schema = %v", got)
	}
}

// TestNewerAdditiveSchemaAppliedNeverRewritten: a DB of a newer schema that
// this binary can read (min_reader_schema = CurrentSchema) is applied and
// enforced (a key it disables is refused), kept byte for byte in the local
// file, and never published over, by the instance that pulled it nor by
// one that meets it while publishing, nor after a restart from the local
// file.
func TestNewerAdditiveSchemaAppliedNeverRewritten(t *testing.T) {
	mem := configsynctest.NewMemBucket()
	w := newNode(t, mem)
	n := newNode(t, mem)
	mustStart(t, w)
	mustStart(t, n)
	mustPublish(t, w, createUser("alice"))
	mustPublish(t, w, createUser("bob"))
	mustSyncNow(t, n)
	wantSchema(t, n, configdb.CurrentSchema, configdb.MinReaderSchema(configdb.CurrentSchema))
	alice, _ := n.Current().UserByName("alice")
	if _, ok := n.Current().Lookup(alice.AccessKeyID); !ok {
		t.Fatal("alice's key is not accepted before the newer db")
	}

	newer := sealRawMin(t, additive(t, w.Current(), "alice"), configdb.CurrentSchema+1, configdb.CurrentSchema, 3, t0.Add(time.Hour), testSecret)
	mem.Set(testKey, newer)
	res := mustSyncNow(t, n)
	if !res.Downloaded || res.Status != configsync.ResultUpdated || res.Generation != 3 {
		t.Fatalf("sync-now of a readable newer schema = %+v", res)
	}
	if _, ok := n.Current().Lookup(alice.AccessKeyID); ok {
		t.Fatal("the key the newer db disables is still accepted")
	}
	if !hasUser(n.Current(), "bob") {
		t.Fatal("bob lost")
	}
	if !bytes.Equal(mustReadFile(t, n.path), newer) {
		t.Fatal("the local file is not the newer db's bytes")
	}
	if r, _ := n.Ready(context.Background()); r != configsync.ReadyOK {
		t.Fatalf("ready = %q, want ok (the db is applied)", r)
	}
	wantSchema(t, n, configdb.CurrentSchema+1, configdb.CurrentSchema)
	if lines := n.logs.lines("config db of a newer schema applied"); len(lines) != 1 || lines[0]["action"] != "upgrade this instance" {
		t.Fatalf("newer-schema log lines: %v", lines)
	}

	// Publishing over it is refused, on the instance holding it...
	_, err := n.Publish(context.Background(), createUser("carol"))
	wantErrIs(t, err, configsync.ErrMidUpgrade)
	// ...and on one that meets it in the bucket (which adopts it).
	_, err = w.Publish(context.Background(), createUser("dave"))
	wantErrIs(t, err, configsync.ErrMidUpgrade)
	if obj, _, _ := mem.Object(testKey); !bytes.Equal(obj, newer) {
		t.Fatal("a newer-schema db was published over")
	}
	if w.Current().Generation() != 3 || hasUser(w.Current(), "dave") {
		t.Fatalf("the publisher did not adopt the newer db: generation %d", w.Current().Generation())
	}
	if _, ok := w.Current().Lookup(alice.AccessKeyID); ok {
		t.Fatal("the publisher that met the newer db still accepts the disabled key")
	}
	for _, x := range []*node{n, w} {
		if got := x.metric(t, "dgp_config_sync_publishes_total", "result", configsync.PublishMidUpgrade); got != 1 {
			t.Fatalf("publishes_total{mid_upgrade} = %v", got)
		}
		if st := x.Status().LastPublish; st == nil || st.Result != configsync.PublishMidUpgrade {
			t.Fatalf("last publish = %+v", st)
		}
	}

	// A restart from the local file holds it again, and still refuses.
	n2 := newNodeIn(t, n.dir, mem)
	mustStart(t, n2)
	wantSchema(t, n2, configdb.CurrentSchema+1, configdb.CurrentSchema)
	if _, ok := n2.Current().Lookup(alice.AccessKeyID); ok || n2.Current().Generation() != 3 {
		t.Fatal("the restarted instance does not enforce the newer db")
	}
	_, err = n2.Publish(context.Background(), createUser("erin"))
	wantErrIs(t, err, configsync.ErrMidUpgrade)
	if obj, _, _ := mem.Object(testKey); !bytes.Equal(obj, newer) || !bytes.Equal(mustReadFile(t, n.path), newer) {
		t.Fatal("the newer db was rewritten")
	}

	// Once the bucket holds a schema this binary writes, mutations resume.
	mem.Set(testKey, sealState(t, n2.Current(), 4, t0.Add(2*time.Hour), testSecret))
	mustSyncNow(t, n2)
	mustPublish(t, n2, createUser("frank"))
	wantSchema(t, n2, configdb.CurrentSchema, configdb.MinReaderSchema(configdb.CurrentSchema))
}

// TestNewerSchemaMergedRevocationsKeepTheBytes: revocations held here and
// missing from a readable newer-schema DB are merged in memory (enforced)
// but the local file keeps the DB's own bytes (re-sealing would drop the
// fields this binary does not know).
func TestNewerSchemaMergedRevocationsKeepTheBytes(t *testing.T) {
	mem := configsynctest.NewMemBucket()
	n := newNode(t, mem)
	mustStart(t, n)
	base := mustPublish(t, n, createUser("alice"))
	mustPublish(t, n, &configdb.RevokeSessions{Identity: "admin", Since: t0})
	newer := sealRawMin(t, additive(t, base), configdb.CurrentSchema+1, configdb.CurrentSchema, 5, t0.Add(time.Hour), testSecret)
	mem.Set(testKey, newer)
	if res := mustSyncNow(t, n); !res.Downloaded {
		t.Fatalf("sync-now = %+v", res)
	}
	if !n.Current().SessionRevoked("admin", t0) {
		t.Fatal("the revocation held here was dropped")
	}
	if !bytes.Equal(mustReadFile(t, n.path), newer) {
		t.Fatal("the local file is not the newer db's bytes")
	}
}

// TestNewerSchemaLocalOnly: without a sync bucket, a readable newer-schema
// local file is loaded and enforced, and mutations are refused.
func TestNewerSchemaLocalOnly(t *testing.T) {
	st := mustApply(t, configdb.Empty(), createUser("alice"))
	newer := sealRawMin(t, additive(t, st), configdb.CurrentSchema+1, configdb.CurrentSchema, 2, t0, testSecret)
	n := newNode(t, nil)
	if err := os.WriteFile(n.path, newer, 0o600); err != nil {
		t.Fatal(err)
	}
	mustStart(t, n)
	if !hasUser(n.Current(), "alice") || n.Current().Generation() != 2 {
		t.Fatal("the newer local file was not loaded")
	}
	wantSchema(t, n, configdb.CurrentSchema+1, configdb.CurrentSchema)
	_, err := n.Publish(context.Background(), createUser("bob"))
	wantErrIs(t, err, configsync.ErrMidUpgrade)
	if !bytes.Equal(mustReadFile(t, n.path), newer) || hasUser(n.Current(), "bob") {
		t.Fatal("the newer local db was rewritten")
	}
	if got := n.metric(t, "dgp_config_sync_publishes_total", "result", configsync.PublishMidUpgrade); got != 1 {
		t.Fatalf("publishes_total{mid_upgrade} = %v", got)
	}
}

// TestUnreadableSchemaKeepsStateNeverPublishes: a DB whose
// min_reader_schema is newer than this binary's (format 2) is refused like
// any newer schema: the state and the local file are kept, readiness says
// stale, the refusal is logged ("upgrade this instance") and counted, and
// the instance never publishes over it.
func TestUnreadableSchemaKeepsStateNeverPublishes(t *testing.T) {
	mem := configsynctest.NewMemBucket()
	n := newNode(t, mem)
	mustStart(t, n)
	held := mustPublish(t, n, createUser("alice"))
	heldFile := mustReadFile(t, n.path)

	tooNew := sealRawMin(t, additive(t, held), configdb.CurrentSchema+2, configdb.CurrentSchema+1, 9, t0.Add(time.Hour), testSecret)
	mem.Set(testKey, tooNew)
	res, err := n.SyncNow(context.Background())
	wantErrIs(t, err, configsync.ErrRejected)
	if res.Status != configsync.ResultSchemaTooNew || n.Current() != held || !bytes.Equal(mustReadFile(t, n.path), heldFile) {
		t.Fatalf("refusal: %+v, state kept %v", res, n.Current() == held)
	}
	if r, _ := n.Ready(context.Background()); r != configsync.ReadyStale {
		t.Fatalf("ready = %q, want stale", r)
	}
	if got := n.metric(t, "dgp_config_sync_pulls_total", "source", "sync-now", "result", configsync.ResultSchemaTooNew); got != 1 {
		t.Fatalf("pulls_total{schema_too_new} = %v", got)
	}
	lines := n.logs.lines("config db refused")
	if len(lines) != 1 || lines[0]["action"] != "upgrade this instance" || lines[0]["result"] != configsync.ResultSchemaTooNew {
		t.Fatalf("refusal log: %v", lines)
	}
	wantSchema(t, n, configdb.CurrentSchema, configdb.MinReaderSchema(configdb.CurrentSchema)) // still the held db's

	_, err = n.Publish(context.Background(), createUser("bob"))
	wantErrIs(t, err, configsync.ErrMidUpgrade)
	if obj, _, _ := mem.Object(testKey); !bytes.Equal(obj, tooNew) {
		t.Fatal("published over a db this binary cannot read")
	}
	if r, _ := n.Ready(context.Background()); r != configsync.ReadyStale {
		t.Fatalf("ready after the refused publish = %q, want stale", r)
	}

	// At start, the same DB as the local file is refused (upgrade first).
	n2 := newNode(t, mem)
	if err := os.WriteFile(n2.path, tooNew, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := n2.Start(context.Background()); err == nil {
		t.Fatal("started on a local db this binary cannot read")
	}
}
