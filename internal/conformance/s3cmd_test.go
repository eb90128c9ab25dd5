//go:build integration

package conformance

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dgp-proxy/dgp/internal/testutil"
)

// TestS3cmd runs s3cmd (put, get, ls, sync, and signurl, which signs with
// SigV2) against every dgp target, path style through a config file.
func TestS3cmd(t *testing.T) {
	bin := lookBin(t, "DGP_TEST_S3CMD", "s3cmd (apt-get install s3cmd)")
	forEachDGP(t, func(t *testing.T, tg *target) { s3cmdSuite(t, bin, tg) })
}

func s3cmdSuite(t *testing.T, bin string, tg *target) {
	home := t.TempDir()
	cfg := filepath.Join(home, "s3cfg")
	https, caLine := "False", ""
	if tg.CA != nil {
		https, caLine = "True", "ca_certs_file = "+tg.CA.CAFile+"\ncheck_ssl_certificate = True\ncheck_ssl_hostname = True\n"
	}
	conf := fmt.Sprintf("[default]\naccess_key = %s\nsecret_key = %s\nhost_base = %s\nhost_bucket = %s\nuse_https = %s\n"+
		"bucket_location = %s\nsignature_v2 = False\nguess_mime_type = False\nprogress_meter = False\n%s",
		tg.AccessKey, tg.SecretKey, tg.Host(), tg.Host(), https, region, caLine)
	testutil.Must(t, os.WriteFile(cfg, []byte(conf), 0o600), "write s3cfg")
	env := testutil.Env("HOME="+home, "AWS_CA_BUNDLE=")
	s3cmd := func(args ...string) string {
		t.Helper()
		return runCmd(t, env, bin, append([]string{"-c", cfg}, args...)...)
	}
	bucket := testutil.UniqueName("cf-s3cmd")
	s3url := "s3://" + bucket
	s3cmd("mb", s3url)
	cleanupBucket(t, tg, bucket)

	dir := t.TempDir()
	fx := defaultFixture()
	up := filepath.Join(dir, "up")
	fx.write(t, up)

	s3cmd("put", filepath.Join(up, "big.bin"), s3url+"/one/big.bin")
	s3cmd("get", s3url+"/one/big.bin", filepath.Join(dir, "big.down"))
	if b, _ := os.ReadFile(filepath.Join(dir, "big.down")); !bytes.Equal(b, fx["big.bin"]) {
		t.Fatalf("put/get round trip: %d bytes back", len(b))
	}
	ls := s3cmd("ls", s3url+"/one/")
	if !strings.Contains(ls, fmt.Sprintf("%d   %s/one/big.bin", 1<<20, s3url)) && !strings.Contains(ls, s3url+"/one/big.bin") {
		t.Errorf("ls: big.bin not listed:\n%s", ls)
	}

	s3cmd("sync", up+"/", s3url+"/tree/")
	var keys []string
	for _, l := range nonEmptyLines(s3cmd("ls", "-r", s3url+"/tree/")) {
		if i := strings.Index(l, s3url+"/"); i >= 0 {
			keys = append(keys, strings.TrimPrefix(l[i:], s3url+"/"))
		}
	}
	assertEqualLines(t, "ls -r after sync", keys, fx.keys("tree/"))
	down := filepath.Join(dir, "down")
	testutil.Must(t, os.MkdirAll(down, 0o755), "mkdir")
	s3cmd("sync", s3url+"/tree/", down+"/")
	fx.assertTree(t, down)

	// signurl signs a GET with SigV2 (AWSAccessKeyId, Expires, Signature).
	url := strings.TrimSpace(s3cmd("signurl", s3url+"/tree/a.txt", "+300"))
	if !strings.Contains(url, "Signature=") {
		t.Fatalf("signurl: unexpected output %q", url)
	}
	if tg.TLS() {
		// s3cmd 2.3 writes http:// whatever use_https says; the scheme is
		// not signed.
		url = "https://" + strings.TrimPrefix(url, "http://")
	}
	status, body := fetch(t, tg, url)
	mustStatus(t, "GET "+url, status, 200, body)
	if !bytes.Equal(body, fx["a.txt"]) {
		t.Errorf("signurl GET: got %q", body)
	}
}
