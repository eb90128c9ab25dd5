// Package configsync keeps an instance's IAM state (the config DB) and
// shares it with the fleet through the sync bucket: publish with
// compare-and-swap and rebase, pull (single-flight, conditional GET,
// verify, swap, persist), triggers (startup, event hint, poll, sync-now,
// reconnect) and status. Without a sync bucket it keeps the DB locally only.
//
// THIS FILE IS THE CONTRACT other packages (admin, app) are written against.
// The configsync owner implements it in the other files of the package and
// may add to it, but must not change these signatures without telling.
package configsync

import (
	"context"
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/dgp-proxy/dgp/internal/configdb"
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
	// ErrDisabled: sync is not configured (sync-now answers 404).
	ErrDisabled = errors.New("config sync is not enabled")
)

// Bucket is what the syncer needs from the sync bucket. Implementations
// return ErrNotModified, ErrNotFound and ErrPreconditionFailed (wrapped or
// not) for those outcomes, and any other error for failures.
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

// Outcomes a Bucket reports.
var (
	ErrNotModified        = errors.New("not modified")
	ErrNotFound           = errors.New("not found")
	ErrPreconditionFailed = errors.New("precondition failed")
)

// Options configure a Syncer.
type Options struct {
	Bucket       Bucket // nil: sync off, the DB is local only
	BucketName   string // for status and logs
	Key          string // object key in the bucket
	Role         string // "writer" (default) or "reader"
	WriterURL    string // named in ErrReadOnly messages
	NodeID       string
	Secret       []byte // the bootstrap secret (DB key material)
	Keys         *configdb.KeyCache
	KDF          configdb.KDFParams // zero: configdb.DefaultKDFParams()
	LocalPath    string             // <data dir>/deltaglider_config.db
	PollInterval time.Duration      // 0: no poll
	Logger       zerolog.Logger
	Registerer   prometheus.Registerer
	Now          func() time.Time
}

// PullResult is the answer of SyncNow.
type PullResult struct {
	Downloaded bool   `json:"downloaded"`
	ETag       string `json:"etag"`
	Generation uint64 `json:"generation"`
	Status     string `json:"status"` // "updated", "current", "empty" (no object yet)
}

// The Syncer (defined in syncer.go by the configsync owner) offers:
//
//	func New(o Options) (*Syncer, error)
//	func (s *Syncer) Start(ctx context.Context) error   // boot: load local file, probe bucket, pull; errors stop startup
//	func (s *Syncer) Run(ctx context.Context) error     // poll loop + trigger handling until ctx ends
//	func (s *Syncer) Current() *configdb.State          // lock-free snapshot for S3 requests
//	func (s *Syncer) Publish(ctx context.Context, op configdb.Op) (*configdb.State, error)
//	func (s *Syncer) SyncNow(ctx context.Context) (PullResult, error)
//	func (s *Syncer) Status() Status                    // JSON-encodable
//	func (s *Syncer) Hint(h notify.Hint, source string) // notify.Sink
//	func (s *Syncer) Resync(source, reason string)      // notify.Sink
