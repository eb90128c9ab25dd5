// Package adminclient is a small client of dgp's JSON admin API for
// integration tests: one cookie jar, so one sign-in serves every instance
// on 127.0.0.1 (sessions are valid fleet-wide).
package adminclient

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"testing"
	"time"

	"github.com/dgp-proxy/dgp/internal/admin"
	"github.com/dgp-proxy/dgp/internal/testharness/dgpfleet"
)

// Client calls the admin API. Every path is appended to Base: with Base
// empty, callers pass whole URLs.
type Client struct {
	T    testing.TB
	HC   *http.Client
	Base string
}

// New returns a client with a fresh cookie jar whose requests give up
// after timeout.
func New(t testing.TB, base string, timeout time.Duration) *Client {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatalf("cookie jar: %v", err)
	}
	return &Client{T: t, HC: &http.Client{Jar: jar, Timeout: timeout}, Base: base}
}

// API is the admin API's base URL of the instance at base.
func API(base string) string { return base + admin.Prefix }

// At is a client with the same cookies (the same sessions) for another
// base.
func (c *Client) At(base string) *Client { return &Client{T: c.T, HC: c.HC, Base: base} }

// Do sends one request. body is nil (no body), a string or []byte (sent
// as it is) or anything else (sent as JSON); either way a body is sent as
// application/json.
func (c *Client) Do(method, path string, body any) (int, []byte, error) {
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		if b != "" {
			rd = bytes.NewReader([]byte(b))
		}
	case []byte:
		rd = bytes.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			return 0, nil, err
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, c.Base+path, rd)
	if err != nil {
		return 0, nil, err
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.HC.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	return resp.StatusCode, data, err
}

// Must is Do failing the test unless the answer has status want; with out
// not nil it decodes the answer's JSON into out. It returns the body.
func (c *Client) Must(want int, method, path string, body, out any) []byte {
	c.T.Helper()
	status, data, err := c.Do(method, path, body)
	if err != nil || status != want {
		c.T.Fatalf("%s %s: %d %v, want %d: %s", method, c.Base+path, status, err, want, data)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			c.T.Fatalf("%s %s: decode %v: %s", method, c.Base+path, err, data)
		}
	}
	return data
}

// Login signs in at the instance whose base URL is base (whatever Base is)
// with the bootstrap password dgpfleet starts instances with, retrying for
// up to a minute while the instance starts.
func (c *Client) Login(base string) {
	c.T.Helper()
	url := API(base) + "/login"
	deadline := time.Now().Add(time.Minute)
	for {
		status, data, err := (&Client{HC: c.HC}).Do(http.MethodPost, url, map[string]string{"password": dgpfleet.DefaultBootstrapPassword})
		if err == nil && status == http.StatusOK {
			return
		}
		if time.Now().After(deadline) {
			c.T.Fatalf("login at %s: %d %v %s", base, status, err, data)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
