package gui

import (
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

// fakeSessions answers whoami 200 for the cookie dgp_session=good.
type fakeSessions struct{ calls int }

func (f *fakeSessions) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.calls++
	if r.URL.Path != WhoamiPath || r.Method != http.MethodGet {
		http.Error(w, "unexpected "+r.Method+" "+r.URL.Path, http.StatusTeapot)
		return
	}
	if c, err := r.Cookie("dgp_session"); err == nil && c.Value == "good" {
		_, _ = io.WriteString(w, `{"kind":"admin"}`)
		return
	}
	w.WriteHeader(http.StatusUnauthorized)
}

func newTestServer(t *testing.T) (*httptest.Server, *fakeSessions) {
	t.Helper()
	fs := &fakeSessions{}
	h, err := New(Options{Sessions: fs})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	h.Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv, fs
}

func get(t *testing.T, url string, signedIn bool, hdr ...string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if signedIn {
		req.AddCookie(&http.Cookie{Name: "dgp_session", Value: "good"})
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func checkSecurityHeaders(t *testing.T, what string, h http.Header) {
	t.Helper()
	csp := h.Get("Content-Security-Policy")
	if !strings.Contains(csp, "default-src 'self'") || !strings.Contains(csp, "frame-ancestors 'none'") ||
		strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
		t.Errorf("%s: CSP %q", what, csp)
	}
	if h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Referrer-Policy") != "same-origin" {
		t.Errorf("%s: headers %v", what, h)
	}
}

func TestRootRedirects(t *testing.T) {
	srv, _ := newTestServer(t)
	for _, tc := range []struct {
		signedIn bool
		want     string
	}{{false, LoginPath}, {true, UIPrefix}} {
		resp, _ := get(t, srv.URL+Root, tc.signedIn)
		if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != tc.want {
			t.Errorf("signed in %v: %s -> %q, want 302 -> %q", tc.signedIn, resp.Status, resp.Header.Get("Location"), tc.want)
		}
		checkSecurityHeaders(t, "redirect", resp.Header)
	}
	// Only /_/ itself: not the API or other /_/ paths.
	if resp, _ := get(t, srv.URL+"/_/other", true); resp.StatusCode != http.StatusNotFound {
		t.Errorf("/_/other: %s", resp.Status)
	}
}

func TestPagesNeedASession(t *testing.T) {
	srv, _ := newTestServer(t)
	for _, p := range Pages() {
		url := srv.URL + UIPrefix + p.Path
		resp, body := get(t, url, false)
		checkSecurityHeaders(t, p.Path, resp.Header)
		if p.Public {
			if resp.StatusCode != http.StatusOK || !strings.Contains(body, "<title>"+p.Title) {
				t.Errorf("public %q: %s %.80q", p.Path, resp.Status, body)
			}
			continue
		}
		if resp.StatusCode != http.StatusFound || !strings.HasPrefix(resp.Header.Get("Location"), LoginPath) {
			t.Errorf("%q without a session: %s -> %q", p.Path, resp.Status, resp.Header.Get("Location"))
		}
		resp, body = get(t, url, true)
		if resp.StatusCode != http.StatusOK || !strings.Contains(body, "<title>"+p.Title) {
			t.Errorf("%q signed in: %s", p.Path, resp.Status)
		}
		if resp.Header.Get("Content-Type") != "text/html; charset=utf-8" || resp.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("%q headers %v", p.Path, resp.Header)
		}
	}
	if resp, _ := get(t, srv.URL+UIPrefix+"nope", true); resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown page: %s", resp.Status)
	}
	if resp, _ := get(t, srv.URL+UIPrefix+"users?x=1", false); resp.Header.Get("Location") != LoginPath+"?next=%2F_%2Fui%2Fusers" {
		t.Errorf("next: %q", resp.Header.Get("Location"))
	}
}

var (
	inlineScript = regexp.MustCompile(`<script(?:\s[^>]*)?>\s*[^<\s]`)
	styleAttr    = regexp.MustCompile(`(?i)\sstyle\s*=|<style|\son[a-z]+\s*=|javascript:`)
	assetRef     = regexp.MustCompile(`(?:src|href)="(/_/ui/static/[^"?]+)\?v=([0-9a-f]+)"`)
	externalRef  = regexp.MustCompile(`(?:src|href)="(?:https?:)?//`)
)

// TestPagesObeyTheCSP: no inline scripts, styles or handlers, nothing
// loaded from elsewhere, and every referenced asset served with its hash.
func TestPagesObeyTheCSP(t *testing.T) {
	srv, _ := newTestServer(t)
	for _, p := range Pages() {
		_, body := get(t, srv.URL+UIPrefix+p.Path, true)
		if inlineScript.MatchString(body) || styleAttr.MatchString(body) || externalRef.MatchString(body) {
			t.Errorf("page %q breaks the CSP: %s", p.Path, body)
		}
		refs := assetRef.FindAllStringSubmatch(body, -1)
		if len(refs) < 3 {
			t.Errorf("page %q references %d assets", p.Path, len(refs))
		}
		for _, m := range refs {
			resp, _ := get(t, srv.URL+m[1]+"?v="+m[2], false)
			if resp.StatusCode != http.StatusOK || !strings.Contains(resp.Header.Get("Cache-Control"), "immutable") {
				t.Errorf("asset %s: %s %q", m[1], resp.Status, resp.Header.Get("Cache-Control"))
			}
		}
	}
}

func TestScriptsStayInTheirLane(t *testing.T) {
	h, err := New(Options{Sessions: &fakeSessions{}})
	if err != nil {
		t.Fatal(err)
	}
	for name, a := range h.assets {
		if !strings.HasSuffix(name, ".js") {
			continue
		}
		src := string(a.body)
		for _, bad := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "eval(", "new Function", "document.write", "http://", "https://", "setAttribute(\"style\"", "window.confirm", "confirm("} {
			if strings.Contains(src, bad) {
				t.Errorf("%s uses %q", name, bad)
			}
		}
		if a.ctype != "text/javascript; charset=utf-8" {
			t.Errorf("%s content type %q", name, a.ctype)
		}
	}
}

func TestAssetCaching(t *testing.T) {
	srv, _ := newTestServer(t)
	resp, body := get(t, srv.URL+StaticPath+"common.js", false)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Cache-Control") != "no-cache" || !strings.Contains(body, "export async function api") {
		t.Fatalf("common.js without v: %s %v", resp.Status, resp.Header)
	}
	checkSecurityHeaders(t, "asset", resp.Header)
	etag := resp.Header.Get("ETag")
	if etag == "" {
		t.Fatal("no ETag")
	}
	resp, body = get(t, srv.URL+StaticPath+"common.js", false, "If-None-Match", etag)
	if resp.StatusCode != http.StatusNotModified || body != "" {
		t.Fatalf("revalidation: %s", resp.Status)
	}
	resp, _ = get(t, srv.URL+StaticPath+"common.js?v=stale", false)
	if resp.Header.Get("Cache-Control") != "no-cache" {
		t.Fatalf("stale v: %q", resp.Header.Get("Cache-Control"))
	}
	if resp, _ := get(t, srv.URL+StaticPath+"../gui.go", false); resp.StatusCode == http.StatusOK {
		t.Fatal("served a file outside static")
	}
	if resp, _ := get(t, srv.URL+StaticPath+"missing.js", false); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("missing asset: %s", resp.Status)
	}
}

func TestLoginPageAsksNoSession(t *testing.T) {
	srv, fs := newTestServer(t)
	fs.calls = 0
	resp, _ := get(t, srv.URL+LoginPath, false)
	if resp.StatusCode != http.StatusOK || fs.calls != 0 {
		t.Fatalf("login: %s, %d whoami calls", resp.Status, fs.calls)
	}
	// A request without any cookie is not signed in without asking.
	_, _ = get(t, srv.URL+Root, false)
	if fs.calls != 0 {
		t.Fatalf("whoami asked for a request without cookies")
	}
}

func TestNewNeedsSessions(t *testing.T) {
	if _, err := New(Options{}); err == nil {
		t.Fatal("want an error without Sessions")
	}
}

func TestMethodNotAllowed(t *testing.T) {
	srv, _ := newTestServer(t)
	resp, err := http.Post(srv.URL+UIPrefix+"users", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("POST page: %s", resp.Status)
	}
}
