// Package configsync keeps an instance's IAM state (the config DB) and
// shares it with the fleet through the sync bucket: publish with
// compare-and-swap and rebase, pull (single-flight, conditional GET,
// verify, swap, persist), triggers (startup, event hint, poll, sync-now,
// reconnect) and status. Without a sync bucket it keeps the DB locally only.
//
// The Syncer is the package's one entry point: New, Start at boot, Run
// until shutdown; Current, Publish, SyncNow, Status and Ready for the
// app and the admin API; Hint and Resync for the event sources
// (notify.Sink). Bucket is the one interface it needs from storage, and
// NewS3Bucket the adapter that translates S3 answers into its outcomes.
package configsync

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/dgp-proxy/dgp/internal/configdb"
	"github.com/dgp-proxy/dgp/internal/notify"
)

// Errors callers branch on (the admin API maps them to HTTP).
var (
	// ErrReadOnly: this instance is a reader (advanced.config_sync_role:
	// reader) and refuses mutations. 409 read_only_replica.
	ErrReadOnly = errors.New("this instance is a read-only replica")
	// ErrMidUpgrade: the bucket holds a DB of a newer schema than this
	// binary writes. 409 fleet_mid_upgrade.
	ErrMidUpgrade = errors.New("the fleet is mid-upgrade: the sync bucket holds a newer schema than this instance supports")
	// ErrUnavailable: the sync bucket could not be reached (or kept
	// conflicting past the retry bound); nothing changed anywhere. 503.
	ErrUnavailable = errors.New("the sync bucket is unavailable")
	// ErrOutcomeUnknown: a publish's PUT got no answer and the bucket
	// could not be read back to tell whether it landed: the change may
	// have been made. Never wraps ErrUnavailable. 503 sync_outcome_unknown.
	ErrOutcomeUnknown = errors.New("the outcome of the write to the sync bucket is unknown")
	// ErrDisabled: sync is not configured (sync-now answers 404).
	ErrDisabled = errors.New("config sync is not enabled")
)

// Bucket is what the syncer needs from the sync bucket: conditional reads
// and writes of one object. Implementations translate their technology's
// answers once, at this boundary: ErrNotModified, ErrNotFound and
// ErrPreconditionFailed (wrapped or not) for those outcomes, and for other
// failures a *BucketError carrying the HTTP status and code (or any other
// error, which counts as no answer). The Syncer never inspects error text.
type Bucket interface {
	// Get returns the object, unless its ETag equals ifNoneMatch (then ErrNotModified).
	Get(ctx context.Context, key, ifNoneMatch string) (body []byte, etag string, err error)
	// Put writes the object when the condition holds: ifMatch is an ETag, or
	// ifNoneMatch is "*" (create only). ErrPreconditionFailed otherwise.
	Put(ctx context.Context, key string, body []byte, ifMatch, ifNoneMatch string) (etag string, err error)
	// Head returns the object's ETag (ErrNotFound when absent).
	Head(ctx context.Context, key string) (etag string, err error)
	// Delete removes the object (used by the startup probe).
	Delete(ctx context.Context, key string) error
}

// BucketGetInto is implemented by a Bucket whose Get can read the object
// into a buffer the caller owns. A Syncer then alternates two receive
// buffers instead of allocating a DB-sized one on every pull (see
// Syncer.fetch).
type BucketGetInto interface {
	// GetInto is Get reading the body into buf from buf[:0] (a new array
	// when buf is too small): the body returned may share buf's array.
	GetInto(ctx context.Context, key, ifNoneMatch string, buf []byte) (body []byte, etag string, err error)
}

// Outcomes a Bucket reports; the Syncer branches on them.
var (
	// ErrNotModified: Get's ifNoneMatch matched the object's ETag (304).
	ErrNotModified = errors.New("not modified")
	// ErrNotFound: no such object (404).
	ErrNotFound = errors.New("not found")
	// ErrPreconditionFailed: Put's condition did not hold (412).
	ErrPreconditionFailed = errors.New("precondition failed")
)

// Options configure a Syncer.
type Options struct {
	Bucket       Bucket // nil: sync off, the DB is local only
	BucketName   string // for status and logs
	Endpoint     string // the sync bucket's service URL ("": AWS S3), for errors, logs and the probe witness
	Key          string // object key in the bucket
	Role         string // "writer" (default) or "reader"
	WriterURL    string // named in ErrReadOnly messages
	NodeID       string
	Version      string // this binary's version, for the probe witness ("": as the Go toolchain stamped it)
	Secret       []byte // the bootstrap secret (DB key material)
	Keys         *configdb.KeyCache
	KDF          configdb.KDFParams // zero: configdb.DefaultKDFParams()
	LocalPath    string             // <data dir>/deltaglider_config.db
	PollInterval time.Duration      // 0: no poll
	Logger       zerolog.Logger
	Registerer   prometheus.Registerer
	Now          func() time.Time

	// The options below are optional; zero values give the defaults.

	// Store holds the current snapshot; nil: the Syncer makes its own
	// (Current and Store return it either way).
	Store *configdb.Store
	// Rand returns a uniform number in [0, 1) for jitter (poll interval
	// ±10%, waits between publish attempts); nil: a source seeded from
	// crypto/rand (backoff.NewSeededRand).
	Rand func() float64
	// MaxPublishAttempts bounds the compare-and-swap attempts of one
	// Publish (default 10).
	MaxPublishAttempts int
	// ConflictBackoff is the base of the jittered wait after a lost
	// compare-and-swap, doubling per attempt up to 50x (default 20ms).
	ConflictBackoff time.Duration
	// RequestTimeout bounds each bucket request (default 60s).
	RequestTimeout time.Duration
	// RetryMax caps the backoff of background retries while the bucket is
	// unreachable (default 1m, and never more than PollInterval when set).
	RetryMax time.Duration
	// EventMetrics, when set, also receives the event-to-apply lag per
	// event source (dgp_config_sync_event_lag_seconds{source}).
	EventMetrics *notify.Metrics
	// WriteSchema is the config DB schema a publish writes (the fleet's
	// "feature compatibility version"). 0, the default, keeps the schema
	// of the DB the publish replaces, so that a rolling upgrade never
	// leaves the instances not yet upgraded unable to read the DB; with
	// nothing to replace (a fresh bucket) or without a sync bucket it is
	// configdb.CurrentSchema. N (1 to configdb.CurrentSchema) writes schema
	// N, except that a publish never writes a lower schema than the bucket
	// holds. The operator raises it once every instance runs the new
	// version (docs/upgrading.md).
	WriteSchema int
	// Declarative names a local-only Syncer (no Bucket, the writer role)
	// as access.iam_mode: declarative, where the instance's config file is
	// its IAM truth: SyncNow answers Status "declarative" instead of
	// ErrDisabled, and Status and Ready say "declarative" instead of
	// "local" and "disabled". It changes nothing else: the app wires
	// declarative IAM as a writer without a sync bucket, and New refuses
	// Declarative with a Bucket or the reader role.
	Declarative bool
	// SaveDelay and SaveMaxDelay: while Run runs, the local file of pulls
	// is written (with the latest DB pulled by then) once no pull has
	// applied a DB for SaveDelay (default 1s), and at the latest
	// SaveMaxDelay (default 10s, never less than SaveDelay) after the
	// first DB not written yet: a burst of changes costs one write, and
	// none is on a pull's path (see Run). Publishes, and pulls without Run,
	// write at once.
	SaveDelay, SaveMaxDelay time.Duration
	// RevocationRetain is how long a session revocation can still match a
	// valid session: the longest a session lives plus a clock-skew
	// margin, the Retain the writer prunes with (configdb.RevokeSessions).
	// A revocation held here and missing from a pulled DB, or from the
	// bucket's DB a publish builds on, is carried into it only if it was
	// recorded after now minus RevocationRetain: an older one was pruned
	// by a writer, or could be, and carrying it would undo the prune (and
	// re-seal every pull). 0 carries every one.
	RevocationRetain time.Duration
}

// PullResult is the answer of SyncNow.
type PullResult struct {
	Downloaded bool   `json:"downloaded"`
	ETag       string `json:"etag"`
	Generation uint64 `json:"generation"`
	Status     string `json:"status"` // "updated", "current", "empty" (no object yet), "declarative"
}

// StatusDeclarative is PullResult.Status when the instance's IAM is
// declarative: nothing is pulled.
const StatusDeclarative = "declarative"

// More errors callers branch on.
var (
	// ErrNoConditionalWrites: the sync bucket ignores (or rejects) S3
	// conditional writes (If-None-Match: *, If-Match), which publishing
	// needs so that no mutation is lost. Start fails with it.
	ErrNoConditionalWrites = errors.New("the sync bucket does not enforce S3 conditional writes (If-None-Match / If-Match)")
	// ErrNotStarted: Start has not completed yet (Ready reports it).
	ErrNotStarted = errors.New("config sync has not started")
	// ErrRejected: the DB in the sync bucket failed verification (wrong
	// secret or tampered, truncated, malformed, newer schema, invalid
	// state) or is older than the one held; it was not applied and the
	// instance keeps serving what it has. SyncNow returns it wrapped.
	ErrRejected = errors.New("the config db in the sync bucket was not applied")
)

// BucketError is a failure the bucket answered with an HTTP status, as
// opposed to no answer at all. Bucket implementations return it (possibly
// wrapped) for failures other than the three outcomes above, so that the
// syncer classifies by status and code, never by message text: a 4xx
// answer is a configuration problem (no such bucket, access denied, not
// implemented), anything else an outage.
type BucketError struct {
	Op     string // "get", "put", "head", "delete"
	Status int    // HTTP status; 0 when there was no answer
	Code   string // S3 error code, when known
	Err    error  // the cause
}

// Error implements error.
func (e *BucketError) Error() string {
	return fmt.Sprintf("sync bucket %s: %s (status %d): %v", e.Op, e.Code, e.Status, e.Err)
}

// Unwrap returns the cause.
func (e *BucketError) Unwrap() error { return e.Err }

// ClientError reports whether the bucket refused the request itself
// (4xx, and 501 Not Implemented): retrying will not help.
func (e *BucketError) ClientError() bool {
	return (e.Status >= 400 && e.Status < 500) || e.Status == 501
}
