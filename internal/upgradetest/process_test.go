//go:build integration

package upgradetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dgp-proxy/dgp/internal/testutil"
)

// Credentials every instance of the fleet shares.
const (
	bootstrapPassword = "upgrade-test-bootstrap-password"
	rootAccessKey     = "UPGRADETESTROOTKEY00"
	rootSecretKey     = "upgradeTestRootSecretKey000000000000000"
)

// waits bound the asynchronous conditions (RetryUntil): generous, the
// machine is shared.
const (
	startWait   = 90 * time.Second // a process answers /_/ready
	stopWait    = 60 * time.Second // a process exits after SIGTERM
	convergeFor = 60 * time.Second // instances reach a state (events, else the poll)
)

// node is one instance of the fleet: a data dir and a port kept across
// restarts, and the dgp process currently running on them (if any).
type node struct {
	t       *testing.T
	name    string // node id, also the writer node in the DBs it seals
	addr    string // 127.0.0.1:port
	dataDir string
	logDir  string
	env     []string // the fleet's settings (DGP_*)

	runs int
	bin  string // label of the running binary: "old" or "new"
	cmd  *exec.Cmd
	log  string // path of the running process's output
	done chan struct{}
	err  error // cmd.Wait's result, set before done is closed
}

// newNode prepares a node; its processes' output goes to files in logDir.
func newNode(t *testing.T, name string, env []string, logDir string) *node {
	n := &node{
		t:       t,
		name:    name,
		addr:    fmt.Sprintf("127.0.0.1:%d", testutil.FreePort(t)),
		dataDir: t.TempDir(),
		logDir:  logDir,
		env:     env,
	}
	t.Cleanup(n.kill)
	return n
}

// keptOnFailure returns a directory for the processes' output that is
// removed when the test passes and kept (its path logged) when it fails.
func keptOnFailure(t *testing.T) string {
	dir, err := os.MkdirTemp("", "dgp-upgradetest-")
	testutil.Must(t, err, "log dir")
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("the output of every dgp process is kept in %s", dir)
			return
		}
		_ = os.RemoveAll(dir)
	})
	return dir
}

func (n *node) url() string { return "http://" + n.addr }

// start runs bin (label "old" or "new") on the node's data dir and port
// with the fleet's settings plus extra, and waits until /_/ready answers 200.
func (n *node) start(bin, label string, extra ...string) {
	n.t.Helper()
	done := n.launch(bin, label, extra)
	testutil.RetryUntil(n.t, startWait, func() error {
		select {
		case <-done:
			return nil // reported below
		default:
		}
		_, err := n.ready()
		return err
	})
	select {
	case <-done:
		n.cmd = nil
		n.t.Fatalf("%s (%s binary) exited at start: %v\n%s", n.name, label, n.err, n.tail())
	default:
	}
}

// startRefused runs bin on the node and expects it to refuse to start: to
// exit with an error without ever answering /_/ready. It returns the
// process's output.
func (n *node) startRefused(bin, label string) string {
	n.t.Helper()
	done := n.launch(bin, label, nil)
	testutil.RetryUntil(n.t, startWait, func() error {
		select {
		case <-done:
			return nil
		default:
		}
		if _, err := n.ready(); err == nil {
			n.t.Fatalf("%s (%s binary) started and is ready; it should have refused to start", n.name, label)
		}
		return fmt.Errorf("%s (%s binary) still running", n.name, label)
	})
	n.cmd = nil
	if n.err == nil {
		n.t.Errorf("%s (%s binary) exited 0; it should have refused to start with an error", n.name, label)
	}
	return n.output()
}

// launch starts the process and returns the channel closed when it exits.
func (n *node) launch(bin, label string, extra []string) chan struct{} {
	n.t.Helper()
	if n.cmd != nil {
		n.t.Fatalf("%s: start while running", n.name)
	}
	n.runs++
	n.log = filepath.Join(n.logDir, fmt.Sprintf("%s-run%d-%s.log", n.name, n.runs, label))
	out, err := os.Create(n.log)
	testutil.Must(n.t, err, "create log")
	cmd := exec.Command(bin, "serve")
	cmd.Dir = n.dataDir // no deltaglider_proxy.yaml there
	cmd.Env = append(cleanEnv(), n.env...)
	cmd.Env = append(cmd.Env,
		"DGP_NODE_ID="+n.name,
		"DGP_LISTEN_ADDR="+n.addr,
		"DGP_DATA_DIR="+n.dataDir,
	)
	cmd.Env = append(cmd.Env, extra...)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		out.Close()
		n.t.Fatalf("%s: start %s: %v", n.name, bin, err)
	}
	done := make(chan struct{})
	n.cmd, n.bin, n.done = cmd, label, done
	go func() { // owned by n: stop, kill and the starts wait for done
		n.err = cmd.Wait()
		out.Close()
		close(done)
	}()
	return done
}

// stop sends SIGTERM to the process (by its PID) and waits for it to exit;
// a graceful stop exits 0.
func (n *node) stop() {
	n.t.Helper()
	if n.cmd == nil {
		n.t.Fatalf("%s: stop while not running", n.name)
	}
	cmd := n.cmd
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-n.done:
	case <-time.After(stopWait):
		_ = cmd.Process.Kill()
		<-n.done
		n.t.Errorf("%s (%s binary, pid %d) did not exit within %s of SIGTERM: killed", n.name, n.bin, cmd.Process.Pid, stopWait)
	}
	n.cmd = nil
	if n.err != nil {
		n.t.Errorf("%s (%s binary) did not stop cleanly on SIGTERM: %v\n%s", n.name, n.bin, n.err, n.tail())
	}
}

// kill stops a process still running when the test ends.
func (n *node) kill() {
	if n.cmd == nil {
		return
	}
	_ = n.cmd.Process.Kill()
	<-n.done
	n.cmd = nil
	if n.t.Failed() {
		n.t.Logf("%s (%s binary) output:\n%s", n.name, n.bin, n.tail())
	}
}

// tail returns the end of the running (or last) process's output.
func (n *node) tail() string {
	b, err := os.ReadFile(n.log)
	if err != nil {
		return err.Error()
	}
	return testutil.Tail(string(b), 6000)
}

// output returns the whole output of the running (or last) process.
func (n *node) output() string {
	b, _ := os.ReadFile(n.log)
	return string(b)
}

// ready reads /_/ready: nil error when it answers 200, with the body's
// config_sync value ("ok", "stale").
func (n *node) ready() (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, n.url()+"/_/ready", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("%s /_/ready: %s %s", n.name, resp.Status, raw)
	}
	var body map[string]any
	if err := json.Unmarshal(raw, &body); err != nil {
		return "", fmt.Errorf("%s /_/ready: %q: %w", n.name, raw, err)
	}
	s, _ := body["config_sync"].(string)
	if s == "" {
		return "", fmt.Errorf("%s /_/ready has no config_sync check: %s", n.name, raw)
	}
	return s, nil
}

// metric returns the sum of the series of /_/metrics whose line starts with
// name and contains every one of labels (`result="schema_too_new"`).
func (n *node) metric(name string, labels ...string) (float64, error) {
	resp, err := http.Get(n.url() + "/_/metrics")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return 0, errors.New(resp.Status)
	}
	var sum float64
lines:
	for _, line := range strings.Split(string(raw), "\n") {
		if !strings.HasPrefix(line, name) {
			continue
		}
		for _, l := range labels {
			if !strings.Contains(line, l) {
				continue lines
			}
		}
		var v float64
		if _, err := fmt.Sscan(line[strings.LastIndexByte(line, ' ')+1:], &v); err == nil {
			sum += v
		}
	}
	return sum, nil
}

// cleanEnv is the test's environment without any DGP_ variable, so the
// instances see only the settings the test gives them.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "DGP_") {
			env = append(env, kv)
		}
	}
	return env
}

// countLogLines counts, over the output of every process the test ran
// (the files in logDir), the lines containing substr, by binary label.
func countLogLines(t *testing.T, logDir, substr string) map[string]int {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(logDir, "*.log"))
	testutil.Must(t, err, "list logs")
	count := map[string]int{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		testutil.Must(t, err, "read %s", f)
		label := strings.TrimSuffix(f[strings.LastIndexByte(f, '-')+1:], ".log")
		count[label] += strings.Count(string(b), substr)
	}
	return count
}
