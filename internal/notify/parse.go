// Package notify turns bucket event notifications into hints that the config
// DB in the sync bucket may have changed. It knows every shape an instance is
// handed: AWS S3 records (direct, or behind SNS with raw delivery), the SNS
// envelope, EventBridge "Object Created", MinIO's NATS/webhook wrapper and the
// s3:TestEvent AWS sends when a notification configuration is saved.
//
// The event sources live in the subpackages natsnotify and sqsnotify; they
// deliver to a Sink (implemented by configsync) through a Dispatcher, which
// keeps their status and metrics.
package notify

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// MaxBodySize is the largest message body Parse accepts. SQS caps messages at
// 256 KiB and NATS at 1 MiB by default; a bigger body is not a bucket event.
const MaxBodySize = 1 << 20

// ErrTestEvent is returned by Parse for the s3:TestEvent message AWS sends
// when a bucket notification configuration is saved. It carries no change:
// consume it and drop it.
var ErrTestEvent = errors.New("s3 test event")

// ErrMalformed is wrapped by every error Parse returns for input that is not
// a bucket event it understands.
var ErrMalformed = errors.New("malformed event")

// Hint says that an object in a bucket changed. It is only a hint: the
// consumer decides what to do (typically a conditional GET of the object).
type Hint struct {
	// Bucket is the bucket name.
	Bucket string
	// Key is the object key, decoded (no URL encoding left).
	Key string
	// ETag is the object's ETag without quotes; empty when the event has none
	// (removals).
	ETag string
	// EventName is the event type as sent: "ObjectCreated:Put",
	// "s3:ObjectCreated:Put" (MinIO), or "Object Created" (EventBridge).
	EventName string
	// EventTime is when the storage service produced the event; zero when
	// the event carries no parsable time.
	EventTime time.Time
	// Sequencer orders events of one key (hex string; compare equal-length
	// values lexically). Empty when absent.
	Sequencer string
}

// envelope holds the top-level fields of every shape Parse recognises.
// encoding/json matches names case-insensitively, so "time" (EventBridge)
// and "Time" (test event) share one field, which only the test event ignores.
//
// R is what a record decodes into: record in the first pass, which decodes
// the whole message once; json.RawMessage in the second, taken only when
// the first fails, so that a malformed record does not hide the good ones.
type envelope[R any] struct {
	// AWS S3 records, also inside MinIO's wrapper.
	Records *[]R `json:"Records"`

	// MinIO wrapper.
	EventName string `json:"EventName"`
	Key       string `json:"Key"`

	// SNS envelope.
	Type     string  `json:"Type"`
	Message  *string `json:"Message"`
	TopicArn string  `json:"TopicArn"`

	// s3:TestEvent.
	Event string `json:"Event"`

	// EventBridge.
	DetailType string        `json:"detail-type"`
	Time       string        `json:"time"`
	Detail     *bridgeDetail `json:"detail"`
}

type bridgeDetail struct {
	Bucket struct {
		Name string `json:"name"`
	} `json:"bucket"`
	Object struct {
		Key       string `json:"key"`
		ETag      string `json:"etag"`
		Sequencer string `json:"sequencer"`
	} `json:"object"`
}

type record struct {
	EventSource string    `json:"eventSource"`
	EventTime   string    `json:"eventTime"`
	EventName   string    `json:"eventName"`
	S3          *s3Entity `json:"s3"`
}

type s3Entity struct {
	Bucket struct {
		Name string `json:"name"`
	} `json:"bucket"`
	Object struct {
		Key       string `json:"key"`
		ETag      string `json:"eTag"`
		Sequencer string `json:"sequencer"`
	} `json:"object"`
}

// Parse returns every hint in one message body (a body may hold several
// records), or ErrTestEvent for the s3:TestEvent message, or an error
// wrapping ErrMalformed for input it does not understand. A recognised
// message with nothing to act on (an SNS control message, an empty Records
// list) yields no hints and no error. When some records of a message are
// malformed and others are not, the good ones are returned without an error.
// Parse never panics, whatever the input.
func Parse(body []byte) ([]Hint, error) {
	return parse(body, 0)
}

func parse(body []byte, depth int) ([]Hint, error) {
	return parseWith(body, depth, passInPlace)
}

// pass is the first way parseWith tries; when it cannot read a message, the
// next one does. Tests compare them.
type pass int

const (
	// passInPlace reads a list of records in place (readRecordsInPlace).
	passInPlace pass = iota
	// passWhole decodes the whole message once with encoding/json.
	passWhole
	// passByRecord decodes the envelope, then each record on its own, so
	// a malformed record does not hide the good ones.
	passByRecord
)

// parseWith is parse, starting at the pass first.
func parseWith(body []byte, depth int, first pass) ([]Hint, error) {
	if len(body) > MaxBodySize {
		return nil, fmt.Errorf("%w: body of %d bytes exceeds %d", ErrMalformed, len(body), MaxBodySize)
	}
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return nil, fmt.Errorf("%w: empty body", ErrMalformed)
	}
	if body[0] != '{' {
		return nil, fmt.Errorf("%w: not a JSON object", ErrMalformed)
	}
	if first == passInPlace {
		if env, ok := readRecordsInPlace(body); ok {
			return parseRecords(env, decoded(*env.Records))
		}
	}
	var env envelope[record]
	if first <= passWhole && json.Unmarshal(body, &env) == nil {
		if env.Records == nil || env.Event == "s3:TestEvent" {
			return parseShape(env, depth)
		}
		return parseRecords(env, decoded(*env.Records))
	}
	var raw envelope[json.RawMessage]
	if err := json.Unmarshal(body, &raw); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if raw.Records == nil || raw.Event == "s3:TestEvent" {
		return parseShape(raw, depth)
	}
	return parseRecords(raw, func(i int) (record, error) {
		var r record
		if err := json.Unmarshal((*raw.Records)[i], &r); err != nil {
			return r, fmt.Errorf("%w: %v", ErrMalformed, err)
		}
		return r, nil
	})
}

// parseShape handles every shape but a list of records.
func parseShape[R any](env envelope[R], depth int) ([]Hint, error) {
	switch {
	case env.Event == "s3:TestEvent":
		return nil, ErrTestEvent

	case env.Message != nil && env.Type != "" && env.Records == nil:
		return parseSNS(env, depth)

	case env.Detail != nil && env.DetailType != "":
		return parseEventBridge(env)

	case env.EventName != "" && env.Key != "":
		return parseMinIOWrapper(env)
	}
	return nil, fmt.Errorf("%w: unrecognised message shape", ErrMalformed)
}

// parseSNS decodes the S3 event carried as a JSON string in an SNS
// notification. Only one level of envelope exists in practice; a second one
// is refused so crafted input cannot recurse.
func parseSNS[R any](env envelope[R], depth int) ([]Hint, error) {
	if env.Type != "Notification" {
		// SubscriptionConfirmation and friends: nothing changed.
		return nil, nil
	}
	if depth > 0 {
		return nil, fmt.Errorf("%w: nested SNS envelope", ErrMalformed)
	}
	hints, err := parse([]byte(*env.Message), depth+1)
	if err != nil && !errors.Is(err, ErrTestEvent) {
		return nil, fmt.Errorf("sns message: %w", err)
	}
	return hints, err
}

// decoded gives parseRecords records already decoded.
func decoded(records []record) func(i int) (record, error) {
	return func(i int) (record, error) { return records[i], nil }
}

// parseRecords turns env's records, decoded one by one by rec, into hints.
func parseRecords[R any](env envelope[R], rec func(i int) (record, error)) ([]Hint, error) {
	n := len(*env.Records)
	if n == 0 {
		if env.EventName != "" && env.Key != "" {
			return parseMinIOWrapper(env)
		}
		return nil, nil
	}
	hints := make([]Hint, 0, n)
	var firstErr error
	for i := range n {
		r, err := rec(i)
		var h Hint
		if err == nil {
			h, err = hintOf(r)
		}
		if err != nil {
			if firstErr == nil {
				firstErr = fmt.Errorf("record %d: %w", i, err)
			}
			continue
		}
		hints = append(hints, h)
	}
	if len(hints) == 0 {
		return nil, firstErr
	}
	return hints, nil
}

func hintOf(r record) (Hint, error) {
	if r.EventName == "" || r.S3 == nil || r.S3.Bucket.Name == "" || r.S3.Object.Key == "" {
		return Hint{}, fmt.Errorf("%w: record lacks eventName, bucket or key", ErrMalformed)
	}
	// AWS form-encodes keys ("red flower" -> "red+flower"); MinIO escapes
	// them with url.QueryEscape ("/" -> "%2F", " " -> "+"), and decodes them
	// with url.QueryUnescape in its own targets. One decoder fits both.
	key, err := url.QueryUnescape(r.S3.Object.Key)
	if err != nil {
		return Hint{}, fmt.Errorf("%w: object key: %v", ErrMalformed, err)
	}
	return Hint{
		Bucket:    r.S3.Bucket.Name,
		Key:       key,
		ETag:      unquoteETag(r.S3.Object.ETag),
		EventName: r.EventName,
		EventTime: parseTime(r.EventTime),
		Sequencer: r.S3.Object.Sequencer,
	}, nil
}

func parseEventBridge[R any](env envelope[R]) ([]Hint, error) {
	d := env.Detail
	if d.Bucket.Name == "" || d.Object.Key == "" {
		return nil, fmt.Errorf("%w: eventbridge detail lacks bucket or key", ErrMalformed)
	}
	// EventBridge percent-encodes keys without form encoding: '+' is a plus.
	key, err := url.PathUnescape(d.Object.Key)
	if err != nil {
		return nil, fmt.Errorf("%w: object key: %v", ErrMalformed, err)
	}
	return []Hint{{
		Bucket:    d.Bucket.Name,
		Key:       key,
		ETag:      unquoteETag(d.Object.ETag),
		EventName: env.DetailType,
		EventTime: parseTime(env.Time),
		Sequencer: d.Object.Sequencer,
	}}, nil
}

// parseMinIOWrapper uses the wrapper's own fields when it carries no
// records: Key is "bucket/decoded key".
func parseMinIOWrapper[R any](env envelope[R]) ([]Hint, error) {
	bucket, key, ok := strings.Cut(env.Key, "/")
	if !ok || bucket == "" || key == "" {
		return nil, fmt.Errorf("%w: wrapper key %q is not bucket/key", ErrMalformed, env.Key)
	}
	return []Hint{{Bucket: bucket, Key: key, EventName: env.EventName}}, nil
}

func unquoteETag(s string) string {
	s = strings.TrimSpace(s)
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		return s[1 : len(s)-1]
	}
	return s
}

func parseTime(s string) time.Time {
	if s == "" {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}
	}
	return t
}
