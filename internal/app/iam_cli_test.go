//go:build integration

package app

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dgp-proxy/dgp/internal/testutil"
)

// The IAM issue's end-to-end check: log in, create a user allowed read and
// list on one bucket, then with that user's keys `aws s3 ls` and `cp` down
// work and `cp` up is AccessDenied; disabling the user rejects the same keys
// at once; rotating keys stops the old ones.
func TestIAMUserWithAWSCLI(t *testing.T) {
	for _, scheme := range []string{"http", "https"} {
		t.Run(scheme, func(t *testing.T) {
			var ca *testutil.TestCA
			if scheme == "https" {
				ca = testutil.NewTestCA(t)
			}
			in := startInstance(t, ca, nil)
			rc := in.app.RootCredentials()
			root := in.cli(t, rc.AccessKeyID, rc.SecretAccessKey)
			dir := t.TempDir()

			shared := testutil.UniqueName("shared")
			other := testutil.UniqueName("other")
			root.must("s3", "mb", "s3://"+shared)
			root.must("s3", "mb", "s3://"+other)
			content := writeRandomFile(t, filepath.Join(dir, "report.csv"), 5000)
			root.must("s3", "cp", filepath.Join(dir, "report.csv"), "s3://"+shared+"/reports/report.csv")
			root.must("s3", "cp", filepath.Join(dir, "report.csv"), "s3://"+other+"/secret.csv")

			adm := in.admin(t)
			if got := adm.do(http.MethodGet, "/users", nil, nil); got != http.StatusUnauthorized {
				t.Fatalf("users without a session: %d", got)
			}
			adm.login(in.cfg.Access.BootstrapPassword)
			u := adm.createUser("reader", allow([]string{"read", "list"}, shared, shared+"/*"))
			if !contains(adm.userNames(), "reader") {
				t.Fatal("new user not listed")
			}
			var listed []apiUser
			adm.must(http.StatusOK, http.MethodGet, "/users", nil, &listed)
			for _, l := range listed {
				if l.SecretAccessKey == u.SecretAccessKey {
					t.Fatal("GET /users shows a secret")
				}
			}

			user := in.cli(t, u.AccessKeyID, u.SecretAccessKey)
			out := user.must("s3", "ls")
			if !strings.Contains(out, shared) || strings.Contains(out, other) {
				t.Fatalf("user's bucket list should show only %s:\n%s", shared, out)
			}
			if out := user.must("s3", "ls", "s3://"+shared+"/reports/"); !strings.Contains(out, "report.csv") {
				t.Fatalf("user ls:\n%s", out)
			}
			user.must("s3", "cp", "s3://"+shared+"/reports/report.csv", filepath.Join(dir, "down.csv"))
			got, err := os.ReadFile(filepath.Join(dir, "down.csv"))
			testutil.Must(t, err, "read download")
			if string(got) != string(content) {
				t.Fatal("download differs")
			}
			if out, err := user.run("s3", "cp", filepath.Join(dir, "report.csv"), "s3://"+shared+"/up.csv"); err == nil || !strings.Contains(out, "AccessDenied") {
				t.Fatalf("upload should be AccessDenied: err=%v\n%s", err, out)
			}
			if out, err := user.run("s3", "cp", "s3://"+other+"/secret.csv", filepath.Join(dir, "x")); err == nil || !strings.Contains(out, "403") {
				t.Fatalf("other bucket should be denied: err=%v\n%s", err, out)
			}

			// Disable: the same keys are refused at once.
			adm.must(http.StatusOK, http.MethodPut, "/users/"+u.ID, map[string]any{"enabled": false}, nil)
			if out, err := user.run("s3", "ls", "s3://"+shared); err == nil || !strings.Contains(out, "InvalidAccessKeyId") {
				t.Fatalf("disabled user's keys still work: err=%v\n%s", err, out)
			}
			adm.must(http.StatusOK, http.MethodPut, "/users/"+u.ID, map[string]any{"enabled": true}, nil)
			user.must("s3", "ls", "s3://"+shared)

			// Rotate: the old keys stop, the new ones work.
			var rotated apiUser
			adm.must(http.StatusOK, http.MethodPost, "/users/"+u.ID+"/rotate-keys", nil, &rotated)
			if rotated.AccessKeyID == u.AccessKeyID || rotated.SecretAccessKey == "" {
				t.Fatalf("rotate-keys answer: %+v", rotated)
			}
			if out, err := user.run("s3", "ls", "s3://"+shared); err == nil || !strings.Contains(out, "InvalidAccessKeyId") {
				t.Fatalf("old keys still work after rotation: err=%v\n%s", err, out)
			}
			in.cli(t, rotated.AccessKeyID, rotated.SecretAccessKey).must("s3", "ls", "s3://"+shared)

			// The break-glass root keeps working whatever IAM holds.
			adm.must(http.StatusNoContent, http.MethodDelete, "/users/"+u.ID, nil, nil)
			root.must("s3", "ls")
		})
	}
}
