package app

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/dgp-proxy/dgp/internal/configsync"
	"github.com/dgp-proxy/dgp/internal/declarative"
	"github.com/dgp-proxy/dgp/internal/testutil"
)

// The check, in process with the Go SDK: two users in a group
// work; the YAML changes (group renamed, a user dropped, a secret rotated,
// a user added) and App.Reload (what SIGHUP calls) applies it without a
// restart, as one generation; broken files change nothing.
func TestDeclarativeReload(t *testing.T) {
	bucket := testutil.UniqueName("shared")
	d := startDecl(t, "", "", fmt.Sprintf(twoUsersIAM, bucket), baseEnv())
	d.mkBucket(t, bucket)

	for name, code := range map[string]string{
		"alice lists":         d.listAs(t, aliceKey, aliceSecret1, bucket),
		"bob lists":           d.listAs(t, bobKey, bobSecret, bucket),
		"alice writes hers":   d.putAs(t, aliceKey, aliceSecret1, bucket, "alice/a.txt"),
		"bob writes (denied)": d.putAs(t, bobKey, bobSecret, bucket, "bob/b.txt"),
	} {
		want := ""
		if strings.Contains(name, "denied") {
			want = "AccessDenied"
		}
		if code != want {
			t.Fatalf("%s: %q, want %q", name, code, want)
		}
	}
	st := d.app.syncer.Current()
	if st.Generation() != 1 || st.NumUsers() != 2 {
		t.Fatalf("startup: generation %d users %d, want 1 and 2", st.Generation(), st.NumUsers())
	}
	alice1, _ := st.UserByName("alice")
	if got := logLines(d.instance, "declarative iam applied"); len(got) != 1 ||
		!strings.Contains(got[0], `"users_created":["alice","bob"]`) || !strings.Contains(got[0], `"trigger":"startup"`) {
		t.Fatalf("startup summary log: %v", got)
	}

	// Reads through the admin API work; every mutation is refused.
	adm := d.admin(t)
	adm.login("test-bootstrap-password")
	if names := adm.userNames(); !slices.Equal(names, []string{"alice", "bob"}) {
		t.Fatalf("GET /users: %v", names)
	}
	var apiErr struct {
		Error string `json:"error"`
	}
	if got := adm.do(http.MethodPost, "/users", map[string]any{"name": "eve"}, &apiErr); got != http.StatusForbidden || apiErr.Error != "iam_declarative" {
		t.Fatalf("POST /users in declarative mode: %d %+v", got, apiErr)
	}
	if got := adm.do(http.MethodDelete, "/users/"+alice1.ID, nil, nil); got != http.StatusForbidden {
		t.Fatalf("DELETE /users in declarative mode: %d", got)
	}

	// A reload that changes nothing writes nothing.
	localFile := filepath.Join(d.dataDir, ConfigDBFile)
	before, err := os.ReadFile(localFile)
	testutil.Must(t, err, "read local db")
	testutil.Must(t, d.reload(t), "reload unchanged")
	if d.app.syncer.Current() != st {
		t.Fatal("an unchanged reload swapped the snapshot")
	}
	after, _ := os.ReadFile(localFile)
	if !bytes.Equal(before, after) {
		t.Fatal("an unchanged reload rewrote the local db")
	}

	// Rename the group, drop bob, add carol, rotate alice's secret.
	d.rewrite(t, fmt.Sprintf(changedIAM, bucket))
	d.env.set("ALICE_SECRET", aliceSecret2)
	testutil.Must(t, d.reload(t), "reload")
	st2 := d.app.syncer.Current()
	if st2.Generation() != 2 {
		t.Fatalf("generation %d after one reload, want 2 (one op, one generation)", st2.Generation())
	}
	if alice2, _ := st2.UserByName("alice"); alice2.ID != alice1.ID || !alice2.CreatedAt.Equal(alice1.CreatedAt) {
		t.Fatalf("alice changed identity: %+v -> %+v", alice1, alice2)
	}
	checks := []struct {
		what, got, want string
	}{
		{"bob is gone", d.listAs(t, bobKey, bobSecret, bucket), "InvalidAccessKeyId"},
		{"alice's old secret", d.listAs(t, aliceKey, aliceSecret1, bucket), "SignatureDoesNotMatch"},
		{"alice's new secret", d.listAs(t, aliceKey, aliceSecret2, bucket), ""},
		{"alice still writes hers", d.putAs(t, aliceKey, aliceSecret2, bucket, "alice/b.txt"), ""},
		{"carol reads via the renamed group", d.listAs(t, carolKey, carolSecret, bucket), ""},
		{"carol cannot write", d.putAs(t, carolKey, carolSecret, bucket, "alice/c.txt"), "AccessDenied"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Fatalf("%s: %q, want %q", c.what, c.got, c.want)
		}
	}
	var groups []struct {
		Name string `json:"name"`
	}
	adm.must(http.StatusOK, http.MethodGet, "/groups", nil, &groups)
	if len(groups) != 1 || groups[0].Name != "crew" {
		t.Fatalf("GET /groups: %+v", groups)
	}
	summary := logLines(d.instance, "declarative iam applied")
	if len(summary) != 2 {
		t.Fatalf("summary logs: %v", summary)
	}
	for _, want := range []string{`"trigger":"reload"`, `"users_created":["carol"]`, `"users_updated":["alice"]`,
		`"users_deleted":["bob"]`, `"groups_created":["crew"]`, `"groups_deleted":["team"]`, `"generation":2`} {
		if !strings.Contains(summary[1], want) {
			t.Fatalf("reload summary lacks %s: %s", want, summary[1])
		}
	}
	for _, secret := range []string{aliceSecret1, aliceSecret2, bobSecret, carolSecret} {
		if strings.Contains(d.logs.String(), secret) {
			t.Fatalf("a secret reached the log")
		}
	}

	// Broken reloads keep the running state untouched.
	broken := []struct {
		name   string
		prep   func()
		reason string
	}{
		{"broken yaml", func() { d.rewrite(t, "  iam_mode: declarative\n  iam: [unclosed\n") }, "parse config file"},
		{"unknown key", func() {
			d.rewrite(t, strings.Replace(fmt.Sprintf(changedIAM, bucket), "groups: [crew]", "groupz: [crew]", 1))
		}, "unknown key"},
		{"missing variable", func() {
			d.rewrite(t, fmt.Sprintf(changedIAM, bucket))
			d.env.unset("ALICE_SECRET")
		}, "ALICE_SECRET is not set"},
		{"no users", func() {
			d.env.set("ALICE_SECRET", aliceSecret2)
			d.rewrite(t, "  iam_mode: declarative\n")
		}, "iam_allow_empty"},
		{"only new users", func() {
			d.rewrite(t, "  iam_mode: declarative\n  iam:\n    users:\n      - {name: zed, access_key_id: AKIAZED00000000001, secret_access_key: zed-secret-0001}\n")
		}, "would delete every existing user"},
		{"mode switch", func() { d.rewrite(t, "  iam_mode: gui\n") }, "needs a restart"},
	}
	for _, b := range broken {
		b.prep()
		err := d.reload(t)
		if err == nil || !strings.Contains(err.Error(), b.reason) {
			t.Fatalf("%s: reload error %v, want one saying %q", b.name, err, b.reason)
		}
		if d.app.syncer.Current() != st2 {
			t.Fatalf("%s: the running state changed", b.name)
		}
		if code := d.listAs(t, aliceKey, aliceSecret2, bucket); code != "" {
			t.Fatalf("%s: alice's keys stopped working: %s", b.name, code)
		}
	}
	if got := logLines(d.instance, "reload refused"); len(got) != 5 || !strings.Contains(got[0], `"level":"error"`) {
		t.Fatalf("refused reloads are logged at error level: %v", got)
	}
	if got := logLines(d.instance, "declarative iam not applied"); len(got) != 1 || !strings.Contains(got[0], "would delete every existing user") {
		t.Fatalf("the refused reconcile is logged: %v", got)
	}
	if got := d.metric(t, "dgp_declarative_iam_reconciles_total", "trigger", "reload", "result", "invalid"); got != 5 {
		t.Fatalf("invalid reloads counted %v, want 5", got)
	}
	if got := d.metric(t, "dgp_declarative_iam_reconciles_total", "trigger", "reload", "result", "refused"); got != 1 {
		t.Fatalf("refused reloads counted %v, want 1", got)
	}

	// The file fixed again: applied.
	d.rewrite(t, fmt.Sprintf(twoUsersIAM, bucket))
	d.env.set("BOB_SECRET", bobSecret)
	testutil.Must(t, d.reload(t), "reload back")
	if code := d.listAs(t, bobKey, bobSecret, bucket); code != "" {
		t.Fatalf("bob is back but his keys fail: %s", code)
	}
}

// A restart with the same file writes nothing and keeps every id. A sync
// bucket set in declarative mode is not used (the endpoint below does not
// exist and startup does not notice): sync-now and sync-status say
// declarative.
func TestDeclarativeRestartIsNoop(t *testing.T) {
	bucket := testutil.UniqueName("shared")
	iam := fmt.Sprintf(twoUsersIAM, bucket)
	const withSync = `  config_sync_bucket: dgp-iam-sync
  config_sync_s3: {endpoint: "http://127.0.0.1:1", region: us-east-1, access_key_id: nobody, secret_access_key: nobody-secret}
`
	d1 := startDecl(t, "", withSync, iam, baseEnv())
	st1 := d1.started()
	d1.stop()

	d2 := startDecl(t, d1.dataDir, withSync, iam, baseEnv())
	st2 := d2.started()
	if st1.Generation() != 1 || st2.Generation() != st1.Generation() {
		t.Fatalf("restart with the same file: generation %d -> %d", st1.Generation(), st2.Generation())
	}
	if !declarative.Diff(st1, st2).Empty() {
		t.Fatal("restart changed the IAM")
	}
	for _, name := range []string{"alice", "bob"} {
		u1, _ := st1.UserByName(name)
		u2, _ := st2.UserByName(name)
		if u1.ID != u2.ID || !u1.CreatedAt.Equal(u2.CreatedAt) {
			t.Fatalf("%s: %+v -> %+v", name, u1, u2)
		}
	}
	if got := logLines(d2.instance, "declarative iam unchanged"); len(got) != 1 {
		t.Fatalf("startup no-op log: %v", got)
	}

	d2.mkBucket(t, bucket)
	if code := d2.listAs(t, aliceKey, aliceSecret1, bucket); code != "" {
		t.Fatalf("alice after restart: %s", code)
	}
	adm := d2.admin(t)
	adm.login("test-bootstrap-password")
	var res configsync.PullResult
	adm.must(http.StatusOK, http.MethodPost, "/config/sync-now", nil, &res)
	if res.Status != configsync.StatusDeclarative || res.Downloaded || res.Generation != 1 {
		t.Fatalf("sync-now: %+v", res)
	}
	resp, err := http.Get(d2.app.URL() + "/_/ready")
	testutil.Must(t, err, "ready")
	ready, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(ready), "declarative") {
		t.Fatalf("/_/ready: %d %s", resp.StatusCode, ready)
	}
	var status configsync.Status
	adm.must(http.StatusOK, http.MethodGet, "/config/sync-status", nil, &status)
	if status.Mode != configsync.ModeDeclarative || status.State != configsync.ReadyDeclarative || status.Bucket != "dgp-iam-sync" {
		t.Fatalf("sync-status: mode %q state %q bucket %q", status.Mode, status.State, status.Bucket)
	}
}

// metric returns the value of a counter series of the instance.
func (in *instance) metric(t *testing.T, name string, labels ...string) float64 {
	t.Helper()
	mfs, err := in.app.reg.Gather()
	testutil.Must(t, err, "gather")
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	series:
		for _, m := range mf.GetMetric() {
			for i := 0; i+1 < len(labels); i += 2 {
				found := false
				for _, l := range m.GetLabel() {
					if l.GetName() == labels[i] && l.GetValue() == labels[i+1] {
						found = true
					}
				}
				if !found {
					continue series
				}
			}
			return m.GetCounter().GetValue()
		}
	}
	return 0
}
