package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
	"github.com/rs/zerolog"

	"github.com/dgp-proxy/dgp/internal/config"
	"github.com/dgp-proxy/dgp/internal/configdb"
	"github.com/dgp-proxy/dgp/internal/testutil"
)

// declEnv is a mutable environment for an instance's config reloads.
type declEnv struct {
	mu sync.Mutex
	m  map[string]string
}

func (e *declEnv) set(k, v string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.m[k] = v
}

func (e *declEnv) unset(k string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.m, k)
}

func (e *declEnv) environ() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]string, 0, len(e.m))
	for k, v := range e.m {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

// declInstance is an in-process dgp whose configuration comes from a
// YAML file (access.iam), reloadable with App.Reload.
type declInstance struct {
	*instance
	file     string
	dataDir  string
	advanced string
	env      *declEnv
	stopOnce sync.Once
}

// stop stops the instance once (the harness's stop waits for a second
// Run result that never comes).
func (d *declInstance) stop() { d.stopOnce.Do(d.instance.stop) }

// declConfigHeader is the non-IAM part of the test configuration: %[1]s
// is the data dir, %[2]s more lines of the advanced section.
const declConfigHeader = `advanced:
  data_dir: %[1]s
  listen_addr: 127.0.0.1:0
%[2]saccess:
  access_key_id: TESTROOTACCESSKEY000
  secret_access_key: testRootSecretKey0000000000000000000000000
  bootstrap_password: test-bootstrap-password
`

// writeDeclConfig writes the header (with the advanced lines) plus iam
// (YAML lines under access:, indented by two spaces) to file.
func writeDeclConfig(t *testing.T, file, dataDir, advanced, iam string) {
	t.Helper()
	body := fmt.Sprintf(declConfigHeader, dataDir, advanced) + iam
	testutil.Must(t, os.WriteFile(file, []byte(body), 0o600), "write config")
}

// startDecl starts an instance from a config file holding iam and the
// extra advanced lines, in dataDir ("" for a new one), with env as its
// environment.
func startDecl(t *testing.T, dataDir, advanced, iam string, env map[string]string) *declInstance {
	t.Helper()
	if dataDir == "" {
		dataDir = t.TempDir()
	}
	file := filepath.Join(t.TempDir(), "dgp.yaml")
	writeDeclConfig(t, file, dataDir, advanced, iam)
	e := &declEnv{m: map[string]string{}}
	for k, v := range env {
		e.set(k, v)
	}
	cfg, _, err := config.LoadEnviron(file, e.environ())
	if err != nil {
		t.Fatalf("test config invalid: %v", err)
	}
	logs := &syncBuffer{}
	logger := zerolog.New(logs).With().Timestamp().Logger().Level(zerolog.DebugLevel)
	ctx, cancel := context.WithCancel(context.Background())
	a, err := New(ctx, Options{Config: cfg, Logger: logger, Stderr: io.Discard, ConfigFile: file, Environ: e.environ})
	if err != nil {
		cancel()
		t.Fatalf("start dgp: %v", err)
	}
	in := &instance{app: a, cfg: cfg, logs: logs, cancel: cancel, done: make(chan error, 1)}
	go func() { in.done <- a.Run(ctx) }()
	d := &declInstance{instance: in, file: file, dataDir: dataDir, advanced: advanced, env: e}
	t.Cleanup(d.stop)
	return d
}

// rewrite replaces the IAM part of the config file.
func (d *declInstance) rewrite(t *testing.T, iam string) {
	t.Helper()
	writeDeclConfig(t, d.file, d.dataDir, d.advanced, iam)
}

// started waits until the startup reconcile has run and returns the
// snapshot then.
func (d *declInstance) started() *configdb.State {
	<-d.app.decl.started
	return d.app.syncer.Current()
}

func (d *declInstance) reload(t *testing.T) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	return d.app.Reload(ctx)
}

// s3Code returns the S3 error code of err ("" for none).
func s3Code(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	if err != nil {
		return err.Error()
	}
	return ""
}

// listAs lists bucket with the given keys and returns the S3 error code
// ("" on success).
func (in *instance) listAs(t *testing.T, key, secret, bucket string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err := in.s3Client(key, secret).ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	return s3Code(err)
}

// putAs uploads a small object with the given keys and returns the S3
// error code ("" on success).
func (in *instance) putAs(t *testing.T, key, secret, bucket, object string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err := in.s3Client(key, secret).PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(bucket), Key: aws.String(object), Body: strings.NewReader("hello"),
	})
	return s3Code(err)
}

// mkBucket creates a bucket with the root keys.
func (in *instance) mkBucket(t *testing.T, bucket string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err := in.rootClient().CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)})
	testutil.Must(t, err, "create bucket %s", bucket)
}

// The declarative IAM of the tests: two users in one group with read and
// list on the shared bucket; alice may also write under alice/.
const (
	aliceKey = "AKIAALICE0000000001"
	bobKey   = "AKIABOB00000000001"
	carolKey = "AKIACAROL000000001"

	aliceSecret1 = "alice-secret-one-0001"
	aliceSecret2 = "alice-secret-two-0002"
	bobSecret    = "bob-secret-00000001"
	carolSecret  = "carol-secret-000001"
)

// twoUsersIAM declares alice and bob in group team (bucket: %[1]s).
const twoUsersIAM = `  iam_mode: declarative
  iam:
    groups:
      - name: team
        permissions:
          - {effect: Allow, actions: [read, list], resources: ["%[1]s/*"]}
    users:
      - name: alice
        access_key_id: ` + aliceKey + `
        secret_access_key: ${ALICE_SECRET}
        groups: [team]
        permissions:
          - {effect: Allow, actions: [write], resources: ["%[1]s/alice/*"]}
      - name: bob
        access_key_id: ` + bobKey + `
        secret_access_key: ${BOB_SECRET}
        groups: [team]
`

// changedIAM renames team to crew, drops bob, adds carol (read only via
// crew) and takes alice's secret from the same variable (rotated by
// changing it).
const changedIAM = `  iam_mode: declarative
  iam:
    groups:
      - name: crew
        permissions:
          - {effect: Allow, actions: [read, list], resources: ["%[1]s/*"]}
    users:
      - name: alice
        access_key_id: ` + aliceKey + `
        secret_access_key: ${ALICE_SECRET}
        groups: [crew]
        permissions:
          - {effect: Allow, actions: [write], resources: ["%[1]s/alice/*"]}
      - name: carol
        access_key_id: ` + carolKey + `
        secret_access_key: ` + carolSecret + `
        groups: [crew]
`

func baseEnv() map[string]string {
	return map[string]string{"ALICE_SECRET": aliceSecret1, "BOB_SECRET": bobSecret}
}

// logLines returns the JSON log lines of in whose message contains msg.
func logLines(in *instance, msg string) []string {
	var out []string
	for _, l := range strings.Split(in.logs.String(), "\n") {
		if strings.Contains(l, `"message":"`) && strings.Contains(l, msg) {
			out = append(out, l)
		}
	}
	return out
}
