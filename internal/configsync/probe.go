package configsync

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"runtime/debug"
	"slices"
	"time"
)

// ErrBucketRefused: the sync bucket answered the startup probe with a 4xx
// (no such bucket, access denied, ...): a configuration problem that
// retrying will not fix. Start fails with it.
var ErrBucketRefused = errors.New("the sync bucket refused the request")

// probeMismatchETag is an ETag no object has (S3 ETags are hex digests).
const probeMismatchETag = "dgp-probe-etag-that-matches-nothing"

// Probe checks, with a throwaway object at key, that b enforces S3
// conditional writes: after an unconditional write, a create-only write
// (If-None-Match: *) and a write conditioned on a wrong ETag (If-Match)
// must both fail with 412. The object is deleted afterwards.
//
// It returns nil when they do; ErrNoConditionalWrites (wrapped) when a
// conditional write succeeded or was refused as unsupported; an error
// wrapping ErrUnavailable when the bucket could not be reached (retry
// later); and another error when the bucket refused the probe itself (a 4xx
// such as no such bucket or access denied). Outcomes are classified by
// status and code, never by message text.
func Probe(ctx context.Context, b Bucket, key string) (err error) {
	body := []byte("dgp conditional write probe\n")
	if _, err := b.Put(ctx, key, body, "", ""); err != nil {
		return probeFailure("write", err)
	}
	defer func() {
		if derr := b.Delete(ctx, key); derr != nil && err == nil {
			err = probeFailure("delete", derr)
		}
	}()
	checks := []struct {
		what             string
		ifMatch, ifNoneM string
	}{
		{"a create-only write (If-None-Match: *) over an existing object", "", "*"},
		{"a write conditioned on a wrong ETag (If-Match)", probeMismatchETag, ""},
	}
	for _, c := range checks {
		_, err := b.Put(ctx, key, body, c.ifMatch, c.ifNoneM)
		switch {
		case errors.Is(err, ErrPreconditionFailed):
			continue
		case err == nil:
			return fmt.Errorf("%w: %s succeeded instead of failing with 412", ErrNoConditionalWrites, c.what)
		case isClientError(err):
			return fmt.Errorf("%w: %s was refused: %w", ErrNoConditionalWrites, c.what, err)
		default:
			return probeFailure("conditional write", err)
		}
	}
	return nil
}

// probeFailure classifies a failed probe request: refused by the bucket
// (fatal) or no usable answer (unavailable, retry later).
func probeFailure(op string, err error) error {
	if isClientError(err) || errors.Is(err, ErrNotFound) {
		return fmt.Errorf("%w: probe %s: %w", ErrBucketRefused, op, err)
	}
	return fmt.Errorf("%w: probe %s: %w", ErrUnavailable, op, err)
}

// isClientError reports whether err is a 4xx (or 501) answer of the bucket.
func isClientError(err error) bool {
	var be *BucketError
	return errors.As(err, &be) && be.ClientError()
}

// nextToKey returns the key of the object called name in the folder of
// the config object (at the top of the bucket when the config object is).
func nextToKey(objectKey, name string) string {
	if dir := path.Dir(objectKey); dir != "." && dir != "/" {
		return dir + "/" + name
	}
	return name
}

// probeKey returns a fresh random scratch key next to the config object
// (".deltaglider/.dgp-probe-<hex>" for the default key). The IAM policies
// in infra/ grant writes and deletes under this prefix (infra/checks reads
// it from here).
func probeKey(objectKey string) string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return nextToKey(objectKey, ".dgp-probe-"+hex.EncodeToString(b[:]))
}

// WitnessKey returns the key of the probe witness for the config object at
// objectKey, next to it and under the probe's prefix
// (".deltaglider/.dgp-probe-witness.json" for the default key).
func WitnessKey(objectKey string) string {
	return nextToKey(objectKey, ".dgp-probe-witness.json")
}

// WitnessKind identifies a probe witness object.
const WitnessKind = "dgp-conditional-write-probe"

// The checks a witness records; a witness is accepted only when it records
// every one of them.
const (
	CheckIfNoneMatch = "if-none-match-star-412"
	CheckIfMatch     = "stale-if-match-412"
)

// Witness is the object a writer leaves next to the config object after a
// successful probe, so that the instances started later on the same bucket
// and endpoint skip the probe. It is a record, not a secret: anyone who
// can write the sync bucket can write it (as they can delete the config
// DB); it saves the fleet three writes and a delete per start and nothing
// more.
type Witness struct {
	Kind       string    `json:"kind"`
	ProbedAt   time.Time `json:"probed_at"`
	Node       string    `json:"node"`
	Endpoint   string    `json:"endpoint"`
	Bucket     string    `json:"bucket"`
	DGPVersion string    `json:"dgp_version,omitempty"`
	Checks     []string  `json:"checks"`
}

// ParseWitness decodes a witness object and checks that it records a
// complete successful probe.
func ParseWitness(b []byte) (Witness, error) {
	var w Witness
	if err := json.Unmarshal(b, &w); err != nil {
		return Witness{}, fmt.Errorf("probe witness: %w", err)
	}
	switch {
	case w.Kind != WitnessKind:
		return Witness{}, fmt.Errorf("probe witness: kind %q, want %q", w.Kind, WitnessKind)
	case w.ProbedAt.IsZero():
		return Witness{}, errors.New("probe witness: no probe time")
	case !slices.Contains(w.Checks, CheckIfNoneMatch) || !slices.Contains(w.Checks, CheckIfMatch):
		return Witness{}, fmt.Errorf("probe witness: checks %q are incomplete", w.Checks)
	}
	return w, nil
}

// buildVersion returns the version of the running binary as the Go
// toolchain stamped it ("" when unknown).
func buildVersion() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return ""
	}
	v := bi.Main.Version
	if v != "" && v != "(devel)" {
		return v
	}
	var rev, dirty string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "+dirty"
			}
		}
	}
	if rev == "" {
		return v
	}
	return rev + dirty
}

// backend names the sync bucket and its endpoint, for errors and logs.
func (s *Syncer) backend() string {
	ep := s.o.Endpoint
	if ep == "" {
		ep = "the default AWS S3 endpoint"
	}
	return fmt.Sprintf("sync bucket %q at %s", s.o.BucketName, ep)
}

// ensureProbed makes sure, once per process, that the sync bucket enforces
// conditional writes (writers only; readers never write). A witness of an
// earlier successful probe against the same endpoint and bucket stands for
// the probe; without one (or with one that does not parse) the probe runs
// on a scratch key and, when it passes, leaves a witness. A bucket that
// ignores the conditions is refused with an error naming it.
func (s *Syncer) ensureProbed(ctx context.Context) error {
	if s.o.Role == RoleReader {
		return nil
	}
	s.mu.Lock()
	done := s.probed
	s.mu.Unlock()
	if done {
		return nil
	}
	ctx, cancel := s.request(ctx)
	defer cancel()
	wkey := WitnessKey(s.o.Key)
	ok, err := s.readWitness(ctx, wkey)
	if err == nil && !ok {
		key := probeKey(s.o.Key)
		if err = Probe(ctx, s.bucket, key); err == nil {
			s.writeWitness(ctx, wkey)
			s.log.Info().Str("bucket", s.o.BucketName).Str("endpoint", s.o.Endpoint).Str("probe_key", key).
				Msg("sync bucket enforces conditional writes")
		}
	}
	if err != nil {
		if errors.Is(err, ErrUnavailable) {
			s.failed()
		}
		if errors.Is(err, ErrNoConditionalWrites) {
			return fmt.Errorf("%s: %w; publishing to it would lose mutations silently, so config sync refuses to start: "+
				"use a backend that answers 412 to If-None-Match: * and to a stale If-Match", s.backend(), err)
		}
		return fmt.Errorf("%s: %w", s.backend(), err)
	}
	s.mu.Lock()
	s.probed = true
	s.mu.Unlock()
	s.succeeded()
	return nil
}

// readWitness reports whether the bucket holds a witness of a successful
// probe against this endpoint and bucket. A missing, unparsable or foreign
// witness is no witness (the probe runs), and so is one the bucket refuses
// to read (a 4xx: a policy that grants the probe's writes but not this
// read; a missing bucket is then reported by the probe). An error is
// returned only when the bucket gave no usable answer.
func (s *Syncer) readWitness(ctx context.Context, key string) (bool, error) {
	body, _, err := s.bucket.Get(ctx, key, "")
	switch {
	case errors.Is(err, ErrNotFound):
		return false, nil
	case isClientError(err):
		s.log.Info().Err(err).Str("bucket", s.o.BucketName).Str("witness_key", key).
			Msg("probe witness not readable: probing conditional writes")
		return false, nil
	case err != nil:
		return false, probeFailure("read witness", err)
	}
	w, err := ParseWitness(body)
	if err != nil {
		s.log.Warn().Err(err).Str("bucket", s.o.BucketName).Str("witness_key", key).
			Msg("probe witness unreadable: probing conditional writes again")
		return false, nil
	}
	if w.Endpoint != s.o.Endpoint || w.Bucket != s.o.BucketName {
		s.log.Info().Str("bucket", s.o.BucketName).Str("endpoint", s.o.Endpoint).
			Str("witness_endpoint", w.Endpoint).Str("witness_bucket", w.Bucket).
			Msg("probe witness was written through another endpoint: probing conditional writes again")
		return false, nil
	}
	s.log.Info().Str("bucket", s.o.BucketName).Str("endpoint", s.o.Endpoint).Str("witness_key", key).
		Time("probed_at", w.ProbedAt).Str("probed_by", w.Node).Str("probed_by_version", w.DGPVersion).
		Msg("sync bucket enforces conditional writes (witness of an earlier probe): not probing again")
	return true, nil
}

// writeWitness records a successful probe. A failure is logged and
// otherwise ignored: the probe passed, and the next start probes again.
func (s *Syncer) writeWitness(ctx context.Context, key string) {
	w := Witness{
		Kind:       WitnessKind,
		ProbedAt:   s.now().UTC(),
		Node:       s.o.NodeID,
		Endpoint:   s.o.Endpoint,
		Bucket:     s.o.BucketName,
		DGPVersion: cmp.Or(s.o.Version, buildVersion()),
		Checks:     []string{CheckIfNoneMatch, CheckIfMatch},
	}
	body, err := json.MarshalIndent(w, "", "  ")
	if err == nil {
		_, err = s.bucket.Put(ctx, key, append(body, '\n'), "", "")
	}
	if err != nil {
		s.log.Warn().Err(err).Str("bucket", s.o.BucketName).Str("witness_key", key).
			Msg("probe witness not written: the next start probes again")
	}
}
