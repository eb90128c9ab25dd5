package config

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"slices"
	"strings"
	"time"
)

// This file holds the configuration of dgp's background jobs (issue 13):
// storage.replication and storage.lifecycle, in the shape operators of the
// original product already write. Their defaults are here and nowhere
// else: the sections' in Default (defaultReplication, defaultLifecycle),
// the rules' in setDefaults (called by the decoder before a list item is
// read, so a value written as 0 stays 0 and is refused) and in the New*
// constructors for rules built in code. Validation is in jobs_validate.go,
// globs and the day/week duration units in jobs_glob.go.

// Defaults of the jobs' settings.
const (
	// DefaultJobsLeaseTTL and DefaultJobsHeartbeat are the user guide's
	// lease_ttl and heartbeat_interval (and internal/lease's defaults).
	DefaultJobsLeaseTTL  = 60 * time.Second
	DefaultJobsHeartbeat = 20 * time.Second

	DefaultReplicationTick     = 30 * time.Second
	DefaultReplicationInterval = time.Hour
	DefaultLifecycleTick       = time.Hour
	DefaultJobBatchSize        = 100
	DefaultMaxFailuresRetained = 100

	// MaxJobBatchSize and MaxFailuresRetained bound batch_size and
	// max_failures_retained.
	MaxJobBatchSize     = 10000
	MaxFailuresRetained = 10000
)

// ConflictPolicy says what a replication rule does when the destination
// already holds the key.
type ConflictPolicy string

// The conflict policies.
const (
	// ConflictNewerWins copies when the source is strictly newer than the
	// destination (the default).
	ConflictNewerWins ConflictPolicy = "newer-wins"
	// ConflictContentDiff copies when the contents differ (size, then ETag
	// or bytes), whatever the times.
	ConflictContentDiff ConflictPolicy = "content-diff"
	// ConflictSkipIfDestExists never overwrites an existing destination key.
	ConflictSkipIfDestExists ConflictPolicy = "skip-if-dest-exists"
)

// LifecycleActionType is what a lifecycle rule does to the objects it selects.
type LifecycleActionType string

// The lifecycle actions.
const (
	// ActionDelete deletes objects older than the rule's expire_after.
	ActionDelete LifecycleActionType = "delete"
	// ActionRetainNewest keeps the newest Count qualifying objects and
	// deletes the other qualifying ones.
	ActionRetainNewest LifecycleActionType = "retain-newest"
	// ActionTransition copies objects older than expire_after to
	// Destination, then deletes the source when DeleteSourceAfterSuccess.
	ActionTransition LifecycleActionType = "transition"
	// actionArchive is accepted in the file for transition (the original
	// product's alias); the decoder stores it as ActionTransition.
	actionArchive LifecycleActionType = "archive"
)

// ReplicationConfig is storage.replication: one-way copies of a bucket
// prefix to another, each rule run by one instance of the fleet at a time
// under a lease.
type ReplicationConfig struct {
	// Enabled is the switch of every replication rule (default true).
	Enabled bool `yaml:"enabled"`
	// TickInterval is how often each instance looks for due rules and
	// tries to take their leases (default 30s).
	TickInterval time.Duration `yaml:"tick_interval"`
	// LeaseTTL and HeartbeatInterval are the lease of every job, lifecycle
	// rules' included (defaults 60s and 20s; HeartbeatInterval < LeaseTTL).
	LeaseTTL          time.Duration `yaml:"lease_ttl"`
	HeartbeatInterval time.Duration `yaml:"heartbeat_interval"`
	// MaxFailuresRetained bounds each rule's ring of recent failures (default 100).
	MaxFailuresRetained int `yaml:"max_failures_retained"`
	// Rules are the replication rules (YAML only).
	Rules []ReplicationRule `yaml:"rules" env:"-"`
}

// ReplicationRule is one entry of storage.replication.rules. After Load
// every field holds its effective value (defaults filled in).
type ReplicationRule struct {
	// Name identifies the rule (job id replication:<Name>, lease key);
	// [A-Za-z0-9_.-]{1,64}, unique among replication rules.
	Name string `yaml:"name"`
	// Enabled defaults to true.
	Enabled bool `yaml:"enabled"`
	// Source and Destination are client bucket names (routed like any
	// request, so they may be on different backends) and key prefixes;
	// a source key K is copied to Destination.Prefix + K[len(Source.Prefix):].
	Source      JobLocation `yaml:"source"`
	Destination JobLocation `yaml:"destination"`
	// Interval is the period of the full reconcile (default 1h).
	Interval time.Duration `yaml:"interval"`
	// BatchSize is the number of objects handled per batch (default 100).
	BatchSize int `yaml:"batch_size"`
	// ReplicateDeletes deletes destination copies of deleted source keys.
	ReplicateDeletes bool `yaml:"replicate_deletes"`
	// Conflict defaults to newer-wins.
	Conflict ConflictPolicy `yaml:"conflict"`
	// IncludeGlobs and ExcludeGlobs filter source keys (whole keys, see
	// CompileGlob); use Filter.
	IncludeGlobs []string `yaml:"include_globs"`
	ExcludeGlobs []string `yaml:"exclude_globs"`
}

// JobLocation is a bucket and a key prefix ("" is the whole bucket). The
// prefix is a plain key prefix: "logs" also covers "logs2/x".
type JobLocation struct {
	Bucket string `yaml:"bucket"`
	Prefix string `yaml:"prefix"`
}

// LifecycleConfig is storage.lifecycle: rules deleting, thinning or moving
// objects by age, each run by one instance of the fleet at a time under a
// lease (storage.replication's lease_ttl and heartbeat_interval).
type LifecycleConfig struct {
	// Enabled is the switch of every lifecycle rule (default false:
	// lifecycle deletes data). Preview works while disabled.
	Enabled bool `yaml:"enabled"`
	// TickInterval is how often each instance runs the due rules (default 1h).
	TickInterval time.Duration `yaml:"tick_interval"`
	// MaxFailuresRetained bounds each rule's ring of recent failures (default 100).
	MaxFailuresRetained int `yaml:"max_failures_retained"`
	// Rules are the lifecycle rules (YAML only).
	Rules []LifecycleRule `yaml:"rules" env:"-"`
}

// LifecycleRule is one entry of storage.lifecycle.rules. After Load every
// field holds its effective value (defaults filled in, Name derived when
// the file gives none).
type LifecycleRule struct {
	// Name identifies the rule (job id lifecycle:<Name>); optional in the
	// file, where it defaults to DerivedLifecycleName(Bucket, Prefix).
	Name string `yaml:"name"`
	// Enabled defaults to false, as in the original product: a rule runs
	// only when both it and storage.lifecycle are enabled.
	Enabled bool   `yaml:"enabled"`
	Bucket  string `yaml:"bucket"`
	Prefix  string `yaml:"prefix"`
	// Action is written either as a word (action: delete) or as a
	// mapping with a type (action: {type: transition, destination: ...}).
	Action LifecycleAction `yaml:"action"`
	// ExpireAfter is the age past which delete and transition act on an
	// object (required for them; not used by retain-newest).
	ExpireAfter time.Duration `yaml:"expire_after"`
	// BatchSize is the number of objects handled per batch (default 100).
	BatchSize    int      `yaml:"batch_size"`
	IncludeGlobs []string `yaml:"include_globs"`
	ExcludeGlobs []string `yaml:"exclude_globs"`
}

// LifecycleAction is a lifecycle rule's action; the fields after Type are
// used by one type each.
type LifecycleAction struct {
	// Type is delete, retain-newest or transition ("archive" in the file
	// is read as transition).
	Type LifecycleActionType `yaml:"type"`

	// Count (retain-newest, >= 1) is how many of the newest qualifying
	// objects are kept.
	Count int `yaml:"count,omitempty"`
	// Qualify (retain-newest) selects the objects the rule ranks; the
	// others are neither counted nor deleted.
	Qualify RetainQualify `yaml:"qualify,omitempty"`
	// ProtectYoungerThan (retain-newest) spares, for this run, objects to
	// delete that are younger than this; 0 spares none.
	ProtectYoungerThan time.Duration `yaml:"protect_younger_than,omitempty"`

	// Destination (transition) is where objects are copied; a key K
	// becomes Destination.Prefix + K[len(rule prefix):].
	Destination JobLocation `yaml:"destination,omitempty"`
	// DeleteSourceAfterSuccess (transition) deletes the source once the
	// copy is verified (move); false keeps it (archive copy).
	DeleteSourceAfterSuccess bool `yaml:"delete_source_after_success,omitempty"`
}

// RetainQualify is retain-newest's eligibility filter; zero values filter nothing.
type RetainQualify struct {
	MinSizeBytes int64         `yaml:"min_size_bytes,omitempty"`
	MinAge       time.Duration `yaml:"min_age,omitempty"`
}

func defaultReplication() ReplicationConfig {
	return ReplicationConfig{
		Enabled:             true,
		TickInterval:        DefaultReplicationTick,
		LeaseTTL:            DefaultJobsLeaseTTL,
		HeartbeatInterval:   DefaultJobsHeartbeat,
		MaxFailuresRetained: DefaultMaxFailuresRetained,
	}
}

func defaultLifecycle() LifecycleConfig {
	return LifecycleConfig{
		Enabled:             false,
		TickInterval:        DefaultLifecycleTick,
		MaxFailuresRetained: DefaultMaxFailuresRetained,
	}
}

// setDefaults gives a rule read from the file its defaults before its keys
// are decoded.
func (r *ReplicationRule) setDefaults() {
	r.Enabled = true
	r.Interval = DefaultReplicationInterval
	r.BatchSize = DefaultJobBatchSize
	r.Conflict = ConflictNewerWins
}

func (r *LifecycleRule) setDefaults() {
	r.Enabled = false
	r.BatchSize = DefaultJobBatchSize
}

// normalize runs after a rule's keys are decoded: a rule without a name
// gets the derived one.
func (r *LifecycleRule) normalize() {
	if r.Name == "" && r.Bucket != "" {
		r.Name = DerivedLifecycleName(r.Bucket, r.Prefix)
	}
}

// setShorthand reads "action: delete" (a word where a mapping is expected).
func (a *LifecycleAction) setShorthand(s string) { a.Type = LifecycleActionType(s) }

// normalize reads the alias archive as transition.
func (a *LifecycleAction) normalize() {
	if a.Type == actionArchive {
		a.Type = ActionTransition
	}
}

// NewReplicationRule returns a rule with the defaults of a rule read from
// the file (enabled, interval 1h, batch 100, newer-wins).
func NewReplicationRule(name string, source, destination JobLocation) ReplicationRule {
	r := ReplicationRule{Name: name, Source: source, Destination: destination}
	r.setDefaults()
	return r
}

// NewLifecycleRule returns a rule with the defaults of a rule read from
// the file (disabled, batch 100); the caller sets Enabled and ExpireAfter.
func NewLifecycleRule(name string, at JobLocation, action LifecycleAction) LifecycleRule {
	r := LifecycleRule{Name: name, Bucket: at.Bucket, Prefix: at.Prefix, Action: action}
	r.setDefaults()
	r.normalize()
	r.Action.normalize()
	return r
}

// DerivedLifecycleName is the name of a lifecycle rule written without
// one: the bucket, and when there is a prefix "_" and the prefix with
// every character outside [A-Za-z0-9_.-] replaced by '_' (trailing ones
// dropped); a name longer than 64 is cut to 55 characters plus "-" and 8
// hex digits of the prefix's SHA-256. Two rules without names on the same
// bucket and prefix need names.
func DerivedLifecycleName(bucket, prefix string) string {
	if prefix == "" {
		return bucket
	}
	mapped := strings.Map(func(r rune) rune {
		if r < 0x80 && (isAlnum(byte(r)) || r >= 'A' && r <= 'Z' || r == '_' || r == '.' || r == '-') {
			return r
		}
		return '_'
	}, prefix)
	name := bucket + "_" + strings.TrimRight(mapped, "_")
	name = strings.TrimRight(name, "_")
	if len(name) > 64 {
		sum := sha256.Sum256([]byte(prefix))
		name = name[:55] + "-" + hex.EncodeToString(sum[:4])
	}
	return name
}

// JobID returns the job id of the rule: "replication:<name>".
func (r ReplicationRule) JobID() string { return "replication:" + r.Name }

// JobID returns the job id of the rule: "lifecycle:<name>".
func (r LifecycleRule) JobID() string { return "lifecycle:" + r.Name }

// Filter returns the rule's include/exclude filter (never an error for a
// rule of a validated configuration).
func (r ReplicationRule) Filter() (KeyFilter, error) {
	return NewKeyFilter(r.IncludeGlobs, r.ExcludeGlobs)
}

// Filter returns the rule's include/exclude filter (never an error for a
// rule of a validated configuration).
func (r LifecycleRule) Filter() (KeyFilter, error) {
	return NewKeyFilter(r.IncludeGlobs, r.ExcludeGlobs)
}

// DestinationKey maps a source key (under Source.Prefix) to its
// destination key.
func (r ReplicationRule) DestinationKey(sourceKey string) string {
	return r.Destination.Prefix + strings.TrimPrefix(sourceKey, r.Source.Prefix)
}

// jobCanonVersion is the version of the canonical encodings below; a
// change of encoding changes every hash, so it is raised with it.
const jobCanonVersion = 1

// canonLocation is JobLocation in the canonical encoding.
type canonLocation struct {
	Bucket string `json:"bucket"`
	Prefix string `json:"prefix"`
}

// Canonical returns the canonical encoding of the rule's definition: JSON
// of every field that changes what a run does, in a fixed order, durations
// as Go duration strings, globs sorted. Enabled is left out (switching a
// rule off is not a new definition).
func (r ReplicationRule) Canonical() []byte {
	b, _ := json.Marshal(struct {
		V                int           `json:"v"`
		Kind             string        `json:"kind"`
		Name             string        `json:"name"`
		Source           canonLocation `json:"source"`
		Destination      canonLocation `json:"destination"`
		Interval         string        `json:"interval"`
		BatchSize        int           `json:"batch_size"`
		ReplicateDeletes bool          `json:"replicate_deletes"`
		Conflict         string        `json:"conflict"`
		IncludeGlobs     []string      `json:"include_globs"`
		ExcludeGlobs     []string      `json:"exclude_globs"`
	}{
		jobCanonVersion, "replication", r.Name,
		canonLocation(r.Source), canonLocation(r.Destination),
		r.Interval.String(), r.BatchSize, r.ReplicateDeletes, string(r.Conflict),
		sortedCopy(r.IncludeGlobs), sortedCopy(r.ExcludeGlobs),
	})
	return b
}

// Hash identifies the rule's definition: "sha256:" and the first 16 hex
// digits of the SHA-256 of Canonical (the form of lease.HashDefinition).
// The lease records it; an instance whose hash differs says so.
func (r ReplicationRule) Hash() string { return hashCanonical(r.Canonical()) }

// Canonical returns the canonical encoding of the rule's definition (see
// ReplicationRule.Canonical); only the fields of the rule's action type
// are included.
func (r LifecycleRule) Canonical() []byte {
	type retain struct {
		Count              int    `json:"count"`
		MinSizeBytes       int64  `json:"min_size_bytes"`
		MinAge             string `json:"min_age"`
		ProtectYoungerThan string `json:"protect_younger_than"`
	}
	type transition struct {
		Destination              canonLocation `json:"destination"`
		DeleteSourceAfterSuccess bool          `json:"delete_source_after_success"`
	}
	c := struct {
		V            int         `json:"v"`
		Kind         string      `json:"kind"`
		Name         string      `json:"name"`
		Bucket       string      `json:"bucket"`
		Prefix       string      `json:"prefix"`
		Action       string      `json:"action"`
		ExpireAfter  string      `json:"expire_after,omitempty"`
		Retain       *retain     `json:"retain_newest,omitempty"`
		Transition   *transition `json:"transition,omitempty"`
		BatchSize    int         `json:"batch_size"`
		IncludeGlobs []string    `json:"include_globs"`
		ExcludeGlobs []string    `json:"exclude_globs"`
	}{
		V: jobCanonVersion, Kind: "lifecycle", Name: r.Name, Bucket: r.Bucket, Prefix: r.Prefix,
		Action: string(r.Action.Type), BatchSize: r.BatchSize,
		IncludeGlobs: sortedCopy(r.IncludeGlobs), ExcludeGlobs: sortedCopy(r.ExcludeGlobs),
	}
	a := r.Action
	switch a.Type {
	case ActionRetainNewest:
		c.Retain = &retain{a.Count, a.Qualify.MinSizeBytes, a.Qualify.MinAge.String(), a.ProtectYoungerThan.String()}
	case ActionTransition:
		c.ExpireAfter = r.ExpireAfter.String()
		c.Transition = &transition{canonLocation(a.Destination), a.DeleteSourceAfterSuccess}
	default:
		c.ExpireAfter = r.ExpireAfter.String()
	}
	b, _ := json.Marshal(c)
	return b
}

// Hash identifies the rule's definition (see ReplicationRule.Hash).
func (r LifecycleRule) Hash() string { return hashCanonical(r.Canonical()) }

func hashCanonical(b []byte) string {
	s := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(s[:8])
}

// sortedCopy returns a sorted copy of s, never nil (so that no globs and
// an empty list encode alike).
func sortedCopy(s []string) []string {
	out := append([]string{}, s...)
	slices.Sort(out)
	return out
}

// JobsLease returns the lease_ttl and heartbeat_interval of every job's
// lease (storage.replication's, lifecycle rules' included).
func (c *Config) JobsLease() (ttl, heartbeat time.Duration) {
	return c.Storage.Replication.LeaseTTL, c.Storage.Replication.HeartbeatInterval
}
