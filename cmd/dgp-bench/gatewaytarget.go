package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/dgp-proxy/dgp/internal/gcfloor"
	"github.com/dgp-proxy/dgp/internal/procuse"
)

// The gateway benchmark's --processes mode runs the bare proxy and dgp
// each in a child process of its own (`dgp-bench gateway-target`), so
// that the kernel's exact accounting of each process's CPU time
// (/proc/PID/task/*/schedstat: every thread, the garbage collector's included)
// says what a request cost each server. In one shared process the split
// comes from the CPU profile's samples, whose counting noise (a few
// hundred samples a round) is as large as the difference measured, and
// which leave the runtime's own work (GC) unattributed.

// targetSecretEnv carries the MinIO secret key to a child (not its
// command line, which other users of the machine can read).
const targetSecretEnv = "DGP_BENCH_MINIO_SECRET_KEY"

// gatewayTargetCmd is the child: it starts one server (--role proxy or
// dgp) in front of MinIO, writes "ready URL ACCESS-KEY SECRET-KEY" (the
// credentials clients sign with) on stdout, and serves until its stdin
// ends (the parent closed it, or died) or it is signalled.
func gatewayTargetCmd(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) (err error) {
	fs := flag.NewFlagSet("gateway-target", flag.ContinueOnError)
	fs.SetOutput(stderr)
	role := fs.String("role", "", "proxy or dgp")
	minioURL := fs.String("minio", "", "MinIO endpoint URL")
	accessKey := fs.String("minio-access-key", "", "MinIO access key (the secret key comes in "+targetSecretEnv+")")
	if err := fs.Parse(args); err != nil {
		return &exitError{code: 2, err: err}
	}
	secret := os.Getenv(targetSecretEnv)
	if (*role != roleProxy && *role != roleDGP) || *minioURL == "" || *accessKey == "" || secret == "" || fs.NArg() > 0 {
		return usageErr("gateway-target: want --role proxy|dgp, --minio, --minio-access-key and %s", targetSecretEnv)
	}
	if *role == roleDGP {
		// As `dgp serve` runs (cmd/dgp): the collector's heap floor,
		// unless GOGC is set. The bare proxy keeps Go's defaults.
		floor := gcfloor.Start(0)
		defer floor.Stop()
	}
	dataDir, err := os.MkdirTemp("", "dgp-bench-target-")
	if err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	defer os.RemoveAll(dataDir)
	srv, err := startServers(ctx, serversOptions{
		minioURL: *minioURL, accessKey: *accessKey, secretKey: secret,
		dataDir: dataDir, stderr: stderr, only: *role,
	})
	if err != nil {
		return err
	}
	defer func() {
		if cerr := srv.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("stop %s: %w", *role, cerr)
		}
	}()
	url, ak, sk := srv.proxyURL, *accessKey, secret
	if *role == roleDGP {
		root := srv.dgp.RootCredentials()
		url, ak, sk = srv.dgp.URL(), root.AccessKeyID, root.SecretAccessKey
	}
	if _, err := fmt.Fprintf(stdout, "ready %s %s %s\n", url, ak, sk); err != nil {
		return err
	}
	eof := make(chan struct{})
	go func() { // ends when stdin does; the process exits soon after
		_, _ = io.Copy(io.Discard, stdin)
		close(eof)
	}()
	select {
	case <-eof:
	case <-ctx.Done():
	}
	return nil
}

// targetProcess is a running gateway-target child.
type targetProcess struct {
	role  string
	cmd   *exec.Cmd
	stdin io.WriteCloser
	read  chan struct{} // closed when the child's stdout has ended
	url   string
	ak    string
	sk    string
}

// startTargetProcess starts this executable as a gateway-target child for
// role and waits for its ready line.
func startTargetProcess(ctx context.Context, role string, o gatewayOptions, stderr io.Writer) (*targetProcess, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("find dgp-bench's executable: %w", err)
	}
	cmd := exec.Command(exe, "gateway-target", "--role", role, "--minio", o.minioURL, "--minio-access-key", o.accessKey)
	cmd.Env = append(os.Environ(), targetSecretEnv+"="+o.secretKey)
	cmd.Stderr = stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start the %s process: %w", role, err)
	}
	p := &targetProcess{role: role, cmd: cmd, stdin: stdin, read: make(chan struct{})}
	line := make(chan string, 1)
	go func() { // ends with the child's stdout; stop waits for it
		defer close(p.read)
		l, _ := bufio.NewReader(out).ReadString('\n')
		line <- l
		_, _ = io.Copy(io.Discard, out)
	}()
	var l string
	select {
	case l = <-line:
	case <-ctx.Done():
	case <-time.After(time.Minute):
	}
	f := strings.Fields(l)
	if len(f) != 4 || f[0] != "ready" {
		_ = p.stop()
		return nil, fmt.Errorf("the %s process did not start (it said %q)", role, strings.TrimSpace(l))
	}
	p.url, p.ak, p.sk = f[1], f[2], f[3]
	return p, nil
}

// usage reads what the child has used so far (every thread's CPU time
// and switches, its read and write system calls).
func (p *targetProcess) usage() (procuse.Use, error) {
	u, err := procuse.Read(p.cmd.Process.Pid)
	if err != nil {
		return procuse.Use{}, fmt.Errorf("usage of the %s process: %w", p.role, err)
	}
	return u, nil
}

// stop ends the child (stdin closed; killed if its output has not
// ended within 30 s) and waits for it.
func (p *targetProcess) stop() error {
	_ = p.stdin.Close()
	var killed error
	select {
	case <-p.read:
	case <-time.After(30 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.read
		killed = errors.New("the " + p.role + " process did not stop within 30s: killed")
	}
	// Wait only after the reads of its output have ended (os/exec's rule).
	if err := p.cmd.Wait(); killed == nil {
		return err
	}
	return killed
}
