// Package backoff computes the waits between retries (exponential, capped,
// optionally jittered) and waits them unless the context ends first. It
// holds no state of its own: the random source and the sleeper are passed
// in, so tests decide both.
package backoff

import (
	"context"
	crand "crypto/rand"
	"encoding/binary"
	"math"
	"math/rand/v2"
	"sync"
	"time"
)

// Policy is a capped exponential backoff. The zero Policy waits nothing.
type Policy struct {
	// First is the wait after the first failure; it doubles after each
	// further one.
	First time.Duration
	// Max caps the wait (no cap when <= 0).
	Max time.Duration
	// Rand, when set, returns a uniform number in [0, 1) and makes the
	// wait uniform in [0, delay] ("full jitter"), so that instances
	// retrying together spread out. nil: the wait is the delay itself.
	Rand func() float64
}

// Delay returns the wait after the n-th consecutive failure: 0 when n < 1,
// else First doubled n-1 times, capped at Max, then jittered by Rand.
func (p Policy) Delay(n int) time.Duration {
	if n < 1 || p.First <= 0 {
		return 0
	}
	d := p.First
	for i := 1; i < n && (p.Max <= 0 || d < p.Max); i++ {
		if d > math.MaxInt64/2 { // doubling again would overflow
			break
		}
		d *= 2
	}
	if p.Max > 0 {
		d = min(d, p.Max)
	}
	if p.Rand != nil {
		d = time.Duration(p.Rand() * float64(d))
	}
	return d
}

// Sleeper waits d, or until ctx is done and then returns ctx.Err(). Sleep
// is the real one; tests inject one that does not wait.
type Sleeper func(ctx context.Context, d time.Duration) error

// Sleep waits d, or until ctx is done. It returns ctx.Err() when ctx is
// already done or ends first, nil otherwise (at once when d <= 0).
func Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// NewRand returns a uniform source of numbers in [0, 1) drawn from src,
// safe for concurrent use (src itself need not be). Pass a seeded source
// (rand.NewPCG(1, 2)) for a reproducible sequence.
func NewRand(src rand.Source) func() float64 {
	var mu sync.Mutex
	r := rand.New(src)
	return func() float64 {
		mu.Lock()
		defer mu.Unlock()
		return r.Float64()
	}
}

// NewSeededRand returns NewRand over a PCG source seeded from crypto/rand:
// a different sequence per call, for production jitter.
func NewSeededRand() func() float64 {
	var seed [16]byte
	_, _ = crand.Read(seed[:]) // never fails (crypto/rand panics instead)
	return NewRand(rand.NewPCG(binary.LittleEndian.Uint64(seed[:8]), binary.LittleEndian.Uint64(seed[8:])))
}
