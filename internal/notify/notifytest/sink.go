// Package notifytest provides a recording notify.Sink for tests of event
// sources and their consumers.
package notifytest

import (
	"sync"

	"github.com/dgp-proxy/dgp/internal/notify"
)

// Resync is one recorded Sink.Resync call.
type Resync struct {
	Source string
	Reason string
}

// Sink records every call it receives. The zero value is ready to use and
// safe for concurrent use.
type Sink struct {
	mu      sync.Mutex
	hints   []notify.Hint
	sources []string
	resyncs []Resync
}

var _ notify.Sink = (*Sink)(nil)

// Hint records a hint.
func (s *Sink) Hint(h notify.Hint, source string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hints = append(s.hints, h)
	s.sources = append(s.sources, source)
}

// Resync records a resync request.
func (s *Sink) Resync(source, reason string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.resyncs = append(s.resyncs, Resync{Source: source, Reason: reason})
}

// Hints returns a copy of the hints received so far.
func (s *Sink) Hints() []notify.Hint {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]notify.Hint(nil), s.hints...)
}

// Sources returns the source name of every hint, in order.
func (s *Sink) Sources() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.sources...)
}

// Resyncs returns a copy of the resync requests received so far.
func (s *Sink) Resyncs() []Resync {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Resync(nil), s.resyncs...)
}
