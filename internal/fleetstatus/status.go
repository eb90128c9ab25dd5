// Package fleetstatus is the fleet view: every instance publishes a small
// status object to the sync bucket (Prefix + node + ".json") once a change
// of its applied config DB settled (a burst of changes costs one write)
// and every Interval, and any instance lists them, marking an instance
// stale when its status is older than three of its intervals and behind
// when the config DB it applied is older than the bucket's (and the
// bucket's is older than the publish lag). Status objects older than
// Retention are removed.
//
// Status objects are not IAM state: they never enter the config DB. They
// are signed with a key every instance of the fleet derives from the
// bootstrap secret, so that whoever can write to the sync bucket but does
// not hold the secret cannot advertise an admin URL other instances would
// send sessions to.
package fleetstatus

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Prefix is the key prefix of status objects in the sync bucket.
const Prefix = ".deltaglider/instances/"

// Defaults of the optional Options.
const (
	DefaultInterval     = 30 * time.Second
	DefaultWatch        = time.Second
	DefaultSettle       = 2 * time.Second
	DefaultMaxDelay     = 10 * time.Second
	DefaultRetention    = 24 * time.Hour
	DefaultCleanupEvery = time.Hour
	// StaleIntervals is how many of its publish intervals a status may age
	// before the instance is reported stale.
	StaleIntervals = 3
)

// Errors callers branch on.
var (
	// ErrUnknownNode: no (current, verified or not) status of that node.
	ErrUnknownNode = errors.New("no status published by that node")
	// ErrNotFound is what a Store's Get answers for a missing object.
	ErrNotFound = errors.New("no such status object")
	// ErrUnverified: the node's status object is not signed with this
	// fleet's key (another bootstrap secret, or written by someone
	// without it).
	ErrUnverified = errors.New("the status of that node is not signed with this fleet's key")
)

// Key returns the status object key of node.
func Key(node string) string { return Prefix + node + ".json" }

// Status is what an instance publishes about itself. Every field is
// JSON-encodable and none is a secret.
type Status struct {
	Node    string `json:"node"`
	Version string `json:"version"`
	// Role is "writer" or "reader" (advanced.config_sync_role).
	Role string `json:"role"`
	// Schema, Generation and ETag describe the config DB the instance
	// applied (its header, and the sync object's ETag it matches).
	Schema     int    `json:"schema"`
	Generation uint64 `json:"generation"`
	ETag       string `json:"etag"`
	// LastPull and PullSource are the time and trigger (startup, event,
	// poll, sync-now, reconnect, publish) of the instance's last pull.
	LastPull   time.Time `json:"last_pull,omitzero"`
	PullSource string    `json:"pull_source,omitempty"`
	// EventSources are the notification sources the instance runs.
	EventSources []EventSource `json:"event_sources"`
	// AdminURL is the instance's advertised base URL
	// (advanced.advertise_url); "" when it advertised none.
	AdminURL string `json:"admin_url"`
	// IntervalSeconds is how often the instance republishes.
	IntervalSeconds int `json:"interval_seconds"`
	// UpdatedAt is when the instance wrote this status (its own clock).
	UpdatedAt time.Time `json:"updated_at"`
}

// EventSource is the state of one notification source of an instance.
type EventSource struct {
	Name      string `json:"name"`
	Connected bool   `json:"connected"`
	LastError string `json:"last_error,omitempty"`
}

// Instance is one row of the fleet view: a status and what the lister
// concluded about it.
type Instance struct {
	Status
	// Stale: the status is older than StaleIntervals of its intervals.
	Stale bool `json:"stale"`
	// Behind: the instance applied an older config DB than the bucket's.
	Behind bool `json:"behind"`
	// Verified: the status carries a valid signature of the fleet's key.
	// An unverified status has its admin URL removed, and sync-now is
	// never proxied to it.
	Verified bool `json:"verified"`
	// Self: the status is the answering instance's own.
	Self bool `json:"self"`
}

// View is the fleet view answered by GET /_/api/admin/fleet.
type View struct {
	// BucketGeneration and BucketETag are the config DB in the sync bucket
	// (without a sync bucket: this instance's own).
	BucketGeneration uint64 `json:"bucket_generation"`
	BucketETag       string `json:"bucket_etag"`
	// IntervalSeconds is the answering instance's publish interval.
	IntervalSeconds int        `json:"interval_seconds"`
	Instances       []Instance `json:"instances"`
}

// envelope is the stored form: the status bytes and their signature.
type envelope struct {
	Status json.RawMessage `json:"status"`
	MAC    string          `json:"mac"`
}

// encode returns the signed object of st.
func encode(st Status, key []byte) ([]byte, error) {
	raw, err := json.Marshal(st)
	if err != nil {
		return nil, fmt.Errorf("encode status: %w", err)
	}
	return json.Marshal(envelope{Status: raw, MAC: hex.EncodeToString(mac(key, raw))})
}

// decode parses a status object and reports whether its signature is
// valid under key and its node matches the object's key.
func decode(objKey string, b []byte, key []byte) (Status, bool, error) {
	var env envelope
	if err := json.Unmarshal(b, &env); err != nil {
		return Status{}, false, fmt.Errorf("decode status object %s: %w", objKey, err)
	}
	var st Status
	if err := json.Unmarshal(env.Status, &st); err != nil {
		return Status{}, false, fmt.Errorf("decode status object %s: %w", objKey, err)
	}
	if st.Node == "" || Key(st.Node) != objKey {
		return Status{}, false, fmt.Errorf("status object %s names node %q", objKey, st.Node)
	}
	got, err := hex.DecodeString(env.MAC)
	ok := err == nil && len(key) > 0 && hmac.Equal(got, mac(key, env.Status))
	return st, ok, nil
}

func mac(key, b []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write(b)
	return m.Sum(nil)
}

// DeriveKey derives the status signing key from the fleet's bootstrap
// secret (the key every instance of the fleet shares).
func DeriveKey(secret []byte) []byte {
	return mac(secret, []byte("dgp fleet status key v1"))
}

// ValidNode reports whether node can name a status object: non-empty,
// without "/" or control characters, and not "." or "..".
func ValidNode(node string) bool {
	if node == "" || node == "." || node == ".." || strings.Contains(node, "/") {
		return false
	}
	for _, r := range node {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	return true
}
