package admin

import (
	"context"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/dgp-proxy/dgp/internal/configdb"
	"github.com/dgp-proxy/dgp/internal/configsync"
)

// readerIAM is a reader instance's IAM: it sees the state the sync pulled
// (here the writer's, shared) and refuses changes as a reader does.
type readerIAM struct{ writer *memIAM }

func (r readerIAM) Current() *configdb.State { return r.writer.Current() }

func (r readerIAM) Publish(context.Context, configdb.Op) (*configdb.State, error) {
	return nil, fmt.Errorf("publish: %w", configsync.ErrReadOnly)
}

// TestSeedVerify walks the Verify section of the seed guide
// (run-multiple-instances.txt) through the API: a throwaway user made on
// the writer, sync-now on a reader, the reader lists the user by name.
func TestSeedVerify(t *testing.T) {
	writer := newHarness(t)
	pull := &fakeSync{result: configsync.PullResult{Downloaded: true, ETag: `"e2"`, Generation: 1, Status: "updated"}}
	reader := newHarness(t, func(o *Options) {
		o.IAM = readerIAM{writer: writer.iam}
		o.Now = writer.clock.Now
		o.Sync = pull
		o.WriterURL = "https://dgp-writer:9000"
	})

	// On the writer: create a throwaway user.
	wc := writer.client(t)
	wc.login()
	wc.createUser(map[string]any{"name": "throwaway", "permissions": []map[string]any{
		{"effect": "Allow", "actions": []string{"list"}, "resources": []string{"*"}}}})

	// curl -c cookies ... /login on the reader, then
	// curl -b cookies -X POST .../config/sync-now
	rc := reader.client(t)
	rc.login()
	res := rc.must(http.StatusOK, "POST", "/config/sync-now", nil).obj(t)
	if res["downloaded"] != true || res["status"] != "updated" {
		t.Fatalf("sync-now %v", res)
	}

	// curl -b cookies .../users | jq '.[] | .name'
	var users []struct {
		Name string `json:"name"`
	}
	rc.must(http.StatusOK, "GET", "/users", nil).json(t, &users)
	if len(users) != 1 || users[0].Name != "throwaway" {
		t.Fatalf("reader lists %+v", users)
	}

	// The reader refuses changes and says where the writer is.
	m := wantError(t, rc.do("POST", "/users", map[string]any{"name": "x"}), http.StatusConflict, "read_only_replica")
	if m["writer_url"] != "https://dgp-writer:9000" {
		t.Fatalf("read-only answer %v", m)
	}
	// A session made on the writer works on the reader (same fleet key).
	token := sessionCookie(t, wc.login()).Value
	if r := withToken(t, reader.srv.URL, "GET", "/users", token); r.status != http.StatusOK {
		t.Fatalf("writer's session on the reader: %d", r.status)
	}
	// Logging out on the reader clears the cookie but cannot revoke.
	if out := rc.must(http.StatusOK, "POST", "/logout", nil).obj(t); out["revoked"] != false {
		t.Fatalf("logout on a reader %v", out)
	}
}

// TestOverTLS signs in over HTTPS with Secure cookies and uses the jar for
// the next call, as `curl -c cookies` then `curl -b cookies` on https://.
func TestOverTLS(t *testing.T) {
	h := newHarness(t, func(o *Options) { o.SecureCookies = true; o.Sync = &fakeSync{} })
	srv := httptest.NewTLSServer(h.srv.Config.Handler)
	t.Cleanup(srv.Close)
	hc := srv.Client()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	hc.Jar = jar
	resp, err := hc.Post(srv.URL+Prefix+"/login", "application/json", strings.NewReader(`{"password":"`+testPassword+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("login: %d", resp.StatusCode)
	}
	resp, err = hc.Post(srv.URL+Prefix+"/config/sync-now", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("sync-now with the jar over TLS: %d", resp.StatusCode)
	}
}
