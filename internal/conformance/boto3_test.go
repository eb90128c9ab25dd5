//go:build integration

package conformance

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dgp-proxy/dgp/internal/testutil"
)

// boto3Script is the boto3 suite: it checks what it gets back, exits
// non-zero listing every failed check, else prints "boto3 suite OK".
// Checks named in PENDING (comma-separated) are printed, not failed. Its environment: EP, AK, SK, BUCKET, CA, PENDING.
const boto3Script = `
import os, ssl, sys, uuid, urllib.request
import boto3
from botocore.config import Config

ep, bucket, ca = os.environ["EP"], os.environ["BUCKET"], os.environ.get("CA") or None
s3 = boto3.client("s3", endpoint_url=ep, aws_access_key_id=os.environ["AK"], aws_secret_access_key=os.environ["SK"],
                  region_name="us-east-1", verify=ca if ca else True,
                  config=Config(signature_version="s3v4", s3={"addressing_style": "path"}))
ctx = ssl.create_default_context(cafile=ca) if ca else None

failures = []
pending = set(filter(None, os.environ.get("PENDING", "").split(",")))
def check(what, got, want):
    if got != want:
        msg = "%s: got %r, want %r" % (what, got, want)
        if what in pending:
            print("PENDING " + msg)
        else:
            failures.append(msg)

s3.create_bucket(Bucket=bucket)
s3.put_object(Bucket=bucket, Key="a.txt", Body=b"alpha", ContentType="text/plain", Metadata={"Color": "Blue"})
got = s3.get_object(Bucket=bucket, Key="a.txt")
check("get body", got["Body"].read(), b"alpha")
check("content type", got["ContentType"], "text/plain")
check("metadata (keys lower-cased)", got["Metadata"], {"color": "Blue"})
s3.put_object(Bucket=bucket, Key="dir/b.txt", Body=b"bravo")
lst = s3.list_objects_v2(Bucket=bucket)
check("list_objects_v2", [(o["Key"], o["Size"]) for o in lst["Contents"]], [("a.txt", 5), ("dir/b.txt", 5)])
lst = s3.list_objects_v2(Bucket=bucket, Delimiter="/")
check("list_objects_v2 delimiter", ([o["Key"] for o in lst["Contents"]], [p["Prefix"] for p in lst["CommonPrefixes"]]), (["a.txt"], ["dir/"]))

# Versions of an unversioned bucket: one null version per object.
vs = s3.list_object_versions(Bucket=bucket)
check("versions (unversioned)", [(v["Key"], v["VersionId"], v["IsLatest"]) for v in vs["Versions"]],
      [("a.txt", "null", True), ("dir/b.txt", "null", True)])
check("versioning (never enabled)", s3.get_bucket_versioning(Bucket=bucket).get("Status"), None)

s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
check("versioning", s3.get_bucket_versioning(Bucket=bucket).get("Status"), "Enabled")
v1 = s3.put_object(Bucket=bucket, Key="v.txt", Body=b"one")["VersionId"]
v2 = s3.put_object(Bucket=bucket, Key="v.txt", Body=b"two")["VersionId"]
if not v1 or not v2 or v1 == v2 or "null" in (v1, v2):
    sys.exit("version ids: %r %r" % (v1, v2))
check("get by version", s3.get_object(Bucket=bucket, Key="v.txt", VersionId=v1)["Body"].read(), b"one")
check("get latest", s3.get_object(Bucket=bucket, Key="v.txt")["Body"].read(), b"two")
vs = s3.list_object_versions(Bucket=bucket, Prefix="v.txt")
check("versions", [(v["VersionId"], v["IsLatest"]) for v in vs["Versions"]], [(v2, True), (v1, False)])
page = s3.list_object_versions(Bucket=bucket, MaxKeys=1)
check("versions page truncated", page["IsTruncated"], True)
rest = s3.list_object_versions(Bucket=bucket, KeyMarker=page["NextKeyMarker"], VersionIdMarker=page.get("NextVersionIdMarker", ""))
check("versions paging", len(page["Versions"]) + len(rest["Versions"]), 4)

d = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "v.txt", "VersionId": v1}, {"Key": "a.txt"}]})
got = sorted((x["Key"], x.get("VersionId", ""), x.get("DeleteMarker", False)) for x in d["Deleted"])
check("delete_objects keys", [(k, m) for k, _, m in got], [("a.txt", True), ("v.txt", False)])
check("delete_objects version", got[1][1], v1)
check("delete_objects errors", d.get("Errors", []), [])
vs = s3.list_object_versions(Bucket=bucket, Prefix="a.txt")
check("delete marker listed", [(m["Key"], m["IsLatest"]) for m in vs.get("DeleteMarkers", [])], [("a.txt", True)])
check("null version kept", [(v["VersionId"], v["IsLatest"]) for v in vs["Versions"]], [("null", False)])

# Presigned GET, fetched with urllib.
url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "v.txt"}, ExpiresIn=300)
check("presigned get", urllib.request.urlopen(url, context=ctx).read(), b"two")

# Presigned POST (browser form upload), posted with urllib.
post = s3.generate_presigned_post(bucket, "up/${filename}", Conditions=[["starts-with", "$key", "up/"], ["content-length-range", 1, 1024]], ExpiresIn=300)
boundary = uuid.uuid4().hex
parts = []
for k, v in post["fields"].items():
    parts.append(("--%s\r\nContent-Disposition: form-data; name=\"%s\"\r\n\r\n%s\r\n" % (boundary, k, v)).encode())
parts.append(("--%s\r\nContent-Disposition: form-data; name=\"file\"; filename=\"hello.txt\"\r\nContent-Type: text/plain\r\n\r\n" % boundary).encode())
parts.append(b"posted by boto3\r\n--" + boundary.encode() + b"--\r\n")
req = urllib.request.Request(post["url"], data=b"".join(parts), method="POST",
                             headers={"Content-Type": "multipart/form-data; boundary=" + boundary})
with urllib.request.urlopen(req, context=ctx) as resp:
    check("post status", resp.status, 204)
check("posted object", s3.get_object(Bucket=bucket, Key="up/hello.txt")["Body"].read(), b"posted by boto3")
if failures:
    sys.exit("\n".join(failures))
print("boto3 suite OK")
`

// TestBoto3 runs the boto3 suite (a Python script) against every dgp target.
func TestBoto3(t *testing.T) {
	py := lookBin(t, "DGP_TEST_PYTHON", "a python3 with boto3 (apt-get install python3-boto3)")
	script := filepath.Join(t.TempDir(), "boto3_suite.py")
	testutil.Must(t, os.WriteFile(script, []byte(boto3Script), 0o644), "write script")
	forEachDGP(t, func(t *testing.T, tg *target) {
		bucket := testutil.UniqueName("cf-boto3")
		cleanupBucket(t, tg, bucket)
		ca := ""
		if tg.CA != nil {
			ca = tg.CA.CAFile
		}
		env := testutil.Env("EP="+tg.URL, "AK="+tg.AccessKey, "SK="+tg.SecretKey, "BUCKET="+bucket, "CA="+ca,
			"AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null", "AWS_CA_BUNDLE=", "PYTHONDONTWRITEBYTECODE=1")
		env = append(env, "PENDING="+strings.Join(pendingNames("boto3", tg.Name), ","))
		out := runCmd(t, env, py, script)
		if !strings.Contains(out, "boto3 suite OK") {
			t.Fatalf("boto3 suite did not finish:\n%s", out)
		}
		for _, l := range nonEmptyLines(out) {
			if strings.HasPrefix(l, "PENDING ") {
				t.Logf("%s (known dgp bug, pending_test.go)", l)
			}
		}
	})
}
