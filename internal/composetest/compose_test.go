//go:build integration

package composetest_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/dgp-proxy/dgp/internal/testharness/containers"
	"github.com/dgp-proxy/dgp/internal/testutil"
)

// upTimeout bounds `docker compose up --wait`: NATS, MinIO, minio-init,
// the writer, then the readers, each after the previous is healthy.
const upTimeout = 5 * time.Minute

// TestComposeUpVerify tags locally built images with the names the
// repository's docker-compose.yml uses, runs `docker compose up` on that
// file as it is, waits for every health check, runs the Verify of
// docs/deployment.md (the multi-instance guide's, with the readers' ports)
// with curl, jq and the AWS CLI, and takes the stack down with its volumes.
func TestComposeUpVerify(t *testing.T) {
	env := requireEnv(t)
	aws := testutil.AWSCLI(t)
	jq, err := exec.LookPath("jq")
	testutil.Must(t, err, "jq (the guide's Verify pipes curl into jq)")
	wd, err := os.Getwd()
	testutil.Must(t, err, "getwd")
	root := filepath.Join(wd, "..", "..")
	c := newCompose(t, env.compose, root)
	ctx := t.Context()

	// What the file asks for: images, host ports, the fleet's password.
	cfg := c.config(ctx)
	checkPortsFree(t, cfg)

	start := time.Now()
	imgs, err := containers.BuildImages(ctx, containers.ImageOptions{
		RepoRoot: root, MinIOBin: env.minio, NATSBin: env.nats, BusyboxBin: env.busybox, MCBin: env.mc,
		Log: testLog{t},
	})
	testutil.Must(t, err, "build images")
	t.Logf("images ready in %s", time.Since(start).Round(time.Millisecond))
	tagForCompose(t, cfg, imgs)

	t.Cleanup(c.down)
	start = time.Now()
	if out, err := c.run(context.Background(), "up", "-d", "--wait", "--wait-timeout", fmt.Sprint(int(upTimeout.Seconds()))); err != nil {
		t.Fatalf("docker compose up: %v\n%s", err, out)
	}
	t.Logf("docker compose up --wait: every service healthy in %s", time.Since(start).Round(time.Millisecond))
	checkAllHealthy(t, c, cfg)

	writer := cfg.url(t, "dgp-writer")
	reader1, reader2 := cfg.url(t, "dgp-reader-1"), cfg.url(t, "dgp-reader-2")
	v := &verify{t: t, dir: t.TempDir(), jq: jq}
	password := cfg.Services["dgp-writer"].Environment["DGP_BOOTSTRAP_PASSWORD"]
	if password == "" {
		t.Fatal("docker compose config gives dgp-writer no DGP_BOOTSTRAP_PASSWORD")
	}

	// Sign in on the writer: one cookie jar serves every instance.
	// (The body comes from a file so that the password is in no command line.)
	login, err := json.Marshal(map[string]string{"password": password})
	testutil.Must(t, err, "login body")
	testutil.Must(t, os.WriteFile(filepath.Join(v.dir, "login.json"), login, 0o600), "login body")
	v.curl("-c", "cookies", "-H", "Content-Type: application/json", "-d", "@login.json", writer+"/_/api/admin/login")

	// 1. On the writer: a throwaway user, then force a pull on a reader.
	out := v.curl("-b", "cookies", "-H", "Content-Type: application/json",
		"-d", `{"name": "throwaway", "permissions": [{"effect": "Allow", "actions": ["list"], "resources": ["*"]}]}`,
		writer+"/_/api/admin/users")
	var user struct {
		AccessKeyID     string `json:"access_key_id"`
		SecretAccessKey string `json:"secret_access_key"`
	}
	if err := json.Unmarshal([]byte(out), &user); err != nil || user.AccessKeyID == "" || user.SecretAccessKey == "" {
		t.Fatalf("the created user has no keys (%v)", err)
	}
	var pull struct {
		ETag       string `json:"etag"`
		Generation uint64 `json:"generation"`
		Status     string `json:"status"`
	}
	out = v.curl("-b", "cookies", "-X", "POST", reader1+"/_/api/admin/config/sync-now")
	testutil.Must(t, json.Unmarshal([]byte(out), &pull), "decode sync-now %s", out)
	if pull.Generation < 1 || pull.ETag == "" || (pull.Status != "updated" && pull.Status != "current") {
		t.Fatalf("sync-now on %s: %s", reader1, out)
	}

	// 2. The reader sees the new user: curl ... | jq '.[] | .name'
	if got := v.sh("curl -sS --fail-with-body -b cookies " + reader1 + "/_/api/admin/users | jq '.[] | .name'"); got != `"throwaway"` {
		t.Fatalf("users on %s: %q, want \"throwaway\"", reader1, got)
	}

	// 3. The new user's keys work against the reader.
	home := t.TempDir()
	cmd := exec.Command(aws, "s3", "ls", "--endpoint-url", reader1)
	cmd.Env = testutil.Env("AWS_ACCESS_KEY_ID="+user.AccessKeyID, "AWS_SECRET_ACCESS_KEY="+user.SecretAccessKey,
		"AWS_DEFAULT_REGION=us-east-1", "AWS_CONFIG_FILE="+filepath.Join(home, "config"),
		"AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(home, "credentials"), "AWS_PAGER=",
		"AWS_EC2_METADATA_DISABLED=true", "HOME="+home)
	b, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(b), "dgp-data") {
		t.Fatalf("aws s3 ls --endpoint-url %s with the new user's keys: %v\n%s", reader1, err, b)
	}

	// Reader 2 got it from MinIO's NATS event alone (its poll is 5 minutes).
	testutil.RetryUntil(t, 30*time.Second, func() error {
		got := v.sh("curl -sS --fail-with-body -b cookies " + reader2 + "/_/api/admin/users | jq '.[] | .name'")
		if got != `"throwaway"` {
			return fmt.Errorf("users on %s: %q", reader2, got)
		}
		return nil
	})

	// docker compose logs dgp-reader-1 | grep config-sync: the download of
	// the DB the writer published (its ETag) is there.
	logs, err := c.run(ctx, "logs", "--no-color", "dgp-reader-1")
	testutil.Must(t, err, "docker compose logs dgp-reader-1")
	var syncLines []string
	for _, line := range strings.Split(logs, "\n") {
		if strings.Contains(line, "config-sync") {
			syncLines = append(syncLines, line)
		}
	}
	if !strings.Contains(strings.Join(syncLines, "\n"), pull.ETag) {
		t.Fatalf("no [config-sync] line of reader 1 names ETag %s:\n%s", pull.ETag, strings.Join(syncLines, "\n"))
	}

	// A reader refuses IAM changes.
	code := v.sh(`curl -sS -o /dev/null -w '%{http_code}' -b cookies -H 'Content-Type: application/json' -d '{"name": "nope"}' ` +
		reader1 + "/_/api/admin/users")
	if code != "409" {
		t.Errorf("a mutation on reader %s answered %s, want 409", reader1, code)
	}
}

// testEnv is what the test runs with.
type testEnv struct{ compose, minio, nats, busybox, mc string }

// requireEnv skips without DGP_TEST_DOCKER=1 or DGP_TEST_COMPOSE and fails
// when the binaries the images are built from are not named.
func requireEnv(t *testing.T) testEnv {
	t.Helper()
	if os.Getenv("DGP_TEST_DOCKER") != "1" {
		t.Skip("DGP_TEST_DOCKER not set (run through .ci/run)")
	}
	e := testEnv{compose: os.Getenv("DGP_TEST_COMPOSE"), minio: os.Getenv("DGP_TEST_MINIO_BIN"),
		nats: os.Getenv("DGP_TEST_NATS_SERVER_BIN"), busybox: os.Getenv("DGP_TEST_BUSYBOX"), mc: os.Getenv("DGP_TEST_MC")}
	if e.compose == "" {
		t.Skip("DGP_TEST_COMPOSE not set (run through .ci/run)")
	}
	for name, v := range map[string]string{"DGP_TEST_COMPOSE": e.compose, "DGP_TEST_MINIO_BIN": e.minio,
		"DGP_TEST_NATS_SERVER_BIN": e.nats, "DGP_TEST_BUSYBOX": e.busybox,
		"DGP_TEST_MC (the MinIO health check of the compose file is `mc ready local`)": e.mc} {
		if v == "" {
			t.Fatalf("DGP_TEST_DOCKER=1 and DGP_TEST_COMPOSE need %s", name)
		}
		if _, err := os.Stat(v); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	return e
}

// checkPortsFree fails when a host port the file publishes is taken: the
// file's ports are fixed, and compose would fail half-way.
func checkPortsFree(t *testing.T, cfg *composeConfig) {
	t.Helper()
	var busy []string
	for _, name := range cfg.serviceNames() {
		for _, p := range cfg.Services[name].Ports {
			host := p.HostIP
			if host == "" {
				host = "0.0.0.0"
			}
			addr := net.JoinHostPort(host, p.Published)
			l, err := net.Listen("tcp", addr)
			if err != nil {
				busy = append(busy, fmt.Sprintf("%s (service %s): %v", addr, name, err))
				continue
			}
			l.Close()
		}
	}
	if len(busy) > 0 {
		t.Fatalf("docker-compose.yml publishes fixed host ports and these are in use; free them and run again:\n  %s",
			strings.Join(busy, "\n  "))
	}
}

// tagForCompose gives each built image the name the file's services use.
// A name that existed before is pointed back at its image when the test
// ends; a new one is removed.
func tagForCompose(t *testing.T, cfg *composeConfig, imgs containers.Images) {
	t.Helper()
	byService := map[string]string{"minio": imgs.MinIO, "nats": imgs.NATS, "minio-init": imgs.MC,
		"dgp-writer": imgs.DGP, "dgp-reader-1": imgs.DGP, "dgp-reader-2": imgs.DGP}
	want := map[string]string{}
	for _, name := range cfg.serviceNames() {
		src, ok := byService[name]
		if !ok {
			t.Fatalf("docker-compose.yml has a service %q this test builds no image for", name)
		}
		img := cfg.Services[name].Image
		if prev, dup := want[img]; dup && prev != src {
			t.Fatalf("image %s is used by services needing different images", img)
		}
		want[img] = src
	}
	for dst, src := range want {
		prev := imageID(t, dst)
		testutil.Must(t, containers.TagAs(t.Context(), src, dst), "tag %s", dst)
		t.Cleanup(func() {
			var err error
			if prev != "" {
				err = containers.TagAs(context.Background(), prev, dst)
			} else {
				err = containers.Untag(context.Background(), dst)
			}
			if err != nil {
				t.Errorf("restore the tag %s: %v", dst, err)
			}
		})
	}
}

// imageID returns the id of the image ref, "" when there is none.
func imageID(t *testing.T, ref string) string {
	t.Helper()
	ok, err := containers.ImageExists(t.Context(), ref)
	testutil.Must(t, err, "inspect %s", ref)
	if !ok {
		return ""
	}
	out, err := exec.Command("docker", "image", "inspect", "--format", "{{.Id}}", ref).Output()
	testutil.Must(t, err, "inspect %s", ref)
	return strings.TrimSpace(string(out))
}

// checkAllHealthy asserts, from `docker compose ps`, that every service
// with a health check is healthy and minio-init exited 0.
func checkAllHealthy(t *testing.T, c *compose, cfg *composeConfig) {
	t.Helper()
	out, err := c.run(t.Context(), "ps", "-a", "--format", "json")
	testutil.Must(t, err, "docker compose ps")
	seen := map[string]psEntry{}
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		var entries []psEntry
		if strings.HasPrefix(line, "[") {
			testutil.Must(t, json.Unmarshal([]byte(line), &entries), "decode ps %s", line)
		} else {
			var e psEntry
			testutil.Must(t, json.Unmarshal([]byte(line), &e), "decode ps %s", line)
			entries = append(entries, e)
		}
		for _, e := range entries {
			seen[e.Service] = e
		}
	}
	for _, name := range cfg.serviceNames() {
		e, ok := seen[name]
		switch {
		case !ok:
			t.Errorf("service %s has no container", name)
		case name == "minio-init":
			if e.State != "exited" || e.ExitCode != 0 {
				t.Errorf("minio-init: %s, exit code %d; want exited 0", e.State, e.ExitCode)
			}
		case e.State != "running" || e.Health != "healthy":
			t.Errorf("service %s: state %q health %q; want running and healthy", name, e.State, e.Health)
		}
	}
	if t.Failed() {
		t.FailNow()
	}
}

type psEntry struct {
	Service  string
	State    string
	Health   string
	ExitCode int
}

type testLog struct{ t *testing.T }

func (w testLog) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// verify runs the guide's commands in a directory holding the cookie jar.
type verify struct {
	t   *testing.T
	dir string
	jq  string
}

// curl runs curl (failing on an HTTP error) and returns its output.
func (v *verify) curl(args ...string) string {
	v.t.Helper()
	return testutil.Curl(v.t, v.dir, nil, args...)
}

// sh runs a shell pipeline of the guide and returns its trimmed output.
func (v *verify) sh(script string) string {
	v.t.Helper()
	cmd := exec.Command("sh", "-ec", script)
	cmd.Dir = v.dir
	cmd.Env = testutil.Env("PATH=" + filepath.Dir(v.jq) + string(os.PathListSeparator) + os.Getenv("PATH"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		v.t.Fatalf("%s: %v\n%s", script, err, out)
	}
	return strings.TrimSpace(string(out))
}

// composeConfig is the part of `docker compose config --format json` the
// test reads.
type composeConfig struct {
	Services map[string]struct {
		Image       string            `json:"image"`
		Environment map[string]string `json:"environment"`
		Ports       []struct {
			HostIP    string `json:"host_ip"`
			Target    int    `json:"target"`
			Published string `json:"published"`
		} `json:"ports"`
	} `json:"services"`
}

func (c *composeConfig) serviceNames() []string {
	names := make([]string, 0, len(c.Services))
	for n := range c.Services {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// url is the host address published for port 9000 of a dgp service.
func (c *composeConfig) url(t *testing.T, service string) string {
	t.Helper()
	for _, p := range c.Services[service].Ports {
		if p.Target == 9000 {
			host := p.HostIP
			if host == "" || host == "0.0.0.0" {
				host = "127.0.0.1"
			}
			return "http://" + net.JoinHostPort(host, p.Published)
		}
	}
	t.Fatalf("service %s publishes no port 9000", service)
	return ""
}

// compose runs `docker compose` (the v2 binary as a CLI plugin, through a
// private DOCKER_CONFIG) on the repository's docker-compose.yml under a
// project name of its own.
type compose struct {
	t       *testing.T
	root    string
	project string
	env     []string
}

func newCompose(t *testing.T, bin, root string) *compose {
	t.Helper()
	cfgDir := t.TempDir()
	plugins := filepath.Join(cfgDir, "cli-plugins")
	testutil.Must(t, os.MkdirAll(plugins, 0o755), "cli-plugins")
	abs, err := filepath.Abs(bin)
	testutil.Must(t, err, "compose binary path")
	testutil.Must(t, os.Symlink(abs, filepath.Join(plugins, "docker-compose")), "install the compose plugin")
	// The defaults of the file, not the caller's: no inherited project,
	// file or MinIO credentials (a .env in the repository still applies, as
	// it would for a user; the password is read from the resolved config).
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "COMPOSE_") || strings.HasPrefix(k, "MINIO_ROOT_") || k == "DOCKER_CONFIG" {
			continue
		}
		env = append(env, kv)
	}
	env = append(env, "DOCKER_CONFIG="+cfgDir)
	return &compose{t: t, root: root, project: testutil.UniqueName("dgp-composetest"), env: env}
}

func (c *compose) run(ctx context.Context, args ...string) (string, error) {
	full := append([]string{"compose", "--project-directory", c.root, "-f", filepath.Join(c.root, "docker-compose.yml"),
		"-p", c.project}, args...)
	cmd := exec.CommandContext(ctx, "docker", full...)
	cmd.Dir = c.root
	cmd.Env = c.env
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func (c *compose) config(ctx context.Context) *composeConfig {
	c.t.Helper()
	cmd := exec.CommandContext(ctx, "docker", "compose", "--project-directory", c.root,
		"-f", filepath.Join(c.root, "docker-compose.yml"), "-p", c.project, "config", "--format", "json")
	cmd.Dir, cmd.Env = c.root, c.env
	out, err := cmd.Output()
	if err != nil {
		c.t.Fatalf("docker compose config: %v", err)
	}
	var cfg composeConfig
	testutil.Must(c.t, json.Unmarshal(out, &cfg), "decode docker compose config")
	if len(cfg.Services) == 0 {
		c.t.Fatal("docker compose config: no services")
	}
	return &cfg
}

// down logs the state of a failed run, then removes the project's
// containers, network and volumes.
func (c *compose) down() {
	ctx := context.Background()
	if c.t.Failed() {
		ps, _ := c.run(ctx, "ps", "-a")
		logs, _ := c.run(ctx, "logs", "--no-color", "--tail", "60")
		c.t.Logf("docker compose ps -a:\n%s\nlogs:\n%s", ps, logs)
	}
	start := time.Now()
	if out, err := c.run(ctx, "down", "-v", "--remove-orphans", "--timeout", "10"); err != nil {
		c.t.Errorf("docker compose down -v: %v\n%s", err, out)
		return
	}
	c.t.Logf("docker compose down -v in %s", time.Since(start).Round(time.Millisecond))
}
