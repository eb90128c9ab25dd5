package admin

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
)

// discoveryCache keeps each issuer's discovered provider (its endpoints and
// its key set, which caches the signing keys) for a bounded time, so a
// sign-in does not fetch the discovery document and the keys every time,
// and a changed issuer configuration is picked up within ttl.
type discoveryCache struct {
	client *http.Client
	ttl    time.Duration
	now    func() time.Time

	mu      sync.Mutex
	entries map[string]discovered // by issuer URL
}

type discovered struct {
	provider *oidc.Provider
	fetched  time.Time
}

func newDiscoveryCache(client *http.Client, ttl time.Duration, now func() time.Time) *discoveryCache {
	return &discoveryCache{client: client, ttl: ttl, now: now, entries: map[string]discovered{}}
}

// get returns the provider of issuer, discovering it when it is not cached
// or its entry is older than ttl. Failures are not cached.
func (c *discoveryCache) get(ctx context.Context, issuer string) (*oidc.Provider, error) {
	now := c.now()
	c.mu.Lock()
	e, ok := c.entries[issuer]
	c.mu.Unlock()
	if ok && now.Sub(e.fetched) < c.ttl && !now.Before(e.fetched) {
		return e.provider, nil
	}
	// Not under the lock: a slow issuer must not hold up the others. Two
	// sign-ins racing may both fetch; the last one stays.
	p, err := oidc.NewProvider(oidc.ClientContext(ctx, c.client), issuer)
	if err != nil {
		return nil, fmt.Errorf("discover %s: %w", issuer, err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, old := range c.entries { // drop issuers no longer used
		if now.Sub(old.fetched) >= c.ttl {
			delete(c.entries, k)
		}
	}
	c.entries[issuer] = discovered{provider: p, fetched: now}
	return p, nil
}

// httpContext returns ctx carrying the client, for oauth2 and go-oidc.
func (c *discoveryCache) httpContext(ctx context.Context) context.Context {
	return oidc.ClientContext(ctx, c.client)
}
