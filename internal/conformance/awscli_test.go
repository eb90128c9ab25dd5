//go:build integration

package conformance

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/dgp-proxy/dgp/internal/testutil"
)

// TestAWSCLIv2 runs the Debian AWS CLI v2 (high-level s3 commands and
// s3api versioning calls) against every dgp target.
func TestAWSCLIv2(t *testing.T) {
	bin := lookBin(t, "DGP_TEST_AWS_CLI", "the AWS CLI v2 (apt-get install awscli)")
	forEachDGP(t, func(t *testing.T, tg *target) { awsCLISuite(t, bin, tg, "X-Amz-Signature=") })
}

// TestAWSCLIv1 runs the AWS CLI v1 (the machine image's pyenv `aws`; its
// `s3 presign` emits SigV2 query-string URLs) against every dgp target.
func TestAWSCLIv1(t *testing.T) {
	bin := lookBin(t, "DGP_TEST_AWS_CLI_V1", "no AWS CLI v1 on this machine (.ci/run exports the first `aws` on PATH whose --version says aws-cli/1.)")
	forEachDGP(t, func(t *testing.T, tg *target) { awsCLISuite(t, bin, tg, "AWSAccessKeyId=") })
}

// awsCLISuite runs one AWS CLI against tg; presignMark is what its `s3
// presign` URLs must hold (SigV4 or SigV2 query parameters).
func awsCLISuite(t *testing.T, bin string, tg *target, presignMark string) {
	home := t.TempDir()
	env := testutil.Env(
		"AWS_ACCESS_KEY_ID="+tg.AccessKey, "AWS_SECRET_ACCESS_KEY="+tg.SecretKey,
		"AWS_DEFAULT_REGION="+region, "AWS_REGION="+region,
		"AWS_CONFIG_FILE="+filepath.Join(home, "config"), "AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(home, "credentials"),
		"AWS_PAGER=", "AWS_EC2_METADATA_DISABLED=true", "HOME="+home,
	)
	if tg.CA != nil {
		env = append(env, "AWS_CA_BUNDLE="+tg.CA.CAFile)
	}
	aws := func(args ...string) string {
		t.Helper()
		full := append([]string{"--endpoint-url", tg.URL}, args...)
		if args[0] == "s3" && (args[1] == "cp" || args[1] == "sync") {
			full = append(full, "--no-progress")
		}
		return runCmd(t, env, bin, full...)
	}
	bucket := testutil.UniqueName("cf-cli")
	s3url := "s3://" + bucket
	aws("s3", "mb", s3url)
	cleanupBucket(t, tg, bucket)

	dir := t.TempDir()
	fx := defaultFixture()
	fx.write(t, filepath.Join(dir, "up"))

	// cp up and down, ls.
	aws("s3", "cp", filepath.Join(dir, "up", "a.txt"), s3url+"/one/a.txt")
	aws("s3", "cp", s3url+"/one/a.txt", filepath.Join(dir, "a.down"))
	if b, _ := os.ReadFile(filepath.Join(dir, "a.down")); !bytes.Equal(b, fx["a.txt"]) {
		t.Fatalf("s3 cp round trip: got %q", b)
	}
	ls := aws("s3", "ls", s3url+"/one/")
	if !strings.Contains(ls, " 6 a.txt") {
		t.Errorf("s3 ls: want a 6-byte a.txt, got:\n%s", ls)
	}

	// sync a tree up, list it recursively, sync it down, compare.
	aws("s3", "sync", filepath.Join(dir, "up"), s3url+"/tree/")
	var keys []string
	for _, l := range nonEmptyLines(aws("s3", "ls", "--recursive", s3url+"/tree/")) {
		f := strings.Fields(l) // date time size key...
		keys = append(keys, strings.Join(f[3:], " "))
	}
	assertEqualLines(t, "s3 ls --recursive after sync", keys, fx.keys("tree/"))
	aws("s3", "sync", s3url+"/tree/", filepath.Join(dir, "down"))
	fx.assertTree(t, filepath.Join(dir, "down"))
	// A second sync uploads nothing.
	if out := aws("s3", "sync", filepath.Join(dir, "up"), s3url+"/tree/"); strings.Contains(out, "upload:") {
		t.Errorf("second sync uploaded again:\n%s", out)
	}
	aws("s3", "rm", s3url+"/tree/a.txt")
	if _, err := tg.SDK().HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: &bucket, Key: awssdk.String("tree/a.txt")}); !isCode(err, "NotFound") {
		t.Errorf("s3 rm: HEAD of the removed key: want NotFound, got %v", err)
	}

	// Presigned GET (v2: SigV4 query; v1: SigV2 query).
	url := strings.TrimSpace(aws("s3", "presign", s3url+"/one/a.txt", "--expires-in", "300"))
	if !strings.Contains(url, presignMark) {
		t.Errorf("s3 presign: want a URL with %s, got %s", presignMark, url)
	}
	status, body := fetch(t, tg, url)
	mustStatus(t, "GET presigned "+url, status, 200, body)
	if !bytes.Equal(body, fx["a.txt"]) {
		t.Errorf("presigned GET: got %q", body)
	}

	// Versioning through s3api.
	aws("s3api", "put-bucket-versioning", "--bucket", bucket, "--versioning-configuration", "Status=Enabled")
	var vc struct{ Status string }
	testutil.Must(t, json.Unmarshal([]byte(aws("s3api", "get-bucket-versioning", "--bucket", bucket, "--output", "json")), &vc), "get-bucket-versioning json")
	if vc.Status != "Enabled" {
		t.Errorf("get-bucket-versioning: %+v", vc)
	}
	for _, content := range []string{"first", "second"} {
		p := filepath.Join(dir, content)
		testutil.Must(t, os.WriteFile(p, []byte(content), 0o644), "write")
		aws("s3", "cp", p, s3url+"/v.txt")
	}
	var lv struct {
		Versions []struct {
			Key, VersionId string
			IsLatest       bool
			Size           int
		}
		DeleteMarkers []struct{ Key, VersionId string }
	}
	testutil.Must(t, json.Unmarshal([]byte(aws("s3api", "list-object-versions", "--bucket", bucket, "--prefix", "v.txt", "--output", "json")), &lv), "list-object-versions json")
	if len(lv.Versions) != 2 || !lv.Versions[0].IsLatest || lv.Versions[1].IsLatest || lv.Versions[0].Size != 6 || lv.Versions[1].Size != 5 ||
		lv.Versions[0].VersionId == lv.Versions[1].VersionId || lv.Versions[1].VersionId == "null" {
		t.Fatalf("list-object-versions: %+v", lv)
	}
	aws("s3api", "get-object", "--bucket", bucket, "--key", "v.txt", "--version-id", lv.Versions[1].VersionId, filepath.Join(dir, "v.old"))
	if b, _ := os.ReadFile(filepath.Join(dir, "v.old")); string(b) != "first" {
		t.Errorf("get-object --version-id: got %q", b)
	}
	aws("s3", "rm", s3url+"/v.txt")
	testutil.Must(t, json.Unmarshal([]byte(aws("s3api", "list-object-versions", "--bucket", bucket, "--prefix", "v.txt", "--output", "json")), &lv), "list-object-versions json")
	if len(lv.Versions) != 2 || len(lv.DeleteMarkers) != 1 {
		t.Errorf("after s3 rm on a versioned bucket: want 2 versions and 1 delete marker, got %+v", lv)
	}
}
