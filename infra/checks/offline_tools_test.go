package checks

import (
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// runTool runs a command and fails the test with its output on error.
func runTool(t *testing.T, dir string, env []string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s (in %s): %v\n%s", name, strings.Join(args, " "), dir, err, out)
	}
	return string(out)
}

// copyTree copies the regular files of src into dst.
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			if d.Name() == ".terraform" {
				return filepath.SkipDir
			}
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// When this machine has the terraform CLI and a local copy of the AWS
// provider (a plugin directory: DGP_TF_PLUGIN_DIR, or /opt/tf-plugins), the
// module is also checked by Terraform itself, offline: fmt, validate, and
// `terraform test` (tests/*.tftest.hcl, with a mocked provider). Without
// them this is skipped: fetching providers needs the Terraform registry.
func TestTerraformOffline(t *testing.T) {
	tf, err := exec.LookPath("terraform")
	if err != nil {
		t.Skip("no terraform CLI")
	}
	plugins := os.Getenv("DGP_TF_PLUGIN_DIR")
	if plugins == "" {
		plugins = "/opt/tf-plugins"
	}
	if _, err := os.Stat(filepath.Join(plugins, "registry.terraform.io", "hashicorp", "aws")); err != nil {
		t.Skipf("no local AWS provider under %s (set DGP_TF_PLUGIN_DIR)", plugins)
	}
	cliConfig := filepath.Join(t.TempDir(), "terraformrc")
	if err := os.WriteFile(cliConfig, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	// No version check call home, no prompts, no user configuration.
	env := []string{"CHECKPOINT_DISABLE=1", "TF_IN_AUTOMATION=1", "TF_INPUT=0", "TF_CLI_CONFIG_FILE=" + cliConfig, "NO_COLOR=1"}
	src := filepath.Join(repoRoot(t), "infra", "terraform")
	runTool(t, src, env, tf, "fmt", "-check", "-recursive", "-diff")

	work := t.TempDir()
	copyTree(t, src, work)
	for _, dir := range []string{work, filepath.Join(work, "examples", "minimal")} {
		runTool(t, dir, env, tf, "init", "-backend=false", "-input=false", "-no-color", "-plugin-dir="+plugins)
		runTool(t, dir, env, tf, "validate", "-no-color")
	}
	out := runTool(t, work, env, tf, "test", "-no-color")
	if !regexp.MustCompile(`Success! [1-9][0-9]* passed, 0 failed`).MatchString(out) {
		t.Fatalf("terraform test:\n%s", out)
	}
}

// The local fleet script parses, and reads the pinned MinIO version from
// .ci/run as it does.
func TestFleetScript(t *testing.T) {
	root := repoRoot(t)
	script := filepath.Join(root, "infra", "dev", "fleet")
	st, err := os.Stat(script)
	if err != nil || st.Mode()&0o111 == 0 {
		t.Fatalf("infra/dev/fleet is missing or not executable: %v", err)
	}
	runTool(t, root, nil, "bash", "-n", script)
	src := readFile(t, script)
	if !strings.Contains(src, `sed -n 's/^MINIO_VERSION=//p' "$repo/.ci/run"`) {
		t.Error("the fleet no longer reads MINIO_VERSION from .ci/run")
	}
	if !regexp.MustCompile(`(?m)^MINIO_VERSION=v0\.0\.0-\d{14}-[0-9a-f]{12}$`).MatchString(readFile(t, filepath.Join(root, ".ci", "run"))) {
		t.Error(".ci/run no longer pins MINIO_VERSION=<pseudo-version> on a line of its own")
	}
	// The same DGP_* names as dgp reads.
	var names []string
	for _, m := range regexp.MustCompile(`\b(DGP_[A-Z0-9_]+)=`).FindAllStringSubmatch(src, -1) {
		if !strings.HasPrefix(m[1], "DGP_FLEET_") && !strings.HasPrefix(m[1], "DGP_TEST_") && m[1] != "DGP_CI_CACHE" {
			names = append(names, m[1])
		}
	}
	if len(names) < 10 {
		t.Fatalf("found only %v in the script", names)
	}
	loadContract(t).checkEnvNames(t, "infra/dev/fleet", names)
	if sh, err := exec.LookPath("shellcheck"); err == nil {
		runTool(t, root, nil, sh, script)
	}
}
