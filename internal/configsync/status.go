package configsync

import (
	"context"
	"time"

	"github.com/dgp-proxy/dgp/internal/configdb"
	"github.com/dgp-proxy/dgp/internal/notify"
)

// Readiness values of Ready.
const (
	ReadyOK       = "ok"       // in step with the sync bucket
	ReadyStale    = "stale"    // serving the held snapshot; the bucket is unreachable or holds a DB not applied
	ReadyDisabled = "disabled" // no sync bucket: the DB is local only
	// ReadyDeclarative: IAM comes from the config file (Options.Declarative);
	// the DB is local only and the sync bucket, if any, is not used.
	ReadyDeclarative = "declarative"
)

// Modes of Status.Mode.
const (
	ModeSync        = "sync"        // the DB is shared through the sync bucket
	ModeLocal       = "local"       // no sync bucket: the DB is local only
	ModeDeclarative = "declarative" // IAM from the config file; the bucket is not used
)

// Status is the state of config sync for GET /_/api/admin/config/sync-status.
// It is JSON-encodable and holds no secrets.
type Status struct {
	Enabled bool `json:"enabled"`
	// Mode is sync, local or declarative (see ModeSync).
	Mode       string `json:"mode"`
	State      string `json:"state"` // ok | stale | disabled | declarative (see Ready)
	Bucket     string `json:"bucket,omitempty"`
	Key        string `json:"key,omitempty"`
	Role       string `json:"role"`
	NodeID     string `json:"node_id"`
	ETag       string `json:"etag"`
	Generation uint64 `json:"generation"`
	// Schema and MinReaderSchema are those of the DB held (its header; 0
	// when none is held yet). SupportedSchema is this binary's newest; a
	// Schema above it is a newer, additive schema: applied, but this
	// instance refuses mutations (fleet_mid_upgrade) until upgraded.
	Schema          int `json:"schema"`
	MinReaderSchema int `json:"min_reader_schema"`
	SupportedSchema int `json:"supported_schema"`
	// WriteSchema is the configured write schema (Options.WriteSchema; 0:
	// keep the bucket's).
	WriteSchema int `json:"write_schema"`
	Users       int `json:"users"`
	// WriterNode and SealedAt describe the DB held (from its header).
	WriterNode string    `json:"writer_node,omitempty"`
	SealedAt   time.Time `json:"sealed_at,omitzero"`

	LastPull    *PullStatus    `json:"last_pull,omitempty"`
	LastSuccess time.Time      `json:"last_success,omitzero"`
	LastPublish *PublishStatus `json:"last_publish,omitempty"`
	// ConflictsRebased counts publishes of this instance that lost a
	// compare-and-swap and were rebased onto the newer DB.
	ConflictsRebased uint64 `json:"conflicts_rebased"`

	PollInterval string    `json:"poll_interval"` // Go duration; "0s" = no poll
	NextPoll     time.Time `json:"next_poll,omitzero"`

	EventSources []notify.SourceStatus `json:"event_sources"`
}

// PullStatus describes the last pull.
type PullStatus struct {
	Time       time.Time `json:"time"`
	Source     string    `json:"source"` // startup | event | poll | sync-now | reconnect | publish
	Result     string    `json:"result"` // updated | current | empty | unavailable | older | wrong_secret | ...
	ETag       string    `json:"etag,omitempty"`
	Generation uint64    `json:"generation"`
	Error      string    `json:"error,omitempty"`
}

// PublishStatus describes the last publish.
type PublishStatus struct {
	Time       time.Time `json:"time"`
	Result     string    `json:"result"` // ok | noop | rejected | unavailable | mid_upgrade | read_only | local_error
	Generation uint64    `json:"generation,omitempty"`
	Attempts   int       `json:"attempts"`
	Error      string    `json:"error,omitempty"`
}

// eventSource is a named status callback registered with AddSource.
type eventSource struct {
	name   string
	status func() notify.SourceStatus
}

// AddSource registers an event source whose status Status reports (the
// app calls it for each source it starts). Registering a name again
// replaces the earlier callback.
func (s *Syncer) AddSource(name string, status func() notify.SourceStatus) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range s.sources {
		if s.sources[i].name == name {
			s.sources[i].status = status
			return
		}
	}
	s.sources = append(s.sources, eventSource{name: name, status: status})
}

// Status returns a snapshot of the sync state.
func (s *Syncer) Status() Status {
	cur := s.Current()
	s.mu.Lock()
	st := Status{
		Enabled:          s.bucket != nil,
		Bucket:           s.o.BucketName,
		Key:              s.o.Key,
		Role:             s.o.Role,
		NodeID:           s.o.NodeID,
		ETag:             s.etag,
		Generation:       cur.Generation(),
		SupportedSchema:  configdb.CurrentSchema,
		WriteSchema:      s.o.WriteSchema,
		Users:            cur.NumUsers(),
		LastSuccess:      s.lastSuccess,
		ConflictsRebased: s.conflicts,
		PollInterval:     s.o.PollInterval.String(),
		NextPoll:         s.nextPoll,
	}
	st.Mode, st.State = s.mode, s.readyLocked()
	if s.hdr != nil {
		st.WriterNode, st.SealedAt = s.hdr.WriterNode, s.hdr.SealedAt
		st.Schema, st.MinReaderSchema = int(s.hdr.Schema), int(s.hdr.MinReaderSchema)
	}
	if s.lastPull != nil {
		p := *s.lastPull
		st.LastPull = &p
	}
	if s.lastPublish != nil {
		p := *s.lastPublish
		st.LastPublish = &p
	}
	sources := append([]eventSource(nil), s.sources...)
	s.mu.Unlock()
	st.EventSources = make([]notify.SourceStatus, 0, len(sources))
	for _, src := range sources {
		ss := src.status()
		if ss.Name == "" {
			ss.Name = src.name
		}
		st.EventSources = append(st.EventSources, ss)
	}
	return st
}

// Ready reports readiness for /_/ready: ReadyOK, ReadyStale (still ready:
// the held snapshot is served while the bucket is unreachable or holds a
// DB that was not applied), ReadyDisabled (no sync bucket) or
// ReadyDeclarative (Options.Declarative). It returns
// ErrNotStarted until Start has completed.
func (s *Syncer) Ready(context.Context) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.started {
		return "", ErrNotStarted
	}
	return s.readyLocked(), nil
}

func (s *Syncer) readyLocked() string {
	switch {
	case s.mode == ModeDeclarative:
		return ReadyDeclarative
	case s.mode == ModeLocal:
		return ReadyDisabled
	case s.stale:
		return ReadyStale
	default:
		return ReadyOK
	}
}
