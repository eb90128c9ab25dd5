//go:build integration

package app

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/dgp-proxy/dgp/internal/config"
	"github.com/dgp-proxy/dgp/internal/testutil"
)

// fleet is a set of in-process instances sharing one sync bucket on MinIO.
type fleet struct {
	t      *testing.T
	minio  testutil.MinIO
	bucket string
	ca     *testutil.TestCA
}

func newFleet(t *testing.T, useTLS bool) *fleet {
	minio := testutil.RequireMinIO(t)
	f := &fleet{t: t, minio: minio, bucket: testutil.UniqueName("sync")}
	if useTLS {
		f.ca = testutil.NewTestCA(t)
	}
	c := f.minioClient()
	_, err := c.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(f.bucket)})
	testutil.Must(t, err, "create sync bucket")
	t.Cleanup(func() {
		ctx := context.Background()
		out, _ := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(f.bucket)})
		if out != nil {
			for _, o := range out.Contents {
				_, _ = c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(f.bucket), Key: o.Key})
			}
		}
		_, _ = c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String(f.bucket)})
	})
	return f
}

func (f *fleet) minioClient() *s3.Client {
	return s3.New(s3.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(f.minio.Endpoint),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(f.minio.AccessKey, f.minio.SecretKey, ""),
	})
}

// start starts one instance of the fleet; every instance shares the
// bootstrap password and the sync bucket, and uses MinIO as storage too.
func (f *fleet) start(mutate func(*config.Config)) *instance {
	return startInstance(f.t, f.ca, func(c *config.Config) {
		c.Storage.S3 = f.minio.Endpoint
		c.Storage.Region = "us-east-1"
		c.Storage.AccessKeyID = f.minio.AccessKey
		c.Storage.SecretAccessKey = f.minio.SecretKey
		c.Storage.ForcePathStyle = true
		c.Advanced.ConfigSyncBucket = f.bucket
		c.Advanced.ConfigSyncPollInterval = time.Hour // events and sync-now only, unless a test says so
		if mutate != nil {
			mutate(c)
		}
	})
}

// curl runs the real curl with the cookie file, trusting the fleet's CA
// through CURL_CA_BUNDLE so the seed guide's commands run as written.
func (f *fleet) curl(dir string, args ...string) string {
	f.t.Helper()
	env := []string{}
	if f.ca != nil {
		env = append(env, "CURL_CA_BUNDLE="+f.ca.CAFile)
	}
	return testutil.Curl(f.t, dir, env, args...)
}

// The seed guide's Verify, as written, with curl and the AWS CLI, over
// HTTPS: a user created on the writer, sync-now on a reader, the reader
// lists the user, and the user's keys work against the reader. Then a
// second sync-now downloads nothing, and an instance started after the
// change has it before it serves.
func TestSeedVerify(t *testing.T) {
	testutil.AWSCLI(t)
	if _, err := exec.LookPath("curl"); err != nil {
		t.Fatal("curl is needed")
	}
	f := newFleet(t, true)
	writer := f.start(nil)
	reader := f.start(func(c *config.Config) { c.Advanced.ConfigSyncRole = config.SyncRoleReader })
	dir := t.TempDir() // curl's cookie file lives here

	// Log in (on the writer; sessions are valid on every instance).
	f.curl(dir, "-c", "cookies", "-H", "Content-Type: application/json",
		"-d", `{"password":"`+writer.cfg.Access.BootstrapPassword+`"}`, writer.app.URL()+"/_/api/admin/login")
	var user apiUser
	out := f.curl(dir, "-b", "cookies", "-H", "Content-Type: application/json",
		"-d", `{"name":"throwaway","permissions":[{"effect":"Allow","actions":["*"],"resources":["*"]}]}`,
		writer.app.URL()+"/_/api/admin/users")
	testutil.Must(t, json.Unmarshal([]byte(out), &user), "decode user %s", out)

	// 1. force a pull on the reader
	out = f.curl(dir, "-b", "cookies", "-X", "POST", reader.app.URL()+"/_/api/admin/config/sync-now")
	var pull struct {
		Downloaded bool   `json:"downloaded"`
		ETag       string `json:"etag"`
		Generation uint64 `json:"generation"`
		Status     string `json:"status"`
	}
	testutil.Must(t, json.Unmarshal([]byte(out), &pull), "decode sync-now %s", out)
	// The reader may already have it through an event; either way it must
	// now hold the writer's generation.
	if pull.Generation < 1 || pull.ETag == "" {
		t.Fatalf("sync-now: %s", out)
	}

	// 2. the reader sees the new user (jq '.[] | .name')
	out = f.curl(dir, "-b", "cookies", reader.app.URL()+"/_/api/admin/users")
	var users []map[string]any
	testutil.Must(t, json.Unmarshal([]byte(out), &users), "decode users")
	if len(users) != 1 || users[0]["name"] != "throwaway" {
		t.Fatalf("reader's users: %s", out)
	}
	if jq, err := exec.LookPath("jq"); err == nil {
		cmd := exec.Command("sh", "-c", "curl -sS -b cookies "+reader.app.URL()+"/_/api/admin/users | "+jq+" '.[] | .name'")
		cmd.Dir = dir
		cmd.Env = testutil.Env("CURL_CA_BUNDLE=" + f.ca.CAFile)
		b, err := cmd.CombinedOutput()
		if err != nil || strings.TrimSpace(string(b)) != `"throwaway"` {
			t.Fatalf("the seed's jq pipeline: %v %q", err, b)
		}
	}

	// 3. the new user's credentials work against the reader
	reader.cli(t, user.AccessKeyID, user.SecretAccessKey).must("s3", "ls")

	// A second sync-now finds nothing new.
	out = f.curl(dir, "-b", "cookies", "-X", "POST", reader.app.URL()+"/_/api/admin/config/sync-now")
	testutil.Must(t, json.Unmarshal([]byte(out), &pull), "decode")
	if pull.Downloaded {
		t.Fatalf("second sync-now downloaded again: %s", out)
	}

	// The reader refuses mutations and says where the writer is.
	code := reader.admin(t)
	code.login(reader.cfg.Access.BootstrapPassword)
	var e struct{ Error string }
	if got := code.do(http.MethodPost, "/users", map[string]any{"name": "nope"}, &e); got != http.StatusConflict || e.Error != "read_only_replica" {
		t.Fatalf("reader mutation: %d %+v", got, e)
	}

	// An instance started after the change has it before it serves.
	late := f.start(nil)
	late.cli(t, user.AccessKeyID, user.SecretAccessKey).must("s3", "ls")

	// The reader's logs have [config-sync] lines with the fields operators watch.
	if !strings.Contains(reader.logs.String(), `"component":"config-sync"`) {
		t.Fatal("no config-sync log lines on the reader")
	}
}

// With events off and a short poll, every instance converges on its own.
func TestPollAloneConverges(t *testing.T) {
	f := newFleet(t, false)
	a := f.start(nil)
	b := f.start(func(c *config.Config) { c.Advanced.ConfigSyncPollInterval = time.Second })
	adm := a.admin(t)
	adm.login(a.cfg.Access.BootstrapPassword)
	u := adm.createUser("polled", allow([]string{"list"}, "*"))
	client := b.s3Client(u.AccessKeyID, u.SecretAccessKey)
	testutil.RetryUntil(t, 30*time.Second, func() error {
		_, err := client.ListBuckets(context.Background(), &s3.ListBucketsInput{})
		return err
	})
	// Disabling propagates the same way.
	adm.must(http.StatusOK, http.MethodPut, "/users/"+u.ID, map[string]any{"enabled": false}, nil)
	testutil.RetryUntil(t, 30*time.Second, func() error {
		if _, err := client.ListBuckets(context.Background(), &s3.ListBucketsInput{}); err == nil {
			return errors.New("disabled key still accepted")
		}
		return nil
	})
}

// An instance with a wrong bootstrap secret refuses the fleet's DB, keeps
// its own state, says why, and harms nobody: the others keep working.
func TestWrongSecretInstanceHarmsNobody(t *testing.T) {
	f := newFleet(t, false)
	a := f.start(nil)
	adm := a.admin(t)
	adm.login(a.cfg.Access.BootstrapPassword)
	u1 := adm.createUser("first", allow([]string{"list"}, "*"))

	bad := f.start(func(c *config.Config) { c.Access.BootstrapPassword = "another-password-entirely" })
	badAdm := bad.admin(t)
	badAdm.login("another-password-entirely")
	var e struct{ Error string }
	if got := badAdm.do(http.MethodPost, "/config/sync-now", nil, &e); got == http.StatusOK {
		t.Fatal("sync-now with a wrong secret reported success")
	}
	if names := badAdm.userNames(); len(names) != 0 {
		t.Fatalf("wrong-secret instance applied a DB it cannot verify: %v", names)
	}
	if _, err := bad.s3Client(u1.AccessKeyID, u1.SecretAccessKey).ListBuckets(context.Background(), &s3.ListBucketsInput{}); err == nil {
		t.Fatal("wrong-secret instance accepted a key from a DB it cannot read")
	}
	// A mutation on the bad instance must not clobber the fleet's DB.
	if got := badAdm.do(http.MethodPost, "/users", map[string]any{"name": "intruder"}, &e); got < 400 {
		t.Fatalf("wrong-secret instance published: %d", got)
	}
	logs := bad.logs.String()
	if !strings.Contains(logs, "config-sync") || !(strings.Contains(logs, "secret") || strings.Contains(logs, "authentic")) {
		t.Fatalf("wrong-secret instance does not say why:\n%s", testutil.Tail(logs, 3000))
	}
	// The fleet goes on.
	u2 := adm.createUser("second", allow([]string{"list"}, "*"))
	c := f.start(nil)
	for _, u := range []apiUser{u1, u2} {
		if _, err := c.s3Client(u.AccessKeyID, u.SecretAccessKey).ListBuckets(context.Background(), &s3.ListBucketsInput{}); err != nil {
			t.Fatalf("user %s on a healthy instance: %v", u.Name, err)
		}
	}
}
