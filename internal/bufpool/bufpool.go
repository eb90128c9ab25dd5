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
type Pool struct {
	// Max is the largest capacity a buffer handed back may have to be kept
	// (0: any).
	Max int
	p   sync.Pool
}

// Get returns an empty buffer.
func (p *Pool) Get() *bytes.Buffer {
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
	p.p.Put(b)
}
