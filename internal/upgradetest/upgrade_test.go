//go:build integration

package upgradetest

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/dgp-proxy/dgp/internal/configdb"
	"github.com/dgp-proxy/dgp/internal/testutil"
)

// writeSchemaEnv raises the schema a publisher writes
// (advanced.config_sync_write_schema); without it a publisher keeps the
// schema of the DB it replaces.
const writeSchemaEnv = "DGP_CONFIG_SYNC_WRITE_SCHEMA"

// TestRollingUpgrade follows docs/upgrading.md with two real binaries: a
// three-instance fleet, every instance a writer, is upgraded one instance
// at a time from the binary before schema 2 to the working tree's while
// six clients mutate IAM through all three; then the schema is raised with
// one instance rolled back to the old binary.
//
// Phase 1 (the rollout): every acknowledged mutation is in the final DB
// (opened from the bucket, and through a new instance's admin API); two
// keys disabled mid-rollout (one through an old instance, one through the
// new one) are refused by every instance; along the sync object's version
// history the generation always increases, the schema never decreases and
// stays the one the old fleet wrote; concurrent publishes lost
// compare-and-swaps and were rebased.
//
// Phase 2 (the schema raised while an instance runs the old binary): the
// DB is written in the new schema and stays there; the old instance keeps
// serving its last state, says stale in /_/ready, logs and counts the
// refusal, fails its mutations (409) and never writes the sync object; the
// old binary refuses to start on a data dir holding a new-schema DB; the
// old instance, replaced by the new binary, converges on the same DB (ETag
// and generation).
func TestRollingUpgrade(t *testing.T) {
	m := testutil.RequireMinIO(t)
	natsURL, subject := os.Getenv("DGP_TEST_NATS_URL"), os.Getenv("DGP_TEST_NATS_SUBJECT")
	if natsURL == "" || subject == "" || m.NATSARN == "" {
		t.Skip("DGP_TEST_NATS_URL, DGP_TEST_NATS_SUBJECT or DGP_TEST_MINIO_NATS_ARN not set (run through .ci/run)")
	}
	bins := buildBinaries(t)
	t.Logf("old binary: commit %s (%s); new binary: the working tree (CurrentSchema %d)", bins.oldCommit[:12], bins.oldWhy, configdb.CurrentSchema)

	bucket := newSyncBucket(t, m)
	env := bucket.env(natsURL, subject)
	logs := keptOnFailure(t)
	nodes := make([]*node, 3)
	admins := make([]*admin, len(nodes))
	for i := range nodes {
		nodes[i] = newNode(t, fmt.Sprintf("node-%d", i), env, logs)
		nodes[i].start(bins.old, "old")
		admins[i] = newAdmin(nodes[i])
	}

	// Seed, on node-0: the shared group, a canary user that stays enabled
	// and two victims disabled mid-rollout, one through an old instance
	// and one through a new one. Every instance learns them.
	admins[0].must(t, http.StatusCreated, http.MethodPost, "/groups", map[string]any{"name": sharedGroup}, nil)
	canary := createUser(t, admins[0], "canary")
	victims := []apiUser{createUser(t, admins[0], "victim-old"), createUser(t, admins[0], "victim-new")}
	for i, n := range nodes {
		wantS3(t, n, canary, http.StatusOK)
		for _, v := range victims {
			wantS3(t, n, v, http.StatusOK)
		}
		testutil.RetryUntil(t, convergeFor, func() error {
			ans, err := admins[i].do(http.MethodGet, "/groups/"+sharedGroup, nil)
			if err == nil && ans.code != http.StatusOK {
				err = fmt.Errorf("%s: GET /groups/%s: %s", n.name, sharedGroup, ans)
			}
			return err
		})
	}

	_, seeded, _ := bucket.latest(t)
	oldSchema := int(seeded.Schema)

	// Phase 1: the rollout, under load.
	wl := startWorkload(nodes, 2)
	t.Cleanup(wl.finish)
	wl.waitAcks(t, 30)
	for i, n := range nodes {
		n.stop()
		n.start(bins.new, "new")
		t.Logf("%s upgraded: %d mutations acknowledged so far", n.name, wl.acks.Load())
		st, err := admins[i].syncStatus()
		testutil.Must(t, err, "sync-status of %s", n.name)
		if st.SupportedSchema != configdb.CurrentSchema || st.Schema != oldSchema {
			t.Errorf("%s upgraded: sync-status supported_schema %d, schema %d; want %d and %d (the bucket's)", n.name, st.SupportedSchema, st.Schema, configdb.CurrentSchema, oldSchema)
		}
		if i == 0 {
			// Mid-rollout (node-0 new, node-1 and node-2 old): a key
			// disabled through an old instance, another through the new
			// one; every instance refuses both.
			admins[1].must(t, http.StatusOK, http.MethodPut, "/users/"+victims[0].Name, map[string]any{"enabled": false}, nil)
			admins[0].must(t, http.StatusOK, http.MethodPut, "/users/"+victims[1].Name, map[string]any{"enabled": false}, nil)
			for _, n := range nodes {
				wantS3(t, n, victims[0], http.StatusForbidden)
				wantS3(t, n, victims[1], http.StatusForbidden)
				wantS3(t, n, canary, http.StatusOK)
			}
		}
		wl.waitAcks(t, 30)
	}
	wl.finish()
	acked, refused, noAnswer, codes := wl.totals()
	t.Logf("workload: %d mutations acknowledged, %d refused (4xx), %d without an answer or 5xx (%s)", acked, refused, noAnswer, codes)

	rebased := countLogLines(t, logs, "compare-and-swap lost: rebasing")
	t.Logf("compare-and-swap conflicts rebased during the rollout: %d by old binaries, %d by new ones", rebased["old"], rebased["new"])
	if rebased["old"]+rebased["new"] == 0 {
		t.Error("no publish lost a compare-and-swap: concurrent writers were not exercised")
	}

	converged(t, bucket, nodes, admins)
	st, hdr, _ := bucket.latest(t)
	checked := wl.check(t, dbView(st))
	users, groups := admins[0].listAll(t)
	wl.check(t, apiView("node-0's admin API", users, groups))
	t.Logf("final DB: generation %d, schema %d, %d users; %d facts of acknowledged mutations checked", hdr.Generation, hdr.Schema, st.NumUsers(), checked)
	for _, n := range nodes {
		for _, v := range victims {
			wantS3(t, n, v, http.StatusForbidden)
		}
		wantS3(t, n, canary, http.StatusOK)
	}
	for _, v := range victims {
		if u, ok := st.UserByName(v.Name); !ok || u.Enabled {
			t.Errorf("the mid-rollout disabling of %s is not in the DB (user found: %v)", v.Name, ok)
		}
	}
	if u, ok := st.UserByName(canary.Name); !ok || !u.Enabled {
		t.Errorf("%s is missing or disabled in the DB (found: %v)", canary.Name, ok)
	}
	vs := bucket.history(t)
	checkHistory(t, vs)
	t.Logf("version history after the rollout: %d versions: %s", len(vs), schemas(vs))
	for _, v := range vs {
		if v.hdr.Schema != vs[0].hdr.Schema {
			t.Errorf("the schema changed during the rollout, before the operator raised it: %s (the first DB had schema %d)", v, vs[0].hdr.Schema)
		}
	}
	if t.Failed() {
		t.FailNow()
	}

	if configdb.CurrentSchema < 2 {
		t.Fatalf("phase 1 passed; phase 2 needs a working tree with schema 2 (CurrentSchema is %d)", configdb.CurrentSchema)
	}
	raiseSchema(t, bins, bucket, nodes, admins, wl, canary, victims)
}

// raiseSchema is phase 2: node-2 is rolled back to the old binary (same
// data dir: the DB is still in the old schema, so it starts and serves),
// node-0 is restarted with the write schema raised and publishes, node-1
// (new binary, write schema not set) publishes too; then node-2 is
// upgraded again.
func raiseSchema(t *testing.T, bins binaries, bucket *syncBucket, nodes []*node, admins []*admin, wl *workload, canary apiUser, victims []apiUser) {
	old := nodes[2]
	old.stop()
	before := len(bucket.history(t)) // from here on, node-2 runs the old binary until replaced
	old.start(bins.old, "old")
	converged(t, bucket, nodes, admins)

	nodes[0].stop()
	nodes[0].start(bins.new, "new", writeSchemaEnv+"="+strconv.Itoa(configdb.CurrentSchema))
	raised := createUser(t, admins[0], "after-raise")
	_, hdr, _ := bucket.latest(t)
	if int(hdr.Schema) != configdb.CurrentSchema {
		t.Fatalf("after a mutation on an instance with %s=%d the sync bucket's DB has schema %d, want %d",
			writeSchemaEnv, configdb.CurrentSchema, hdr.Schema, configdb.CurrentSchema)
	}
	raisedGen := hdr.Generation
	t.Logf("schema raised to %d at generation %d", hdr.Schema, raisedGen)
	if out := nodes[0].output(); !strings.Contains(out, "config db schema changed by this publish") {
		t.Errorf("%s did not log the schema change of its publish", nodes[0].name)
	}

	// The old instance meets a DB it cannot read.
	testutil.RetryUntil(t, convergeFor, func() error {
		s, err := old.ready()
		if err == nil && s != "stale" {
			err = fmt.Errorf("%s (old binary) /_/ready: config_sync %q, want stale", old.name, s)
		}
		return err
	})
	testutil.RetryUntil(t, convergeFor, func() error {
		v, err := old.metric("dgp_config_sync_pulls_total", `result="schema_too_new"`)
		if err == nil && v == 0 {
			err = errors.New(`dgp_config_sync_pulls_total{result="schema_too_new"} is 0 on the old instance`)
		}
		return err
	})
	if out := old.output(); !strings.Contains(out, `"result":"schema_too_new"`) {
		t.Errorf("the old instance logged no refusal of the new schema:\n%s", testutil.Tail(out, 4000))
	}
	// It keeps serving its last state.
	wantS3(t, old, canary, http.StatusOK)
	for _, v := range victims {
		wantS3(t, old, v, http.StatusForbidden)
	}
	wantS3(t, old, raised, http.StatusForbidden)
	st, err := admins[2].syncStatus()
	testutil.Must(t, err, "sync-status of the old instance")
	if st.Generation != raisedGen-1 {
		t.Errorf("the old instance holds generation %d, want %d (the last one in the old schema)", st.Generation, raisedGen-1)
	}
	// Its mutations fail, and change nothing.
	for _, c := range []struct{ method, path string }{{http.MethodPost, "/users"}, {http.MethodPut, "/users/" + canary.Name}} {
		body := map[string]any{"name": "old-attempt"}
		if c.method == http.MethodPut {
			body = map[string]any{"enabled": false}
		}
		ans, err := admins[2].do(c.method, c.path, body)
		testutil.Must(t, err, "%s %s on the old instance", c.method, c.path)
		if ans.ok() {
			t.Errorf("%s %s on the old instance was acknowledged (%s) while the bucket holds schema %d", c.method, c.path, ans, configdb.CurrentSchema)
		}
		t.Logf("old instance: %s %s -> %s", c.method, c.path, ans)
	}

	// A new instance without the setting keeps the raised schema.
	raised1 := createUser(t, admins[1], "after-raise-1")
	if _, hdr, _ := bucket.latest(t); int(hdr.Schema) != configdb.CurrentSchema {
		t.Errorf("a mutation on %s (new binary, write schema not set) wrote schema %d over schema %d", nodes[1].name, hdr.Schema, configdb.CurrentSchema)
	}
	vs := bucket.history(t)
	checkHistory(t, vs)
	for _, v := range vs[before:] {
		if v.hdr.WriterNode == old.name {
			t.Errorf("the old instance wrote the sync object: %s", v)
		}
	}

	// The old binary refuses to start on a data dir whose DB is in the
	// new schema (node-1 just wrote one); the new binary starts on it.
	nodes[1].stop()
	if out := nodes[1].startRefused(bins.old, "old"); !strings.Contains(out, "upgrade this instance") {
		t.Errorf("the old binary on a data dir holding a schema %d DB did not say to upgrade:\n%s", configdb.CurrentSchema, testutil.Tail(out, 4000))
	}
	nodes[1].start(bins.new, "new")

	// The old instance is upgraded: it converges on the same DB.
	old.stop()
	old.start(bins.new, "new")
	for i, st := range converged(t, bucket, nodes, admins) {
		if st.Schema != configdb.CurrentSchema {
			t.Errorf("%s holds schema %d, want %d", nodes[i].name, st.Schema, configdb.CurrentSchema)
		}
	}
	for _, n := range nodes {
		wantS3(t, n, raised, http.StatusOK)
		wantS3(t, n, raised1, http.StatusOK)
		for _, v := range victims {
			wantS3(t, n, v, http.StatusForbidden)
		}
		wantS3(t, n, canary, http.StatusOK)
	}
	final, hdr, _ := bucket.latest(t)
	wl.check(t, dbView(final))
	users, groups := admins[2].listAll(t)
	wl.check(t, apiView("node-2's admin API", users, groups))
	if _, ok := final.UserByName("old-attempt"); ok {
		t.Error("the old instance's refused create is in the DB")
	}
	if u, ok := final.UserByName(canary.Name); !ok || !u.Enabled {
		t.Errorf("the old instance's refused disabling of %s is in the DB (found %v)", canary.Name, ok)
	}
	vs = bucket.history(t)
	checkHistory(t, vs)
	t.Logf("final DB: generation %d, schema %d; version history: %d versions: %s", hdr.Generation, hdr.Schema, len(vs), schemas(vs))
}

// createUser creates a user allowed to list everything (so a signed
// ListBuckets tells accepted from refused) and returns it with its keys.
func createUser(t *testing.T, a *admin, name string) apiUser {
	t.Helper()
	var u apiUser
	body := map[string]any{"name": name, "permissions": []map[string]any{{"effect": "Allow", "actions": []string{"list"}, "resources": []string{"*"}}}}
	a.must(t, http.StatusCreated, http.MethodPost, "/users", body, &u)
	if u.AccessKeyID == "" || u.SecretAccessKey == "" {
		t.Fatalf("create user %s: no key pair in the answer", name)
	}
	return u
}

// converged waits until every node serves the bucket's current DB: the
// same ETag and generation, config sync ok. It returns their sync-status.
func converged(t *testing.T, bucket *syncBucket, nodes []*node, admins []*admin) []syncStatus {
	t.Helper()
	all := make([]syncStatus, len(nodes))
	testutil.RetryUntil(t, convergeFor, func() error {
		head, err := bucket.s3.HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: aws.String(bucket.name), Key: aws.String(syncKey)})
		if err != nil {
			return err
		}
		etag := strings.Trim(aws.ToString(head.ETag), `"`)
		var gen uint64
		for i, n := range nodes {
			st, err := admins[i].syncStatus()
			if err != nil {
				return fmt.Errorf("%s: %w", n.name, err)
			}
			if got := strings.Trim(st.ETag, `"`); got != etag || st.State != "ok" {
				return fmt.Errorf("%s (%s binary): ETag %s generation %d state %s; the bucket holds ETag %s", n.name, n.bin, got, st.Generation, st.State, etag)
			}
			if i > 0 && st.Generation != gen {
				return fmt.Errorf("%s: generation %d at ETag %s, %s: %d", n.name, st.Generation, etag, nodes[0].name, gen)
			}
			gen = st.Generation
			all[i] = st
		}
		return nil
	})
	return all
}
