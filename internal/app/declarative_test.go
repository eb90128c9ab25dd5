//go:build integration

package app

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/dgp-proxy/dgp/internal/config"
	"github.com/dgp-proxy/dgp/internal/configsync"
	"github.com/dgp-proxy/dgp/internal/testutil"
)

// The declarative IAM issue's check with the AWS CLI: two users in a group
// use their keys; the YAML changes (group renamed, user dropped, secret
// rotated) and a reload (what SIGHUP calls) applies it without a restart;
// a broken YAML leaves the running state untouched.
func TestDeclarativeIAMWithAWSCLI(t *testing.T) {
	bucket := testutil.UniqueName("shared")
	d := startDecl(t, "", "", fmt.Sprintf(twoUsersIAM, bucket), baseEnv())
	rc := d.app.RootCredentials()
	root := d.cli(t, rc.AccessKeyID, rc.SecretAccessKey)
	root.must("s3", "mb", "s3://"+bucket)
	dir := t.TempDir()
	writeRandomFile(t, filepath.Join(dir, "f.bin"), 3000)
	root.must("s3", "cp", filepath.Join(dir, "f.bin"), "s3://"+bucket+"/docs/f.bin")

	alice := d.cli(t, aliceKey, aliceSecret1)
	bob := d.cli(t, bobKey, bobSecret)
	if out := alice.must("s3", "ls", "s3://"+bucket+"/docs/"); !strings.Contains(out, "f.bin") {
		t.Fatalf("alice ls:\n%s", out)
	}
	bob.must("s3", "cp", "s3://"+bucket+"/docs/f.bin", filepath.Join(dir, "bob.bin"))
	alice.must("s3", "cp", filepath.Join(dir, "f.bin"), "s3://"+bucket+"/alice/f.bin")
	if out, err := bob.run("s3", "cp", filepath.Join(dir, "f.bin"), "s3://"+bucket+"/alice/g.bin"); err == nil || !strings.Contains(out, "AccessDenied") {
		t.Fatalf("bob writing under alice/ should be AccessDenied: %v\n%s", err, out)
	}

	// Rename the group, drop bob, rotate alice's secret, add carol.
	d.rewrite(t, fmt.Sprintf(changedIAM, bucket))
	d.env.set("ALICE_SECRET", aliceSecret2)
	testutil.Must(t, d.reload(t), "reload")

	if out, err := bob.run("s3", "ls", "s3://"+bucket); err == nil || !strings.Contains(out, "InvalidAccessKeyId") {
		t.Fatalf("dropped user bob still works: %v\n%s", err, out)
	}
	if out, err := alice.run("s3", "ls", "s3://"+bucket); err == nil || !strings.Contains(out, "SignatureDoesNotMatch") {
		t.Fatalf("alice's old secret still works: %v\n%s", err, out)
	}
	alice2 := d.cli(t, aliceKey, aliceSecret2)
	alice2.must("s3", "cp", filepath.Join(dir, "f.bin"), "s3://"+bucket+"/alice/h.bin")
	carol := d.cli(t, carolKey, carolSecret)
	if out := carol.must("s3", "ls", "s3://"+bucket+"/alice/"); !strings.Contains(out, "h.bin") {
		t.Fatalf("carol (renamed group) ls:\n%s", out)
	}

	// A broken YAML leaves everything as it is.
	gen := d.app.syncer.Current().Generation()
	d.rewrite(t, "  iam_mode: declarative\n  iam:\n    users: {broken\n")
	if err := d.reload(t); err == nil {
		t.Fatal("a broken file reloaded")
	}
	if g := d.app.syncer.Current().Generation(); g != gen {
		t.Fatalf("generation %d -> %d after a broken reload", gen, g)
	}
	alice2.must("s3", "ls", "s3://"+bucket)
	carol.must("s3", "ls", "s3://"+bucket)
	if out, err := bob.run("s3", "ls", "s3://"+bucket); err == nil || !strings.Contains(out, "InvalidAccessKeyId") {
		t.Fatalf("bob came back after a broken reload: %v\n%s", err, out)
	}
}

// The real binary: `dgp serve --config FILE` with declarative IAM; the
// file changes and a real SIGHUP applies it; a broken file and SIGHUP keep
// the running state; then `dgp iam export` and `dgp iam plan` on the same
// instance report no change (exit 0), and an unapplied edit exit 2.
func TestDeclarativeSIGHUPRealBinary(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "dgp")
	build := exec.Command("go", "build", "-o", bin, "github.com/dgp-proxy/dgp/cmd/dgp")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	dir := t.TempDir()
	dataDir := filepath.Join(dir, "data")
	port := testutil.FreePort(t)
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	bucket := testutil.UniqueName("shared")
	cfgFile := filepath.Join(dir, "dgp.yaml")
	advanced := "  log_format: json\n"
	writeDeclConfig(t, cfgFile, dataDir, advanced, fmt.Sprintf(twoUsersIAM, bucket))
	// Both secrets of alice are in the environment from the start: the
	// rotation switches the variable the file names.
	env := testutil.Env("ALICE_SECRET="+aliceSecret1, "ALICE_SECRET_NEXT="+aliceSecret2, "BOB_SECRET="+bobSecret)

	logs := &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "serve", "--config", cfgFile, "--listen", fmt.Sprintf("127.0.0.1:%d", port))
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = logs, logs
	testutil.Must(t, cmd.Start(), "start dgp")
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-exited:
			if err != nil {
				t.Errorf("dgp exited with %v\nlogs:\n%s", err, logs)
			}
		case <-time.After(30 * time.Second):
			t.Errorf("dgp did not stop on SIGTERM\nlogs:\n%s", logs)
			cancel()
			<-exited
		}
	}
	t.Cleanup(stop)
	testutil.RetryUntil(t, 30*time.Second, func() error {
		select {
		case err := <-exited:
			exited <- err
			t.Fatalf("dgp exited: %v\n%s", err, logs)
		default:
		}
		resp, err := http.Get(url + "/_/ready")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("ready: %s", resp.Status)
		}
		return nil
	})

	client := func(key, secret string) *s3.Client {
		return s3.New(s3.Options{
			Region: "us-east-1", BaseEndpoint: aws.String(url), UsePathStyle: true,
			Credentials:                credentials.NewStaticCredentialsProvider(key, secret, ""),
			RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
			ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
		})
	}
	list := func(key, secret string) string {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_, err := client(key, secret).ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
		return s3Code(err)
	}
	_, err := client("TESTROOTACCESSKEY000", "testRootSecretKey0000000000000000000000000").
		CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)})
	testutil.Must(t, err, "create bucket")
	if a, b := list(aliceKey, aliceSecret1), list(bobKey, bobSecret); a != "" || b != "" {
		t.Fatalf("before the change: alice %q bob %q", a, b)
	}

	// The change, then a real SIGHUP.
	changed := strings.Replace(fmt.Sprintf(changedIAM, bucket), "${ALICE_SECRET}", "${ALICE_SECRET_NEXT}", 1)
	writeDeclConfig(t, cfgFile, dataDir, advanced, changed)
	testutil.Must(t, cmd.Process.Signal(syscall.SIGHUP), "SIGHUP")
	testutil.RetryUntil(t, 30*time.Second, func() error {
		if c := list(bobKey, bobSecret); c != "InvalidAccessKeyId" {
			return fmt.Errorf("bob: %q", c)
		}
		return nil
	})
	for what, got := range map[string][2]string{
		"alice's old secret": {list(aliceKey, aliceSecret1), "SignatureDoesNotMatch"},
		"alice's new secret": {list(aliceKey, aliceSecret2), ""},
		"carol":              {list(carolKey, carolSecret), ""},
	} {
		if got[0] != got[1] {
			t.Fatalf("%s after SIGHUP: %q, want %q", what, got[0], got[1])
		}
	}
	if !strings.Contains(logs.String(), `"users_deleted":["bob"]`) {
		t.Fatalf("no reload summary in the logs:\n%s", logs)
	}

	// A broken file and SIGHUP: refused, logged, nothing changes.
	writeDeclConfig(t, cfgFile, dataDir, advanced, "  iam_mode: declarative\n  iam: [broken\n")
	testutil.Must(t, cmd.Process.Signal(syscall.SIGHUP), "SIGHUP")
	testutil.RetryUntil(t, 30*time.Second, func() error {
		if !strings.Contains(logs.String(), "reload refused") {
			return errors.New("no refusal logged yet")
		}
		return nil
	})
	if a, c := list(aliceKey, aliceSecret2), list(carolKey, carolSecret); a != "" || c != "" {
		t.Fatalf("after a broken reload: alice %q carol %q", a, c)
	}
	writeDeclConfig(t, cfgFile, dataDir, advanced, changed) // the good file again (not reloaded)

	// export then plan on the same (running) instance: no change.
	dgp := func(extraEnv []string, args ...string) (string, string, int) {
		t.Helper()
		var out, errOut strings.Builder
		c := exec.Command(bin, args...)
		c.Env = append(append([]string(nil), env...), extraEnv...)
		c.Stdout, c.Stderr = &out, &errOut
		err := c.Run()
		var ee *exec.ExitError
		switch {
		case err == nil:
			return out.String(), errOut.String(), 0
		case errors.As(err, &ee):
			return out.String(), errOut.String(), ee.ExitCode()
		}
		t.Fatalf("dgp %v: %v", args, err)
		return "", "", -1
	}
	if out, errOut, code := dgp(nil, "iam", "plan", "--config", cfgFile); code != 0 || !strings.HasPrefix(out, "No changes") {
		t.Fatalf("plan of the applied file: exit %d\n%s%s", code, out, errOut)
	}
	exported, errOut, code := dgp(nil, "iam", "export", "--config", cfgFile)
	if code != 0 || strings.Contains(exported, aliceSecret2) {
		t.Fatalf("export: exit %d\n%s%s", code, exported, errOut)
	}
	exportFile := filepath.Join(dir, "exported.yaml")
	testutil.Must(t, os.WriteFile(exportFile, []byte(exported+"advanced:\n  data_dir: "+dataDir+"\n"), 0o600), "write export")
	exportEnv := []string{"DGP_BOOTSTRAP_PASSWORD=test-bootstrap-password",
		"IAM_USER_ALICE_SECRET=" + aliceSecret2, "IAM_USER_CAROL_SECRET=" + carolSecret}
	if out, errOut, code := dgp(exportEnv, "iam", "plan", "--config", exportFile); code != 0 || !strings.HasPrefix(out, "No changes") {
		t.Fatalf("plan of the export: exit %d\n%s%s\nexport:\n%s", code, out, errOut, exported)
	}

	// An edit not yet applied: exit 2, field-level, no secrets.
	writeDeclConfig(t, cfgFile, dataDir, advanced, fmt.Sprintf(changedIAM, bucket)) // back to ALICE_SECRET
	out, errOut, code := dgp(nil, "iam", "plan", "--config", cfgFile)
	if code != 2 || !strings.Contains(out, "secret_access_key: secret changed") || strings.Contains(out, aliceSecret1) {
		t.Fatalf("plan of an unapplied edit: exit %d\n%s%s", code, out, errOut)
	}
	stop()
}

// A declarative instance in a fleet with a sync bucket on MinIO: its YAML
// is its truth. It does not apply the writer's DB (at startup or on
// sync-now), and publishes nothing (the bucket's object is untouched).
func TestDeclarativeIgnoresSyncBucket(t *testing.T) {
	f := newFleet(t, false)
	writer := f.start(nil)
	wadm := writer.admin(t)
	wadm.login(writer.cfg.Access.BootstrapPassword)
	mallory := wadm.createUser("mallory", allow([]string{"*"}, "*"))

	head := func() string {
		out, err := f.minioClient().HeadObject(context.Background(), &s3.HeadObjectInput{
			Bucket: aws.String(f.bucket), Key: aws.String(config.DefaultConfigSyncObjectKey)})
		testutil.Must(t, err, "head sync object")
		return aws.ToString(out.ETag)
	}
	etag := head()

	decl := f.start(func(c *config.Config) {
		c.Access.IAMMode = config.IAMModeDeclarative
		c.Access.IAM.Users = []config.IAMUser{{Name: "alice", AccessKeyID: aliceKey, SecretAccessKey: aliceSecret1,
			Permissions: []config.Rule{{Effect: "Allow", Actions: []string{"list"}, Resources: []string{"*"}}}}}
	})
	bucket := testutil.UniqueName("data")
	decl.mkBucket(t, bucket)
	if code := decl.listAs(t, aliceKey, aliceSecret1, bucket); code != "" {
		t.Fatalf("alice on the declarative instance: %q", code)
	}
	if code := decl.listAs(t, mallory.AccessKeyID, mallory.SecretAccessKey, bucket); code != "InvalidAccessKeyId" {
		t.Fatalf("the writer's user on the declarative instance: %q", code)
	}
	dadm := decl.admin(t)
	dadm.login(decl.cfg.Access.BootstrapPassword)
	if names := dadm.userNames(); len(names) != 1 || names[0] != "alice" {
		t.Fatalf("declarative instance users: %v", names)
	}

	// Another change on the writer; sync-now on the declarative instance.
	wadm.createUser("trent", allow([]string{"read"}, "*"))
	var res configsync.PullResult
	dadm.must(http.StatusOK, http.MethodPost, "/config/sync-now", nil, &res)
	if res.Status != configsync.StatusDeclarative || res.Downloaded {
		t.Fatalf("sync-now: %+v", res)
	}
	if names := dadm.userNames(); len(names) != 1 || names[0] != "alice" {
		t.Fatalf("after sync-now: %v", names)
	}
	if code := writer.listAs(t, aliceKey, aliceSecret1, bucket); code != "InvalidAccessKeyId" {
		t.Fatalf("the declarative instance's user reached the writer: %q", code)
	}
	if got := head(); got == etag {
		t.Fatal("the writer's second change did not reach the bucket (test setup)")
	}
	etag = head()
	// A logout on the declarative instance is local too.
	dadm.must(http.StatusOK, http.MethodPost, "/logout", nil, nil)
	if got := head(); got != etag {
		t.Fatal("the declarative instance wrote the sync object")
	}
}
