//go:build integration

package upgradetest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// schemaFile is where CurrentSchema is declared; the old binary is built
// from the parent of the first commit that sets it to 2 there.
const schemaFile = "internal/configdb/state.go"

// oldRefEnv overrides the old binary's commit (any git revision). For
// developing this test only: without it, the commit is found from history.
const oldRefEnv = "DGP_TEST_UPGRADE_OLD_REF"

// binaries are the two dgp builds of the test.
type binaries struct {
	old, new  string // paths of the executables
	oldCommit string // commit the old one was built from
	oldWhy    string // how that commit was chosen
}

// git runs git in dir and returns its trimmed standard output.
func git(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-C", dir}, args...)...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return strings.TrimSpace(string(out))
}

// repoRoot is the top of the working tree holding this package.
func repoRoot(t *testing.T) string {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	return git(t, wd, "rev-parse", "--show-toplevel")
}

// oldCommit returns the commit to build the old binary from: the parent of
// the oldest commit whose diff of internal/configdb/state.go matches
// "CurrentSchema = 2" (the one that introduced schema 2), or the revision
// DGP_TEST_UPGRADE_OLD_REF names. Without either it fails the test: there
// is no binary "before schema 2" to upgrade from.
func oldCommit(t *testing.T, root string) (commit, why string) {
	t.Helper()
	if ref := os.Getenv(oldRefEnv); ref != "" {
		return git(t, root, "rev-parse", "--verify", ref+"^{commit}"), oldRefEnv + "=" + ref
	}
	// A shallow clone has no old commit to build: the environment cannot
	// run this test (.ci/run fetches the history first when it can).
	if git(t, root, "rev-parse", "--is-shallow-repository") == "true" {
		t.Skip("this clone is shallow: the rolling-upgrade test builds the release before schema 2 from the " +
			"repository's history; run it from a full clone (git fetch --unshallow)")
	}
	out := git(t, root, "log", "--format=%H", "-G", "CurrentSchema = 2", "--", schemaFile)
	if out == "" {
		shallow := ""
		if git(t, root, "rev-parse", "--is-shallow-repository") == "true" {
			shallow = " This clone is shallow: the test needs the history (git fetch --unshallow)."
		}
		t.Fatalf("no commit of this repository sets `CurrentSchema = 2` in %s: schema 2 has not landed, so there is no "+
			"old binary (the commit before schema 2) to upgrade from. The test cannot run until it does "+
			"(to develop the test meanwhile, set %s to a revision to use as the old binary, e.g. HEAD).%s", schemaFile, oldRefEnv, shallow)
	}
	lines := strings.Split(out, "\n")
	introducing := lines[len(lines)-1] // git log lists newest first
	return git(t, root, "rev-parse", "--verify", introducing+"^"),
		"parent of " + introducing[:12] + ", the first commit setting CurrentSchema = 2 in " + schemaFile
}

// buildBinaries builds the new dgp from the working tree and the old one
// from a `git worktree` of the old commit (removed again when the test
// ends), both with CGO_ENABLED=0, into a temporary directory.
func buildBinaries(t *testing.T) binaries {
	t.Helper()
	root := repoRoot(t)
	b := binaries{}
	b.oldCommit, b.oldWhy = oldCommit(t, root)
	dir := t.TempDir()
	wt := filepath.Join(dir, "old-src")
	git(t, root, "worktree", "add", "--detach", wt, b.oldCommit)
	t.Cleanup(func() {
		cmd := exec.Command("git", "-C", root, "worktree", "remove", "--force", wt)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("git worktree remove %s: %v\n%s", wt, err, out)
		}
	})
	b.old = filepath.Join(dir, "dgp-old")
	b.new = filepath.Join(dir, "dgp-new")
	goBuild(t, wt, b.old)
	goBuild(t, root, b.new)
	return b
}

// goBuild runs `go build -o out ./cmd/dgp` in the module at dir.
func goBuild(t *testing.T, dir, out string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, "./cmd/dgp")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/dgp in %s: %v\n%s", dir, err, b)
	}
}
