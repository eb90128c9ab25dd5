//go:build integration

package app

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/dgp-proxy/dgp/internal/config"
	"github.com/dgp-proxy/dgp/internal/testutil"
)

// awsCLIv1 returns the AWS CLI v1 (whose `s3 presign` signs with SigV2),
// or skips.
func awsCLIv1(t *testing.T) string {
	t.Helper()
	p := os.Getenv("DGP_TEST_AWS_CLI_V1")
	if p == "" {
		t.Skip("DGP_TEST_AWS_CLI_V1 not set (run through .ci/run)")
	}
	return p
}

// presignV1 runs `aws s3 presign` of the AWS CLI v1 against endpoint and
// returns the URL. virtual selects virtual-host-style addressing.
func presignV1(t *testing.T, bin, endpoint, accessKey, secretKey, s3url string, virtual bool, ca *testutil.TestCA) string {
	t.Helper()
	home := t.TempDir()
	cfgFile := filepath.Join(home, "config")
	style := "path"
	if virtual {
		style = "virtual"
	}
	testutil.Must(t, os.WriteFile(cfgFile, []byte("[default]\ns3 =\n    addressing_style = "+style+"\n"), 0o600), "write CLI config")
	env := testutil.Env(
		"AWS_ACCESS_KEY_ID="+accessKey, "AWS_SECRET_ACCESS_KEY="+secretKey,
		"AWS_DEFAULT_REGION=us-east-1", "AWS_CONFIG_FILE="+cfgFile,
		"AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(home, "credentials"),
		"AWS_PAGER=", "AWS_EC2_METADATA_DISABLED=true", "HOME="+home,
	)
	if ca != nil {
		env = append(env, "AWS_CA_BUNDLE="+ca.CAFile)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--endpoint-url", endpoint, "s3", "presign", s3url, "--expires-in", "300")
	cmd.Env = env
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("aws s3 presign: %v\n%s", err, out)
	}
	return strings.TrimSpace(string(out))
}

// dialTo returns a client that connects to addr whatever the URL's host
// (so "<bucket>.localhost" needs no DNS).
func dialTo(base *http.Client, addr string) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if bt, ok := base.Transport.(*http.Transport); ok && bt != nil {
		tr = bt.Clone()
	}
	tr.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}
	return &http.Client{Transport: tr}
}

// getURL fetches u and returns the status and the body.
func getURL(t *testing.T, c *http.Client, u string) (int, []byte) {
	t.Helper()
	resp, err := c.Get(u)
	testutil.Must(t, err, "GET %s", u)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	testutil.Must(t, err, "read %s", u)
	return resp.StatusCode, body
}

// TestAWSCLIv1PresignSigV2 fetches objects through URLs the AWS CLI v1's
// `s3 presign` signs with SigV2 (AWSAccessKeyId/Expires/Signature), path
// and virtual-host style, over HTTP and HTTPS, and checks the refusals:
// a tampered signature, and SigV2 switched off.
func TestAWSCLIv1PresignSigV2(t *testing.T) {
	bin := awsCLIv1(t)
	for _, scheme := range []string{"http", "https"} {
		t.Run(scheme, func(t *testing.T) {
			var ca *testutil.TestCA
			if scheme == "https" {
				ca = testutil.NewTestCA(t)
			}
			in := startInstance(t, ca, func(c *config.Config) {
				c.Advanced.VirtualHostDomains = []string{"localhost"} // the test CA signs *.localhost
			})
			rc := in.app.RootCredentials()
			ctx := context.Background()
			client := in.rootClient()
			bucket := testutil.UniqueName("sigv2")
			_, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)})
			testutil.Must(t, err, "create bucket")
			objects := map[string][]byte{
				"plain.txt":                []byte("hello from a SigV2 URL\n"),
				"dir/with space+plus%.bin": bytes.Repeat([]byte{0, 1, 2, 0xff}, 5000),
			}
			for key, body := range objects {
				_, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(body)})
				testutil.Must(t, err, "put %s", key)
			}
			t.Cleanup(func() {
				for key := range objects {
					_, _ = client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
				}
				_, _ = client.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String(bucket)})
			})

			_, port, err := net.SplitHostPort(in.app.Addr())
			testutil.Must(t, err, "split address")
			for _, virtual := range []bool{false, true} {
				endpoint := in.app.URL()
				if virtual {
					endpoint = scheme + "://localhost:" + port
				}
				hc := dialTo(in.httpClient(), in.app.Addr())
				for key, want := range objects {
					u := presignV1(t, bin, endpoint, rc.AccessKeyID, rc.SecretAccessKey, "s3://"+bucket+"/"+key, virtual, ca)
					pu, err := url.Parse(u)
					testutil.Must(t, err, "parse %s", u)
					q := pu.Query()
					if q.Get("AWSAccessKeyId") != rc.AccessKeyID || q.Get("Signature") == "" || q.Get("Expires") == "" {
						t.Fatalf("not a SigV2 URL: %s", u)
					}
					if virtual != strings.HasPrefix(pu.Host, bucket+".") {
						t.Fatalf("virtual=%v but URL %s", virtual, u)
					}
					status, body := getURL(t, hc, u)
					if status != http.StatusOK || !bytes.Equal(body, want) {
						t.Fatalf("GET %s: %d, %d bytes (want %d): %.300s", u, status, len(body), len(want), body)
					}
					q.Set("Signature", "AAAA"+q.Get("Signature")[4:])
					pu.RawQuery = q.Encode()
					status, body = getURL(t, hc, pu.String())
					if status != http.StatusForbidden || !bytes.Contains(body, []byte("<Code>SignatureDoesNotMatch</Code>")) {
						t.Fatalf("tampered URL: %d %s", status, body)
					}
				}
			}
		})
	}

	t.Run("sigv2 off", func(t *testing.T) {
		in := startInstance(t, nil, func(c *config.Config) { c.Access.SigV2 = false })
		rc := in.app.RootCredentials()
		u := presignV1(t, bin, in.app.URL(), rc.AccessKeyID, rc.SecretAccessKey, "s3://any-bucket/key", false, nil)
		status, body := getURL(t, in.httpClient(), u)
		if status != http.StatusBadRequest || !bytes.Contains(body, []byte("<Code>InvalidRequest</Code>")) ||
			!bytes.Contains(body, []byte("Please use AWS4-HMAC-SHA256.")) {
			t.Fatalf("SigV2 off: %d %s", status, body)
		}
	})
}

// TestSigV4RegionCheck runs the AWS CLI v2 against a dgp that accepts only
// eu-west-1: signing for us-east-1 is refused with S3's answer naming the
// expected region, and signing for eu-west-1 works.
func TestSigV4RegionCheck(t *testing.T) {
	testutil.AWSCLI(t)
	in := startInstance(t, nil, func(c *config.Config) { c.Access.Regions = []string{"eu-west-1"} })
	rc := in.app.RootCredentials()
	cli := in.cli(t, rc.AccessKeyID, rc.SecretAccessKey)

	// The SDK client signs for us-east-1.
	_, err := in.rootClient().ListBuckets(context.Background(), &s3.ListBucketsInput{})
	if err == nil || !strings.Contains(err.Error(), "AuthorizationHeaderMalformed") ||
		!strings.Contains(err.Error(), "the region 'us-east-1' is wrong; expecting 'eu-west-1'") {
		t.Fatalf("ListBuckets signed for us-east-1: %v", err)
	}
	cli.env = append(cli.env, "AWS_DEFAULT_REGION=eu-west-1", "AWS_REGION=eu-west-1")
	bucket := testutil.UniqueName("region")
	cli.must("s3", "mb", "s3://"+bucket)
	t.Cleanup(func() { _, _ = cli.run("s3", "rb", "s3://"+bucket, "--force") })
	if out := cli.must("s3", "ls"); !strings.Contains(out, bucket) {
		t.Fatalf("ls signed for eu-west-1 lacks %s:\n%s", bucket, out)
	}
	// A presigned URL signed for us-east-1 names the region in the query.
	u := strings.TrimSpace(cli.must("--region", "us-east-1", "s3", "presign", "s3://"+bucket+"/k"))
	status, body := getURL(t, in.httpClient(), u)
	if status != http.StatusBadRequest || !bytes.Contains(body, []byte("<Code>AuthorizationQueryParametersError</Code>")) ||
		!bytes.Contains(body, []byte("<Region>eu-west-1</Region>")) {
		t.Fatalf("presigned for us-east-1: %d %s", status, body)
	}
}

// TestS3cmdSigV2 runs s3cmd with `signature_v2 = True` (every request
// signed "AWS AKID:signature", dates in x-amz-date) against dgp: bucket
// creation, a multipart upload (uploads, partNumber and uploadId
// sub-resources), a key with spaces, listings, get, a multi-object delete
// (the delete sub-resource) and signurl.
func TestS3cmdSigV2(t *testing.T) {
	bin := os.Getenv("DGP_TEST_S3CMD")
	if bin == "" {
		t.Skip("DGP_TEST_S3CMD not set (run through .ci/run)")
	}
	in := startInstance(t, nil, nil)
	rc := in.app.RootCredentials()
	home := t.TempDir()
	cfgFile := filepath.Join(home, "s3cfg")
	conf := "[default]\naccess_key = " + rc.AccessKeyID + "\nsecret_key = " + rc.SecretAccessKey +
		"\nhost_base = " + in.app.Addr() + "\nhost_bucket = " + in.app.Addr() +
		"\nuse_https = False\nbucket_location = us-east-1\nsignature_v2 = True\nmultipart_chunk_size_mb = 5\n" +
		"guess_mime_type = False\nprogress_meter = False\n"
	testutil.Must(t, os.WriteFile(cfgFile, []byte(conf), 0o600), "write s3cfg")
	s3cmd := func(args ...string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, bin, append([]string{"-c", cfgFile, "--debug"}, args...)...)
		cmd.Env = testutil.Env("HOME=" + home)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("s3cmd %s: %v\n%.4000s", strings.Join(args, " "), err, lastLines(string(out), 60))
		}
		if !strings.Contains(string(out), "Using signature v2") {
			t.Fatalf("s3cmd %s did not sign with SigV2", strings.Join(args, " "))
		}
		return string(out)
	}
	bucket := testutil.UniqueName("s3cmd-v2")
	s3url := "s3://" + bucket
	s3cmd("mb", s3url)
	t.Cleanup(func() {
		cmd := exec.Command(bin, "-c", cfgFile, "rb", "--recursive", "--force", s3url)
		cmd.Env = testutil.Env("HOME=" + home)
		_ = cmd.Run()
	})

	dir := t.TempDir()
	big := writeRandomFile(t, filepath.Join(dir, "big.bin"), 12<<20) // 3 parts of 5 MiB
	small := writeRandomFile(t, filepath.Join(dir, "small file.txt"), 3000)
	s3cmd("put", filepath.Join(dir, "big.bin"), s3url+"/big.bin")
	s3cmd("put", filepath.Join(dir, "small file.txt"), s3url+"/dir/small file.txt")
	s3cmd("get", s3url+"/big.bin", filepath.Join(dir, "big.down"))
	s3cmd("get", s3url+"/dir/small file.txt", filepath.Join(dir, "small.down"))
	for name, want := range map[string][]byte{"big.down": big, "small.down": small} {
		got, err := os.ReadFile(filepath.Join(dir, name))
		testutil.Must(t, err, "read %s", name)
		if !bytes.Equal(got, want) {
			t.Fatalf("%s: %d bytes, differs from the upload", name, len(got))
		}
	}
	if ls := s3cmd("ls", "-r", s3url); !strings.Contains(ls, s3url+"/big.bin") || !strings.Contains(ls, s3url+"/dir/small file.txt") {
		t.Fatalf("ls -r:\n%s", ls)
	}
	if ls := s3cmd("ls"); !strings.Contains(ls, s3url) {
		t.Fatalf("ls buckets lacks %s:\n%s", s3url, ls)
	}

	cmd := exec.Command(bin, "-c", cfgFile, "signurl", s3url+"/dir/small file.txt", "+300")
	cmd.Env = testutil.Env("HOME=" + home)
	out, err := cmd.Output()
	testutil.Must(t, err, "s3cmd signurl")
	u := strings.TrimSpace(string(out))
	if !strings.Contains(u, "AWSAccessKeyId=") || !strings.Contains(u, "Signature=") {
		t.Fatalf("signurl printed %q", u)
	}
	status, body := getURL(t, in.httpClient(), u)
	if status != http.StatusOK || !bytes.Equal(body, small) {
		t.Fatalf("signurl GET %s: %d, %d bytes", u, status, len(body))
	}

	s3cmd("del", "--recursive", "--force", s3url+"/")
	left, err := in.rootClient().ListObjectsV2(context.Background(), &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	testutil.Must(t, err, "list after del")
	if len(left.Contents) != 0 {
		t.Fatalf("%d objects left after del --recursive", len(left.Contents))
	}
}

// lastLines returns the last n lines of s.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
