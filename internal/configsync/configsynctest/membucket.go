// Package configsynctest provides test doubles of configsync.Bucket: an
// in-memory bucket with real ETag and conditional-write semantics (for unit
// tests without an S3 server) and a fault-injecting wrapper of any Bucket
// (for the races and failures a real server cannot produce on demand).
// Only tests import it.
package configsynctest

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"sync"

	"github.com/dgp-proxy/dgp/internal/configsync"
)

// MemBucket is an in-memory configsync.Bucket with S3 semantics: the ETag
// is the MD5 of the content; Get honours If-None-Match (304); Put honours
// If-None-Match: * and If-Match (412; If-Match on a missing object is a
// 404, as on AWS). The zero value is not usable: call NewMemBucket. It is
// safe for concurrent use.
type MemBucket struct {
	mu      sync.Mutex
	objects map[string][]byte
	calls   map[string]int
	// ignoreConditions makes Put ignore its conditions, like a store
	// without conditional writes.
	ignoreConditions bool
}

var _ configsync.Bucket = (*MemBucket)(nil)

// NewMemBucket returns an empty bucket.
func NewMemBucket() *MemBucket {
	return &MemBucket{objects: map[string][]byte{}, calls: map[string]int{}}
}

// IgnoreConditions makes Put ignore If-Match and If-None-Match from now
// on (a store that does not support conditional writes).
func (b *MemBucket) IgnoreConditions() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.ignoreConditions = true
}

// ETagOf returns the ETag the bucket gives body.
func ETagOf(body []byte) string {
	sum := md5.Sum(body)
	return hex.EncodeToString(sum[:])
}

// Get implements configsync.Bucket.
func (b *MemBucket) Get(ctx context.Context, key, ifNoneMatch string) ([]byte, string, error) {
	if err := ctx.Err(); err != nil {
		return nil, "", err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.calls["get"]++
	body, ok := b.objects[key]
	if !ok {
		return nil, "", configsync.ErrNotFound
	}
	etag := ETagOf(body)
	if ifNoneMatch != "" && (ifNoneMatch == "*" || ifNoneMatch == etag) {
		return nil, "", configsync.ErrNotModified
	}
	return append([]byte(nil), body...), etag, nil
}

var _ configsync.BucketGetInto = (*MemBucket)(nil)

// GetInto implements configsync.BucketGetInto: Get, copying the body into
// buf's array when it is large enough.
func (b *MemBucket) GetInto(ctx context.Context, key, ifNoneMatch string, buf []byte) ([]byte, string, error) {
	body, etag, err := b.Get(ctx, key, ifNoneMatch)
	if err != nil || cap(buf) < len(body) {
		return body, etag, err
	}
	return append(buf[:0], body...), etag, nil
}

// Put implements configsync.Bucket.
func (b *MemBucket) Put(ctx context.Context, key string, body []byte, ifMatch, ifNoneMatch string) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.calls["put"]++
	cur, ok := b.objects[key]
	if !b.ignoreConditions {
		switch {
		case ifNoneMatch == "*" && ok:
			return "", configsync.ErrPreconditionFailed
		case ifMatch != "" && !ok:
			return "", configsync.ErrNotFound
		case ifMatch != "" && ifMatch != ETagOf(cur):
			return "", configsync.ErrPreconditionFailed
		}
	}
	b.objects[key] = append([]byte(nil), body...)
	return ETagOf(body), nil
}

// Head implements configsync.Bucket.
func (b *MemBucket) Head(ctx context.Context, key string) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.calls["head"]++
	body, ok := b.objects[key]
	if !ok {
		return "", configsync.ErrNotFound
	}
	return ETagOf(body), nil
}

// Delete implements configsync.Bucket.
func (b *MemBucket) Delete(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.calls["delete"]++
	delete(b.objects, key)
	return nil
}

// Object returns a copy of the object at key and its ETag.
func (b *MemBucket) Object(key string) ([]byte, string, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	body, ok := b.objects[key]
	if !ok {
		return nil, "", false
	}
	return append([]byte(nil), body...), ETagOf(body), true
}

// Set stores body at key unconditionally (e.g. garbage, or a DB sealed by
// a test), without counting a call.
func (b *MemBucket) Set(key string, body []byte) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.objects[key] = append([]byte(nil), body...)
	return ETagOf(body)
}

// Keys returns how many objects the bucket holds.
func (b *MemBucket) Keys() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.objects)
}

// Calls returns how many calls of op ("get", "put", "head", "delete")
// the bucket served.
func (b *MemBucket) Calls(op string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.calls[op]
}
