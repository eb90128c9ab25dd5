package configsync_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/dgp-proxy/dgp/internal/configdb"
	"github.com/dgp-proxy/dgp/internal/configsync"
	"github.com/dgp-proxy/dgp/internal/configsync/configsynctest"
)

// withWriteSchema sets Options.WriteSchema.
func withWriteSchema(n int) func(*configsync.Options) {
	return func(o *configsync.Options) { o.WriteSchema = n }
}

// teamState is alice, a member of group team (membership on both sides in
// memory, so schema 1 stores member_ids and schema 2 does not).
func teamState(t testing.TB) *configdb.State {
	t.Helper()
	st := mustApply(t, configdb.Empty(), createUser("alice"))
	alice, _ := st.UserByName("alice")
	return mustApply(t, st, configdb.NewCreateGroup("team", "", nil, []string{alice.ID}))
}

// sealSchema seals st at generation gen in the given schema.
func sealSchema(t testing.TB, st *configdb.State, gen uint64, schema int) []byte {
	t.Helper()
	b, err := configdb.Seal(st.WithGeneration(gen), configdb.SealOptions{WriterNode: "old", KDF: testKDF, Now: t0, Schema: schema}, nil, testSecret)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// openSchema opens b and returns its schema, failing unless it opens and
// group team still lists alice. For a schema 1 DB, opening proves that
// member_ids were written (and agree): the migration to schema 2 refuses
// a user listing a group that does not list it.
func openSchema(t testing.TB, b []byte) int {
	t.Helper()
	st, h, err := configdb.Open(b, nil, testSecret)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	g, ok := st.GroupByName("team")
	alice, _ := st.UserByName("alice")
	if !ok || len(g.MemberIDs) != 1 || g.MemberIDs[0] != alice.ID {
		t.Fatalf("group team lost its member: %+v", g)
	}
	return int(h.Schema)
}

func bucketSchema(t testing.TB, mem *configsynctest.MemBucket) int {
	t.Helper()
	b, _, ok := mem.Object(testKey)
	if !ok {
		t.Fatal("no db in the bucket")
	}
	return openSchema(t, b)
}

// TestWriteSchemaKeepsTheBucketsSchema: with write schema 0 a publisher
// writes the schema of the DB it replaces (schema 1: membership on both
// sides, as a schema 1 binary reads it); write schema 2 raises it (logged
// at info); after that neither 0 nor 1 writes a lower schema.
func TestWriteSchemaKeepsTheBucketsSchema(t *testing.T) {
	mem := configsynctest.NewMemBucket()
	mem.Set(testKey, sealSchema(t, teamState(t), 1, 1))

	n := newNode(t, mem)
	mustStart(t, n)
	wantSchema(t, n, 1, 1)
	mustPublish(t, n, createUser("bob"))
	if got := bucketSchema(t, mem); got != 1 {
		t.Fatalf("write schema 0 over a schema 1 db wrote schema %d", got)
	}
	if got := openSchema(t, mustReadFile(t, n.path)); got != 1 {
		t.Fatalf("local file schema %d", got)
	}
	wantSchema(t, n, 1, 1)
	if lines := n.logs.lines("config db schema changed"); len(lines) != 0 {
		t.Fatalf("schema change logged: %v", lines)
	}
	if st := n.Status(); st.WriteSchema != 0 {
		t.Fatalf("status write_schema %d", st.WriteSchema)
	}

	raiser := newNode(t, mem, withWriteSchema(2))
	mustStart(t, raiser)
	mustPublish(t, raiser, createUser("carol"))
	if got := bucketSchema(t, mem); got != 2 {
		t.Fatalf("write schema 2 wrote schema %d", got)
	}
	lines := raiser.logs.lines("config db schema changed by this publish")
	if len(lines) != 1 || lines[0]["previous_schema"] != float64(1) || lines[0]["schema"] != float64(2) || lines[0]["level"] != "info" {
		t.Fatalf("schema change log: %v", lines)
	}
	if st := raiser.Status(); st.WriteSchema != 2 || st.Schema != 2 || st.MinReaderSchema != 2 {
		t.Fatalf("status %+v", st)
	}

	// Never lower than the bucket's: 0 keeps 2, and so does 1.
	mustPublish(t, n, createUser("dave"))
	lower := newNode(t, mem, withWriteSchema(1))
	mustStart(t, lower)
	mustPublish(t, lower, createUser("erin"))
	if got := bucketSchema(t, mem); got != 2 {
		t.Fatalf("a publish lowered the schema to %d", got)
	}
	wantSchema(t, n, 2, 2)
	st := lower.Current()
	for _, name := range []string{"alice", "bob", "carol", "dave", "erin"} {
		if !hasUser(st, name) {
			t.Fatalf("%s lost", name)
		}
	}
}

// TestWriteSchemaWithNothingToReplace: a fresh bucket gets CurrentSchema,
// or the write schema when set; without a bucket the write schema (default
// CurrentSchema) is written even over an older local file.
func TestWriteSchemaWithNothingToReplace(t *testing.T) {
	for _, tc := range []struct {
		write, want int
	}{{0, configdb.CurrentSchema}, {1, 1}, {2, 2}} {
		mem := configsynctest.NewMemBucket()
		n := newNode(t, mem, withWriteSchema(tc.write))
		mustStart(t, n)
		st := mustPublish(t, n, createUser("alice"))
		alice, _ := st.UserByName("alice")
		mustPublish(t, n, configdb.NewCreateGroup("team", "", nil, []string{alice.ID}))
		if got := bucketSchema(t, mem); got != tc.want {
			t.Fatalf("fresh bucket, write schema %d: wrote %d, want %d", tc.write, got, tc.want)
		}
	}

	for _, tc := range []struct {
		write, want int
	}{{0, configdb.CurrentSchema}, {1, 1}} {
		n := newNode(t, nil, withWriteSchema(tc.write))
		if err := os.WriteFile(n.path, sealSchema(t, teamState(t), 1, 1), 0o600); err != nil {
			t.Fatal(err)
		}
		mustStart(t, n)
		mustPublish(t, n, createUser("bob"))
		if got := openSchema(t, mustReadFile(t, n.path)); got != tc.want {
			t.Fatalf("local only, write schema %d: wrote %d, want %d", tc.write, got, tc.want)
		}
		wantSchema(t, n, tc.want, configdb.MinReaderSchema(tc.want))
		if changed := len(n.logs.lines("config db schema changed")) == 1; changed != (tc.want != 1) {
			t.Fatalf("schema change logged %v", changed)
		}
	}

	for _, bad := range []int{-1, configdb.CurrentSchema + 1} {
		_, err := configsync.New(configsync.Options{Secret: testSecret, LocalPath: "x", WriteSchema: bad})
		if err == nil || !strings.Contains(err.Error(), "write schema") {
			t.Fatalf("New with write schema %d: %v", bad, err)
		}
	}
}

// TestMergedRevocationsKeepTheSchema: a pull that merges revocations into
// a schema 1 DB re-seals the local file in schema 1.
func TestMergedRevocationsKeepTheSchema(t *testing.T) {
	mem := configsynctest.NewMemBucket()
	n := newNode(t, mem)
	mustStart(t, n)
	mustPublish(t, n, &configdb.RevokeSessions{Identity: "admin", Since: t0})
	b, err := configdb.Seal(teamState(t).WithGeneration(5), configdb.SealOptions{WriterNode: "old", KDF: testKDF, Now: t0.Add(time.Hour), Schema: 1}, nil, testSecret)
	if err != nil {
		t.Fatal(err)
	}
	mem.Set(testKey, b)
	if res := mustSyncNow(t, n); !res.Downloaded || !n.Current().SessionRevoked("admin", t0) {
		t.Fatalf("sync-now = %+v", res)
	}
	local := mustReadFile(t, n.path)
	if got := openSchema(t, local); got != 1 {
		t.Fatalf("re-sealed local file schema %d", got)
	}
	st, _, _ := configdb.Open(local, nil, testSecret)
	if !st.SessionRevoked("admin", t0) {
		t.Fatal("the merged revocation is not in the local file")
	}
	_, err = n.Publish(context.Background(), createUser("bob"))
	if err != nil || bucketSchema(t, mem) != 1 {
		t.Fatalf("publish after the merge: %v", err)
	}
}
