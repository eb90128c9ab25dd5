package configsynctest

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/dgp-proxy/dgp/internal/configsync"
)

// GetFunc performs a Get; hooks call next to reach the wrapped bucket.
type GetFunc func(ctx context.Context, key, ifNoneMatch string) ([]byte, string, error)

// PutFunc performs a Put; hooks call next to reach the wrapped bucket.
type PutFunc func(ctx context.Context, key string, body []byte, ifMatch, ifNoneMatch string) (string, error)

// Faulty wraps a real Bucket and lets a test intercept calls: a hook
// receives the call and the function that performs it on the wrapped
// bucket, so it can fail the call, delay it, act before or after it (a
// competing write between a Get and the Put that follows it), or pass it
// through. Without hooks every call passes through. Hooks may be changed
// at any time; it is safe for concurrent use.
type Faulty struct {
	Inner configsync.Bucket

	mu      sync.Mutex
	getHook func(ctx context.Context, key, ifNoneMatch string, next GetFunc) ([]byte, string, error)
	putHook func(ctx context.Context, key string, body []byte, ifMatch, ifNoneMatch string, next PutFunc) (string, error)
	down    error

	gets, puts atomic.Int64
}

var _ configsync.Bucket = (*Faulty)(nil)

// NewFaulty wraps inner.
func NewFaulty(inner configsync.Bucket) *Faulty { return &Faulty{Inner: inner} }

// OnGet installs a Get hook (nil removes it).
func (f *Faulty) OnGet(h func(ctx context.Context, key, ifNoneMatch string, next GetFunc) ([]byte, string, error)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.getHook = h
}

// OnPut installs a Put hook (nil removes it).
func (f *Faulty) OnPut(h func(ctx context.Context, key string, body []byte, ifMatch, ifNoneMatch string, next PutFunc) (string, error)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.putHook = h
}

// SetDown makes every call fail with err (nil: back up), as an unreachable
// bucket does.
func (f *Faulty) SetDown(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.down = err
}

// Gets returns how many Get calls reached the wrapper.
func (f *Faulty) Gets() int { return int(f.gets.Load()) }

// Puts returns how many Put calls reached the wrapper.
func (f *Faulty) Puts() int { return int(f.puts.Load()) }

// Get implements configsync.Bucket.
func (f *Faulty) Get(ctx context.Context, key, ifNoneMatch string) ([]byte, string, error) {
	f.gets.Add(1)
	f.mu.Lock()
	h, down := f.getHook, f.down
	f.mu.Unlock()
	if down != nil {
		return nil, "", down
	}
	if h != nil {
		return h(ctx, key, ifNoneMatch, f.Inner.Get)
	}
	return f.Inner.Get(ctx, key, ifNoneMatch)
}

// Put implements configsync.Bucket.
func (f *Faulty) Put(ctx context.Context, key string, body []byte, ifMatch, ifNoneMatch string) (string, error) {
	f.puts.Add(1)
	f.mu.Lock()
	h, down := f.putHook, f.down
	f.mu.Unlock()
	if down != nil {
		return "", down
	}
	if h != nil {
		return h(ctx, key, body, ifMatch, ifNoneMatch, f.Inner.Put)
	}
	return f.Inner.Put(ctx, key, body, ifMatch, ifNoneMatch)
}

// Head implements configsync.Bucket.
func (f *Faulty) Head(ctx context.Context, key string) (string, error) {
	f.mu.Lock()
	down := f.down
	f.mu.Unlock()
	if down != nil {
		return "", down
	}
	return f.Inner.Head(ctx, key)
}

// Delete implements configsync.Bucket.
func (f *Faulty) Delete(ctx context.Context, key string) error {
	f.mu.Lock()
	down := f.down
	f.mu.Unlock()
	if down != nil {
		return down
	}
	return f.Inner.Delete(ctx, key)
}
