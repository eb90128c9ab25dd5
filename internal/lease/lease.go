// Package lease gives a background job (a replication or lifecycle rule)
// one holder across the fleet: a lease is a small JSON object in the sync
// bucket (.deltaglider/leases/<kind>/<rule>.json), created with
// If-None-Match: *, renewed with If-Match on the ETag the holder wrote,
// stolen only after it expired (If-Match on the expired object's ETag) and
// released with a conditional write marking it released. Without a sync
// bucket the same code runs on a directory (DirStore) with the same
// compare-and-swap semantics.
//
// Every acquisition raises the lease's token (its generation, kept in the
// object, monotonic across holders): the fencing token that goes with the
// run. The holder's Lease is its Fence: the job calls Check before every
// write, and Check refuses once a renewal was missed, the lease is known
// lost or released, or the local deadline (start of the last successful
// renewal + ttl - margin, on the injected clock) has passed. A Keeper
// renews a Lease every heartbeat in the goroutine that calls Run.
//
// Expiry is judged from the object's own times plus a margin, and also
// from this instance's own observation of an unchanged ETag (which no
// clock skew can fool); docs/jobs.md discusses clock skew.
package lease

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"time"
)

// Defaults from the user guide.
const (
	DefaultTTL       = 60 * time.Second
	DefaultHeartbeat = 20 * time.Second
	// MaxMargin bounds the default skew margin (see DefaultMargin).
	MaxMargin = 2 * time.Second
)

// KeyPrefix is where lease objects live in the sync bucket.
const KeyPrefix = ".deltaglider/leases/"

// Kinds of lease the jobs engine takes.
const (
	KindReplication = "replication"
	KindLifecycle   = "lifecycle"
)

// Errors callers branch on.
var (
	// ErrHeld: another holder has the lease and it has not expired; the
	// error is a *HeldError naming the holder.
	ErrHeld = errors.New("lease held by another instance")
	// ErrFenced is wrapped by every refusal of Check (and of Renew once
	// the lease is no longer held); one of the reasons below goes with it.
	ErrFenced = errors.New("lease fence refused the write")
	// ErrLost: another holder took the lease (a conditional write failed).
	ErrLost = errors.New("lease lost to another holder")
	// ErrMissedRenewal: a renewal did not succeed (the bucket could not
	// be reached, or answered an error): the lease may still be ours, but
	// the holder stops rather than guess.
	ErrMissedRenewal = errors.New("lease renewal missed")
	// ErrExpired: the local deadline passed without a successful renewal
	// (the holder stalled, or renewals were late).
	ErrExpired = errors.New("lease expired locally")
	// ErrReleased: the holder released the lease.
	ErrReleased = errors.New("lease released")
	// ErrNotFound: a Store has no such object (also Manager.Read).
	ErrNotFound = errors.New("lease object not found")
	// ErrConflict: a Store's condition did not hold (412).
	ErrConflict = errors.New("lease object changed (precondition failed)")
	// ErrInvalid: a malformed kind or rule name, or bad options.
	ErrInvalid = errors.New("invalid lease parameters")
)

// HeldError is Acquire's answer when another holder has the lease: the
// record read (holder, token, expiry, rule hash), for a 409 naming it.
type HeldError struct {
	Record Record
	// RetryAt is, on this instance's clock, the earliest time the lease
	// may be stolen if its holder does not renew it (zero for a lease this
	// instance holds itself): a poller wakes then rather than on its next
	// tick, so that a dead holder is replaced within ttl + margin.
	RetryAt time.Time
}

// Error implements error.
func (e *HeldError) Error() string {
	return fmt.Sprintf("lease %s/%s held by %s (token %d) until %s", e.Record.Kind, e.Record.Rule,
		e.Record.Holder, e.Record.Token, e.Record.Expires.UTC().Format(time.RFC3339))
}

// Is makes errors.Is(err, ErrHeld) hold.
func (e *HeldError) Is(target error) bool { return target == ErrHeld }

// Record is the lease object's content (JSON).
type Record struct {
	// Version of this layout (1).
	Version int    `json:"v"`
	Kind    string `json:"kind"`
	Rule    string `json:"rule"`
	// Holder is the node id of the holder (after a release: of the last one).
	Holder string `json:"holder"`
	// Instance is a random id of the holder's process (its Manager):
	// the same node restarted is another instance.
	Instance string `json:"instance"`
	// Token is the fencing token: the lease's generation, raised by every
	// acquisition, never lowered while the object exists.
	Token uint64 `json:"token"`
	// Acquired, Renewed and Expires are on the holder's clock; Expires is
	// Renewed + TTL.
	Acquired time.Time `json:"acquired"`
	Renewed  time.Time `json:"renewed"`
	Expires  time.Time `json:"expires"`
	// TTLMillis is the holder's lease_ttl.
	TTLMillis int64 `json:"ttl_ms"`
	// RuleHash identifies the definition of the rule the holder runs (an
	// instance whose definition differs says so).
	RuleHash string `json:"rule_hash,omitempty"`
	// Released is set by a release: anyone may take the lease at once.
	Released bool `json:"released,omitempty"`
	// Nonce is random per write: a holder recognises its own write after
	// an answer was lost (a retried conditional write answers 412).
	Nonce string `json:"nonce"`
}

// TTL returns the holder's lease_ttl.
func (r Record) TTL() time.Duration { return time.Duration(r.TTLMillis) * time.Millisecond }

var namePattern = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)

// ValidName reports whether s is a valid kind or rule name
// ([A-Za-z0-9_.-]{1,64}, not "." or "..").
func ValidName(s string) bool {
	return namePattern.MatchString(s) && s != "." && s != ".."
}

// Key returns the object key of the lease of rule of kind.
func Key(kind, rule string) string { return KeyPrefix + kind + "/" + rule + ".json" }

// Validate checks a lease_ttl and heartbeat_interval as the config
// loader must (both positive, heartbeat_interval < lease_ttl); path
// prefixes the messages (e.g. "storage.replication").
func Validate(path string, ttl, heartbeat time.Duration) []error {
	var errs []error
	if ttl <= 0 {
		errs = append(errs, fmt.Errorf("%s.lease_ttl: must be positive, got %s", path, ttl))
	}
	if heartbeat <= 0 {
		errs = append(errs, fmt.Errorf("%s.heartbeat_interval: must be positive, got %s", path, heartbeat))
	}
	if ttl > 0 && heartbeat > 0 && heartbeat >= ttl {
		errs = append(errs, fmt.Errorf("%s.heartbeat_interval (%s) must be less than lease_ttl (%s)", path, heartbeat, ttl))
	}
	return errs
}

// DefaultMargin is the skew margin for ttl and heartbeat: MaxMargin, or a
// quarter of the slack ttl - heartbeat when that is smaller, so that the
// holder's fence (ttl - margin after a renewal) stays open past the next
// heartbeat.
func DefaultMargin(ttl, heartbeat time.Duration) time.Duration {
	return max(min(MaxMargin, (ttl-heartbeat)/4), 0)
}

// HashDefinition returns the rule hash of a rule definition's canonical
// bytes (e.g. its JSON): "sha256:" and 16 hex digits.
func HashDefinition(def []byte) string {
	s := sha256.Sum256(def)
	return "sha256:" + hex.EncodeToString(s[:8])
}

// randomID returns 16 random hex digits.
func randomID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
