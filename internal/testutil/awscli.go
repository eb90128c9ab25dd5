package testutil

import (
	"context"
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// AWSCLIRunner runs the real AWS CLI v2 (AWSCLI) with one key pair, in an
// environment of its own: the test's environment (Env) with the keys,
// region us-east-1, no pager, no instance metadata, and HOME and the
// CLI's config and credentials files in a temporary directory, so nothing
// of the machine's AWS configuration leaks in.
type AWSCLIRunner struct {
	Bin string
	Env []string
}

// NewAWSCLI returns a runner for the key pair; extraEnv (KEY=value) is
// added last. It skips the test when no AWS CLI is configured.
func NewAWSCLI(t testing.TB, accessKey, secretKey string, extraEnv ...string) *AWSCLIRunner {
	t.Helper()
	bin := AWSCLI(t)
	home := t.TempDir()
	env := Env(append([]string{
		"AWS_ACCESS_KEY_ID=" + accessKey,
		"AWS_SECRET_ACCESS_KEY=" + secretKey,
		"AWS_DEFAULT_REGION=us-east-1",
		"AWS_CONFIG_FILE=" + filepath.Join(home, "config"),
		"AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(home, "credentials"),
		"AWS_PAGER=",
		"AWS_EC2_METADATA_DISABLED=true",
		"HOME=" + home,
	}, extraEnv...)...)
	return &AWSCLIRunner{Bin: bin, Env: env}
}

// Run executes `aws --endpoint-url endpoint args...` (for at most five
// minutes) and returns its combined output and error.
//
// A CLI that dies of SIGSEGV or SIGABRT is run again, twice at most: Debian's
// AWS CLI v2 (its CRT transfer client) now and then crashes during a large
// HTTPS download (seen in CI on a 'signal: segmentation fault' of `aws s3 cp`
// that had written nothing wrong). A crash is the client's, not an answer of
// the server under test; every other failure is returned as it is, and the
// commands the tests run (copies, listings, deletes) may be repeated.
func (c *AWSCLIRunner) Run(endpoint string, args ...string) (string, error) {
	var crashes []string
	for {
		out, err := c.runOnce(endpoint, args...)
		if !clientCrashed(err) || len(crashes) == 2 {
			if len(crashes) > 0 {
				out = "(the AWS CLI crashed before: " + strings.Join(crashes, "; ") + ")\n" + out
			}
			return out, err
		}
		crashes = append(crashes, err.Error())
	}
}

func (c *AWSCLIRunner) runOnce(endpoint string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, c.Bin, append([]string{"--endpoint-url", endpoint}, args...)...)
	cmd.Env = c.Env
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// clientCrashed reports whether err is the CLI dying of SIGSEGV or SIGABRT.
func clientCrashed(err error) bool {
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		return false
	}
	ws, ok := ee.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && (ws.Signal() == syscall.SIGSEGV || ws.Signal() == syscall.SIGABRT)
}
