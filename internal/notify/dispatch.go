package notify

import (
	"errors"
	"sync"
	"time"

	"github.com/rs/zerolog"
)

// Sink is what event sources deliver to (implemented by configsync). Calls
// may come from the source's goroutines; implementations must be safe for
// concurrent use and should not block for long.
type Sink interface {
	// Hint delivers a relevant hint (it already passed the Filter).
	Hint(h Hint, source string)
	// Resync asks for a pull now: the source connected, reconnected after a
	// gap, or became reachable again after errors, so events may have been
	// missed.
	Resync(source string, reason string)
}

// Outcome classifies one handled message.
type Outcome string

// Message outcomes, used as the "outcome" metric label and SourceStatus key.
const (
	// OutcomeApplied: at least one hint matched the filter and went to the sink.
	OutcomeApplied Outcome = "applied"
	// OutcomeIrrelevant: a valid event about something else (other key or
	// bucket, a removal, an SNS control message).
	OutcomeIrrelevant Outcome = "irrelevant"
	// OutcomeTest: the s3:TestEvent message.
	OutcomeTest Outcome = "test"
	// OutcomeMalformed: input Parse did not understand.
	OutcomeMalformed Outcome = "malformed"
)

// Outcomes returns every outcome, in a stable order.
func Outcomes() []Outcome {
	return []Outcome{OutcomeApplied, OutcomeIrrelevant, OutcomeTest, OutcomeMalformed}
}

// Resync reasons passed to Sink.Resync.
const (
	// ReasonConnected: the first successful connection of the source.
	ReasonConnected = "connected"
	// ReasonReconnected: the connection came back after a disconnect.
	ReasonReconnected = "reconnected"
	// ReasonReachable: the source answered again after errors.
	ReasonReachable = "reachable"
)

// SourceStatus is a snapshot of one event source for the sync-status API.
type SourceStatus struct {
	// Name is the source: "nats" or "sqs".
	Name string `json:"name"`
	// Connected is true while the source can receive events.
	Connected bool `json:"connected"`
	// LastMessage is when the last message (of any outcome) arrived; zero
	// if none has.
	LastMessage time.Time `json:"last_message"`
	// Messages counts messages by outcome (applied|irrelevant|test|malformed).
	Messages map[string]uint64 `json:"messages"`
	// LastError is the last connection or receive error, empty once the
	// source works again.
	LastError string `json:"last_error,omitempty"`
}

// Dispatcher turns message bodies of one source into Sink calls and keeps
// that source's status and metrics. Event sources create one each; it is
// safe for concurrent use.
type Dispatcher struct {
	source  string
	filter  Filter
	sink    Sink
	logger  zerolog.Logger
	metrics *Metrics
	now     func() time.Time

	// gate orders sink calls against Stop: calls hold it shared, Stop
	// takes it exclusively, so no call reaches the sink after Stop returns.
	gate    sync.RWMutex
	stopped bool

	mu          sync.Mutex
	connected   bool
	lastMessage time.Time
	counts      map[Outcome]uint64
	lastErr     string
}

// NewDispatcher returns a Dispatcher for the named source. logger should
// already carry the source's fields (component, source); metrics may be nil;
// now defaults to time.Now.
func NewDispatcher(source string, filter Filter, sink Sink, logger zerolog.Logger, metrics *Metrics, now func() time.Time) *Dispatcher {
	if now == nil {
		now = time.Now
	}
	metrics.initSource(source)
	return &Dispatcher{
		source:  source,
		filter:  filter,
		sink:    sink,
		logger:  logger,
		metrics: metrics,
		now:     now,
		counts:  make(map[Outcome]uint64, 4),
	}
}

// Dispatch parses one message body, hands every hint that matches the
// filter to the sink, counts the message and returns its outcome. Anything
// else (test event, irrelevant or malformed message) is dropped with a debug
// line. After Stop it does nothing and returns "".
func (d *Dispatcher) Dispatch(body []byte) Outcome {
	d.gate.RLock()
	defer d.gate.RUnlock()
	if d.stopped {
		return ""
	}
	hints, err := Parse(body)
	var o Outcome
	switch {
	case errors.Is(err, ErrTestEvent):
		o = OutcomeTest
		d.logger.Debug().Str("outcome", string(o)).Msg("s3 test event dropped")
	case err != nil:
		o = OutcomeMalformed
		d.logger.Debug().Err(err).Int("bytes", len(body)).Str("outcome", string(o)).Msg("malformed event dropped")
	default:
		o = OutcomeIrrelevant
		for _, h := range hints {
			if !d.filter.Match(h) {
				d.logger.Debug().Str("bucket", h.Bucket).Str("key", h.Key).Str("event", h.EventName).
					Str("outcome", string(OutcomeIrrelevant)).Msg("event dropped")
				continue
			}
			o = OutcomeApplied
			d.logger.Debug().Str("etag", h.ETag).Str("event", h.EventName).Str("sequencer", h.Sequencer).
				Time("event_time", h.EventTime).Msg("event hint")
			d.sink.Hint(h, d.source)
		}
		if len(hints) == 0 {
			d.logger.Debug().Str("outcome", string(o)).Msg("event without records dropped")
		}
	}
	at := d.now()
	d.mu.Lock()
	d.counts[o]++
	d.lastMessage = at
	d.mu.Unlock()
	d.metrics.countMessage(d.source, o, at)
	return o
}

// Resync asks the sink for a pull now, with the given reason. After Stop it
// does nothing.
func (d *Dispatcher) Resync(reason string) {
	d.gate.RLock()
	defer d.gate.RUnlock()
	if d.stopped {
		return
	}
	d.logger.Info().Str("reason", reason).Msg("event source asks for a pull")
	d.sink.Resync(d.source, reason)
}

// SetConnected records whether the source can receive events; connecting
// clears the last error.
func (d *Dispatcher) SetConnected(ok bool) {
	d.mu.Lock()
	d.connected = ok
	if ok {
		d.lastErr = ""
	}
	d.mu.Unlock()
	d.metrics.setConnected(d.source, ok)
}

// SetError records the last connection or receive error (nil clears it).
func (d *Dispatcher) SetError(err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err == nil {
		d.lastErr = ""
		return
	}
	d.lastErr = err.Error()
}

// Failed records a failed connection or receive: the source is not
// connected and err is its last error. It logs the failure, at warn level
// for the first of a run of failures and every tenth after, at debug level
// otherwise. failures counts the failures before this one; retryIn is the
// wait before the next attempt.
func (d *Dispatcher) Failed(err error, failures int, retryIn time.Duration) {
	d.SetConnected(false)
	d.SetError(err)
	ev := d.logger.Debug()
	if failures%10 == 0 {
		ev = d.logger.Warn()
	}
	ev.Err(err).Int("attempt", failures+1).Dur("retry_in", retryIn).Msg("event source unavailable")
}

// Stop makes later Dispatch and Resync calls no-ops and waits for calls in
// progress to finish, so the sink hears nothing from this source once Stop
// returns. It also marks the source disconnected. Stop is idempotent.
func (d *Dispatcher) Stop() {
	d.gate.Lock()
	d.stopped = true
	d.gate.Unlock()
	d.SetConnected(false)
}

// Status returns a snapshot of the source's state.
func (d *Dispatcher) Status() SourceStatus {
	d.mu.Lock()
	defer d.mu.Unlock()
	st := SourceStatus{
		Name:        d.source,
		Connected:   d.connected,
		LastMessage: d.lastMessage,
		Messages:    make(map[string]uint64, 4),
		LastError:   d.lastErr,
	}
	for _, o := range Outcomes() {
		st.Messages[string(o)] = d.counts[o]
	}
	return st
}
