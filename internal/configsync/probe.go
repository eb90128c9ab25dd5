package configsync

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"path"
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

// probeKey returns a fresh random key next to the config object.
func probeKey(objectKey string) string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	name := ".dgp-probe-" + hex.EncodeToString(b[:])
	if dir := path.Dir(objectKey); dir != "." && dir != "/" {
		return dir + "/" + name
	}
	return name
}

// ensureProbed runs the probe once (writers only; readers never write).
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
	key := probeKey(s.o.Key)
	if err := Probe(ctx, s.bucket, key); err != nil {
		if errors.Is(err, ErrUnavailable) {
			s.failed()
		}
		return err
	}
	s.mu.Lock()
	s.probed = true
	s.mu.Unlock()
	s.succeeded()
	s.log.Info().Str("bucket", s.o.BucketName).Str("probe_key", key).Msg("sync bucket enforces conditional writes")
	return nil
}
