package admin

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dgp-proxy/dgp/internal/configdb"
	"github.com/dgp-proxy/dgp/internal/configsync"
)

// Field names are matched exactly and a field may not be given twice:
// encoding/json alone would take "Name" for "name" and keep the last of
// two values. Nothing is changed by a refused body.
func TestStrictJSONBodies(t *testing.T) {
	h := newHarness(t)
	c := h.client(t)
	c.login()
	u := c.createUser(map[string]any{"name": "alice"})
	id := u["id"].(string)
	g := c.must(http.StatusCreated, "POST", "/groups", map[string]any{"name": "team"}).obj(t)
	before := len(h.iam.ops)

	cases := []struct {
		method, path, body, field string
	}{
		{"POST", "/users", `{"Name":"bob"}`, "Name"},
		{"POST", "/users", `{"name":"bob","name":"carol"}`, "name"},
		{"POST", "/users", `{"name":"bob","permissions":[{"effect":"Allow","Actions":["read"],"resources":["*"]}]}`, "permissions[0].Actions"},
		{"POST", "/users", `{"name":"bob","permissions":[{"effect":"Allow","effect":"Deny","actions":["read"],"resources":["*"]}]}`, "permissions[0].effect"},
		{"PUT", "/users/" + id, `{"enabled":true,"ENABLED":false}`, "ENABLED"},
		{"PUT", "/users/" + id, `{"enabled":false,"enabled":true}`, "enabled"},
		{"POST", "/groups", `{"name":"x","Description":"y"}`, "Description"},
		{"PUT", "/groups/" + g["id"].(string), `{"member_ids":["alice"],"member_ids":[]}`, "member_ids"},
		{"POST", "/groups/" + g["id"].(string) + "/members", `{"User_ID":"alice"}`, "User_ID"},
		{"POST", "/auth-providers", `{"name":"p","Issuer_URL":"https://idp.example"}`, "Issuer_URL"},
		{"POST", "/login", `{"password":"x","Password":"` + testPassword + `"}`, "Password"},
	}
	for _, tc := range cases {
		r := c.do(tc.method, tc.path, tc.body)
		m := wantError(t, r, http.StatusBadRequest, "bad_request")
		if m["field"] != tc.field || !strings.Contains(m["message"].(string), tc.field) {
			t.Errorf("%s %s %s: answer %s, want field %q named", tc.method, tc.path, tc.body, r.body, tc.field)
		}
	}
	if len(h.iam.ops) != before {
		t.Fatalf("refused bodies changed IAM: %v", h.iam.ops[before:])
	}
	// The exact names still work.
	c.must(http.StatusOK, "PUT", "/users/"+id, map[string]any{"enabled": false,
		"permissions": []map[string]any{{"effect": "Allow", "actions": []string{"read"}, "resources": []string{"*"}}}})
}

// rawAdmin is a client on its own TCP connection to the harness.
type rawAdmin struct {
	t  *testing.T
	c  net.Conn
	br *bufio.Reader
}

func (h *harness) dialRaw(t *testing.T) *rawAdmin {
	t.Helper()
	c, err := net.Dial("tcp", h.srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &rawAdmin{t: t, c: c, br: bufio.NewReader(c)}
}

// head sends a request head for a JSON body of length bytes.
func (ra *rawAdmin) head(method, path, cookie string, length int) {
	ra.t.Helper()
	h := fmt.Sprintf("%s %s%s HTTP/1.1\r\nHost: admin\r\nContent-Type: application/json\r\nContent-Length: %d\r\n", method, Prefix, path, length)
	if cookie != "" {
		h += "Cookie: " + CookieName + "=" + cookie + "\r\n"
	}
	ra.send(h + "\r\n")
}

func (ra *rawAdmin) send(s string) {
	ra.t.Helper()
	if _, err := io.WriteString(ra.c, s); err != nil {
		ra.t.Fatal(err)
	}
}

// answer reads the answer; none within a wait far longer than the test's
// timeout fails.
func (ra *rawAdmin) answer() (*http.Response, string) {
	ra.t.Helper()
	_ = ra.c.SetReadDeadline(time.Now().Add(15 * time.Second))
	resp, err := http.ReadResponse(ra.br, nil)
	if err != nil {
		ra.t.Fatalf("no answer: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b)
}

func (ra *rawAdmin) wantClosed() {
	ra.t.Helper()
	_ = ra.c.SetReadDeadline(time.Now().Add(15 * time.Second))
	if n, err := ra.br.Read(make([]byte, 1)); err != io.EOF {
		ra.t.Fatalf("connection still open after the answer: read %d, %v", n, err)
	}
}

func TestAdminBodyTimeout(t *testing.T) {
	const timeout = 400 * time.Millisecond
	h := newHarness(t, func(o *Options) { o.BodyReadTimeout = timeout })
	c := h.client(t)
	token := sessionCookie(t, c.login()).Value

	t.Run("stalled body", func(t *testing.T) {
		ra := h.dialRaw(t)
		ra.head("POST", "/users", token, 100)
		ra.send(`{"name":`)
		resp, body := ra.answer()
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, `"request_timeout"`) || !resp.Close {
			t.Fatalf("answer %d close=%v %s, want 400 request_timeout closing", resp.StatusCode, resp.Close, body)
		}
		ra.wantClosed()
	})
	t.Run("answer before the body", func(t *testing.T) {
		ra := h.dialRaw(t)
		ra.head("POST", "/users", "", 100) // no session: 401 without reading
		resp, body := ra.answer()
		if resp.StatusCode != http.StatusUnauthorized || !resp.Close {
			t.Fatalf("answer %d close=%v %s, want 401 closing", resp.StatusCode, resp.Close, body)
		}
		ra.wantClosed()
	})
	t.Run("steady slow body", func(t *testing.T) {
		ra := h.dialRaw(t)
		body := `{"name":"slowpoke"}`
		ra.head("POST", "/users", token, len(body))
		tick := time.NewTicker(timeout / 8)
		defer tick.Stop()
		for i := range len(body) {
			<-tick.C
			ra.send(body[i : i+1])
		}
		resp, msg := ra.answer()
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("steady slow body answered %d %s", resp.StatusCode, msg)
		}
	})
	if got := len(h.iam.Current().Users()); got != 1 {
		t.Fatalf("%d users, want only slowpoke", got)
	}
}

// 5xx answers are logged with their route: 500 at error, 503 at warn.
func TestAdminServerErrorsLogged(t *testing.T) {
	h := newHarness(t)
	c := h.client(t)
	c.login()
	h.iam.setFail(errors.New("disk on fire"))
	wantError(t, c.do("POST", "/users", map[string]any{"name": "x"}), http.StatusInternalServerError, "internal")
	h.iam.setFail(fmt.Errorf("publish: %w: connection refused", configsync.ErrUnavailable))
	wantError(t, c.do("POST", "/users", map[string]any{"name": "y"}), http.StatusServiceUnavailable, "sync_unavailable")
	h.iam.setFail(nil)
	wantError(t, c.do("GET", "/users/nobody", nil), http.StatusNotFound, "not_found")

	levels := map[float64]string{}
	for _, l := range h.logs.lines(t) {
		if l["message"] == "admin request failed" {
			if l["route"] != "POST /users" {
				t.Errorf("failure logged without its route: %v", l)
			}
			st, _ := l["status"].(float64)
			lvl, _ := l["level"].(string)
			levels[st] = lvl
		}
	}
	if levels[500] != "error" || levels[503] != "warn" || len(levels) != 2 {
		t.Fatalf("5xx levels %v, want 500 error and 503 warn only", levels)
	}
}

// pullingSync is a Sync whose pull brings what another instance
// published: it applies the queued ops to the IAM, as a pull swaps in
// the bucket's newer DB.
type pullingSync struct {
	fakeSync
	iam *memIAM

	mu     sync.Mutex
	queued []configdb.Op
	pulls  int
}

func (p *pullingSync) SyncNow(ctx context.Context) (configsync.PullResult, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.pulls++
	for _, op := range p.queued {
		if _, err := p.iam.Publish(ctx, op); err != nil {
			return configsync.PullResult{}, err
		}
	}
	p.queued = nil
	return configsync.PullResult{Downloaded: true}, nil
}

func (p *pullingSync) queue(op configdb.Op) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.queued = append(p.queued, op)
}

func (p *pullingSync) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.pulls
}

// A name created elsewhere a moment ago is found: the miss pulls once
// before answering 404; a real miss pulls once and is 404.
func TestMissPullsBeforeNotFound(t *testing.T) {
	var ps *pullingSync
	h := newHarness(t, func(o *Options) {
		ps = &pullingSync{iam: o.IAM.(*memIAM)}
		o.Sync = ps
	})
	c := h.client(t)
	c.login()
	ps.queue(configdb.NewCreateUser("elsewhere", true, nil, nil))
	ps.queue(configdb.NewCreateGroup("remote-team", "", nil, nil))

	got := c.must(http.StatusOK, "GET", "/users/elsewhere", nil).obj(t)
	if got["name"] != "elsewhere" || ps.count() != 1 {
		t.Fatalf("user %v after %d pulls", got, ps.count())
	}
	c.must(http.StatusOK, "GET", "/groups/remote-team", nil)
	if ps.count() != 1 {
		t.Fatalf("a hit pulled: %d pulls", ps.count())
	}
	wantError(t, c.do("GET", "/users/nobody", nil), http.StatusNotFound, "not_found")
	if ps.count() != 2 {
		t.Fatalf("a miss ran %d pulls, want one more", ps.count()-1)
	}
	// A body reference to an entity created elsewhere is found too.
	ps.queue(configdb.NewCreateGroup("late-team", "", nil, nil))
	u := c.createUser(map[string]any{"name": "joiner", "group_ids": []string{"late-team"}})
	if ids, _ := u["group_ids"].([]any); len(ids) != 1 {
		t.Fatalf("joiner's groups %v", u["group_ids"])
	}
}

// Misses arriving together share pulls: never more pulls than misses,
// and every miss sees the entity.
func TestConcurrentMissesSharePulls(t *testing.T) {
	var ps *pullingSync
	h := newHarness(t, func(o *Options) {
		ps = &pullingSync{iam: o.IAM.(*memIAM)}
		o.Sync = ps
	})
	c := h.client(t)
	c.login()
	ps.queue(configdb.NewCreateUser("shared", true, nil, nil))
	const n = 8
	var wg sync.WaitGroup
	codes := make([]int, n)
	for i := range n {
		wg.Go(func() {
			resp, err := c.hc.Get(c.base + "/users/shared")
			if err != nil {
				return // codes[i] stays 0: reported below
			}
			resp.Body.Close()
			codes[i] = resp.StatusCode
		})
	}
	wg.Wait()
	for i, code := range codes {
		if code != http.StatusOK {
			t.Fatalf("request %d: %d", i, code)
		}
	}
	if p := ps.count(); p < 1 || p > n {
		t.Fatalf("%d pulls for %d misses", p, n)
	}
}
