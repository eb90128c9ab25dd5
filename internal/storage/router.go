package storage

import (
	"context"
	"errors"
	"fmt"
	"sort"
)

// ErrInvalidRouting is wrapped by every NewRouter error: the backend and
// route configuration is inconsistent.
var ErrInvalidRouting = errors.New("invalid storage routing")

// Route sends a client-facing bucket to a backend.
type Route struct {
	// Backend is the backend name; "" means the default backend.
	Backend string
	// Alias is the bucket name on the backend; "" means the client's name.
	Alias string
}

// target is a resolved route: a backend and its bucket name.
type target struct {
	backend string
	bucket  string
}

// Router maps client-facing bucket names to backends. It is immutable and
// safe for concurrent use.
type Router struct {
	backends []Backend
	byName   map[string]Backend
	def      Backend
	// routes maps a client bucket to its resolved target.
	routes map[string]target
	// claimed maps a default-backend bucket that a route reaches under
	// another client name to that name.
	claimed map[string]string
}

// NewRouter builds a Router. Buckets without a route go to defaultBackend
// under their own name. It fails (wrapping ErrInvalidRouting) when a backend
// is nil or unnamed, two backends share a name, the default or a route names
// an unknown backend, a route has an empty client name, or two client names
// route to the same bucket of the same backend.
func NewRouter(backends []Backend, defaultBackend string, routes map[string]Route) (*Router, error) {
	r := &Router{
		byName:  make(map[string]Backend, len(backends)),
		routes:  make(map[string]target, len(routes)),
		claimed: make(map[string]string),
	}
	for i, b := range backends {
		if b == nil {
			return nil, fmt.Errorf("%w: backend %d is nil", ErrInvalidRouting, i)
		}
		name := b.Name()
		if name == "" {
			return nil, fmt.Errorf("%w: backend %d has no name", ErrInvalidRouting, i)
		}
		if _, dup := r.byName[name]; dup {
			return nil, fmt.Errorf("%w: duplicate backend name %q", ErrInvalidRouting, name)
		}
		r.byName[name] = b
		r.backends = append(r.backends, b)
	}
	def, ok := r.byName[defaultBackend]
	if !ok {
		return nil, fmt.Errorf("%w: unknown default backend %q", ErrInvalidRouting, defaultBackend)
	}
	r.def = def

	// Resolve in sorted order so that error messages are deterministic.
	clients := make([]string, 0, len(routes))
	for c := range routes {
		clients = append(clients, c)
	}
	sort.Strings(clients)
	owner := make(map[target]string, len(routes))
	for _, c := range clients {
		rt := routes[c]
		if c == "" {
			return nil, fmt.Errorf("%w: route with an empty bucket name", ErrInvalidRouting)
		}
		t := target{backend: rt.Backend, bucket: rt.Alias}
		if t.backend == "" {
			t.backend = defaultBackend
		}
		if _, ok := r.byName[t.backend]; !ok {
			return nil, fmt.Errorf("%w: bucket %q routes to unknown backend %q", ErrInvalidRouting, c, t.backend)
		}
		if t.bucket == "" {
			t.bucket = c
		}
		if other, dup := owner[t]; dup {
			return nil, fmt.Errorf("%w: buckets %q and %q both route to bucket %q of backend %q",
				ErrInvalidRouting, other, c, t.bucket, t.backend)
		}
		owner[t] = c
		r.routes[c] = t
		if t.backend == defaultBackend && t.bucket != c {
			r.claimed[t.bucket] = c
		}
	}
	return r, nil
}

// Resolve returns the backend serving a client bucket and that bucket's name
// on the backend. Unrouted buckets go to the default backend unchanged.
func (r *Router) Resolve(bucket string) (Backend, string) {
	if t, ok := r.routes[bucket]; ok {
		return r.byName[t.backend], t.bucket
	}
	return r.def, bucket
}

// Backends returns every configured backend, in configuration order.
func (r *Router) Backends() []Backend {
	return append([]Backend(nil), r.backends...)
}

// ListBuckets returns the client-facing buckets, sorted by name, without
// duplicates: the default backend's buckets that clients reach under their
// own name, plus every routed bucket that exists on its backend. Each
// backend is listed once; an error from any of them fails the call.
func (r *Router) ListBuckets(ctx context.Context) ([]BucketInfo, error) {
	listed := make(map[string]map[string]BucketInfo)
	list := func(name string) (map[string]BucketInfo, error) {
		if m, ok := listed[name]; ok {
			return m, nil
		}
		bs, err := r.byName[name].ListBuckets(ctx)
		if err != nil {
			return nil, fmt.Errorf("list buckets of backend %q: %w", name, err)
		}
		m := make(map[string]BucketInfo, len(bs))
		for _, b := range bs {
			m[b.Name] = b
		}
		listed[name] = m
		return m, nil
	}

	out := make(map[string]BucketInfo)
	defBuckets, err := list(r.def.Name())
	if err != nil {
		return nil, err
	}
	for name, b := range defBuckets {
		if t, routed := r.routes[name]; routed && (t.backend != r.def.Name() || t.bucket != name) {
			continue // the client name leads elsewhere
		}
		if _, ok := r.claimed[name]; ok {
			continue // reached under another client name
		}
		out[name] = b
	}
	for client, t := range r.routes {
		m, err := list(t.backend)
		if err != nil {
			return nil, err
		}
		if b, ok := m[t.bucket]; ok {
			out[client] = BucketInfo{Name: client, Created: b.Created}
		}
	}

	res := make([]BucketInfo, 0, len(out))
	for _, b := range out {
		res = append(res, b)
	}
	sort.Slice(res, func(i, j int) bool { return res[i].Name < res[j].Name })
	return res, nil
}
