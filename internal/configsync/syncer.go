package configsync

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/dgp-proxy/dgp/internal/backoff"
	"github.com/dgp-proxy/dgp/internal/configdb"
)

// Roles (Options.Role).
const (
	RoleWriter = "writer"
	RoleReader = "reader"
)

// Defaults of the optional Options.
const (
	DefaultMaxPublishAttempts = 10
	DefaultConflictBackoff    = 20 * time.Millisecond
	DefaultRequestTimeout     = 60 * time.Second
	DefaultRetryMax           = time.Minute
	DefaultSaveDelay          = time.Second
	DefaultSaveMaxDelay       = 10 * time.Second
	// retryFirst is the first wait of the background retry while the
	// bucket is unreachable; it doubles up to RetryMax.
	retryFirst = time.Second
)

// Syncer keeps the instance's config DB: it serves the current snapshot,
// publishes mutations to the sync bucket with compare-and-swap, and pulls
// what other instances published. Create it with New, call Start once at
// boot, then run Run until shutdown. All methods are safe for concurrent
// use.
type Syncer struct {
	o      Options
	bucket Bucket // nil: local only
	mode   string // ModeSync, ModeLocal or ModeDeclarative
	store  *configdb.Store
	keys   *configdb.KeyCache
	log    zerolog.Logger
	m      *metrics
	now    func() time.Time
	rand   func() float64
	// conflict is the jittered wait after a lost compare-and-swap; retry
	// the wait before a background retry while the bucket is unreachable.
	conflict, retry backoff.Policy

	// Lock order: xchg before mu; mu is never held across a bucket
	// request, a file write or a callback.
	//
	// xchg makes exchanges with the bucket and the local file take turns:
	// one publish or pull at a time (a trigger arriving meanwhile is
	// coalesced, see kick), so every snapshot swap and every write of etag,
	// hdr and sealed happens under it.
	xchg sync.Mutex
	// opener opens the pulled DBs (fetch), reusing its decryption buffer.
	// Guarded by xchg.
	opener configdb.Opener
	// bodies are fetch's two receive buffers (with a BucketGetInto): a
	// pull reads into one the held DB (sealed) and the pending local
	// write (unsaved) do not use. Guarded by xchg.
	bodies [2][]byte

	// kick holds at most one pending trigger: a trigger arriving while a
	// pull runs marks it dirty and the pull runs once more.
	kick chan struct{}

	// Deferred local writes (see install). Guarded by xchg: deferSaves is
	// set while Run runs (Run writes unsaved once pulls pause for
	// SaveDelay, within SaveMaxDelay, and before it returns); unsaved are the sealed bytes of
	// the current snapshot when the local file does not hold them yet
	// (nil: it does, or the snapshot is not to be written). save wakes Run
	// (one pending wake-up).
	deferSaves bool
	unsaved    []byte
	unsavedGen uint64
	save       chan struct{}

	pollGate   logGate // poll / retry errors
	rejectGate logGate // refused DBs

	// mu guards the fields below. etag, hdr and sealed are only written with
	// xchg held as well, so they do not change under a holder of xchg.
	mu          sync.Mutex
	etag        string // ETag of the bucket object the snapshot matches; "" unknown or absent
	hdr         *configdb.Header
	sealed      []byte // the sealed bytes the snapshot came from (never modified; nil: none)
	started     bool
	probed      bool // conditional writes verified (writers only)
	synced      bool // a pull has reached the bucket since start
	stale       bool // the last exchange with the bucket failed, or none succeeded
	failures    int  // consecutive failures to reach the bucket
	pending     pendingPull
	lastPull    *PullStatus
	lastPublish *PublishStatus
	conflicts   uint64
	lastSuccess time.Time
	nextPoll    time.Time
	sources     []eventSource
}

// New checks o, applies defaults and returns a Syncer holding the empty
// state (Start loads the local file). It does not touch the disk or the
// bucket.
func New(o Options) (*Syncer, error) {
	var problems []error
	if len(o.Secret) == 0 {
		problems = append(problems, errors.New("the bootstrap secret is empty"))
	}
	if o.LocalPath == "" {
		problems = append(problems, errors.New("the local config db path is empty"))
	}
	if o.Bucket != nil && o.Key == "" {
		problems = append(problems, errors.New("the sync object key is empty"))
	}
	switch o.Role {
	case "":
		o.Role = RoleWriter
	case RoleWriter, RoleReader:
	default:
		problems = append(problems, fmt.Errorf("role %q is neither %q nor %q", o.Role, RoleWriter, RoleReader))
	}
	if o.Role == RoleReader && o.Bucket == nil {
		problems = append(problems, errors.New("a reader needs a sync bucket"))
	}
	if o.Declarative && (o.Bucket != nil || o.Role == RoleReader) {
		problems = append(problems, errors.New("declarative iam is a writer without a sync bucket"))
	}
	if len(o.NodeID) > configdb.MaxWriterNodeLen {
		problems = append(problems, fmt.Errorf("node id is longer than %d bytes", configdb.MaxWriterNodeLen))
	}
	if o.KDF == (configdb.KDFParams{}) {
		o.KDF = configdb.DefaultKDFParams()
	}
	if err := o.KDF.Validate(); err != nil {
		problems = append(problems, err)
	}
	if o.PollInterval < 0 {
		problems = append(problems, errors.New("poll interval is negative"))
	}
	if o.WriteSchema < 0 || o.WriteSchema > configdb.CurrentSchema {
		problems = append(problems, fmt.Errorf("write schema %d: this binary writes schemas %d to %d (0: keep the bucket's)",
			o.WriteSchema, configdb.MinWriteSchema, configdb.CurrentSchema))
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("config sync options: %w", errors.Join(problems...))
	}
	if o.Keys == nil {
		o.Keys = configdb.NewKeyCache(0)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Rand == nil {
		o.Rand = backoff.NewSeededRand()
	}
	if o.MaxPublishAttempts <= 0 {
		o.MaxPublishAttempts = DefaultMaxPublishAttempts
	}
	if o.ConflictBackoff <= 0 {
		o.ConflictBackoff = DefaultConflictBackoff
	}
	if o.RequestTimeout <= 0 {
		o.RequestTimeout = DefaultRequestTimeout
	}
	if o.RetryMax <= 0 {
		o.RetryMax = DefaultRetryMax
	}
	if o.SaveDelay <= 0 {
		o.SaveDelay = DefaultSaveDelay
	}
	if o.SaveMaxDelay <= 0 {
		o.SaveMaxDelay = DefaultSaveMaxDelay
	}
	o.SaveMaxDelay = max(o.SaveMaxDelay, o.SaveDelay)
	if o.PollInterval > 0 && o.RetryMax > o.PollInterval {
		o.RetryMax = o.PollInterval
	}
	if o.Store == nil {
		o.Store = configdb.NewStore(nil)
	}
	s := &Syncer{
		o:        o,
		bucket:   o.Bucket,
		mode:     ModeSync,
		store:    o.Store,
		keys:     o.Keys,
		log:      o.Logger.With().Str("component", "config-sync").Logger(),
		now:      o.Now,
		rand:     o.Rand,
		conflict: backoff.Policy{First: o.ConflictBackoff, Max: 50 * o.ConflictBackoff, Rand: o.Rand},
		retry:    backoff.Policy{First: retryFirst, Max: o.RetryMax},
		kick:     make(chan struct{}, 1),
		save:     make(chan struct{}, 1),
		stale:    o.Bucket != nil,
	}
	switch {
	case o.Declarative:
		s.mode = ModeDeclarative
	case o.Bucket == nil:
		s.mode = ModeLocal
	}
	s.m = newMetrics(o.Registerer, s.secondsSinceSuccess)
	s.m.generation.Set(float64(s.store.Current().Generation()))
	return s, nil
}

// Current returns the snapshot to serve requests from, without locks. It
// never returns nil.
func (s *Syncer) Current() *configdb.State { return s.store.Current() }

// Store returns the store the snapshot lives in.
func (s *Syncer) Store() *configdb.Store { return s.store }

// Start boots the syncer: it loads the local DB file, then (with a sync
// bucket) verifies that the bucket enforces conditional writes (writers
// only) and pulls. The app subscribes the event sources before calling it,
// so no change slips between the pull and the first event.
//
// Start fails, changing nothing, when the local file does not open with
// the configured secret (wrong secret or tampered), has a schema this
// binary cannot read ("upgrade this instance"; a newer schema it can read
// is loaded, and mutations are refused while it is held) or is otherwise
// unusable, and when the bucket ignores conditional writes
// (ErrNoConditionalWrites) or refuses the probe (a 4xx: no such bucket,
// access denied). An unreachable bucket is
// not an error: the local copy is served, readiness says "stale", and Run
// keeps retrying with a capped backoff.
func (s *Syncer) Start(ctx context.Context) error {
	s.mu.Lock()
	if s.started {
		s.mu.Unlock()
		return errors.New("config sync: Start called twice")
	}
	s.mu.Unlock()
	if err := s.loadLocal(); err != nil {
		return err
	}
	if s.bucket == nil {
		s.log.Info().Str("mode", s.mode).Uint64("generation", s.Current().Generation()).Msg("config sync off: the config db is local only")
		s.markStarted()
		return nil
	}
	if err := s.boot(ctx); err != nil {
		switch {
		case fatal(err):
			return fmt.Errorf("config sync: %w", err)
		case ctx.Err() != nil:
			return fmt.Errorf("config sync: start: %w", ctx.Err())
		case errors.Is(err, ErrUnavailable):
			s.log.Warn().Err(err).Str("bucket", s.o.BucketName).Uint64("generation", s.Current().Generation()).
				Msg("sync bucket unreachable at startup: serving the local copy, retrying in the background")
		}
		// A DB refused by the pull was logged there: the local copy is served.
	}
	s.markStarted()
	return nil
}

func (s *Syncer) markStarted() {
	s.mu.Lock()
	s.started = true
	s.mu.Unlock()
}

// boot runs the probe (writers, once) and a pull. It returns ErrUnavailable
// (wrapped) when the bucket could not be reached, another error for a
// bucket that cannot work.
func (s *Syncer) boot(ctx context.Context) error {
	if err := s.ensureProbed(ctx); err != nil {
		return err
	}
	s.mu.Lock()
	src := SourcePoll
	if !s.synced {
		src = SourceStartup
	}
	s.mu.Unlock()
	_, err := s.pull(ctx, trigger{source: src})
	return err
}

// loadLocal reads the local DB file, if any, and makes it current.
func (s *Syncer) loadLocal() error {
	path := s.o.LocalPath
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("config sync: data dir: %w", err)
	}
	b, err := configdb.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		s.log.Info().Str("path", path).Msg("no local config db yet")
		s.removeLeftovers()
		return nil
	}
	if err != nil {
		return fmt.Errorf("config sync: %w", err)
	}
	st, h, err := configdb.Open(b, s.keys, s.o.Secret)
	switch {
	case errors.Is(err, configdb.ErrSchemaTooNew):
		return fmt.Errorf("config sync: local config db %s: %w", path, err)
	case errors.Is(err, configdb.ErrAuthFailed):
		return fmt.Errorf("config sync: local config db %s does not open with the configured bootstrap secret "+
			"(wrong secret, or the file was tampered with); nothing was changed: %w", path, err)
	case err != nil:
		return fmt.Errorf("config sync: local config db %s is unusable; nothing was changed: %w", path, err)
	}
	s.removeLeftovers()
	s.xchg.Lock()
	defer s.xchg.Unlock()
	s.store.Swap(st)
	s.mu.Lock()
	s.hdr, s.sealed = &h, b
	s.mu.Unlock()
	s.m.setHeld(st.Generation(), h)
	s.log.Info().Str("path", path).Uint64("generation", st.Generation()).Int("users", st.NumUsers()).
		Uint16("schema", h.Schema).Msg("local config db loaded")
	s.logNewer(h, "local file")
	return nil
}

// logNewer warns that the DB just made current has a newer schema than
// this binary's, readable but never to be rewritten here.
func (s *Syncer) logNewer(h configdb.Header, source string) {
	if !h.Newer() {
		return
	}
	s.log.Warn().Str("source", source).Uint16("schema", h.Schema).Uint16("min_reader_schema", h.MinReaderSchema).
		Int("supported_schema", configdb.CurrentSchema).Str("action", "upgrade this instance").
		Msg("config db of a newer schema applied (readable by this binary): enforced, but this instance refuses IAM changes until it is upgraded")
}

// removeLeftovers removes the temporary files that a crash during
// configdb.WriteFile leaves next to the DB file (the DB file itself is
// always intact).
func (s *Syncer) removeLeftovers() {
	path := s.o.LocalPath
	leftovers, _ := filepath.Glob(filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*"))
	for _, f := range leftovers {
		if err := os.Remove(f); err == nil {
			s.log.Info().Str("path", f).Msg("removed the temporary file of an interrupted write")
		}
	}
}

// install makes st current (from the sealed bytes from, whose header is
// h and bucket ETag etag) and has the local file written.
// persist are the bytes for the local file (sealed, or st re-sealed; nil:
// none, the file keeps what it holds or is about to be written with). The
// caller holds xchg.
//
// With deferred set (a pull) while Run runs, the write is left to Run,
// which writes the latest such snapshot once pulls pause for SaveDelay
// (within SaveMaxDelay of the first unwritten one) and before it returns:
// the pull's cost is the swap alone. The file only ever lags the snapshot, never leads it: a crash
// before the write leaves an older DB there, which a restart loads and then
// replaces by pulling the bucket (the DB applied came from it), as it
// does for every change made while an instance is down. Otherwise (a
// publish, or no Run) the file is written at once; a failure is logged and
// returned, and the snapshot is installed either way (the bucket holds the
// DB).
func (s *Syncer) install(st *configdb.State, h configdb.Header, etag string, from, persist []byte, deferred bool) error {
	s.store.Swap(st)
	s.mu.Lock()
	s.etag, s.hdr, s.sealed = etag, &h, from
	s.mu.Unlock()
	s.m.setHeld(st.Generation(), h)
	if persist == nil {
		return nil
	}
	if deferred && s.deferSaves {
		s.unsaved, s.unsavedGen = persist, st.Generation()
		select {
		case s.save <- struct{}{}:
		default:
		}
		return nil
	}
	s.unsaved = nil
	return s.writeLocal(persist, st.Generation())
}

// writeLocal writes the local file. The caller holds xchg.
func (s *Syncer) writeLocal(b []byte, generation uint64) error {
	if err := configdb.WriteFile(s.o.LocalPath, b); err != nil {
		s.log.Error().Err(err).Str("path", s.o.LocalPath).Uint64("generation", generation).
			Msg("local config db not written: the snapshot is served from memory")
		return err
	}
	return nil
}

// saveUnsaved writes the local file of the latest deferred pull, if any
// (Run, see install). A failure is logged; the next pull's deferred write
// tries again.
func (s *Syncer) saveUnsaved() {
	s.xchg.Lock()
	defer s.xchg.Unlock()
	s.saveUnsavedLocked()
}

func (s *Syncer) saveUnsavedLocked() {
	if s.unsaved == nil {
		return
	}
	b, gen := s.unsaved, s.unsavedGen
	s.unsaved = nil
	_ = s.writeLocal(b, gen)
}

// deferLocalWrites turns deferred local writes on (Run starts) or off
// (Run returns: the pending write, if any, is made first).
func (s *Syncer) deferLocalWrites(on bool) {
	s.xchg.Lock()
	defer s.xchg.Unlock()
	if !on {
		s.saveUnsavedLocked()
	}
	s.deferSaves = on
}

// held returns what the snapshot came from: the bucket ETag, the header
// and the sealed bytes (read only).
func (s *Syncer) held() (etag string, h *configdb.Header, sealed []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.etag, s.hdr, s.sealed
}

// sameDB reports whether body is the very DB held (sealed): comparing the
// bytes costs nothing for a different DB (its header differs in the first
// bytes) and a memory compare for the same one, less than hashing.
func sameDB(sealed, body []byte) bool {
	return len(sealed) > 0 && bytes.Equal(sealed, body)
}

// sealOpts are the options of a publish replacing the DB whose header is
// prev (nil: none), in the schema of writeSchema.
func (s *Syncer) sealOpts(prev *configdb.Header) configdb.SealOptions {
	return configdb.SealOptions{WriterNode: s.o.NodeID, KDF: s.o.KDF, Prev: prev, Now: s.now(), Schema: s.writeSchema(prev)}
}

// writeSchema is the schema a publish replacing the DB whose header is
// prev writes (the write-schema policy, see Options.WriteSchema): with a
// sync bucket, the schema of the DB replaced, or Options.WriteSchema when
// that is higher; with nothing to replace, or without a bucket,
// Options.WriteSchema, else CurrentSchema. (A newer schema than this
// binary's is never replaced: publishes refuse it first.)
func (s *Syncer) writeSchema(prev *configdb.Header) int {
	switch {
	case s.bucket != nil && prev != nil:
		return max(int(prev.Schema), s.o.WriteSchema)
	case s.o.WriteSchema != 0:
		return s.o.WriteSchema
	default:
		return configdb.CurrentSchema
	}
}

// logSchemaChange logs, at info, a publish that wrote another schema than
// the DB it replaced (prev).
func (s *Syncer) logSchemaChange(prev *configdb.Header, written int, generation uint64) {
	if prev == nil || int(prev.Schema) == written {
		return
	}
	s.log.Info().Uint16("previous_schema", prev.Schema).Int("schema", written).Uint64("generation", generation).
		Int("write_schema", s.o.WriteSchema).Msg("config db schema changed by this publish")
}

// succeeded records a successful exchange with the bucket.
func (s *Syncer) succeeded() {
	now := s.now()
	s.mu.Lock()
	wasStale := s.stale && s.failures > 0
	s.stale, s.failures, s.lastSuccess = false, 0, now
	s.mu.Unlock()
	s.m.lastSuccess.Set(float64(now.UnixNano()) / 1e9)
	if wasStale {
		s.pollGate.reset()
		s.log.Info().Str("bucket", s.o.BucketName).Msg("sync bucket reachable again")
	}
}

// failed records a failure to reach the bucket and returns the number of
// consecutive failures.
func (s *Syncer) failed() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stale = true
	s.failures++
	return s.failures
}

func (s *Syncer) secondsSinceSuccess() float64 {
	s.mu.Lock()
	t := s.lastSuccess
	s.mu.Unlock()
	if t.IsZero() {
		return -1
	}
	return s.now().Sub(t).Seconds()
}

// request returns a context bounded by the request timeout.
func (s *Syncer) request(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, s.o.RequestTimeout)
}
