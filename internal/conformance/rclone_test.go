//go:build integration

package conformance

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/dgp-proxy/dgp/internal/testutil"
)

// TestRclone runs rclone (copy, sync, lsf, check, and versions listing with
// --s3-versions) against every dgp target. rclone is configured through
// RCLONE_CONFIG_DGP_* variables; AWS_CA_BUNDLE is removed from its
// environment (rclone 1.60 refuses to start with it: TESTING.md).
func TestRclone(t *testing.T) {
	bin := lookBin(t, "DGP_TEST_RCLONE", "rclone (apt-get install rclone)")
	forEachDGP(t, func(t *testing.T, tg *target) { rcloneSuite(t, bin, tg) })
}

func rcloneSuite(t *testing.T, bin string, tg *target) {
	home := t.TempDir()
	var env []string
	for _, kv := range testutil.Env(
		"RCLONE_CONFIG="+filepath.Join(home, "rclone.conf"),
		"RCLONE_CONFIG_DGP_TYPE=s3", "RCLONE_CONFIG_DGP_PROVIDER=Other",
		"RCLONE_CONFIG_DGP_ACCESS_KEY_ID="+tg.AccessKey, "RCLONE_CONFIG_DGP_SECRET_ACCESS_KEY="+tg.SecretKey,
		"RCLONE_CONFIG_DGP_ENDPOINT="+tg.URL, "RCLONE_CONFIG_DGP_REGION="+region,
		"RCLONE_CONFIG_DGP_FORCE_PATH_STYLE=true", "HOME="+home,
	) {
		if !strings.HasPrefix(kv, "AWS_") {
			env = append(env, kv)
		}
	}
	testutil.Must(t, os.WriteFile(filepath.Join(home, "rclone.conf"), nil, 0o600), "write rclone.conf")
	rclone := func(args ...string) string {
		t.Helper()
		if tg.CA != nil {
			args = append([]string{"--ca-cert", tg.CA.CAFile}, args...)
		}
		return runCmd(t, env, bin, args...)
	}
	bucket := testutil.UniqueName("cf-rclone")
	remote := "dgp:" + bucket
	rclone("mkdir", remote)
	cleanupBucket(t, tg, bucket)

	dir := t.TempDir()
	fx := defaultFixture()
	up := filepath.Join(dir, "up")
	fx.write(t, up)

	rclone("copy", up, remote+"/tree")
	assertEqualLines(t, "lsf -R after copy", filesOnly(rclone("lsf", "-R", remote+"/tree")), fx.keys(""))
	rclone("check", up, remote+"/tree")

	// sync: one file changed, one removed, one added.
	fx["a.txt"] = []byte("alpha changed\n")
	delete(fx, "sub/b.txt")
	fx["new.txt"] = []byte("new\n")
	testutil.Must(t, os.Remove(filepath.Join(up, "sub", "b.txt")), "remove")
	fx.write(t, up)
	rclone("sync", up, remote+"/tree")
	assertEqualLines(t, "lsf -R after sync", filesOnly(rclone("lsf", "-R", remote+"/tree")), fx.keys(""))
	rclone("check", up, remote+"/tree")
	down := filepath.Join(dir, "down")
	rclone("copy", remote+"/tree", down)
	fx.assertTree(t, down)

	// Versions: enable versioning, overwrite a file, list with --s3-versions.
	_, err := tg.SDK().PutBucketVersioning(context.Background(), &s3.PutBucketVersioningInput{Bucket: aws.String(bucket),
		VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled}})
	testutil.Must(t, err, "enable versioning")
	for _, content := range []string{"v1\n", "v2 longer\n"} {
		p := filepath.Join(dir, "v.txt")
		testutil.Must(t, os.WriteFile(p, []byte(content), 0o644), "write")
		rclone("copyto", p, remote+"/ver/v.txt")
	}
	// The current version is v.txt; older ones are v-v<timestamp>.txt.
	old := regexp.MustCompile(`^v-v\d{4}-\d{2}-\d{2}-\d{6}-\d{3}\.txt$`)
	lsf := filesOnly(rclone("lsf", "--s3-versions", remote+"/ver"))
	var cur, older int
	for _, l := range lsf {
		switch {
		case l == "v.txt":
			cur++
		case old.MatchString(l):
			older++
		}
	}
	// The null version from before versioning was enabled does not exist
	// here (ver/ was first written after), so: the current one and two
	// versions in all, one of them older.
	if cur != 1 || older != 1 || len(lsf) != 2 {
		t.Errorf("lsf --s3-versions: want v.txt and one older version, got %q", lsf)
	}
	ls := nonEmptyLines(rclone("ls", "--s3-versions", remote+"/ver"))
	sizes := map[string]bool{}
	for _, l := range ls {
		sizes[strings.Fields(l)[0]] = true
	}
	if len(ls) != 2 || !sizes["3"] || !sizes["10"] {
		t.Errorf("ls --s3-versions: want sizes 10 and 3, got %q", ls)
	}
	// Listing without versions shows only the current one.
	assertEqualLines(t, "lsf without versions", filesOnly(rclone("lsf", remote+"/ver")), []string{"v.txt"})
}

// filesOnly drops directory lines ("sub/") from lsf output.
func filesOnly(out string) []string {
	var files []string
	for _, l := range nonEmptyLines(out) {
		if !strings.HasSuffix(l, "/") {
			files = append(files, l)
		}
	}
	return files
}
