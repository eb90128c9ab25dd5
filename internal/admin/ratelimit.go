package admin

import (
	"sync"
	"time"
)

// limiter allows each client burst attempts per window, refilled evenly
// (one every window/burst): a token bucket kept in its exact integer form
// (GCRA), a "theoretical arrival time" per client. The table of clients is
// bounded: when it is full, clients whose budget has refilled are forgotten
// (they are indistinguishable from new ones), and if none has, the one that
// refills first.
type limiter struct {
	mu       sync.Mutex
	interval time.Duration // one attempt refills every interval
	span     time.Duration // burst * interval
	max      int
	clients  map[string]time.Time // client -> when its budget is full again
}

func newLimiter(burst int, window time.Duration, maxClients int) *limiter {
	interval := window / time.Duration(burst)
	return &limiter{
		interval: interval,
		span:     interval * time.Duration(burst),
		max:      maxClients,
		clients:  make(map[string]time.Time),
	}
}

// allow spends one attempt of client at now. When none is left it returns
// false and how long until one is. A nil limiter allows everything.
func (l *limiter) allow(client string, now time.Time) (bool, time.Duration) {
	if l == nil {
		return true, 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	full, ok := l.clients[client]
	if !ok {
		if len(l.clients) >= l.max {
			l.evict(now)
		}
		full = now
	}
	if full.Before(now) {
		full = now
	}
	next := full.Add(l.interval)
	if over := next.Sub(now) - l.span; over > 0 {
		l.clients[client] = full
		return false, over
	}
	l.clients[client] = next
	return true, 0
}

// refund gives back one attempt client spent (with allow) on something
// that turned out not to count, such as a sign-in that succeeded.
func (l *limiter) refund(client string, now time.Time) {
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	full, ok := l.clients[client]
	if !ok {
		return
	}
	if full = full.Add(-l.interval); full.After(now) {
		l.clients[client] = full
	} else {
		delete(l.clients, client) // a full budget: indistinguishable from a new client
	}
}

// evict makes room for one client. Called with mu held.
func (l *limiter) evict(now time.Time) {
	var (
		first   string
		firstAt time.Time
		found   bool
	)
	for k, full := range l.clients {
		if !full.After(now) {
			delete(l.clients, k)
			continue
		}
		if !found || full.Before(firstAt) {
			first, firstAt, found = k, full, true
		}
	}
	if len(l.clients) >= l.max && found {
		delete(l.clients, first)
	}
}

// size is the number of clients tracked.
func (l *limiter) size() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.clients)
}

// retryAfterSeconds is wait as a Retry-After value: whole seconds, rounded
// up, at least 1.
func retryAfterSeconds(wait time.Duration) int {
	return max(int((wait+time.Second-1)/time.Second), 1)
}
