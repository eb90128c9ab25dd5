// Command dgp-healthcheck is the container health check of the dgp image.
// The image has no shell and no curl, so this tiny static program does what
// `curl -f http://127.0.0.1:9000/_/health` would: it exits 0 when dgp answers
// 200, and 1 otherwise (not serving, an error status, a timeout).
//
//	dgp-healthcheck [--timeout 3s] [URL]
//
// Without URL it asks the instance in its own container: 127.0.0.1 on the
// port of DGP_LISTEN_ADDR (default 9000), over HTTPS when DGP_TLS_CERT_FILE
// is set. Standard library only.
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"time"
)

// healthPath is dgp's liveness endpoint.
const healthPath = "/_/health"

func main() {
	os.Exit(run(os.Args[1:], os.Getenv, os.Stderr))
}

// run performs the check and returns the exit code.
func run(args []string, getenv func(string) string, stderr io.Writer) int {
	fs := flag.NewFlagSet("dgp-healthcheck", flag.ContinueOnError)
	fs.SetOutput(stderr)
	timeout := fs.Duration("timeout", 3*time.Second, "how long to wait for the answer")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 1 {
		fmt.Fprintln(stderr, "dgp-healthcheck: at most one URL")
		return 2
	}
	target := fs.Arg(0)
	if target == "" {
		var err error
		if target, err = defaultURL(getenv); err != nil {
			fmt.Fprintln(stderr, "dgp-healthcheck:", err)
			return 2
		}
	}
	if err := check(target, *timeout); err != nil {
		fmt.Fprintln(stderr, "dgp-healthcheck:", err)
		return 1
	}
	return 0
}

// defaultURL is the health URL of the instance in this container.
func defaultURL(getenv func(string) string) (string, error) {
	port := "9000"
	if addr := getenv("DGP_LISTEN_ADDR"); addr != "" {
		_, p, err := net.SplitHostPort(addr)
		if err != nil {
			return "", fmt.Errorf("DGP_LISTEN_ADDR %q: %w", addr, err)
		}
		if p == "" || p == "0" {
			return "", fmt.Errorf("DGP_LISTEN_ADDR %q names no fixed port", addr)
		}
		port = p
	}
	scheme := "http"
	if getenv("DGP_TLS_CERT_FILE") != "" {
		scheme = "https"
	}
	return scheme + "://" + net.JoinHostPort("127.0.0.1", port) + healthPath, nil
}

// check GETs target and wants a 200.
func check(target string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return fmt.Errorf("bad url: %w", err)
	}
	client := &http.Client{
		Transport: &http.Transport{
			// The check talks to its own container over loopback, where the
			// server's certificate cannot name 127.0.0.1; it verifies that
			// dgp serves, not who it is.
			TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // loopback liveness only
			Proxy:           nil,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	resp, err := client.Do(req)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("no answer from %s within %s", target, timeout)
		}
		return fmt.Errorf("get %s: %w", target, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s answered %s", target, resp.Status)
	}
	return nil
}
