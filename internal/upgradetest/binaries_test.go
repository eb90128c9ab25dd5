//go:build integration

package upgradetest

import (
	"path/filepath"
	"testing"

	"github.com/dgp-proxy/dgp/internal/testharness/gitbuild"
)

// oldRefEnv overrides the old binary's commit (any git revision). For
// developing this test only: without it, the commit is found from history
// (the parent of the first commit that sets CurrentSchema to 2).
const oldRefEnv = "DGP_TEST_UPGRADE_OLD_REF"

// binaries are the two dgp builds of the test.
type binaries struct {
	old, new  string // paths of the executables
	oldCommit string // commit the old one was built from
	oldWhy    string // how that commit was chosen
}

// buildBinaries builds the new dgp from the working tree and the old one
// (the release before schema 2) from a `git worktree` of the old commit
// (removed again when the test ends), both with CGO_ENABLED=0, into a
// temporary directory.
func buildBinaries(t *testing.T) binaries {
	t.Helper()
	root := gitbuild.RepoRoot(t)
	b := binaries{}
	b.oldCommit, b.oldWhy = gitbuild.CommitBefore(t, root, 2, oldRefEnv)
	dir := t.TempDir()
	b.old = filepath.Join(dir, "dgp-old")
	b.new = filepath.Join(dir, "dgp-new")
	gitbuild.BuildAt(t, root, b.oldCommit, dir, b.old)
	gitbuild.Build(t, root, b.new)
	return b
}
