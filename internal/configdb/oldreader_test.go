//go:build integration

package configdb_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/dgp-proxy/dgp/internal/configdb"
	"github.com/dgp-proxy/dgp/internal/iam"
	"github.com/dgp-proxy/dgp/internal/testharness/gitbuild"
)

// schema2RefEnv overrides the commit the schema 2 binary is built from
// (any git revision); without it, the parent of the first commit that sets
// CurrentSchema = 3.
const schema2RefEnv = "DGP_TEST_SCHEMA2_REF"

// TestSchema2BinaryReadsSchema3 builds the last release of schema 2 from
// this repository's history and has it open a schema 3 DB (OIDC redirect
// URL and group mappings) sealed by this code: `dgp config decrypt`
// succeeds and shows every user and group as sealed, and the provider
// without the two fields it does not know. (What it then does in a fleet,
// applying the DB and refusing to publish over it, is configsync's newer
// additive schema path, unit-tested there.)
func TestSchema2BinaryReadsSchema3(t *testing.T) {
	root := gitbuild.RepoRoot(t)
	commit, _ := gitbuild.CommitBefore(t, root, 3, schema2RefEnv)
	dir := t.TempDir()
	old := filepath.Join(dir, "dgp-schema2")
	gitbuild.BuildAt(t, root, commit, dir, old)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	// The bootstrap secret of a DGP_BOOTSTRAP_PASSWORD_HASH is the hash.
	hash, err := bcrypt.GenerateFromPassword([]byte("old-reader-password"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	st := schema3State(t)
	sealed, err := configdb.Seal(st, configdb.SealOptions{WriterNode: "schema-3", Schema: 2, KDF: configdb.KDFParams{Time: 1, MemoryKiB: 64, Threads: 1}},
		configdb.NewKeyCache(1), hash)
	if err != nil {
		t.Fatal(err)
	}
	if h, _ := configdb.ReadHeader(sealed); h.Schema != 3 || h.MinReaderSchema != 2 {
		t.Fatalf("sealed header %+v", h)
	}
	file := filepath.Join(dir, "config.db")
	if err := os.WriteFile(file, sealed, 0o600); err != nil {
		t.Fatal(err)
	}

	cmd := exec.CommandContext(ctx, old, "config", "decrypt", file)
	cmd.Dir = dir
	cmd.Env = append(cleanEnv(), "DGP_BOOTSTRAP_PASSWORD_HASH="+string(hash), "DGP_DATA_DIR="+dir)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("the schema 2 binary (commit %s) does not read the schema 3 db: %v\n%s", commit[:12], err, stderr.String())
	}
	if !strings.Contains(stderr.String(), "schema 3") {
		t.Errorf("stderr: %s", stderr.String())
	}
	var view struct {
		Users     []iam.User         `json:"users"`
		Groups    []iam.Group        `json:"groups"`
		Providers []iam.AuthProvider `json:"auth_providers"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &view); err != nil {
		t.Fatalf("decrypt output: %v\n%s", err, stdout.String())
	}
	if len(view.Users) != 1 || view.Users[0].Name != "alice" || len(view.Users[0].GroupIDs) != 1 ||
		len(view.Groups) != 1 || view.Groups[0].Name != "admins" || len(view.Groups[0].MemberIDs) != 1 {
		t.Fatalf("the schema 2 binary's view of users and groups:\n%s", stdout.String())
	}
	if len(view.Providers) != 1 || view.Providers[0].Name != "corp" || view.Providers[0].ClientID != "dgp" ||
		view.Providers[0].RedirectURL != "" || view.Providers[0].GroupMappings != nil {
		t.Fatalf("the schema 2 binary's view of the provider:\n%s", stdout.String())
	}
	t.Logf("schema 2 binary (commit %s) read the schema 3 db: %s", commit[:12], strings.TrimSpace(stderr.String()))
}

// schema3State holds a user in an admin group and a provider whose rule
// maps to that group.
func schema3State(t *testing.T) *configdb.State {
	t.Helper()
	s := configdb.Empty()
	apply := func(op configdb.Op) {
		t.Helper()
		next, err := op.Apply(s, time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC))
		if err != nil {
			t.Fatalf("%s: %v", op.Describe(), err)
		}
		s = next
	}
	g := configdb.NewCreateGroup("admins", "", []iam.Rule{{Effect: iam.EffectAllow, Actions: []iam.Action{iam.ActionAll}, Resources: []string{"*"}}}, nil)
	apply(g)
	apply(configdb.NewCreateUser("alice", true, nil, []string{g.ID}))
	apply(configdb.NewCreateProvider(iam.AuthProvider{Name: "corp", Type: "oidc", IssuerURL: "https://login.example.com",
		ClientID: "dgp", ClientSecret: "client-secret", Enabled: true, RedirectURL: "https://dgp.example.com" + iam.OIDCCallbackPath,
		GroupMappings: []iam.GroupMapping{{Claim: "groups", Value: "dgp-admins", Groups: []string{g.ID}}}}))
	return s.WithGeneration(4)
}

// cleanEnv is the environment without DGP_* variables (the binary reads
// its configuration from them).
func cleanEnv() []string {
	var out []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "DGP_") {
			out = append(out, kv)
		}
	}
	return out
}
