package storage_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/dgp-proxy/dgp/internal/storage"
	"github.com/dgp-proxy/dgp/internal/storage/fsbackend"
)

func newFS(t *testing.T, name string, clock time.Time) *fsbackend.Backend {
	t.Helper()
	b, err := fsbackend.New(name, t.TempDir(), func() time.Time { return clock })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b
}

func mustCreate(t *testing.T, b storage.Backend, buckets ...string) {
	t.Helper()
	for _, bk := range buckets {
		if err := b.CreateBucket(context.Background(), bk, storage.CreateBucketOptions{}); err != nil {
			t.Fatalf("create %s on %s: %v", bk, b.Name(), err)
		}
	}
}

func TestNewRouterErrors(t *testing.T) {
	local := newFS(t, "local", time.Unix(0, 0))
	archive := newFS(t, "archive", time.Unix(0, 0))
	dup := newFS(t, "local", time.Unix(0, 0))
	tests := []struct {
		name     string
		backends []storage.Backend
		def      string
		routes   map[string]storage.Route
	}{
		{"unknown default", []storage.Backend{local}, "nope", nil},
		{"no backends", nil, "local", nil},
		{"nil backend", []storage.Backend{local, nil}, "local", nil},
		{"duplicate backend names", []storage.Backend{local, dup}, "local", nil},
		{"route to unknown backend", []storage.Backend{local}, "local", map[string]storage.Route{"x": {Backend: "nope"}}},
		{"empty client name", []storage.Backend{local}, "local", map[string]storage.Route{"": {Backend: "local"}}},
		{"two names on one backend bucket", []storage.Backend{local, archive}, "local", map[string]storage.Route{
			"x": {Backend: "archive", Alias: "data"}, "y": {Backend: "archive", Alias: "data"}}},
		{"alias collides with a same-name route", []storage.Backend{local, archive}, "local", map[string]storage.Route{
			"data": {Backend: "archive"}, "y": {Backend: "archive", Alias: "data"}}},
		{"default backend given two ways", []storage.Backend{local, archive}, "local", map[string]storage.Route{
			"x": {Alias: "data"}, "y": {Backend: "local", Alias: "data"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := storage.NewRouter(tt.backends, tt.def, tt.routes)
			if !errors.Is(err, storage.ErrInvalidRouting) {
				t.Fatalf("NewRouter = %v, %v; want ErrInvalidRouting", r, err)
			}
		})
	}
}

func TestRouterResolve(t *testing.T) {
	local := newFS(t, "local", time.Unix(0, 0))
	archive := newFS(t, "archive", time.Unix(0, 0))
	r, err := storage.NewRouter([]storage.Backend{local, archive}, "local", map[string]storage.Route{
		"logs":   {Backend: "archive"},
		"photos": {Backend: "archive", Alias: "photo-archive"},
		"pics":   {Alias: "images"},
	})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		client, backend, bucket string
	}{
		{"anything", "local", "anything"},
		{"logs", "archive", "logs"},
		{"photos", "archive", "photo-archive"},
		{"pics", "local", "images"},
	}
	for _, tt := range tests {
		b, name := r.Resolve(tt.client)
		if b.Name() != tt.backend || name != tt.bucket {
			t.Errorf("Resolve(%q) = %s/%s, want %s/%s", tt.client, b.Name(), name, tt.backend, tt.bucket)
		}
	}
	var names []string
	for _, b := range r.Backends() {
		names = append(names, b.Name())
	}
	if !slices.Equal(names, []string{"local", "archive"}) {
		t.Fatalf("Backends = %v", names)
	}
}

func TestRouterListBuckets(t *testing.T) {
	ctx := context.Background()
	t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	t1 := t0.Add(time.Hour)
	local := newFS(t, "local", t0)
	archive := newFS(t, "archive", t1)
	mustCreate(t, local, "plain", "moved", "hidden-name", "trivial", "zeta")
	mustCreate(t, archive, "moved", "archive-logs", "unrouted-on-archive")

	r, err := storage.NewRouter([]storage.Backend{local, archive}, "local", map[string]storage.Route{
		"moved":   {Backend: "archive"},                        // local "moved" is shadowed by archive's
		"nice":    {Backend: "local", Alias: "hidden-name"},    // local bucket shown under another name
		"logs":    {Backend: "archive", Alias: "archive-logs"}, // exists
		"missing": {Backend: "archive", Alias: "nope"},         // does not exist: not listed
		"trivial": {},                                          // same name on the default: listed once
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := r.ListBuckets(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []storage.BucketInfo{
		{Name: "logs", Created: t1},
		{Name: "moved", Created: t1},
		{Name: "nice", Created: t0},
		{Name: "plain", Created: t0},
		{Name: "trivial", Created: t0},
		{Name: "zeta", Created: t0},
	}
	if len(got) != len(want) {
		t.Fatalf("ListBuckets = %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i].Name != want[i].Name || !got[i].Created.Equal(want[i].Created) {
			t.Fatalf("ListBuckets[%d] = %+v, want %+v (all: %+v)", i, got[i], want[i], got)
		}
	}
}

func TestRouterListBucketsBackendError(t *testing.T) {
	local := newFS(t, "local", time.Unix(0, 0))
	archive := newFS(t, "archive", time.Unix(0, 0))
	r, err := storage.NewRouter([]storage.Backend{local, archive}, "local", map[string]storage.Route{
		"logs": {Backend: "archive"},
	})
	if err != nil {
		t.Fatal(err)
	}
	// A real failure: the archive backend's handle is closed.
	if err := archive.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := r.ListBuckets(context.Background()); err == nil {
		t.Fatal("ListBuckets succeeded with a failing backend")
	}
}
