package admin

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/dgp-proxy/dgp/internal/s3err"
	"github.com/dgp-proxy/dgp/internal/storage"
	"github.com/dgp-proxy/dgp/internal/storage/fsbackend"
)

// fsObjects serves Objects from one real fsbackend (every bucket on it).
// putStarted, when set, is closed once a put has passed startAfter bytes
// to the backend.
type fsObjects struct {
	b          *fsbackend.Backend
	putStarted chan struct{}
	startAfter int64
}

var _ Objects = (*fsObjects)(nil)

func (f *fsObjects) ListBuckets(ctx context.Context) ([]storage.BucketInfo, error) {
	return f.b.ListBuckets(ctx)
}

func (f *fsObjects) ListObjects(ctx context.Context, bucket string, opts storage.ListOptions) (*storage.ListResult, error) {
	return f.b.ListObjects(ctx, bucket, opts)
}

func (f *fsObjects) GetObject(ctx context.Context, bucket, key string, opts storage.GetOptions) (*storage.Object, error) {
	return f.b.GetObject(ctx, bucket, key, opts)
}

func (f *fsObjects) PutObject(ctx context.Context, bucket, key string, body io.Reader, size int64, opts storage.PutOptions) (*storage.PutResult, error) {
	if f.putStarted != nil {
		body = &signalReader{r: body, after: f.startAfter, done: f.putStarted}
	}
	return f.b.PutObject(ctx, bucket, key, body, size, opts)
}

func (f *fsObjects) DeleteObject(ctx context.Context, bucket, key string) error {
	_, err := f.b.DeleteObject(ctx, bucket, key, storage.DeleteOptions{})
	return err
}

// signalReader closes done once after bytes have been read through it.
type signalReader struct {
	r     io.Reader
	after int64
	n     int64
	done  chan struct{}
}

func (s *signalReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	before := s.n
	s.n += int64(n)
	if before < s.after && s.n >= s.after {
		close(s.done)
	}
	return n, err
}

// newObjectsHarness is an API with the object browser over a fresh
// fsbackend holding the given buckets.
func newObjectsHarness(t *testing.T, buckets ...string) (*harness, *fsObjects) {
	t.Helper()
	h := newHarness(t, func(o *Options) { o.BodyReadTimeout = 300 * time.Millisecond })
	fb, err := fsbackend.New("fs", t.TempDir(), h.clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range buckets {
		if err := fb.CreateBucket(context.Background(), b, storage.CreateBucketOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	o := &fsObjects{b: fb}
	h.api.MountObjects(o)
	return h, o
}

// put uploads body as bucket/key with a Content-Length.
func (c *client) put(path, body, ctype string) *response {
	c.t.Helper()
	return c.do("PUT", path, body, ctype)
}

func TestObjectsBootstrapAdmin(t *testing.T) {
	h, _ := newObjectsHarness(t, "photos", "logs")
	c := h.client(t)
	wantError(t, c.do("GET", "/objects", nil), http.StatusUnauthorized, "unauthenticated")
	c.login()

	var bl struct {
		Buckets []bucketEntry `json:"buckets"`
	}
	c.must(http.StatusOK, "GET", "/objects", nil).json(t, &bl)
	if len(bl.Buckets) != 2 || bl.Buckets[0].Name != "logs" || bl.Buckets[1].Name != "photos" || !bl.Buckets[0].ListRoot {
		t.Fatalf("buckets: %+v", bl.Buckets)
	}

	keys := []string{"a.txt", "dir/1.txt", "dir/2.txt", "dir/sub/3.txt", "z.txt"}
	for _, k := range keys {
		r := c.put("/objects/photos/"+k, "data of "+k, "text/plain")
		if r.status != http.StatusOK {
			t.Fatalf("put %s: %d %s", k, r.status, r.body)
		}
		var pa putAnswer
		r.json(t, &pa)
		if pa.Key != k || pa.Size != int64(len("data of "+k)) || pa.ETag == "" {
			t.Fatalf("put answer %+v", pa)
		}
	}

	// One level with the delimiter: objects and "folders".
	var la listAnswer
	c.must(http.StatusOK, "GET", "/objects/photos?delimiter=/", nil).json(t, &la)
	if got := objectKeys(la); got != "a.txt,z.txt" || strings.Join(la.CommonPrefixes, ",") != "dir/" || la.IsTruncated {
		t.Fatalf("root listing: objects %s prefixes %v truncated %v", got, la.CommonPrefixes, la.IsTruncated)
	}
	c.must(http.StatusOK, "GET", "/objects/photos?delimiter=/&prefix=dir/", nil).json(t, &la)
	if got := objectKeys(la); got != "dir/1.txt,dir/2.txt" || strings.Join(la.CommonPrefixes, ",") != "dir/sub/" {
		t.Fatalf("dir/ listing: objects %s prefixes %v", got, la.CommonPrefixes)
	}
	if o := la.Objects[0]; o.Size != int64(len("data of dir/1.txt")) || o.ETag == "" || o.LastModified.IsZero() {
		t.Fatalf("object entry %+v", o)
	}

	// Pagination without a delimiter: pages of 2 cover every key once.
	var all []string
	after := ""
	for page := 0; ; page++ {
		if page > len(keys) {
			t.Fatal("pagination does not end")
		}
		c.must(http.StatusOK, "GET", "/objects/photos?max=2&start_after="+url.QueryEscape(after), nil).json(t, &la)
		for _, o := range la.Objects {
			all = append(all, o.Key)
		}
		if !la.IsTruncated {
			break
		}
		if len(la.Objects) != 2 || la.NextStartAfter == "" {
			t.Fatalf("truncated page %+v", la)
		}
		after = la.NextStartAfter
	}
	if strings.Join(all, ",") != strings.Join(keys, ",") {
		t.Fatalf("paged keys %v, want %v", all, keys)
	}
	// Pagination with the delimiter: a "folder" is given once.
	var seen []string
	after = ""
	for page := 0; page <= len(keys); page++ {
		c.must(http.StatusOK, "GET", "/objects/photos?delimiter=/&max=1&start_after="+url.QueryEscape(after), nil).json(t, &la)
		seen = append(seen, la.CommonPrefixes...)
		for _, o := range la.Objects {
			seen = append(seen, o.Key)
		}
		if !la.IsTruncated {
			break
		}
		after = la.NextStartAfter
	}
	if strings.Join(seen, ",") != "a.txt,dir/,z.txt" {
		t.Fatalf("paged with delimiter: %v", seen)
	}

	// Download: the bytes, as an attachment, never sniffed.
	r := c.must(http.StatusOK, "GET", "/objects/photos/dir/sub/3.txt", nil)
	if string(r.body) != "data of dir/sub/3.txt" {
		t.Fatalf("download body %q", r.body)
	}
	for k, want := range map[string]string{
		"Content-Type":           "text/plain",
		"Content-Length":         fmt.Sprint(len("data of dir/sub/3.txt")),
		"Content-Disposition":    `attachment; filename="3.txt"; filename*=UTF-8''3.txt`,
		"X-Content-Type-Options": "nosniff",
		"Cache-Control":          "no-store",
	} {
		if got := r.header.Get(k); got != want {
			t.Errorf("%s: %q, want %q", k, got, want)
		}
	}
	if r.header.Get("ETag") == "" || r.header.Get("Last-Modified") == "" {
		t.Errorf("no ETag or Last-Modified: %v", r.header)
	}
	// The ?key= form reaches keys the path cannot carry.
	c.must(http.StatusOK, "PUT", "/objects/photos?key="+url.QueryEscape("odd//key"), "odd")
	if r := c.must(http.StatusOK, "GET", "/objects/photos?key="+url.QueryEscape("odd//key"), nil); string(r.body) != "odd" {
		t.Fatalf("?key= download %q", r.body)
	}
	c.must(http.StatusOK, "DELETE", "/objects/photos?key="+url.QueryEscape("odd//key"), nil)
	// In the path, such a key is refused, never redirected onto another
	// (straight to the API: the test server's own mux would redirect).
	req := httptest.NewRequest("DELETE", Prefix+"/objects/photos/dir//1.txt", nil)
	base, _ := url.Parse(h.srv.URL)
	for _, ck := range c.hc.Jar.Cookies(base) {
		req.AddCookie(ck)
	}
	rec := httptest.NewRecorder()
	h.api.ServeHTTP(rec, req)
	if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), `"bad_path"`) {
		t.Fatalf("DELETE of an unclean path: %d %s", rec.Code, rec.Body)
	}
	c.must(http.StatusOK, "GET", "/objects/photos/dir/1.txt", nil)

	// Delete, then the key is gone.
	c.must(http.StatusOK, "DELETE", "/objects/photos/a.txt", nil)
	m := wantError(t, c.do("GET", "/objects/photos/a.txt", nil), http.StatusNotFound, "no_such_key")
	if !strings.Contains(m["message"].(string), `"a.txt"`) || !strings.Contains(m["message"].(string), `"photos"`) {
		t.Fatalf("404 message does not name the key and bucket: %v", m)
	}

	// Errors name what is wrong.
	wantError(t, c.do("GET", "/objects/nosuch", nil), http.StatusNotFound, "no_such_bucket")
	wantError(t, c.put("/objects/nosuch/k", "x", "text/plain"), http.StatusNotFound, "no_such_bucket")
	wantError(t, c.do("GET", "/objects/photos?max=5000", nil), http.StatusBadRequest, "invalid")
	wantError(t, c.do("GET", "/objects/Bad_Bucket", nil), http.StatusBadRequest, "invalid")
	wantError(t, c.do("GET", "/objects/photos/", nil), http.StatusBadRequest, "invalid")
	wantError(t, c.do("PUT", "/objects/photos?key="+url.QueryEscape("dir/../x"), "x"), http.StatusBadRequest, "invalid")
	wantError(t, c.put("/objects/photos/k", "x", "not a type"), http.StatusBadRequest, "invalid")
	wantError(t, c.do("PUT", "/objects/photos/k?key=other", "x"), http.StatusBadRequest, "bad_request")
	c.must(http.StatusOK, "PUT", "/objects/photos/once", "1")
	hdr := map[string]string{"If-None-Match": "*"}
	wantError(t, c.doHeaders("PUT", "/objects/photos/once", "2", hdr), http.StatusPreconditionFailed, "precondition_failed")
}

func objectKeys(la listAnswer) string {
	var ks []string
	for _, o := range la.Objects {
		ks = append(ks, o.Key)
	}
	return strings.Join(ks, ",")
}

// doHeaders sends body with extra headers.
func (c *client) doHeaders(method, path, body string, hdr map[string]string) *response {
	c.t.Helper()
	req, err := http.NewRequest(method, c.base+path, strings.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return &response{status: resp.StatusCode, header: resp.Header, body: data, resp: resp}
}

// TestObjectsUserRights: a user session acts with that user's rules only,
// as its keys would on the S3 API.
func TestObjectsUserRights(t *testing.T) {
	h, _ := newObjectsHarness(t, "photos", "secret")
	adm := h.client(t)
	adm.login()
	adm.must(http.StatusOK, "PUT", "/objects/photos/other/x.txt", "x")
	adm.must(http.StatusOK, "PUT", "/objects/photos/team/keep.txt", "keep")
	adm.must(http.StatusOK, "PUT", "/objects/secret/s.txt", "s")
	grp := adm.must(http.StatusCreated, "POST", "/groups", map[string]any{"name": "team-deleters", "permissions": []map[string]any{
		{"effect": "Allow", "actions": []string{"delete"}, "resources": []string{"photos/team/*"}},
	}}).obj(t)
	u := adm.createUser(map[string]any{"name": "alice", "group_ids": []string{grp["id"].(string)}, "permissions": []map[string]any{
		{"effect": "Allow", "actions": []string{"admin"}, "resources": []string{"*"}},
		{"effect": "Allow", "actions": []string{"read", "write", "list"}, "resources": []string{"photos/team/*"}},
		{"effect": "Deny", "actions": []string{"delete"}, "resources": []string{"photos/team/keep*"}},
	}})
	c := h.client(t)
	c.must(http.StatusOK, "POST", "/login", map[string]string{
		"access_key_id": u["access_key_id"].(string), "secret_access_key": u["secret_access_key"].(string)})

	var bl struct {
		Buckets []bucketEntry `json:"buckets"`
	}
	c.must(http.StatusOK, "GET", "/objects", nil).json(t, &bl)
	// As S3's ListBuckets shows them to her keys: her admin rule on "*"
	// touches every bucket; she may list photos from team/ only, and
	// secret not at all.
	if len(bl.Buckets) != 2 || bl.Buckets[0].Name != "photos" || bl.Buckets[0].ListRoot ||
		strings.Join(bl.Buckets[0].StartPrefixes, ",") != "team/" ||
		bl.Buckets[1].Name != "secret" || bl.Buckets[1].ListRoot || len(bl.Buckets[1].StartPrefixes) != 0 {
		t.Fatalf("alice's buckets: %+v", bl.Buckets)
	}

	// Allowed under photos/team/.
	c.must(http.StatusOK, "PUT", "/objects/photos/team/new.txt", "new")
	if r := c.must(http.StatusOK, "GET", "/objects/photos/team/new.txt", nil); string(r.body) != "new" {
		t.Fatalf("download %q", r.body)
	}
	var la listAnswer
	c.must(http.StatusOK, "GET", "/objects/photos?prefix=team/&delimiter=/", nil).json(t, &la)
	if got := objectKeys(la); got != "team/keep.txt,team/new.txt" {
		t.Fatalf("team listing %s", got)
	}
	c.must(http.StatusOK, "DELETE", "/objects/photos/team/new.txt", nil)

	// Refused elsewhere, naming the action and the resource.
	for _, tc := range []struct {
		method, path, body, action, resource string
	}{
		{"GET", "/objects/photos?delimiter=/", "", "list", "bucket photos"},
		{"GET", "/objects/photos?prefix=other/", "", "list", `bucket photos under prefix "other/"`},
		{"GET", "/objects/photos/other/x.txt", "", "read", "photos/other/x.txt"},
		{"PUT", "/objects/photos/other/y.txt", "y", "write", "photos/other/y.txt"},
		{"DELETE", "/objects/photos/other/x.txt", "", "delete", "photos/other/x.txt"},
		{"GET", "/objects/secret/s.txt", "", "read", "secret/s.txt"},
		{"GET", "/objects/secret", "", "list", "bucket secret"},
		// Deny wins over the group's Allow.
		{"DELETE", "/objects/photos/team/keep.txt", "", "delete", "photos/team/keep.txt"},
	} {
		var body any
		if tc.body != "" {
			body = tc.body
		}
		m := wantError(t, c.do(tc.method, tc.path, body), http.StatusForbidden, "access_denied")
		if m["action"] != tc.action || m["resource"] != tc.resource ||
			!strings.Contains(m["message"].(string), "alice") {
			t.Errorf("%s %s: %v", tc.method, tc.path, m)
		}
	}
	// Nothing changed where alice was refused.
	adm.must(http.StatusOK, "GET", "/objects/photos/other/x.txt", nil)
	adm.must(http.StatusOK, "GET", "/objects/photos/team/keep.txt", nil)
	wantError(t, adm.do("GET", "/objects/photos/other/y.txt", nil), http.StatusNotFound, "no_such_key")

	// Rules change at once: granting list on the whole bucket shows it.
	adm.must(http.StatusOK, "PUT", "/groups/"+grp["id"].(string), map[string]any{"permissions": []map[string]any{
		{"effect": "Allow", "actions": []string{"delete"}, "resources": []string{"photos/team/*"}},
		{"effect": "Allow", "actions": []string{"list"}, "resources": []string{"photos"}},
	}})
	c.must(http.StatusOK, "GET", "/objects/photos?delimiter=/", nil)
}

// TestObjectsStreamedUpload uploads 64 MiB through a pipe: storage is
// reading the body before the client has sent most of it (nothing buffers
// the whole body), and the download gives the same bytes back.
func TestObjectsStreamedUpload(t *testing.T) {
	h, o := newObjectsHarness(t, "big")
	c := h.client(t)
	c.login()
	const size = 64 << 20
	const first = 1 << 20
	o.putStarted, o.startAfter = make(chan struct{}), first

	pr, pw := io.Pipe()
	sum := sha256.New()
	src := io.TeeReader(io.LimitReader(rand.NewChaCha8([32]byte{7}), size), sum)
	writeErr := make(chan error, 1)
	go func() {
		defer close(writeErr)
		if _, err := io.CopyN(pw, src, first); err != nil {
			writeErr <- err
			return
		}
		select {
		case <-o.putStarted:
		case <-time.After(2 * time.Minute):
			pw.CloseWithError(fmt.Errorf("storage saw nothing of the body"))
			writeErr <- fmt.Errorf("storage did not read the first MiB while the client held the rest")
			return
		}
		_, err := io.Copy(pw, src)
		pw.CloseWithError(err)
		if err != nil {
			writeErr <- err
		}
	}()
	req, err := http.NewRequest("PUT", c.base+"/objects/big/blob.bin", pr)
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = size
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err := c.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err := <-writeErr; err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("upload: %d %s", resp.StatusCode, body)
	}
	want := hex.EncodeToString(sum.Sum(nil))

	resp, err = c.hc.Get(c.base + "/objects/big/blob.bin")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got := sha256.New()
	n, err := io.Copy(got, resp.Body)
	if err != nil || n != size || hex.EncodeToString(got.Sum(nil)) != want {
		t.Fatalf("download: %d bytes (err %v), sha256 match %v", n, err, hex.EncodeToString(got.Sum(nil)) == want)
	}
}

// TestObjectsUploadBodyFailures: a body that stalls is answered as the
// API answers any stalled body; a body without a length is refused;
// neither stores anything.
func TestObjectsUploadBodyFailures(t *testing.T) {
	h, o := newObjectsHarness(t, "uploads")
	c := h.client(t)
	token := sessionCookie(t, c.login()).Value

	conn, err := net.Dial("tcp", strings.TrimPrefix(h.srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(time.Minute)) // a hang fails the test, not a timing check
	fmt.Fprintf(conn, "PUT %s/objects/uploads/stalled HTTP/1.1\r\nHost: x\r\nCookie: %s=%s\r\nContent-Length: 1000\r\n\r\n0123456789",
		Prefix, CookieName, token)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(data), `"request_timeout"`) {
		t.Fatalf("stalled upload: %d %s", resp.StatusCode, data)
	}
	if _, err := o.b.HeadObject(context.Background(), "uploads", "stalled", storage.GetOptions{}); !isS3(err, s3err.ErrNoSuchKey) {
		t.Fatalf("a stalled upload stored something: %v", err)
	}

	req, _ := http.NewRequest("PUT", c.base+"/objects/uploads/chunked", io.MultiReader(strings.NewReader("abc")))
	req.ContentLength = -1
	resp, err = c.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	data, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusLengthRequired || !strings.Contains(string(data), `"length_required"`) {
		t.Fatalf("upload without length: %d %s", resp.StatusCode, data)
	}
}

func isS3(err error, want *s3err.Error) bool {
	e, ok := err.(*s3err.Error)
	return ok && e.Code == want.Code
}

// TestObjectsOIDCSession: an OIDC session (as the sign-in mints it) acts
// with its mapped groups' rules: allowed under the prefix they grant,
// refused elsewhere; the group it lost since grants nothing.
func TestObjectsOIDCSession(t *testing.T) {
	h, _ := newObjectsHarness(t, "photos")
	adm := h.client(t)
	adm.login()
	adm.must(http.StatusOK, "PUT", "/objects/photos/shared/a.txt", "a")
	adm.must(http.StatusOK, "PUT", "/objects/photos/private/p.txt", "p")
	prov := adm.must(http.StatusCreated, "POST", "/auth-providers", map[string]any{
		"name": "corp", "issuer_url": "https://login.example.com", "client_id": "dgp", "client_secret": "s3cr3t-client",
	}).obj(t)["id"].(string)
	group := func(name string, rules ...map[string]any) string {
		return adm.must(http.StatusCreated, "POST", "/groups", map[string]any{"name": name, "permissions": rules}).obj(t)["id"].(string)
	}
	admins := group("gui-admins", map[string]any{"effect": "Allow", "actions": []string{"admin"}, "resources": []string{"*"}})
	sharers := group("sharers", map[string]any{"effect": "Allow", "actions": []string{"read", "write", "list"}, "resources": []string{"photos/shared/*"}})

	c := h.claimsFor("oidc:"+prov+":carol", prov, "carol@example.com", admins, sharers)
	cl := h.client(t)
	u, _ := url.Parse(h.srv.URL)
	cl.hc.Jar.SetCookies(u, []*http.Cookie{{Name: CookieName, Value: h.api.sign(c), Path: "/"}})

	var la listAnswer
	cl.must(http.StatusOK, "GET", "/objects/photos?prefix=shared/&delimiter=/", nil).json(t, &la)
	if objectKeys(la) != "shared/a.txt" {
		t.Fatalf("carol's listing: %+v", la)
	}
	cl.must(http.StatusOK, "PUT", "/objects/photos/shared/b.txt", "b")
	m := wantError(t, cl.do("GET", "/objects/photos/private/p.txt", nil), http.StatusForbidden, "access_denied")
	if !strings.Contains(m["message"].(string), "carol@example.com") || m["action"] != "read" {
		t.Fatalf("refusal %v", m)
	}
	wantError(t, cl.do("DELETE", "/objects/photos/shared/a.txt", nil), http.StatusForbidden, "access_denied")

	// The sharers group is deleted: the session stays (admin still
	// mapped) but its object rights go with the group.
	adm.must(http.StatusNoContent, "DELETE", "/groups/"+sharers, nil)
	wantError(t, cl.do("GET", "/objects/photos/shared/a.txt", nil), http.StatusForbidden, "access_denied")
}

// claimsFor returns the claims of an OIDC session as the sign-in mints
// them.
func (h *harness) claimsFor(identity, provider, name string, groups ...string) claims {
	c := h.api.newClaims(identity, "")
	c.Provider, c.Name, c.Groups = provider, name, groups
	return c
}
