//go:build integration

package app

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dgp-proxy/dgp/internal/testutil"
)

// devFleet is a fleet started by infra/dev/fleet: MinIO, nats-server and
// dgp instances as separate processes, as a developer runs it.
type devFleet struct {
	t        *testing.T
	repo     string
	dir      string // state dir
	env      []string
	writer   string
	readers  []string
	password string
	jar      string // directory of curl's cookie file
}

// startDevFleet runs `infra/dev/fleet up n` on free ports and registers
// `down` (and a check that nothing it started is left) as cleanup.
func startDevFleet(t *testing.T, n int) *devFleet {
	t.Helper()
	minio := testutil.MinIOBin(t)
	cli := testutil.AWSCLI(t)
	natsBin := os.Getenv("DGP_TEST_NATS_SERVER_BIN")
	if natsBin == "" {
		p, err := exec.LookPath("nats-server")
		if err != nil {
			t.Fatal("nats-server is needed (DGP_TEST_NATS_SERVER_BIN or PATH; .ci/run installs it)")
		}
		natsBin = p
	}
	for _, tool := range []string{"bash", "curl", "jq", "go"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is needed: %v", tool, err)
		}
	}
	repo, err := filepath.Abs(filepath.Join("..", ".."))
	testutil.Must(t, err, "repo root")
	f := &devFleet{t: t, repo: repo, dir: t.TempDir(), jar: t.TempDir()}
	// MinIO, its console and NATS on three distinct ports (one port handed
	// to two of them failed the fleet's start), the instances' run apart.
	ports := testutil.FreePorts(t, 3)
	f.env = testutil.Env(
		"DGP_FLEET_DIR="+f.dir,
		"DGP_FLEET_BASE_PORT="+strconv.Itoa(freeRun(t, n, ports)),
		"DGP_FLEET_MINIO_PORT="+strconv.Itoa(ports[0]),
		"DGP_FLEET_MINIO_CONSOLE_PORT="+strconv.Itoa(ports[1]),
		"DGP_FLEET_NATS_PORT="+strconv.Itoa(ports[2]),
		// Only events and sync-now move the DB in this test, never the poll.
		"DGP_FLEET_POLL_INTERVAL=1h",
		"DGP_FLEET_LOG_FORMAT=json",
		"DGP_BOOTSTRAP_PASSWORD=",
		"DGP_TEST_MINIO_BIN="+minio,
		"DGP_TEST_AWS_CLI="+cli,
		"PATH="+filepath.Dir(natsBin)+string(os.PathListSeparator)+os.Getenv("PATH"),
	)
	t.Cleanup(f.down)
	out, err := f.script(10*time.Minute, "up", strconv.Itoa(n))
	if err != nil {
		t.Fatalf("fleet up %d: %v\n%s", n, err, out)
	}
	t.Logf("fleet up:\n%s", out)

	vals := f.settings()
	f.writer, f.password = vals["DGP_FLEET_WRITER"], vals["DGP_BOOTSTRAP_PASSWORD"]
	f.readers = strings.Split(vals["DGP_FLEET_READERS"], ",")
	if f.writer == "" || len(f.readers) != n-1 || len(f.password) < 8 {
		t.Fatalf("fleet.env: %v", vals)
	}
	if !strings.Contains(out, f.password) || !strings.Contains(out, f.writer) {
		t.Errorf("`up` does not print the endpoints and the password:\n%s", out)
	}
	return f
}

// freeRun finds n consecutive free ports on 127.0.0.1, none of them in
// avoid, and returns the first.
func freeRun(t *testing.T, n int, avoid []int) int {
	t.Helper()
	for range 50 {
		base := testutil.FreePort(t)
		ok := !slices.ContainsFunc(avoid, func(p int) bool { return p >= base && p < base+n })
		for p := base + 1; ok && p < base+n; p++ {
			l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
			if err != nil {
				ok = false
				break
			}
			l.Close()
		}
		if ok {
			return base
		}
	}
	t.Fatalf("no %d consecutive free ports", n)
	return 0
}

func (f *devFleet) script(timeout time.Duration, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", append([]string{filepath.Join(f.repo, "infra", "dev", "fleet")}, args...)...)
	cmd.Dir = f.repo
	cmd.Env = f.env
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// settings reads the fleet.env that `up` writes.
func (f *devFleet) settings() map[string]string {
	file, err := os.Open(filepath.Join(f.dir, "fleet.env"))
	testutil.Must(f.t, err, "open fleet.env")
	defer file.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(file)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "="); ok {
			out[k] = v
		}
	}
	return out
}

// pids returns the processes the fleet's pid files name (pid -> start time).
func (f *devFleet) pids() map[int]string {
	files, _ := filepath.Glob(filepath.Join(f.dir, "run", "*.pid"))
	out := map[int]string{}
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		fields := strings.Fields(string(b))
		if len(fields) >= 2 {
			if pid, err := strconv.Atoi(fields[0]); err == nil {
				out[pid] = fields[1]
			}
		}
	}
	return out
}

// running: pid is alive (not a zombie) and is still the process started
// at start (not a later one that reuses the pid).
func running(pid int, start string) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true // no /proc: trust kill -0
	}
	s := string(b)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	return len(fields) > 19 && fields[0] != "Z" && fields[19] == start
}

// down stops the fleet and checks that no process it started is left; a
// straggler is killed so the test leaves nothing behind.
func (f *devFleet) down() {
	t := f.t
	before := f.pids()
	out, err := f.script(3*time.Minute, "down")
	if err != nil {
		t.Errorf("fleet down: %v\n%s", err, out)
	}
	for pid, start := range before {
		if running(pid, start) {
			t.Errorf("process %d is still running after `fleet down`", pid)
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	if left := f.pids(); len(left) != 0 {
		t.Errorf("pid files left after down: %v", left)
	}
	if out, err := f.script(time.Minute, "status"); err == nil {
		t.Errorf("`fleet status` after down succeeds:\n%s", out)
	}
	if t.Failed() {
		for _, name := range []string{"dgp-1", "dgp-2", "minio"} {
			if b, err := os.ReadFile(filepath.Join(f.dir, "logs", name+".log")); err == nil {
				t.Logf("--- %s.log (tail)\n%s", name, tailLines(string(b), 30))
			}
		}
	}
}

func tailLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// curl runs the real curl in the cookie jar's directory; it fails the test
// on an HTTP error.
func (f *devFleet) curl(args ...string) string {
	f.t.Helper()
	return testutil.Curl(f.t, f.jar, nil, args...)
}

// The local fleet of infra/dev/fleet, checked with the seed guide's Verify
// as written (curl with a cookie jar, jq, the AWS CLI): a user created on
// the writer reaches a reader through MinIO's NATS event alone (the poll is
// an hour), a sync-now on another reader finds it, its keys work there, and
// `down` leaves no process behind.
func TestDevFleetSeedVerify(t *testing.T) {
	f := startDevFleet(t, 3)
	if out, err := f.script(time.Minute, "status"); err != nil {
		t.Fatalf("fleet status: %v\n%s", err, out)
	}
	reader1, reader2 := f.readers[0], f.readers[1]

	// Sign in on the writer (the session is valid on every instance).
	f.curl("-c", "cookies", "-H", "Content-Type: application/json",
		"-d", `{"password": "`+f.password+`"}`, f.writer+"/_/api/admin/login")

	// 1. On the writer: create a throwaway user.
	var user apiUser
	out := f.curl("-b", "cookies", "-H", "Content-Type: application/json",
		"-d", `{"name": "throwaway", "permissions": [{"effect": "Allow", "actions": ["list"], "resources": ["*"]}]}`,
		f.writer+"/_/api/admin/users")
	testutil.Must(t, json.Unmarshal([]byte(out), &user), "decode user %s", out)
	if user.AccessKeyID == "" || user.SecretAccessKey == "" {
		t.Fatalf("created user: %s", out)
	}

	// The bucket notification -> NATS -> reader path works on its own.
	testutil.RetryUntil(t, 30*time.Second, func() error {
		var users []struct{ Name string }
		if err := json.Unmarshal([]byte(f.curl("-b", "cookies", reader2+"/_/api/admin/users")), &users); err != nil {
			return err
		}
		for _, u := range users {
			if u.Name == "throwaway" {
				return nil
			}
		}
		return fmt.Errorf("reader %s does not list the user yet: %+v", reader2, users)
	})

	//    then force a pull on a reader.
	var pull struct {
		Downloaded bool   `json:"downloaded"`
		ETag       string `json:"etag"`
		Generation uint64 `json:"generation"`
		Status     string `json:"status"`
	}
	out = f.curl("-b", "cookies", "-X", "POST", reader1+"/_/api/admin/config/sync-now")
	testutil.Must(t, json.Unmarshal([]byte(out), &pull), "decode sync-now %s", out)
	if pull.Generation < 1 || pull.ETag == "" || (pull.Status != "updated" && pull.Status != "current") {
		t.Fatalf("sync-now: %s", out)
	}

	// 2. The reader sees the new user: curl ... | jq '.[] | .name'
	cmd := exec.Command("sh", "-c", "curl -sS -b cookies "+reader1+"/_/api/admin/users | jq '.[] | .name'")
	cmd.Dir = f.jar
	b, err := cmd.CombinedOutput()
	if err != nil || strings.TrimSpace(string(b)) != `"throwaway"` {
		t.Fatalf("the seed's jq pipeline on %s: %v %q", reader1, err, b)
	}

	// 3. The new user's credentials work against the reader.
	home := t.TempDir()
	aws := exec.Command(testutil.AWSCLI(t), "s3", "ls", "--endpoint-url", reader1)
	aws.Env = testutil.Env(
		"AWS_ACCESS_KEY_ID="+user.AccessKeyID,
		"AWS_SECRET_ACCESS_KEY="+user.SecretAccessKey,
		"AWS_DEFAULT_REGION=us-east-1",
		"AWS_CONFIG_FILE="+filepath.Join(home, "config"),
		"AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(home, "credentials"),
		"AWS_PAGER=",
		"AWS_EC2_METADATA_DISABLED=true",
		"HOME="+home,
	)
	b, err = aws.CombinedOutput()
	if err != nil || !strings.Contains(string(b), "dgp-data") {
		t.Fatalf("aws s3 ls --endpoint-url %s with the new user's keys: %v\n%s", reader1, err, b)
	}

	// Readers refuse IAM changes and name the writer.
	cmd = exec.Command("curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "-b", "cookies",
		"-H", "Content-Type: application/json", "-d", `{"name": "nope"}`, reader1+"/_/api/admin/users")
	cmd.Dir = f.jar
	if b, err := cmd.Output(); err != nil || string(b) != "409" {
		t.Errorf("a mutation on reader %s: %v %s, want 409", reader1, err, b)
	}
}
