//go:build integration

package upgradetest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/dgp-proxy/dgp/internal/testutil"
)

// admin talks to one node's admin API with a session cookie, signing in
// again when the session is refused. It survives the node's restarts (same
// address). Not safe for concurrent use: each worker has its own.
type admin struct {
	base string
	http *http.Client
}

func newAdmin(n *node) *admin {
	jar, _ := cookiejar.New(nil)
	return &admin{base: n.url() + "/_/api/admin", http: &http.Client{Jar: jar, Timeout: 60 * time.Second}}
}

// answer is one admin API answer.
type answer struct {
	code int
	body []byte
}

func (a answer) String() string { return fmt.Sprintf("%d %s", a.code, bytes.TrimSpace(a.body)) }

// errorCode is the status and the body's error code: "409 conflict".
func (a answer) errorCode() string {
	var e struct {
		Error string `json:"error"`
	}
	_ = json.Unmarshal(a.body, &e)
	return strings.TrimSpace(fmt.Sprintf("%d %s", a.code, e.Error))
}

// ok reports a 2xx answer: an acknowledged change.
func (a answer) ok() bool { return a.code >= 200 && a.code < 300 }

// refused reports a 4xx answer: the change was refused and made nowhere.
func (a answer) refused() bool { return a.code >= 400 && a.code < 500 }

// do sends a JSON request. An error means no answer (transport failure).
// A 401 signs in and retries once.
func (a *admin) do(method, path string, body any) (answer, error) {
	ans, err := a.send(method, path, body)
	if err == nil && ans.code == http.StatusUnauthorized && path != "/login" {
		if ans, err = a.login(); err != nil || !ans.ok() {
			return ans, err
		}
		return a.send(method, path, body)
	}
	return ans, err
}

func (a *admin) login() (answer, error) {
	return a.send(http.MethodPost, "/login", map[string]string{"password": bootstrapPassword})
}

func (a *admin) send(method, path string, body any) (answer, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return answer{}, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, a.base+path, rd)
	if err != nil {
		return answer{}, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := a.http.Do(req)
	if err != nil {
		return answer{}, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return answer{}, err
	}
	return answer{code: resp.StatusCode, body: raw}, nil
}

// must sends a request and fails the test unless the answer has status
// want; the body is decoded into out when out is not nil.
func (a *admin) must(t *testing.T, want int, method, path string, body, out any) {
	t.Helper()
	ans, err := a.do(method, path, body)
	if err != nil {
		t.Fatalf("%s %s%s: %v", method, a.base, path, err)
	}
	if ans.code != want {
		t.Fatalf("%s %s%s: %s, want %d", method, a.base, path, ans, want)
	}
	if out != nil {
		if err := json.Unmarshal(ans.body, out); err != nil {
			t.Fatalf("%s %s: decode %q: %v", method, path, ans.body, err)
		}
	}
}

// apiUser and apiGroup are entities as the admin API shows them.
type apiUser struct {
	ID              string   `json:"id"`
	Name            string   `json:"name"`
	AccessKeyID     string   `json:"access_key_id"`
	SecretAccessKey string   `json:"secret_access_key"`
	Enabled         bool     `json:"enabled"`
	GroupIDs        []string `json:"group_ids"`
}

type apiGroup struct {
	ID        string   `json:"id"`
	Name      string   `json:"name"`
	MemberIDs []string `json:"member_ids"`
}

// syncStatus is the part of GET /config/sync-status the test reads.
type syncStatus struct {
	State      string `json:"state"`
	NodeID     string `json:"node_id"`
	ETag       string `json:"etag"`
	Generation uint64 `json:"generation"`
	Schema     int    `json:"schema"`
	// SupportedSchema is the newest schema the binary reads and writes.
	SupportedSchema int `json:"supported_schema"`
	LastPull        *struct {
		Result string `json:"result"`
		Error  string `json:"error"`
	} `json:"last_pull"`
}

func (a *admin) syncStatus() (syncStatus, error) {
	var st syncStatus
	ans, err := a.do(http.MethodGet, "/config/sync-status", nil)
	if err != nil {
		return st, err
	}
	if ans.code != http.StatusOK {
		return st, fmt.Errorf("sync-status: %s", ans)
	}
	return st, json.Unmarshal(ans.body, &st)
}

// listAll reads every user and group.
func (a *admin) listAll(t *testing.T) (map[string]apiUser, map[string]apiGroup) {
	t.Helper()
	var users []apiUser
	var groups []apiGroup
	a.must(t, http.StatusOK, http.MethodGet, "/users", nil, &users)
	a.must(t, http.StatusOK, http.MethodGet, "/groups", nil, &groups)
	um := make(map[string]apiUser, len(users))
	for _, u := range users {
		um[u.Name] = u
	}
	gm := make(map[string]apiGroup, len(groups))
	for _, g := range groups {
		gm[g.Name] = g
	}
	return um, gm
}

// emptySHA256 is the SHA-256 of an empty payload.
const emptySHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

// s3Status sends a SigV4-signed ListBuckets (GET /) to the node with the
// user's key pair and returns the status: 200 accepted, 403 refused.
func s3Status(n *node, u apiUser) (int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, n.url()+"/", nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("X-Amz-Content-Sha256", emptySHA256)
	creds := aws.Credentials{AccessKeyID: u.AccessKeyID, SecretAccessKey: u.SecretAccessKey}
	if err := v4.NewSigner().SignHTTP(ctx, creds, req, emptySHA256, "s3", "us-east-1", time.Now()); err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, nil
}

// wantS3 waits until the node answers the user's signed request with want.
func wantS3(t *testing.T, n *node, u apiUser, want int) {
	t.Helper()
	testutil.RetryUntil(t, convergeFor, func() error {
		got, err := s3Status(n, u)
		if err != nil {
			return err
		}
		if got != want {
			return fmt.Errorf("%s (%s binary): S3 request signed by %s answered %d, want %d", n.name, n.bin, u.Name, got, want)
		}
		return nil
	})
}
