// Package gitbuild builds dgp binaries of older commits of this
// repository for compatibility tests: it finds the release before a
// config DB schema from the git history, checks it out into a temporary
// `git worktree` and builds ./cmd/dgp there.
package gitbuild

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// SchemaFile is where configdb declares CurrentSchema.
const SchemaFile = "internal/configdb/state.go"

// Git runs git in dir and returns its trimmed standard output, failing the
// test when git fails.
func Git(t testing.TB, dir string, args ...string) string {
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

// RepoRoot is the top of the working tree holding the test's package.
func RepoRoot(t testing.TB) string {
	t.Helper()
	return Git(t, ".", "rev-parse", "--show-toplevel")
}

// CommitBefore returns the last commit before schema: the parent of the
// oldest commit whose diff of SchemaFile matches "CurrentSchema = <schema>",
// or, when the environment variable refEnv is set, the revision it names
// (for developing a test). why says how the commit was chosen. A shallow
// clone skips the test (it has no history to build from); a history
// without such a commit fails it.
func CommitBefore(t testing.TB, root string, schema int, refEnv string) (commit, why string) {
	t.Helper()
	if ref := os.Getenv(refEnv); ref != "" {
		return Git(t, root, "rev-parse", "--verify", ref+"^{commit}"), refEnv + "=" + ref
	}
	set := "CurrentSchema = " + strconv.Itoa(schema)
	if Git(t, root, "rev-parse", "--is-shallow-repository") == "true" {
		t.Skip("this clone is shallow: the test builds the release before schema " + strconv.Itoa(schema) +
			" from the repository's history; run it from a full clone (git fetch --unshallow)")
	}
	out := Git(t, root, "log", "--format=%H", "-G", set, "--", SchemaFile)
	if out == "" {
		t.Fatalf("no commit of this repository sets `%s` in %s: schema %d has not landed, so there is no "+
			"older binary (the commit before it) to build. The test cannot run until it does "+
			"(to develop the test meanwhile, set %s to a revision to use as the old binary, e.g. HEAD).", set, SchemaFile, schema, refEnv)
	}
	lines := strings.Split(out, "\n")
	introducing := lines[len(lines)-1] // git log lists newest first
	return Git(t, root, "rev-parse", "--verify", introducing+"^"),
		"parent of " + introducing[:12] + ", the first commit setting " + set + " in " + SchemaFile
}

// BuildAt builds ./cmd/dgp of commit into out, from a `git worktree` of
// root checked out under dir and removed again when the test ends.
func BuildAt(t testing.TB, root, commit, dir, out string) {
	t.Helper()
	wt := filepath.Join(dir, "src-"+commit[:12])
	Git(t, root, "worktree", "add", "--detach", wt, commit)
	t.Cleanup(func() {
		cmd := exec.Command("git", "-C", root, "worktree", "remove", "--force", wt)
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("git worktree remove %s: %v\n%s", wt, err, b)
		}
	})
	Build(t, wt, out)
}

// Build runs `go build -o out ./cmd/dgp` in the module at dir, with
// CGO_ENABLED=0.
func Build(t testing.TB, dir, out string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, "./cmd/dgp")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/dgp in %s: %v\n%s", dir, err, b)
	}
}
