// Package oidcprovider runs a real OpenID Connect provider for dgp's
// tests: the program in ./cmd/oidc-provider (zitadel/oidc's example
// provider with users from a JSON file), built with `go build` and run as a
// child process on 127.0.0.1, stopped by its PID.
//
// What its tokens carry (scopes openid email profile): the ID token holds
// iss, sub (the user's ID), aud, exp, iat, nonce, at_hash and "groups" (the
// user's groups, when it has any), but not email or profile: the provider
// follows OIDC Core 5.4 and puts those in the userinfo answer when an
// access token is issued. Userinfo holds sub, email, email_verified,
// name, given_name, family_name, preferred_username (the username), locale
// and "groups".
package oidcprovider

import (
	"bytes"
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
	"sync"
	"testing"
	"time"
)

// Package is the import path of the provider program.
const Package = "github.com/dgp-proxy/dgp/internal/testharness/oidcprovider/cmd/oidc-provider"

// User is a person who can sign in at the provider's login page.
type User struct {
	ID            string   `json:"id"` // the "sub" claim
	Username      string   `json:"username"`
	Password      string   `json:"password"`
	Email         string   `json:"email"`
	EmailVerified bool     `json:"email_verified"`
	FirstName     string   `json:"first_name"`
	LastName      string   `json:"last_name"`
	Groups        []string `json:"groups,omitempty"` // the "groups" claim
}

// UsersFile is the program's -users file.
type UsersFile struct {
	Users []User `json:"users"`
}

// ReadUsersFile reads a users file.
func ReadUsersFile(path string) (UsersFile, error) {
	var uf UsersFile
	data, err := os.ReadFile(path)
	if err != nil {
		return uf, err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&uf); err != nil {
		return uf, fmt.Errorf("users file %s: %w", path, err)
	}
	return uf, nil
}

// Options say how to run a provider.
type Options struct {
	// Users who can sign in (at least one).
	Users []User
	// ClientID and ClientSecret of the one confidential client (defaults
	// "dgp" and "dgp-test-secret").
	ClientID     string
	ClientSecret string
	// RedirectURIs the client may use (at least one).
	RedirectURIs []string
	// Dir holds the users and ready files (required).
	Dir string
	// Output receives the provider's log (nil: discarded).
	Output io.Writer
}

// Provider is a running provider.
type Provider struct {
	// Issuer is the issuer URL: http://127.0.0.1:<port>/.
	Issuer       string
	ClientID     string
	ClientSecret string

	cmd  *exec.Cmd
	done chan struct{}
	once sync.Once
}

// Build compiles the provider program into dir and returns its path.
func Build(ctx context.Context, dir string) (string, error) {
	bin := filepath.Join(dir, "oidc-provider")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, Package)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build %s: %w\n%s", Package, err, out)
	}
	return bin, nil
}

// Start runs the program bin with o and waits until its discovery document
// answers (at most 30 s).
func Start(ctx context.Context, bin string, o Options) (*Provider, error) {
	if o.Dir == "" || len(o.Users) == 0 || len(o.RedirectURIs) == 0 {
		return nil, errors.New("oidcprovider: Dir, Users and RedirectURIs are required")
	}
	if o.ClientID == "" {
		o.ClientID = "dgp"
	}
	if o.ClientSecret == "" {
		o.ClientSecret = "dgp-test-secret"
	}
	users, err := json.Marshal(UsersFile{Users: o.Users})
	if err != nil {
		return nil, err
	}
	usersPath, readyPath := filepath.Join(o.Dir, "users.json"), filepath.Join(o.Dir, "ready")
	_ = os.Remove(readyPath)
	if err := os.WriteFile(usersPath, users, 0o600); err != nil {
		return nil, err
	}
	args := []string{"-addr", "127.0.0.1:0", "-users", usersPath, "-client-id", o.ClientID,
		"-client-secret", o.ClientSecret, "-ready-file", readyPath}
	for _, u := range o.RedirectURIs {
		args = append(args, "-redirect-uri", u)
	}
	cmd := exec.Command(bin, args...)
	out := o.Output
	if out == nil {
		out = io.Discard
	}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start oidc provider: %w", err)
	}
	p := &Provider{ClientID: o.ClientID, ClientSecret: o.ClientSecret, cmd: cmd, done: make(chan struct{})}
	go func() { // owned by p: Stop waits for it
		_ = cmd.Wait()
		close(p.done)
	}()
	if err := p.waitReady(ctx, readyPath); err != nil {
		_ = p.Stop()
		return nil, err
	}
	return p, nil
}

func (p *Provider) waitReady(ctx context.Context, readyPath string) error {
	deadline := time.Now().Add(30 * time.Second)
	var last error
	for time.Now().Before(deadline) {
		select {
		case <-p.done:
			return errors.New("oidc provider exited before it was ready (see its output)")
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		issuer, err := os.ReadFile(readyPath)
		if err != nil || len(issuer) == 0 {
			last = errors.New("no ready file yet")
			continue
		}
		p.Issuer = strings.TrimSpace(string(issuer))
		if last = ping(ctx, p.Issuer); last == nil {
			return nil
		}
	}
	return fmt.Errorf("oidc provider not ready after 30 s: %w", last)
}

func ping(ctx context.Context, issuer string) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, issuer+".well-known/openid-configuration", nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return errors.New("discovery: " + resp.Status)
	}
	return nil
}

// PID is the provider's process id.
func (p *Provider) PID() int { return p.cmd.Process.Pid }

// Stop kills the provider by its PID and waits for it to exit (at most
// 30 s). Safe to call more than once.
func (p *Provider) Stop() error {
	var err error
	p.once.Do(func() {
		_ = p.cmd.Process.Kill()
		select {
		case <-p.done:
		case <-time.After(30 * time.Second):
			err = fmt.Errorf("oidc provider (pid %d) did not exit", p.PID())
		}
	})
	return err
}

// New builds and starts a provider for t, stopped by t.Cleanup. Its log
// is kept and printed when the test failed (unless o.Output is set).
func New(t testing.TB, o Options) *Provider {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	bin, err := Build(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	if o.Dir == "" {
		o.Dir = dir
	}
	var log lockedBuffer
	if o.Output == nil {
		o.Output = &log
	}
	p, err := Start(ctx, bin, o)
	if err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	t.Cleanup(func() {
		if err := p.Stop(); err != nil {
			t.Error(err)
		}
		if t.Failed() && log.Len() > 0 {
			t.Logf("oidc provider log:\n%s", log.String())
		}
	})
	return p
}

// lockedBuffer is a bytes.Buffer written by the child's output copier.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func (l *lockedBuffer) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Len()
}
