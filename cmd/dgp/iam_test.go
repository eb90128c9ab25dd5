package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dgp-proxy/dgp/internal/app"
	"github.com/dgp-proxy/dgp/internal/config"
	"github.com/dgp-proxy/dgp/internal/configdb"
	"github.com/dgp-proxy/dgp/internal/declarative"
)

const iamTestPassword = "test-bootstrap-password"

// iamTestYAML declares alice and bob in group team; %s is the data dir.
const iamTestYAML = `advanced:
  data_dir: %s
access:
  iam_mode: declarative
  iam:
    groups:
      - name: team
        permissions:
          - {effect: Allow, actions: [read, list], resources: ["shared/*"]}
    users:
      - name: alice
        access_key_id: AKIAALICE0000000001
        secret_access_key: ${T_ALICE_SECRET}
        groups: [team]
      - name: bob
        access_key_id: AKIABOB00000000001
        secret_access_key: bob-secret-00000001
        groups: [team]
`

// runIAM runs `dgp args...` and returns stdout, stderr and the exit code
// main would use.
func runIAM(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := run(context.Background(), args, &out, &errOut)
	code = 0
	if err != nil {
		code = 1
		var ee *exitError
		if errors.As(err, &ee) {
			code = ee.code
		}
		errOut.WriteString("dgp: " + err.Error() + "\n")
	}
	return out.String(), errOut.String(), code
}

func writeFile(t *testing.T, path, body string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
}

// writeDB reconciles the data dir's config DB to the IAM of the config file.
func writeDB(t *testing.T, cfgFile string) *configdb.State {
	t.Helper()
	cfg, _, err := config.LoadEnviron(cfgFile, os.Environ())
	if err != nil {
		t.Fatal(err)
	}
	want, err := declarative.FromConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	op, err := declarative.NewReconcile(want)
	if err != nil {
		t.Fatal(err)
	}
	st, err := op.Apply(configdb.Empty(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	st = st.WithGeneration(1)
	sealed, err := configdb.Seal(st, configdb.SealOptions{WriterNode: "test", KDF: configdb.KDFParams{Time: 1, MemoryKiB: 64, Threads: 1}},
		nil, []byte(iamTestPassword))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(cfg.Advanced.DataDir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := configdb.WriteFile(filepath.Join(cfg.Advanced.DataDir, app.ConfigDBFile), sealed); err != nil {
		t.Fatal(err)
	}
	return st
}

func TestIAMPlanAndExport(t *testing.T) {
	t.Setenv("DGP_BOOTSTRAP_PASSWORD", iamTestPassword)
	t.Setenv("T_ALICE_SECRET", "alice-secret-0001")
	dir := t.TempDir()
	dataDir := filepath.Join(dir, "data")
	cfgFile := filepath.Join(dir, "dgp.yaml")
	writeFile(t, cfgFile, strings.ReplaceAll(iamTestYAML, "%s", dataDir))

	// No DB yet: everything is created.
	out, errOut, code := runIAM(t, "iam", "plan", "--config", cfgFile)
	if code != 2 || !strings.Contains(out, `+ user "alice": create`) || !strings.Contains(out, `+ group "team": create`) ||
		!strings.Contains(out, "Plan: 3 to create, 0 to update, 0 to delete.") {
		t.Fatalf("plan on an empty db: exit %d\n%s%s", code, out, errOut)
	}

	// The DB matches: no change.
	writeDB(t, cfgFile)
	out, errOut, code = runIAM(t, "iam", "plan", "--config", cfgFile)
	if code != 0 || !strings.HasPrefix(out, "No changes") {
		t.Fatalf("plan on a matching db: exit %d\n%s%s", code, out, errOut)
	}

	// A rotated secret, a dropped user: field-level, no secrets.
	t.Setenv("T_ALICE_SECRET", "alice-secret-0002")
	changed := strings.ReplaceAll(iamTestYAML, "%s", dataDir)
	changed = changed[:strings.Index(changed, "      - name: bob")]
	writeFile(t, cfgFile, changed)
	out, errOut, code = runIAM(t, "iam", "plan", "--config", cfgFile)
	if code != 2 || !strings.Contains(out, `~ user "alice": update`) || !strings.Contains(out, "secret_access_key: secret changed") ||
		!strings.Contains(out, `- user "bob": delete`) {
		t.Fatalf("plan of a change: exit %d\n%s%s", code, out, errOut)
	}
	if strings.Contains(out+errOut, "alice-secret-000") {
		t.Fatalf("the plan shows a secret:\n%s", out)
	}
	writeFile(t, cfgFile, strings.ReplaceAll(iamTestYAML, "%s", dataDir))
	t.Setenv("T_ALICE_SECRET", "alice-secret-0001")

	// export --show-secrets, then plan with it: no change.
	out, errOut, code = runIAM(t, "iam", "export", "--config", cfgFile, "--show-secrets")
	if code != 0 || !strings.Contains(out, "alice-secret-0001") {
		t.Fatalf("export --show-secrets: exit %d\n%s%s", code, out, errOut)
	}
	exported := filepath.Join(dir, "exported.yaml")
	writeFile(t, exported, out+"advanced:\n  data_dir: "+dataDir+"\n")
	if out, errOut, code := runIAM(t, "iam", "plan", "--config", exported); code != 0 {
		t.Fatalf("plan of the export: exit %d\n%s%s", code, out, errOut)
	}

	// export with placeholders: the same once the variables are set.
	out, errOut, code = runIAM(t, "iam", "export", "--config", cfgFile)
	if code != 0 || strings.Contains(out, "secret-0001") || !strings.Contains(out, "${IAM_USER_ALICE_SECRET}") ||
		!strings.Contains(out, "${IAM_USER_BOB_SECRET}") {
		t.Fatalf("export: exit %d\n%s%s", code, out, errOut)
	}
	writeFile(t, exported, out+"advanced:\n  data_dir: "+dataDir+"\n")
	if out, errOut, code := runIAM(t, "iam", "plan", "--config", exported); code != 1 || !strings.Contains(errOut, "IAM_USER_ALICE_SECRET is not set") {
		t.Fatalf("plan of the export without its variables: exit %d\n%s%s", code, out, errOut)
	}
	t.Setenv("IAM_USER_ALICE_SECRET", "alice-secret-0001")
	t.Setenv("IAM_USER_BOB_SECRET", "bob-secret-00000001")
	if out, errOut, code := runIAM(t, "iam", "plan", "--config", exported); code != 0 {
		t.Fatalf("plan of the export with its variables: exit %d\n%s%s", code, out, errOut)
	}

	// Failures exit 1 (2 means "changes").
	broken := filepath.Join(dir, "broken.yaml")
	for name, c := range map[string]struct{ body, want string }{
		"broken yaml": {"access: [\n", "parse config file"},
		"gui mode":    {"advanced:\n  data_dir: " + dataDir + "\n", "not declarative"},
		"unknown key": {strings.Replace(strings.ReplaceAll(iamTestYAML, "%s", dataDir), "groups: [team]", "groupz: [team]", 1), "unknown key"},
		"deletes everyone": {"advanced:\n  data_dir: " + dataDir + "\naccess:\n  iam_mode: declarative\n  iam:\n    users:\n" +
			"      - {name: zed, access_key_id: AKIAZED00000000001, secret_access_key: zed-secret-0001}\n", "would delete every existing user"},
	} {
		writeFile(t, broken, c.body)
		out, errOut, code := runIAM(t, "iam", "plan", "--config", broken)
		if code != 1 || !strings.Contains(errOut, c.want) {
			t.Errorf("%s: exit %d, want 1 with %q\n%s%s", name, code, c.want, out, errOut)
		}
	}

	// Export needs the right bootstrap secret.
	t.Setenv("DGP_BOOTSTRAP_PASSWORD", "another-password")
	if out, errOut, code := runIAM(t, "iam", "export", "--config", cfgFile); code == 0 {
		t.Fatalf("export with a wrong secret succeeded:\n%s%s", out, errOut)
	}
}

func TestIAMCommandUsage(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"iam"}, "want a subcommand"},
		{[]string{"iam", "nope"}, "unknown subcommand"},
		{[]string{"iam", "export", "extra"}, "unexpected argument"},
	} {
		_, errOut, code := runIAM(t, c.args...)
		if code != 2 || !strings.Contains(errOut, c.want) {
			t.Errorf("%v: exit %d, want 2 with %q: %s", c.args, code, c.want, errOut)
		}
	}
	if _, errOut, code := runIAM(t, "iam", "plan", "extra"); code != 1 || !strings.Contains(errOut, "unexpected argument") {
		t.Errorf("plan extra: exit %d: %s", code, errOut)
	}
}
