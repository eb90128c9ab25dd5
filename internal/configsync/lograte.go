package configsync

import (
	"sync"
	"time"
)

// repeatLogEvery is how often an unchanged error is logged again.
const repeatLogEvery = 10 * time.Minute

// logGate rate-limits repeated error logs: a message is let through when it
// differs from the previous one, or when the same one was last let through
// repeatLogEvery ago. Suppressed repeats are counted and reported with the
// next message let through.
type logGate struct {
	mu         sync.Mutex
	last       string
	at         time.Time
	suppressed int
}

// allow reports whether msg should be logged at now, and how many repeats
// were suppressed since the last one logged.
func (g *logGate) allow(msg string, now time.Time) (ok bool, suppressed int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if msg != g.last || now.Sub(g.at) >= repeatLogEvery || now.Before(g.at) {
		n := g.suppressed
		g.last, g.at, g.suppressed = msg, now, 0
		return true, n
	}
	g.suppressed++
	return false, 0
}

// reset forgets the last message, so the next error is logged at once
// (called when things work again).
func (g *logGate) reset() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.last, g.at, g.suppressed = "", time.Time{}, 0
}
