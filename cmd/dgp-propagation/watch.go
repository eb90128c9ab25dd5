package main

import (
	"bytes"
	"context"
	"encoding/json"
	"sync"
	"time"
)

// applied is one "config db applied" log line of an instance.
type applied struct {
	at         time.Time
	generation uint64
	source     string
	durationMS int64
	lagMS      int64
}

// logWatch is an instance's log output: it notes when the instance applied
// or published a DB (the documented "config db applied" / "config db
// published" lines), so the benchmark knows when to probe, and drops the
// rest.
type logWatch struct {
	now func() time.Time

	mu        sync.Mutex
	applies   []applied
	hints     []time.Time // "event hint" debug lines (with --trace)
	published uint64
	changed   chan struct{} // closed and replaced at every record
}

func newLogWatch(now func() time.Time) *logWatch {
	return &logWatch{now: now, changed: make(chan struct{})}
}

// Messages of the log lines the watch looks for.
const (
	appliedMsg   = `"message":"config db applied"`
	publishedMsg = `"message":"config db published"`
	hintMsg      = `"message":"event hint"`
)

// Write receives one zerolog event per call.
func (w *logWatch) Write(p []byte) (int, error) {
	if bytes.Contains(p, []byte(hintMsg)) {
		at := w.now()
		w.mu.Lock()
		w.hints = append(w.hints, at)
		w.mu.Unlock()
		return len(p), nil
	}
	isApplied, isPublished := bytes.Contains(p, []byte(appliedMsg)), bytes.Contains(p, []byte(publishedMsg))
	if !isApplied && !isPublished {
		return len(p), nil
	}
	at := w.now()
	var line struct {
		Generation uint64 `json:"generation"`
		Source     string `json:"source"`
		DurationMS int64  `json:"duration_ms"`
		LagMS      int64  `json:"lag_ms"`
	}
	if json.Unmarshal(p, &line) != nil {
		return len(p), nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if isApplied {
		w.applies = append(w.applies, applied{at: at, generation: line.Generation, source: line.Source, durationMS: line.DurationMS, lagMS: line.LagMS})
	} else if line.Generation > w.published {
		w.published = line.Generation
	}
	close(w.changed)
	w.changed = make(chan struct{})
	return len(p), nil
}

// Published is the highest generation the instance published.
func (w *logWatch) Published() uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.published
}

// Generation is the highest generation the instance applied.
func (w *logWatch) Generation() uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	var g uint64
	for _, a := range w.applies {
		g = max(g, a.generation)
	}
	return g
}

// Applied returns the first apply of generation g or later, if any, and a
// channel closed at the next record.
func (w *logWatch) Applied(g uint64) (applied, bool, <-chan struct{}) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, a := range w.applies {
		if a.generation >= g {
			return a, true, w.changed
		}
	}
	return applied{}, false, w.changed
}

// HintSince returns the first event hint the instance received at or after t.
func (w *logWatch) HintSince(t time.Time) (time.Time, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, at := range w.hints {
		if !at.Before(t) {
			return at, true
		}
	}
	return time.Time{}, false
}

// WaitApplied waits until generation g or later is applied, ctx ends, or
// poke fires (then ok is false: the caller probes anyway).
func (w *logWatch) WaitApplied(ctx context.Context, g uint64, poke <-chan time.Time) (applied, bool) {
	for {
		a, ok, changed := w.Applied(g)
		if ok {
			return a, true
		}
		select {
		case <-changed:
		case <-poke:
			return applied{}, false
		case <-ctx.Done():
			return applied{}, false
		}
	}
}

// eventLog records when MinIO's events for each bucket reached the tool.
type eventLog struct {
	now func() time.Time
	mu  sync.Mutex
	at  map[string][]time.Time
}

func newEventLog() *eventLog {
	return &eventLog{now: time.Now, at: map[string][]time.Time{}}
}

// record notes an event body (MinIO's NATS or webhook shape).
func (l *eventLog) record(body []byte) {
	at := l.now()
	var ev struct {
		Records []struct {
			S3 struct {
				Bucket struct {
					Name string `json:"name"`
				} `json:"bucket"`
			} `json:"s3"`
		} `json:"Records"`
	}
	if json.Unmarshal(body, &ev) != nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, r := range ev.Records {
		l.at[r.S3.Bucket.Name] = append(l.at[r.S3.Bucket.Name], at)
	}
}

// firstSince returns the first event of bucket at or after t.
func (l *eventLog) firstSince(bucket string, t time.Time) (time.Time, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, at := range l.at[bucket] {
		if !at.Before(t) {
			return at, true
		}
	}
	return time.Time{}, false
}
