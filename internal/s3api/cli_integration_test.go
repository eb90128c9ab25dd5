//go:build integration

package s3api

import (
	"bytes"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dgp-proxy/dgp/internal/testutil"
)

// TestAWSCLI drives the S3 API with the AWS CLI v2 (the seed guide's
// client), over plain HTTP (signed payloads) and TLS (streaming uploads with
// trailing checksums): ls, mb, cp up and down (multipart above 8 MiB), sync
// listing, rm --recursive, rb.
func TestAWSCLI(t *testing.T) {
	cli := testutil.AWSCLI(t)
	for _, useTLS := range []bool{false, true} {
		name := map[bool]string{false: "http", true: "https"}[useTLS]
		t.Run(name, func(t *testing.T) {
			e := newTestEnv(t, useTLS)
			dir := t.TempDir()
			env := append(os.Environ(),
				"AWS_ACCESS_KEY_ID="+rootAK, "AWS_SECRET_ACCESS_KEY="+rootSK, "AWS_DEFAULT_REGION=us-east-1",
				"AWS_CONFIG_FILE="+filepath.Join(dir, "none"), "AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(dir, "none"),
				"AWS_EC2_METADATA_DISABLED=true", "AWS_PAGER=")
			if useTLS {
				ca := filepath.Join(dir, "ca.pem")
				pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: e.srv.Certificate().Raw})
				if err := os.WriteFile(ca, pemBytes, 0o600); err != nil {
					t.Fatal(err)
				}
				env = append(env, "AWS_CA_BUNDLE="+ca)
			}
			run := func(args ...string) string {
				t.Helper()
				cmd := exec.Command(cli, append([]string{"--endpoint-url", e.srv.URL}, args...)...)
				cmd.Env = env
				var out, stderr bytes.Buffer
				cmd.Stdout, cmd.Stderr = &out, &stderr
				if err := cmd.Run(); err != nil {
					t.Fatalf("aws %v: %v\n%s%s", args, err, out.String(), stderr.String())
				}
				return out.String()
			}

			run("s3", "mb", "s3://cli-bkt")
			if out := run("s3", "ls"); !strings.Contains(out, "cli-bkt") {
				t.Fatalf("aws s3 ls: %q", out)
			}
			big := filepath.Join(dir, "big.bin")
			data := pattern(20 << 20)
			if err := os.WriteFile(big, data, 0o600); err != nil {
				t.Fatal(err)
			}
			small := filepath.Join(dir, "small.txt")
			if err := os.WriteFile(small, []byte("hello cli"), 0o600); err != nil {
				t.Fatal(err)
			}
			run("s3", "cp", big, "s3://cli-bkt/data/big.bin")
			run("s3", "cp", small, "s3://cli-bkt/data/sub dir/small.txt")
			out := run("s3", "ls", "--recursive", "s3://cli-bkt/")
			if !strings.Contains(out, "data/big.bin") || !strings.Contains(out, "data/sub dir/small.txt") || !strings.Contains(out, "20971520") {
				t.Fatalf("aws s3 ls --recursive: %q", out)
			}
			back := filepath.Join(dir, "back.bin")
			run("s3", "cp", "s3://cli-bkt/data/big.bin", back)
			if got, err := os.ReadFile(back); err != nil || !bytes.Equal(got, data) {
				t.Fatalf("downloaded %d bytes (%v), want %d", len(got), err, len(data))
			}
			run("s3", "cp", "s3://cli-bkt/data/big.bin", "s3://cli-bkt/copy/big.bin")
			out = run("s3api", "head-object", "--bucket", "cli-bkt", "--key", "copy/big.bin")
			if !strings.Contains(out, "20971520") {
				t.Fatalf("head-object of the copy: %q", out)
			}
			run("s3", "rm", "--recursive", "s3://cli-bkt/")
			if out := run("s3", "ls", "--recursive", "s3://cli-bkt/"); strings.TrimSpace(out) != "" {
				t.Fatalf("objects left after rm --recursive: %q", out)
			}
			run("s3", "rb", "s3://cli-bkt")
			if out := run("s3", "ls"); strings.Contains(out, "cli-bkt") {
				t.Fatalf("bucket left after rb: %q", out)
			}
		})
	}
}
