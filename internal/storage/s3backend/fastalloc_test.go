package s3backend

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/dgp-proxy/dgp/internal/storage"
)

// maxFastGetAllocs bounds the heap allocations of one 4 KiB GetObject on the
// fast path, counted over the whole process: the backend, net/http's client
// side, and the in-process test server's side of the request (about 40 of
// them). 86 when written (126 with the SDK's signer), 77 since the fast
// path builds its requests itself and sends them through its own transport
// rather than http.Client, 76 with the request allocated along with its
// URL (81 with -race); the SDK path makes about 400 more; see
// TestFastPathAllocations.
const maxFastGetAllocs = 83

// TestFastPathAllocations counts the allocations of a 4 KiB GetObject (body
// read and closed) against an in-process server, through the fast path and
// through the SDK path, with the production HTTP client.
func TestFastPathAllocations(t *testing.T) {
	if testing.Short() {
		t.Skip("allocation count: not in -short")
	}
	body := bytes.Repeat([]byte("x"), 4<<10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h["Etag"] = []string{`"0123456789abcdef0123456789abcdef"`}
		h["Last-Modified"] = []string{"Wed, 21 Oct 2025 07:28:00 GMT"}
		h["Content-Type"] = []string{"application/octet-stream"}
		h["Content-Length"] = []string{strconv.Itoa(len(body))}
		_, _ = w.Write(body)
	}))
	t.Cleanup(srv.Close)

	newBackend := func() *Backend {
		b, err := New(context.Background(), Options{Endpoint: srv.URL, ForcePathStyle: true, AccessKeyID: "a", SecretAccessKey: "b"})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	fast, sdk := newBackend(), newBackend()
	sdkOnly(sdk)
	ctx := context.Background()
	get := func(b *Backend) func() {
		return func() {
			obj, err := b.GetObject(ctx, "bkt", "dir/object.bin", storage.GetOptions{})
			if err != nil {
				t.Fatalf("GetObject: %v", err)
			}
			n, err := io.Copy(io.Discard, obj.Body)
			obj.Body.Close()
			if err != nil || n != int64(len(body)) {
				t.Fatalf("read %d bytes: %v", n, err)
			}
		}
	}
	fastAllocs := testing.AllocsPerRun(300, get(fast))
	sdkAllocs := testing.AllocsPerRun(300, get(sdk))
	t.Logf("allocations per 4 KiB GET: fast path %.0f, SDK path %.0f", fastAllocs, sdkAllocs)
	if fastAllocs > maxFastGetAllocs {
		t.Errorf("fast path: %.0f allocations per GET, want at most %d", fastAllocs, maxFastGetAllocs)
	}
	if fastAllocs*2 > sdkAllocs {
		t.Errorf("fast path: %.0f allocations per GET, not under half the SDK path's %.0f", fastAllocs, sdkAllocs)
	}
}

// maxFastPutAllocs bounds the heap allocations of one 4 KiB PutObject on
// the fast path, counted as maxFastGetAllocs is (90 when written, the test
// server's side included; about 135 with the SDK's signer; 81 without
// http.Client; 79 with a small body read whole and the request allocated
// along with its URL; 85 with -race).
const maxFastPutAllocs = 87

// TestFastPathPutAllocations counts the allocations of a 4 KiB PutObject
// without version or lock options through the fast path and the SDK path.
func TestFastPathPutAllocations(t *testing.T) {
	if testing.Short() {
		t.Skip("allocation count: not in -short")
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header()["Etag"] = []string{`"0123456789abcdef0123456789abcdef"`}
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(srv.Close)
	newBackend := func() *Backend {
		b, err := New(context.Background(), Options{Endpoint: srv.URL, ForcePathStyle: true, AccessKeyID: "a", SecretAccessKey: "b"})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	fast, sdk := newBackend(), newBackend()
	sdkOnly(sdk)
	body := bytes.Repeat([]byte("x"), 4<<10)
	ctx := context.Background()
	put := func(b *Backend) func() {
		return func() {
			res, err := b.PutObject(ctx, "bkt", "dir/object.bin", bytes.NewReader(body), int64(len(body)), storage.PutOptions{})
			if err != nil || res.ETag != `"0123456789abcdef0123456789abcdef"` {
				t.Fatalf("PutObject = %+v, %v", res, err)
			}
		}
	}
	fastAllocs := testing.AllocsPerRun(300, put(fast))
	sdkAllocs := testing.AllocsPerRun(300, put(sdk))
	t.Logf("allocations per 4 KiB PUT: fast path %.0f, SDK path %.0f", fastAllocs, sdkAllocs)
	if fastAllocs > maxFastPutAllocs {
		t.Errorf("fast path: %.0f allocations per PUT, want at most %d", fastAllocs, maxFastPutAllocs)
	}
	if fastAllocs*2 > sdkAllocs {
		t.Errorf("fast path: %.0f allocations per PUT, not under half the SDK path's %.0f", fastAllocs, sdkAllocs)
	}
}
