// Package testharness starts the real servers that the integration tests
// and the measuring tools (cmd/dgp-bench, cmd/dgp-propagation) run against:
// MinIO and nats-server as child processes, goaws (SNS and SQS) in process,
// each bound to 127.0.0.1 and stopped by its PID. It returns errors rather
// than failing tests so that the tools can use it too; cmd/dgp never imports
// it.
package testharness

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"sync"
	"time"
)

// startTimeout bounds how long a server may take to answer after it started.
const startTimeout = 30 * time.Second

// Process is a server running as a child process.
type Process struct {
	name string
	cmd  *exec.Cmd
	done chan struct{}
	once sync.Once
}

// startProcess starts cmd with its output going to out (discarded when nil).
func startProcess(name string, cmd *exec.Cmd, out io.Writer) (*Process, error) {
	if out == nil {
		out = io.Discard
	}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &Process{name: name, cmd: cmd, done: make(chan struct{})}
	go func() { // owned by p: Stop waits for it
		_ = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// PID returns the process id.
func (p *Process) PID() int { return p.cmd.Process.Pid }

// Stop kills the process (as a crash would) and waits for it to exit, at
// most 30 seconds. It is safe to call more than once and on nil.
func (p *Process) Stop() error {
	if p == nil {
		return nil
	}
	var err error
	p.once.Do(func() {
		_ = p.cmd.Process.Kill()
		select {
		case <-p.done:
		case <-time.After(startTimeout):
			err = fmt.Errorf("%s (pid %d) did not exit", p.name, p.PID())
		}
	})
	return err
}

// FreeAddr returns a 127.0.0.1 address whose port was free a moment ago.
func FreeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// WaitTCP waits until addr accepts connections, at most 30 seconds.
func WaitTCP(ctx context.Context, addr string) error {
	return Retry(ctx, startTimeout, func() error {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return err
		}
		return c.Close()
	})
}

// WaitHTTP waits until a GET of url answers 200 OK, at most 30 seconds.
// A nil client means http.DefaultClient.
func WaitHTTP(ctx context.Context, client *http.Client, url string) error {
	if client == nil {
		client = http.DefaultClient
	}
	return Retry(ctx, startTimeout, func() error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return errors.New(resp.Status)
		}
		return nil
	})
}

// Retry calls f every 50 ms until it returns nil, ctx ends or timeout
// passes, and returns f's last error (or ctx's).
func Retry(ctx context.Context, timeout time.Duration, f func() error) error {
	deadline := time.Now().Add(timeout)
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		err := f()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return err
		}
		t.Reset(50 * time.Millisecond)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}
