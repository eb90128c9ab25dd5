package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/dgp-proxy/dgp/internal/procuse"
)

// buildDGP builds cmd/dgp of this module into dir and returns its path
// (the --processes mode without --dgp-bin).
func buildDGP(ctx context.Context, dir string) (string, error) {
	out := filepath.Join(dir, "dgp")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, "github.com/dgp-proxy/dgp/cmd/dgp")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build dgp: %w\n%s", err, b)
	}
	return out, nil
}

// readerProc is a reader running as its own `dgp serve` process. Its
// standard error (the JSON log) feeds the node's log watch, line by line,
// and is copied to a file in its data dir's parent.
type readerProc struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when the log is drained and the process waited for
}

// processEnv is the environment of a reader process: the tool's own
// without DGP_* (a developer's settings must not leak in), then the
// reader's configuration, the same as fleetOptions.spec gives an
// in-process reader.
func (fo fleetOptions) processEnv(name, addr, queueURL string) []string {
	vars := map[string]string{
		"DGP_LISTEN_ADDR": addr, "DGP_DATA_DIR": filepath.Join(fo.work, name), "DGP_NODE_ID": name,
		"DGP_ACCESS_KEY_ID": rootAccessKey, "DGP_SECRET_ACCESS_KEY": rootSecretKey, "DGP_BOOTSTRAP_PASSWORD": bootstrapPassword,
		"DGP_CONFIG_SYNC_BUCKET": fo.bucket, "DGP_CONFIG_SYNC_ROLE": "reader",
		"DGP_CONFIG_SYNC_S3_ENDPOINT": fo.env.minioURL, "DGP_CONFIG_SYNC_S3_REGION": "us-east-1",
		"DGP_CONFIG_SYNC_S3_FORCE_PATH_STYLE": "true",
		"DGP_CONFIG_SYNC_S3_ACCESS_KEY_ID":    fo.env.minioAccess, "DGP_CONFIG_SYNC_S3_SECRET_ACCESS_KEY": fo.env.minioSecret,
		"DGP_CONFIG_SYNC_POLL_INTERVAL": "1h",
		"DGP_LOG_FORMAT":                "json", "DGP_LOG_LEVEL": "info",
	}
	if fo.trace {
		vars["DGP_LOG_LEVEL"] = "debug"
	}
	if fo.floorEvents {
		vars[floorEventsOnlyEnv] = "1"
	}
	switch fo.mode {
	case modePoll:
		vars["DGP_CONFIG_SYNC_POLL_INTERVAL"] = fo.poll.String()
	case modeNATSCore:
		vars["DGP_CONFIG_SYNC_NATS_URL"], vars["DGP_CONFIG_SYNC_NATS_SUBJECT"] = fo.env.natsURL, fo.env.coreSubject
	case modeNATSJetStream:
		vars["DGP_CONFIG_SYNC_NATS_URL"], vars["DGP_CONFIG_SYNC_NATS_SUBJECT"] = fo.env.natsURL, fo.env.jsSubject
		vars["DGP_CONFIG_SYNC_NATS_STREAM"] = fo.env.jsStream
	case modeSQS:
		vars["DGP_CONFIG_SYNC_SQS_QUEUE_URL"], vars["DGP_CONFIG_SYNC_SQS_ENDPOINT"] = queueURL, fo.env.sqs.endpoint
		vars["DGP_CONFIG_SYNC_SQS_REGION"] = "us-east-1"
	}
	var environ []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "DGP_") {
			environ = append(environ, kv)
		}
	}
	for k, v := range vars {
		environ = append(environ, k+"="+v)
	}
	return append(environ, fo.readerEnv...)
}

// startProcessReader starts one reader process and returns its node once
// the process serves (readiness is waitReady's). The process listens on
// a port of its own choosing (127.0.0.1:0), read from its "serving" log
// line, so that readers started at once never race for a port.
func startProcessReader(ctx context.Context, fo fleetOptions, name, queueURL string) (*node, error) {
	addr := "127.0.0.1:0"
	if err := os.MkdirAll(filepath.Join(fo.work, name), 0o700); err != nil {
		return nil, err
	}
	logf, err := os.Create(filepath.Join(fo.work, name+".log"))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(fo.dgpBin, "serve")
	if fo.floor {
		self, err := os.Executable()
		if err != nil {
			logf.Close()
			return nil, err
		}
		cmd = exec.Command(self, floorReaderCmd)
	}
	cmd.Dir, cmd.Env, cmd.Stdout = fo.work, fo.processEnv(name, addr, queueURL), logf
	stderr, err := cmd.StderrPipe()
	if err != nil {
		logf.Close()
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	w := newLogWatch(time.Now)
	p := &readerProc{cmd: cmd, done: make(chan struct{})}
	serving := make(chan string, 1)
	go func() { // owned by p: stop waits for done
		defer close(p.done)
		defer logf.Close()
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Bytes()
			if u, ok := servingURL(line); ok {
				select {
				case serving <- u:
				default:
				}
			}
			_, _ = w.Write(line)
			_, _ = logf.Write(append(line, '\n'))
		}
		_ = cmd.Wait()
	}()
	n := &node{name: name, watch: w, hc: fo.hc, pid: cmd.Process.Pid, stopFn: p.stop}
	select {
	case n.url = <-serving:
		return n, nil
	case <-p.done:
		return nil, fmt.Errorf("%s exited at start (log %s)", name, logf.Name())
	case <-time.After(time.Minute):
		err = fmt.Errorf("%s does not serve after a minute (log %s)", name, logf.Name())
	case <-ctx.Done():
		err = ctx.Err()
	}
	_ = p.stop()
	return nil, err
}

// servingURL returns the URL of dgp's "serving" log line.
func servingURL(line []byte) (string, bool) {
	if !bytes.Contains(line, []byte(`"message":"serving"`)) {
		return "", false
	}
	var l struct {
		URL string `json:"url"`
	}
	if json.Unmarshal(line, &l) != nil || l.URL == "" {
		return "", false
	}
	return l.URL, true
}

// stop ends the process gracefully (SIGTERM), killing it after 30 s, and
// waits for it.
func (p *readerProc) stop() error {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
	return nil
}

// startProcessReaders starts n reader processes, a few at a time (each
// derives the DB key once at its first pull).
func startProcessReaders(ctx context.Context, fo fleetOptions, n int, queues []string) ([]*node, error) {
	readers := make([]*node, n)
	errs := make([]error, n)
	sem := make(chan struct{}, 4)
	var wg sync.WaitGroup
	for i := range n {
		q := ""
		if queues != nil {
			q = queues[i]
		}
		sem <- struct{}{}
		rfo, group := fo, 0
		if fo.dgpBinB != "" && i%2 == 1 {
			rfo.dgpBin, group = fo.dgpBinB, 1
		}
		wg.Go(func() {
			defer func() { <-sem }()
			readers[i], errs[i] = startProcessReader(ctx, rfo, fmt.Sprintf("reader-%03d", i), q)
			if errs[i] == nil {
				readers[i].group = group
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			stopAll(readers)
			return nil, err
		}
	}
	return readers, nil
}

// readersUse is what the reader processes have used so far (CPU time,
// thread switches, page faults), summed; zero without processes.
func readersUse(readers []*node) (procuse.Use, error) {
	var total procuse.Use
	for _, r := range readers {
		if r.pid == 0 {
			continue
		}
		u, err := procuse.Read(r.pid)
		if err != nil {
			return procuse.Use{}, fmt.Errorf("%s: %w", r.name, err)
		}
		total = total.Plus(u)
	}
	return total, nil
}

// groupUsage reads the use of each group of readers.
func groupUsage(groups [][]*node) ([]procuse.Use, error) {
	out := make([]procuse.Use, len(groups))
	for i, g := range groups {
		var err error
		if out[i], err = readersUse(g); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// readerRSS is the resident memory of every reader process, summed, from
// /proc/<pid>/status (VmRSS); zero without processes.
func readerRSS(readers []*node) int64 {
	var total int64
	for _, r := range readers {
		if r.pid == 0 {
			continue
		}
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", r.pid))
		if err != nil {
			continue
		}
		for line := range strings.SplitSeq(string(b), "\n") {
			if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
				f := strings.Fields(rest)
				if len(f) > 0 {
					kb, _ := strconv.ParseInt(f[0], 10, 64)
					total += kb << 10
				}
			}
		}
	}
	return total
}
