package admin

import (
	"math"
	"sync"
	"time"
)

// limiter is a token bucket per client: burst tokens, refilled at burst
// per window. The table of clients is bounded: when it is full, clients
// whose bucket has refilled are forgotten (they are indistinguishable from
// new ones), and if none has, the least recently seen one.
type limiter struct {
	mu      sync.Mutex
	burst   float64
	perSec  float64 // refill rate
	max     int
	clients map[string]*tokenBucket
}

type tokenBucket struct {
	tokens float64
	last   time.Time
}

func newLimiter(burst int, window time.Duration, maxClients int) *limiter {
	return &limiter{
		burst:   float64(burst),
		perSec:  float64(burst) / window.Seconds(),
		max:     maxClients,
		clients: make(map[string]*tokenBucket),
	}
}

// allow takes one token of client at now. When none is left it returns
// false and how long until one is.
func (l *limiter) allow(client string, now time.Time) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.clients[client]
	if !ok {
		if len(l.clients) >= l.max {
			l.evict(now)
		}
		b = &tokenBucket{tokens: l.burst, last: now}
		l.clients[client] = b
	}
	b.tokens = l.level(b, now)
	b.last = now
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	wait := time.Duration(math.Ceil((1 - b.tokens) / l.perSec * float64(time.Second)))
	return false, wait
}

// level is the bucket's tokens at now (a clock going backwards refills
// nothing).
func (l *limiter) level(b *tokenBucket, now time.Time) float64 {
	elapsed := now.Sub(b.last).Seconds()
	if elapsed < 0 {
		elapsed = 0
	}
	return math.Min(l.burst, b.tokens+elapsed*l.perSec)
}

// evict makes room for one client. Called with mu held.
func (l *limiter) evict(now time.Time) {
	var (
		oldest   string
		oldestAt time.Time
		found    bool
	)
	for k, b := range l.clients {
		if l.level(b, now) >= l.burst {
			delete(l.clients, k)
			continue
		}
		if !found || b.last.Before(oldestAt) {
			oldest, oldestAt, found = k, b.last, true
		}
	}
	if len(l.clients) >= l.max && found {
		delete(l.clients, oldest)
	}
}

// size is the number of clients tracked.
func (l *limiter) size() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.clients)
}
