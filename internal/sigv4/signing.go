package sigv4

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"sync"
	"sync/atomic"
)

const (
	algorithm        = "AWS4-HMAC-SHA256"
	scopeTerminator  = "aws4_request"
	serviceS3        = "s3"
	emptySHA256Hex   = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
	signatureHexSize = 2 * sha256.Size
)

// hmacSHA256 returns HMAC-SHA256(key, data).
func hmacSHA256(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}

// deriveSigningKey computes the SigV4 signing key for a secret and scope.
func deriveSigningKey(secret, date, region, service string) []byte {
	k := hmacSHA256([]byte("AWS4"+secret), date)
	k = hmacSHA256(k, region)
	k = hmacSHA256(k, service)
	return hmacSHA256(k, scopeTerminator)
}

// signHex returns the lower-case hex HMAC-SHA256 of stringToSign under key.
func signHex(key []byte, stringToSign []byte) [signatureHexSize]byte {
	m := hmac.New(sha256.New, key)
	m.Write(stringToSign)
	var sum [sha256.Size]byte
	var out [signatureHexSize]byte
	hex.Encode(out[:], m.Sum(sum[:0]))
	return out
}

// keyCacheGeneration bounds one generation of the signing-key cache; the
// cache holds at most two generations.
const keyCacheGeneration = 512

type keyCacheKey struct {
	secret, date, region, service string
}

type keyCacheEntry struct {
	k keyCacheKey
	v *signingKey
}

// keyCache memoises derived signing keys. It keeps two generations of at
// most keyCacheGeneration entries: when the current one fills up it becomes
// the previous one and a fresh one starts, so the cache stays bounded while
// keys in use survive (a hit in the previous generation is promoted).
type keyCache struct {
	// last is the entry found last: a client sending many requests hits
	// it without the lock or the map lookup.
	last atomic.Pointer[keyCacheEntry]
	mu   sync.Mutex
	cur  map[keyCacheKey]*keyCacheEntry
	prev map[keyCacheKey]*keyCacheEntry
}

func newKeyCache() *keyCache {
	return &keyCache{cur: make(map[keyCacheKey]*keyCacheEntry)}
}

// get returns the signing key for the scope, deriving it on a miss. The
// returned slice must not be modified.
func (c *keyCache) get(secret, date, region, service string) []byte {
	return c.key(secret, date, region, service).raw
}

// key returns the signing key for the scope with its HMAC states, deriving
// it on a miss. It must not be modified.
func (c *keyCache) key(secret, date, region, service string) *signingKey {
	k := keyCacheKey{secret: secret, date: date, region: region, service: service}
	if e := c.last.Load(); e != nil && e.k == k {
		return e.v
	}
	e := c.lookup(k)
	c.last.Store(e)
	return e.v
}

// lookup finds or derives the key of k in the generations.
func (c *keyCache) lookup(k keyCacheKey) *keyCacheEntry {
	c.mu.Lock()
	if v, ok := c.cur[k]; ok {
		c.mu.Unlock()
		return v
	}
	if v, ok := c.prev[k]; ok {
		c.putLocked(k, v)
		c.mu.Unlock()
		return v
	}
	c.mu.Unlock()
	v := &keyCacheEntry{k: k, v: newSigningKey(deriveSigningKey(k.secret, k.date, k.region, k.service))}
	c.mu.Lock()
	c.putLocked(k, v)
	c.mu.Unlock()
	return v
}

func (c *keyCache) putLocked(k keyCacheKey, v *keyCacheEntry) {
	if len(c.cur) >= keyCacheGeneration {
		c.prev = c.cur
		c.cur = make(map[keyCacheKey]*keyCacheEntry, keyCacheGeneration)
	}
	c.cur[k] = v
}

// len reports the number of cached keys (for tests).
func (c *keyCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.cur) + len(c.prev)
}
