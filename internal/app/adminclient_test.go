package app

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"testing"
)

// adminClient talks to an instance's admin API with a cookie jar, as curl
// -c/-b cookies does.
type adminClient struct {
	t    *testing.T
	base string
	http *http.Client
}

func (in *instance) admin(t *testing.T) *adminClient {
	jar, _ := cookiejar.New(nil)
	c := in.httpClient()
	c.Jar = jar
	return &adminClient{t: t, base: in.app.URL() + "/_/api/admin", http: c}
}

// do sends a JSON request and decodes a JSON answer into out (when non-nil).
// It returns the status code.
func (c *adminClient) do(method, path string, body, out any) int {
	c.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if out != nil && len(raw) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			c.t.Fatalf("%s %s: decode %q: %v", method, path, raw, err)
		}
	}
	return resp.StatusCode
}

// must sends a request and fails the test unless the status is want.
func (c *adminClient) must(want int, method, path string, body, out any) {
	c.t.Helper()
	var raw json.RawMessage
	got := c.do(method, path, body, &raw)
	if got != want {
		c.t.Fatalf("%s %s: status %d, want %d: %s", method, path, got, want, raw)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			c.t.Fatalf("decode: %v", err)
		}
	}
}

func (c *adminClient) login(password string) {
	c.t.Helper()
	c.must(http.StatusOK, http.MethodPost, "/login", map[string]string{"password": password}, nil)
}

// apiUser is a user as the admin API shows it.
type apiUser struct {
	ID              string   `json:"id"`
	Name            string   `json:"name"`
	AccessKeyID     string   `json:"access_key_id"`
	SecretAccessKey string   `json:"secret_access_key"`
	Enabled         bool     `json:"enabled"`
	GroupIDs        []string `json:"group_ids"`
}

func (c *adminClient) userNames() []string {
	c.t.Helper()
	var users []apiUser
	c.must(http.StatusOK, http.MethodGet, "/users", nil, &users)
	names := make([]string, len(users))
	for i, u := range users {
		names[i] = u.Name
	}
	return names
}
