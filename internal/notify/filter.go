package notify

import "strings"

// Filter selects the hints an instance acts on: object-created events for
// exactly one bucket and key (the config DB object).
type Filter struct {
	// Bucket is the sync bucket.
	Bucket string
	// Key is the decoded key of the config DB object.
	Key string
}

// Match reports whether h is an object-created event (ObjectCreated:*, with
// or without the "s3:" prefix, or EventBridge "Object Created") on exactly
// f's bucket and key. Removals, other objects and other buckets never match;
// an empty Filter matches nothing.
func (f Filter) Match(h Hint) bool {
	if f.Bucket == "" || f.Key == "" {
		return false
	}
	return h.Bucket == f.Bucket && h.Key == f.Key && IsCreated(h.EventName)
}

// IsCreated reports whether an event name means an object was created or
// overwritten: "ObjectCreated:<anything>" (optionally "s3:"-prefixed) or
// EventBridge's "Object Created".
func IsCreated(eventName string) bool {
	if eventName == "Object Created" {
		return true
	}
	return strings.HasPrefix(strings.TrimPrefix(eventName, "s3:"), "ObjectCreated:")
}
