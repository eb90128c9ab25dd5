// Package bufpool keeps byte buffers for reuse by the one value that owns
// the pool (a server, a backend), so that no package holds a pool of its
// own.
package bufpool

import (
	"bytes"
	"sync"
)

// Pool keeps *bytes.Buffer values for reuse; safe for concurrent use. A
// buffer grown past Max is dropped rather than kept, so one large answer
// does not pin its memory. The zero Pool keeps buffers of any size. A Pool
// must not be copied after first use.
//
// Buffers go to a sync.Pool, which the garbage collector empties: for
// buffers of hundreds of KiB (a listing page) whose own garbage brings the
// collections on, that meant a fresh buffer, allocated and zeroed on
// memory new to the process (page faults), nearly every time. The first
// Keep buffers handed back are held apart from it, across collections.
type Pool struct {
	// Max is the largest capacity a buffer handed back may have to be kept
	// (0: any).
	Max int
	// Keep is how many buffers are held across collections (0: none);
	// they pin at most Keep*Max bytes.
	Keep int

	mu   sync.Mutex
	kept []*bytes.Buffer
	p    sync.Pool
}

// Get returns an empty buffer.
func (p *Pool) Get() *bytes.Buffer {
	if p.Keep > 0 {
		p.mu.Lock()
		if n := len(p.kept); n > 0 {
			b := p.kept[n-1]
			p.kept[n-1] = nil
			p.kept = p.kept[:n-1]
			p.mu.Unlock()
			b.Reset()
			return b
		}
		p.mu.Unlock()
	}
	if b, ok := p.p.Get().(*bytes.Buffer); ok {
		b.Reset()
		return b
	}
	return new(bytes.Buffer)
}

// Put hands b back; the caller must not use it afterwards.
func (p *Pool) Put(b *bytes.Buffer) {
	if p.Max > 0 && b.Cap() > p.Max {
		return
	}
	if p.Keep > 0 {
		p.mu.Lock()
		if len(p.kept) < p.Keep {
			p.kept = append(p.kept, b)
			p.mu.Unlock()
			return
		}
		p.mu.Unlock()
	}
	p.p.Put(b)
}
