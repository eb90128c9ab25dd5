//go:build integration

package app

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dgp-proxy/dgp/internal/config"
	"github.com/dgp-proxy/dgp/internal/testutil"
)

// The seed guide's client, the AWS CLI v2, against dgp on a directory and
// in front of a real MinIO, over plain HTTP (signed single-chunk payloads)
// and over HTTPS (STREAMING-UNSIGNED-PAYLOAD-TRAILER with CRC32).
func TestAWSCLIGateway(t *testing.T) {
	testutil.AWSCLI(t)
	minio := testutil.RequireMinIO(t)
	backends := map[string]func(*config.Config){
		"directory": nil,
		"minio": func(c *config.Config) {
			c.Storage.S3 = minio.Endpoint
			c.Storage.Region = "us-east-1"
			c.Storage.AccessKeyID = minio.AccessKey
			c.Storage.SecretAccessKey = minio.SecretKey
			c.Storage.ForcePathStyle = true
		},
	}
	for name, mutate := range backends {
		for _, scheme := range []string{"http", "https"} {
			t.Run(name+"/"+scheme, func(t *testing.T) {
				var ca *testutil.TestCA
				if scheme == "https" {
					ca = testutil.NewTestCA(t)
				}
				in := startInstance(t, ca, mutate)
				rc := in.app.RootCredentials()
				cliGatewayScenario(t, in, in.cli(t, rc.AccessKeyID, rc.SecretAccessKey))
			})
		}
	}
}

func cliGatewayScenario(t *testing.T, in *instance, aws *awsCLI) {
	bucket := testutil.UniqueName("cli")
	dir := t.TempDir()

	aws.must("s3", "mb", "s3://"+bucket)
	t.Cleanup(func() { _, _ = aws.run("s3", "rb", "s3://"+bucket, "--force") })

	// 50 MiB: the CLI goes multipart (8 MiB parts).
	big := writeRandomFile(t, filepath.Join(dir, "big.bin"), 50<<20)
	aws.must("s3", "cp", filepath.Join(dir, "big.bin"), "s3://"+bucket+"/data/big.bin")
	aws.must("s3", "cp", "s3://"+bucket+"/data/big.bin", filepath.Join(dir, "big.down"))
	got, err := os.ReadFile(filepath.Join(dir, "big.down"))
	testutil.Must(t, err, "read download")
	if !bytes.Equal(got, big) {
		t.Fatalf("50 MiB round trip differs (got %d bytes)", len(got))
	}

	// A small single-part object.
	small := writeRandomFile(t, filepath.Join(dir, "small.txt"), 2000)
	aws.must("s3", "cp", filepath.Join(dir, "small.txt"), "s3://"+bucket+"/small.txt", "--content-type", "text/plain")

	out := aws.must("s3", "ls", "s3://"+bucket+"/")
	if !strings.Contains(out, "PRE data/") || !strings.Contains(out, "small.txt") {
		t.Fatalf("ls output lacks entries:\n%s", out)
	}
	out = aws.must("s3", "ls", "s3://"+bucket+"/data/")
	if !strings.Contains(out, "52428800 big.bin") {
		t.Fatalf("ls data/ output:\n%s", out)
	}
	out = aws.must("s3", "ls")
	if !strings.Contains(out, bucket) {
		t.Fatalf("ls buckets lacks %s:\n%s", bucket, out)
	}

	// Presign, then a plain HTTP GET with no credentials.
	url := strings.TrimSpace(aws.must("s3", "presign", "s3://"+bucket+"/small.txt", "--expires-in", "300"))
	resp, err := in.httpClient().Get(url)
	testutil.Must(t, err, "GET presigned")
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !bytes.Equal(body, small) {
		t.Fatalf("presigned GET: %s, %d bytes", resp.Status, len(body))
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/plain" {
		t.Errorf("Content-Type kept: got %q", ct)
	}
	// The same URL with a tampered signature is refused.
	resp, err = in.httpClient().Get(strings.Replace(url, "X-Amz-Signature=", "X-Amz-Signature=0", 1))
	testutil.Must(t, err, "GET tampered")
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("tampered presigned URL: %s", resp.Status)
	}

	// sync a small tree up, then down into another directory.
	tree := filepath.Join(dir, "tree")
	want := map[string][]byte{}
	for i := 0; i < 12; i++ {
		rel := fmt.Sprintf("d%d/sub/f%02d.dat", i%3, i)
		want[rel] = writeRandomFile(t, filepath.Join(tree, rel), 100+i*997)
	}
	aws.must("s3", "sync", tree, "s3://"+bucket+"/tree")
	down := filepath.Join(dir, "tree-down")
	aws.must("s3", "sync", "s3://"+bucket+"/tree", down)
	for rel, b := range want {
		got, err := os.ReadFile(filepath.Join(down, rel))
		testutil.Must(t, err, "read synced %s", rel)
		if !bytes.Equal(got, b) {
			t.Fatalf("synced %s differs", rel)
		}
	}
	// A second sync uploads nothing.
	if out := aws.must("s3", "sync", tree, "s3://"+bucket+"/tree"); strings.Contains(out, "upload:") {
		t.Fatalf("second sync uploaded again:\n%s", out)
	}

	// rm, then the object is gone.
	aws.must("s3", "rm", "s3://"+bucket+"/small.txt")
	if out, err := aws.run("s3api", "head-object", "--bucket", bucket, "--key", "small.txt"); err == nil || !strings.Contains(out, "404") {
		t.Fatalf("head after rm: err=%v out=%s", err, out)
	}
	aws.must("s3", "rm", "s3://"+bucket, "--recursive")
	aws.must("s3", "rb", "s3://"+bucket)
}

// Wrong credentials get the S3 error codes through the CLI.
func TestAWSCLIRejectsBadCredentials(t *testing.T) {
	in := startInstance(t, nil, nil)
	rc := in.app.RootCredentials()
	cases := map[string]*awsCLI{
		"InvalidAccessKeyId":    in.cli(t, "NOSUCHKEY00000000000", rc.SecretAccessKey),
		"SignatureDoesNotMatch": in.cli(t, rc.AccessKeyID, "wrong-secret-wrong-secret-wrong-secret-00"),
	}
	for code, aws := range cases {
		out, err := aws.run("s3", "ls")
		if err == nil || !strings.Contains(out, code) {
			t.Errorf("want %s, got err=%v out=%s", code, err, out)
		}
	}
}
