//go:build integration

package sigv4

import (
	"bytes"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// The AWS CLI (DGP_TEST_AWS_CLI) uploading to a server that authenticates
// with Verify: over plain HTTP it signs the payload hash; over TLS it
// streams aws-chunked with a trailing checksum.
func TestAWSCLIPutObject(t *testing.T) {
	cli := os.Getenv("DGP_TEST_AWS_CLI")
	if cli == "" {
		t.Skip("DGP_TEST_AWS_CLI not set")
	}
	if _, err := os.Stat(cli); err != nil {
		t.Fatalf("DGP_TEST_AWS_CLI: %v", err)
	}
	dir := t.TempDir()
	data := pattern(2<<20+777, 21)
	file := filepath.Join(dir, "upload.bin")
	if err := os.WriteFile(file, data, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tls := range []bool{false, true} {
		name := map[bool]string{false: "http", true: "https"}[tls]
		t.Run(name, func(t *testing.T) {
			srv := newVerifyServer(t, tls, NewVerifier(time.Now))
			env := append(os.Environ(),
				"AWS_ACCESS_KEY_ID="+testAccess,
				"AWS_SECRET_ACCESS_KEY="+testSecret,
				"AWS_DEFAULT_REGION="+testRegion,
				"AWS_CONFIG_FILE="+filepath.Join(dir, "none"),
				"AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(dir, "none"),
			)
			if tls {
				ca := filepath.Join(dir, "ca.pem")
				pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
				if err := os.WriteFile(ca, pemBytes, 0o600); err != nil {
					t.Fatal(err)
				}
				env = append(env, "AWS_CA_BUNDLE="+ca)
			}
			for _, args := range [][]string{
				{"s3api", "put-object", "--bucket", "bucket", "--key", "dir/a key+plus.bin", "--body", file},
				{"s3", "cp", file, "s3://bucket/copied/ü.bin"},
			} {
				cmd := exec.Command(cli, append(args, "--endpoint-url", srv.URL)...)
				cmd.Env = env
				out, err := cmd.CombinedOutput()
				if err != nil {
					t.Fatalf("%v: %v\n%s", args, err, out)
				}
				got := srv.last(t)
				t.Logf("%s %v: payload mode %s", name, args[:2], got.mode)
				if got.code != "" || !bytes.Equal(got.body, data) {
					t.Fatalf("server saw code %q and %d bytes (want %d)", got.code, len(got.body), len(data))
				}
			}

			// A wrong secret is refused.
			cmd := exec.Command(cli, "s3api", "put-object", "--bucket", "bucket", "--key", "k", "--body", file, "--endpoint-url", srv.URL)
			cmd.Env = append(env, "AWS_SECRET_ACCESS_KEY=wrong")
			if out, err := cmd.CombinedOutput(); err == nil || !bytes.Contains(out, []byte("SignatureDoesNotMatch")) {
				t.Fatalf("wrong secret: err %v, output %s", err, out)
			}
		})
	}
}
