package configsync_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/dgp-proxy/dgp/internal/configsync"
	"github.com/dgp-proxy/dgp/internal/testutil"
)

// directServer is an HTTP server counting the connections it accepted.
type directServer struct {
	*httptest.Server
	conns atomic.Int64
}

func newDirectServer(t *testing.T, h http.HandlerFunc) *directServer {
	t.Helper()
	s := &directServer{}
	s.Server = httptest.NewUnstartedServer(h)
	s.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			s.conns.Add(1)
		}
	}
	s.Start()
	t.Cleanup(s.Close)
	return s
}

// get sends a GET through c and returns the status and the body read whole.
func get(ctx context.Context, c *http.Client, url string, hdr map[string]string) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, "", err
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

func directClient() *http.Client {
	return &http.Client{Transport: configsync.NewDirectTransport()}
}

// Bodies, 304s and headers round-trip, all on one kept-alive connection.
func TestDirectTransportKeepsOneConnection(t *testing.T) {
	s := newDirectServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("If-None-Match") == `"e1"` {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("ETag", `"e1"`)
		_, _ = io.WriteString(w, "body of "+r.URL.Path)
	})
	c := directClient()
	ctx := context.Background()
	for i := range 3 {
		st, body, err := get(ctx, c, s.URL+"/bucket/key", nil)
		testutil.Must(t, err, "get %d", i)
		if st != http.StatusOK || body != "body of /bucket/key" {
			t.Fatalf("get %d: %d %q", i, st, body)
		}
		st, body, err = get(ctx, c, s.URL+"/bucket/key", map[string]string{"If-None-Match": `"e1"`})
		testutil.Must(t, err, "conditional get %d", i)
		if st != http.StatusNotModified || body != "" {
			t.Fatalf("conditional get %d: %d %q", i, st, body)
		}
	}
	if n := s.conns.Load(); n != 1 {
		t.Errorf("%d connections for 6 requests one after the other, want 1", n)
	}
}

// The server closed the kept-alive connection while it was idle: the GET
// goes again on a new connection and succeeds.
func TestDirectTransportRetriesOnAConnectionClosedWhileIdle(t *testing.T) {
	s := newDirectServer(t, func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") })
	c := directClient()
	ctx := context.Background()
	for i := range 3 {
		st, body, err := get(ctx, c, s.URL+"/x", nil)
		testutil.Must(t, err, "get %d", i)
		if st != http.StatusOK || body != "ok" {
			t.Fatalf("get %d: %d %q", i, st, body)
		}
		s.CloseClientConnections()
	}
	if n := s.conns.Load(); n != 3 {
		t.Errorf("%d connections, want 3 (one per request)", n)
	}
}

// A body closed before its end ends its connection (the next request
// dials again) without reading the rest.
func TestDirectTransportBodyClosedEarlyDropsTheConnection(t *testing.T) {
	big := bytes.Repeat([]byte("x"), 4<<20)
	s := newDirectServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/big" {
			_, _ = w.Write(big)
			return
		}
		_, _ = io.WriteString(w, "small")
	})
	c := directClient()
	ctx := context.Background()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.URL+"/big", nil)
	testutil.Must(t, err, "request")
	resp, err := c.Do(req)
	testutil.Must(t, err, "get big")
	buf := make([]byte, 10)
	if _, err := io.ReadFull(resp.Body, buf); err != nil {
		t.Fatalf("read: %v", err)
	}
	testutil.Must(t, resp.Body.Close(), "close")
	if _, err := resp.Body.Read(buf); err == nil {
		t.Error("read after close: no error")
	}
	st, body, err := get(ctx, c, s.URL+"/small", nil)
	testutil.Must(t, err, "get small")
	if st != http.StatusOK || body != "small" {
		t.Fatalf("get small: %d %q", st, body)
	}
	if n := s.conns.Load(); n != 2 {
		t.Errorf("%d connections, want 2", n)
	}
}

// A request whose context ends while the server does not answer returns
// the context's error.
func TestDirectTransportContextEndsAWaitingRequest(t *testing.T) {
	release := make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	s := newDirectServer(t, func(http.ResponseWriter, *http.Request) {
		cancel()
		<-release
	})
	defer close(release)
	_, _, err := get(ctx, directClient(), s.URL+"/hang", nil)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
}

// Requests made at once each get a connection; one is kept afterwards.
func TestDirectTransportConcurrentRequests(t *testing.T) {
	s := newDirectServer(t, func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, r.URL.Path) })
	c := directClient()
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Go(func() {
			for range 20 {
				path := "/" + strings.Repeat("g", g+1)
				st, body, err := get(context.Background(), c, s.URL+path, nil)
				if err == nil && (st != http.StatusOK || body != path) {
					err = errors.New("wrong answer " + body)
				}
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	before := s.conns.Load()
	if _, _, err := get(context.Background(), c, s.URL+"/after", nil); err != nil {
		t.Fatal(err)
	}
	if s.conns.Load() != before {
		t.Error("no connection kept after the concurrent requests")
	}
	c.CloseIdleConnections()
}

func TestDirectTransportRefusesAllButPlainHTTP(t *testing.T) {
	s := httptest.NewTLSServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer s.Close()
	if _, _, err := get(context.Background(), directClient(), s.URL, nil); err == nil {
		t.Error("https request accepted")
	}
	for endpoint, want := range map[string]bool{
		"http://127.0.0.1:9000": true, "http://minio.internal": true,
		"https://s3.amazonaws.com": false, "127.0.0.1:9000": false, "": false,
	} {
		if got := configsync.DirectTransportFits(endpoint); got != want {
			t.Errorf("DirectTransportFits(%q) = %v, want %v", endpoint, got, want)
		}
	}
}
