package configdb

import (
	"crypto/sha256"
	"runtime"
	"sync"

	"golang.org/x/crypto/argon2"
)

// KeySize is the size of the derived AES-256 key.
const KeySize = 32

// DefaultKeyCacheSize is the capacity NewKeyCache uses when given a size
// below 1.
const DefaultKeyCacheSize = 8

// KeyCache remembers keys derived with Argon2id, so a DB key is derived once
// per (secret, salt, parameters) and not on every seal or open. It is safe
// for concurrent use; concurrent requests for the same key wait for one
// derivation. It holds at most its capacity of keys, dropping the oldest.
// A nil *KeyCache is valid and derives every time.
type KeyCache struct {
	mu          sync.Mutex
	max         int
	entries     map[keyCacheKey]*keyEntry
	order       []keyCacheKey // insertion order, oldest first
	derivations int
}

type keyCacheKey struct {
	secret [sha256.Size]byte // SHA-256 of the secret: the secret itself is not kept
	salt   [SaltSize]byte
	kdf    KDFParams
}

type keyEntry struct {
	ready chan struct{} // closed when key is set
	key   [KeySize]byte
}

// NewKeyCache returns a cache holding at most size keys
// (DefaultKeyCacheSize when size < 1).
func NewKeyCache(size int) *KeyCache {
	if size < 1 {
		size = DefaultKeyCacheSize
	}
	return &KeyCache{max: size, entries: make(map[keyCacheKey]*keyEntry)}
}

// Key returns Argon2id(secret, salt, p), derived at most once while cached.
// p must be valid (KDFParams.Validate).
func (c *KeyCache) Key(secret []byte, salt [SaltSize]byte, p KDFParams) [KeySize]byte {
	if c == nil {
		key := deriveKey(secret, salt, p)
		collectKDFArea(p)
		return key
	}
	k := keyCacheKey{secret: sha256.Sum256(secret), salt: salt, kdf: p}
	c.mu.Lock()
	if e, ok := c.entries[k]; ok {
		c.mu.Unlock()
		<-e.ready
		return e.key
	}
	e := &keyEntry{ready: make(chan struct{})}
	c.entries[k] = e
	c.order = append(c.order, k)
	if len(c.order) > c.max {
		delete(c.entries, c.order[0])
		c.order = c.order[1:]
	}
	c.derivations++
	c.mu.Unlock()

	e.key = deriveKey(secret, salt, p)
	close(e.ready) // the waiters need not wait for the collection
	collectKDFArea(p)
	return e.key
}

// Len returns the number of cached keys.
func (c *KeyCache) Len() int {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}

// Derivations returns how many keys the cache has derived (cache misses).
func (c *KeyCache) Derivations() int {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.derivations
}

func deriveKey(secret []byte, salt [SaltSize]byte, p KDFParams) [KeySize]byte {
	var k [KeySize]byte
	copy(k[:], argon2.IDKey(secret, salt[:], p.Time, p.MemoryKiB, p.Threads, KeySize))
	return k
}

// collectKDFMemoryKiB is the Argon2 work area from which collectKDFArea
// has it collected at once (the default parameters use 64 MiB).
const collectKDFMemoryKiB = 8 * 1024

// collectKDFArea runs a collection after a derivation with parameters p
// whose work area is collectKDFMemoryKiB or more. The area is garbage
// then, but a collection that saw it live set the next one at twice the
// heap with it: until then (or the runtime's forced collection, 2 minutes
// on) everything the process allocates lands on fresh pages, each a page
// fault (a reader just started faulted 14-26 pages per IAM change, a fifth
// of its CPU on a virtual machine, and held ~100 MiB). Collected now, the
// heap goal is the live heap's again, freed pages are reused, and the
// runtime hands the area back to the OS in the background (~35 MiB).
// Derivations are rare (start, a new salt): one collection each is cheap.
func collectKDFArea(p KDFParams) {
	if p.MemoryKiB >= collectKDFMemoryKiB {
		runtime.GC()
	}
}
