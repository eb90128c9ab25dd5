// Package gui is the admin GUI: a few HTML pages, one stylesheet and small
// plain JavaScript modules of our own, embedded in the binary and served by
// every instance under /_/ (see docs/gui.md). The pages hold no data: their
// scripts call the JSON admin API (/_/api/admin/...) with the session
// cookie, so everything the GUI can do the API does, with the same checks
// and the same error messages.
//
// Security: every answer carries a strict Content-Security-Policy
// (default-src 'self', frame-ancestors 'none': no inline script or style,
// no CDN, no framing), X-Content-Type-Options nosniff and Referrer-Policy
// same-origin. Pages other than the sign-in page need a session: without
// one they redirect to /_/ui/login. The session is checked by asking the
// admin API's whoami endpoint in-process, so the GUI never parses tokens.
package gui

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"html/template"
	"io/fs"
	"mime"
	"net/http"
	"net/url"
	"path"
	"strings"
)

// Paths of the GUI.
const (
	Root        = "/_/"
	UIPrefix    = "/_/ui/"
	LoginPath   = "/_/ui/login"
	StaticPath  = "/_/ui/static/"
	WhoamiPath  = "/_/api/admin/whoami"
	cspHeader   = "default-src 'self'; base-uri 'none'; object-src 'none'; form-action 'self'; frame-ancestors 'none'"
	assetMaxAge = 365 * 24 * 3600
)

//go:embed web
var webFS embed.FS

// Page is one page of the GUI: its path under /_/ui/ ("" is the dashboard),
// its title in the navigation, and its script (static/<Script>).
type Page struct {
	Path   string
	Title  string
	Script string
	// Public pages are served without a session (the sign-in page).
	Public bool
	// Nav pages appear in the navigation bar.
	Nav bool
}

// Pages returns the GUI's pages in navigation order.
func Pages() []Page {
	return []Page{
		{Path: "", Title: "Dashboard", Script: "dashboard.js", Nav: true},
		{Path: "users", Title: "Users", Script: "users.js", Nav: true},
		{Path: "groups", Title: "Groups", Script: "groups.js", Nav: true},
		{Path: "providers", Title: "Auth providers", Script: "providers.js", Nav: true},
		{Path: "fleet", Title: "Fleet", Script: "fleet.js", Nav: true},
		{Path: "jobs", Title: "Jobs", Script: "jobs.js", Nav: true},
		{Path: "objects", Title: "Objects", Script: "objects.js", Nav: true},
		{Path: "login", Title: "Sign in", Script: "login.js", Public: true},
	}
}

// Options configure a Handler.
type Options struct {
	// Sessions answers GET /_/api/admin/whoami for a request carrying the
	// browser's cookies (the admin API's http.Handler): 200 means signed
	// in. Required.
	Sessions http.Handler
}

// Handler serves the GUI. It is safe for concurrent use; everything it
// serves is rendered once by New.
type Handler struct {
	sessions http.Handler
	pages    map[string]*rendered // by path under /_/ui/
	assets   map[string]*rendered // by file name under static/
	mux      *http.ServeMux
}

// rendered is a response body prepared at start-up.
type rendered struct {
	page  Page
	body  []byte
	ctype string
	etag  string // strong ETag, quoted
	hash  string // short content hash, the ?v= of asset URLs
}

// New renders the pages and indexes the static assets.
func New(o Options) (*Handler, error) {
	if o.Sessions == nil {
		return nil, fmt.Errorf("gui: Options.Sessions is required")
	}
	h := &Handler{sessions: o.Sessions, pages: map[string]*rendered{}, assets: map[string]*rendered{}, mux: http.NewServeMux()}
	static, err := fs.Sub(webFS, "web/static")
	if err != nil {
		return nil, err
	}
	err = fs.WalkDir(static, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(static, p)
		if err != nil {
			return err
		}
		ctype := mime.TypeByExtension(path.Ext(p))
		switch path.Ext(p) { // do not depend on the host's mime tables
		case ".js":
			ctype = "text/javascript; charset=utf-8"
		case ".css":
			ctype = "text/css; charset=utf-8"
		case ".svg":
			ctype = "image/svg+xml"
		}
		h.assets[p] = newRendered(Page{}, b, ctype)
		return nil
	})
	if err != nil {
		return nil, err
	}
	tmpl, err := template.New("").Funcs(template.FuncMap{
		"asset": h.assetURL,
	}).ParseFS(webFS, "web/pages/*.html")
	if err != nil {
		return nil, err
	}
	pages := Pages()
	for _, p := range pages {
		if _, ok := h.assets[p.Script]; !ok {
			return nil, fmt.Errorf("gui: page %q: no script %s", p.Path, p.Script)
		}
		name := p.Path
		if name == "" {
			name = "dashboard"
		}
		var buf bytes.Buffer
		data := struct {
			Page  Page
			Pages []Page
		}{p, pages}
		if err := tmpl.ExecuteTemplate(&buf, name+".html", data); err != nil {
			return nil, fmt.Errorf("gui: render %s: %w", name, err)
		}
		h.pages[p.Path] = newRendered(p, buf.Bytes(), "text/html; charset=utf-8")
	}
	h.mux.HandleFunc("GET "+Root+"{$}", h.serveRoot)
	h.mux.HandleFunc("GET "+StaticPath+"{file...}", h.serveAsset)
	h.mux.HandleFunc("GET "+UIPrefix+"{page...}", h.servePage)
	return h, nil
}

func newRendered(p Page, body []byte, ctype string) *rendered {
	sum := sha256.Sum256(body)
	hash := hex.EncodeToString(sum[:8])
	return &rendered{page: p, body: body, ctype: ctype, etag: `"` + hash + `"`, hash: hash}
}

// assetURL is the template function giving a static file's URL with its
// content hash, so a new release is never served from a stale cache.
func (h *Handler) assetURL(name string) (string, error) {
	a, ok := h.assets[name]
	if !ok {
		return "", fmt.Errorf("no asset %q", name)
	}
	return StaticPath + name + "?v=" + a.hash, nil
}

// Register mounts the GUI on mux: GET /_/ (exactly), /_/ui/ and below.
func (h *Handler) Register(mux *http.ServeMux) {
	mux.Handle("GET "+Root+"{$}", h) // GET patterns serve HEAD too
	mux.Handle(UIPrefix, h)
}

// ServeHTTP implements http.Handler for the GUI's paths.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	setSecurityHeaders(w.Header())
	if _, pattern := h.mux.Handler(r); pattern == "" {
		if r.Method != http.MethodGet {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		http.NotFound(w, r)
		return
	}
	h.mux.ServeHTTP(w, r)
}

func setSecurityHeaders(hd http.Header) {
	hd.Set("Content-Security-Policy", cspHeader)
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "same-origin")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Cross-Origin-Opener-Policy", "same-origin")
}

// serveRoot redirects /_/ to the dashboard or the sign-in page.
func (h *Handler) serveRoot(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	if h.signedIn(r) {
		http.Redirect(w, r, UIPrefix, http.StatusFound)
		return
	}
	http.Redirect(w, r, LoginPath, http.StatusFound)
}

func (h *Handler) servePage(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimSuffix(r.PathValue("page"), "/")
	p, ok := h.pages[name]
	if !ok {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	if !p.page.Public && !h.signedIn(r) {
		target := LoginPath
		if r.URL.Path != UIPrefix {
			target += "?next=" + url.QueryEscape(r.URL.Path)
		}
		http.Redirect(w, r, target, http.StatusFound)
		return
	}
	write(w, r, p)
}

// serveAsset serves a static file. With the ?v= of its current content it
// may be cached for a year (the URL changes with the content); otherwise
// the browser revalidates with the ETag.
func (h *Handler) serveAsset(w http.ResponseWriter, r *http.Request) {
	a, ok := h.assets[r.PathValue("file")]
	if !ok {
		http.NotFound(w, r)
		return
	}
	if r.URL.Query().Get("v") == a.hash {
		w.Header().Set("Cache-Control", fmt.Sprintf("public, max-age=%d, immutable", assetMaxAge))
	} else {
		w.Header().Set("Cache-Control", "no-cache")
	}
	w.Header().Set("ETag", a.etag)
	if etagMatches(r.Header.Get("If-None-Match"), a.etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	write(w, r, a)
}

func write(w http.ResponseWriter, r *http.Request, x *rendered) {
	hd := w.Header()
	hd.Set("Content-Type", x.ctype)
	hd.Set("Content-Length", fmt.Sprint(len(x.body)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(x.body)
	}
}

func etagMatches(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == etag || t == "*" {
			return true
		}
	}
	return false
}

// signedIn asks the admin API whether r's cookies hold a valid session.
func (h *Handler) signedIn(r *http.Request) bool {
	if len(r.Cookies()) == 0 {
		return false
	}
	req, err := http.NewRequestWithContext(r.Context(), http.MethodGet, WhoamiPath, nil)
	if err != nil {
		return false
	}
	req.Host = r.Host
	req.RemoteAddr = r.RemoteAddr
	req.TLS = r.TLS
	for _, c := range r.Header.Values("Cookie") {
		req.Header.Add("Cookie", c)
	}
	rec := &statusOnly{header: http.Header{}}
	h.sessions.ServeHTTP(rec, req)
	return rec.status == http.StatusOK
}

// statusOnly is a ResponseWriter that keeps only the status.
type statusOnly struct {
	header http.Header
	status int
}

func (s *statusOnly) Header() http.Header { return s.header }
func (s *statusOnly) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return len(b), nil
}
func (s *statusOnly) WriteHeader(status int) {
	if s.status == 0 {
		s.status = status
	}
}
