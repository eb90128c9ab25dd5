package fsbackend

import (
	"context"
	"fmt"
	"io"
	"path"
	"slices"
	"time"

	"github.com/dgp-proxy/dgp/internal/s3err"
	"github.com/dgp-proxy/dgp/internal/storage"
)

// Object lock: a bucket's configuration is in its metadata file, a
// version's retention and legal hold in the version's trailer.

func errNoLockConfig() error {
	return s3err.ErrInvalidRequest.WithMessage("Bucket is missing Object Lock Configuration")
}

func validMode(mode string) bool {
	return mode == storage.LockGovernance || mode == storage.LockCompliance
}

// lockAsked reports whether a write asked for any object lock state.
func lockAsked(l storage.LockState) bool {
	return l.Retention.Mode != "" || !l.Retention.RetainUntil.IsZero() || l.LegalHold || l.LegalHoldSet
}

// checkLockRequest validates the x-amz-object-lock-* values of a write:
// a known mode with a retain-until date in the future.
func checkLockRequest(l storage.LockState, now time.Time) error {
	r := l.Retention
	switch {
	case r.Mode == "" && r.RetainUntil.IsZero():
		return nil
	case r.Mode == "" || r.RetainUntil.IsZero():
		return s3err.ErrInvalidArgument.WithMessage("x-amz-object-lock-retain-until-date and x-amz-object-lock-mode must both be supplied")
	case !validMode(r.Mode):
		return s3err.ErrInvalidArgument.WithMessage("Unknown wormMode directive.")
	case !r.RetainUntil.After(now):
		return s3err.ErrInvalidArgument.WithMessage("The retain until date must be in the future!")
	}
	return nil
}

// newLock is the lock state of a new version created at created: the one
// asked for, else the bucket's default retention. Asking for any on a
// bucket without object lock is InvalidRequest.
func newLock(bm *bucketMeta, req storage.LockState, created time.Time) (*lockMeta, error) {
	if !bm.ObjectLock {
		if lockAsked(req) {
			return nil, errNoLockConfig()
		}
		return nil, nil
	}
	l := &lockMeta{}
	switch r := req.Retention; {
	case r.Mode != "":
		l.Mode, l.RetainUntil = r.Mode, r.RetainUntil.UTC()
	case bm.LockRule != nil:
		l.Mode = bm.LockRule.Mode
		l.RetainUntil = created.UTC().AddDate(bm.LockRule.Years, 0, bm.LockRule.Days)
	}
	if req.LegalHold || req.LegalHoldSet {
		l.LegalHold, l.HoldSet = req.LegalHold, true
	}
	if *l == (lockMeta{}) {
		return nil, nil
	}
	return l, nil
}

// retained reports whether l holds a retention that has not expired.
func (l *lockMeta) retained(now time.Time) bool {
	return l != nil && l.Mode != "" && l.RetainUntil.After(now)
}

// checkDeletable refuses to delete a version under legal hold, under
// COMPLIANCE retention, or under GOVERNANCE retention without bypass.
func checkDeletable(l *lockMeta, now time.Time, bypass bool) error {
	switch {
	case l == nil:
		return nil
	case l.LegalHold:
		return s3err.ErrObjectLockedAccessDenied
	case l.retained(now) && (l.Mode == storage.LockCompliance || !bypass):
		return s3err.ErrObjectLockedAccessDenied
	}
	return nil
}

// checkRetentionChange applies S3's rules to replacing a version's
// retention with r (zero: removing it): COMPLIANCE can only be extended;
// GOVERNANCE can be extended, and shortened, removed or changed to
// COMPLIANCE only with bypass; an expired retention can be replaced.
func checkRetentionChange(cur *lockMeta, r storage.Retention, now time.Time, bypass bool) error {
	if !cur.retained(now) {
		return nil
	}
	extends := r.Mode == cur.Mode && !r.RetainUntil.Before(cur.RetainUntil)
	if extends || (cur.Mode == storage.LockGovernance && bypass) {
		return nil
	}
	return s3err.ErrObjectLockedAccessDenied
}

// GetObjectLockConfiguration implements storage.ObjectLock.
func (b *Backend) GetObjectLockConfiguration(ctx context.Context, bucket string) (*storage.ObjectLockConfig, error) {
	bm, err := b.meta(bucket)
	if err != nil {
		return nil, err
	}
	if !bm.ObjectLock {
		return nil, s3err.ErrObjectLockConfigurationNotFound.WithResource(bucket)
	}
	cfg := &storage.ObjectLockConfig{Enabled: true}
	if bm.LockRule != nil {
		r := *bm.LockRule
		cfg.Rule = &r
	}
	return cfg, nil
}

// Upper bounds of a default retention period (S3's).
const (
	maxRetentionDays  = 36500
	maxRetentionYears = 100
)

// checkLockConfig validates a bucket's object lock configuration as S3:
// not enabling lock, an unknown mode or both Days and Years is
// MalformedXML; a period that is not positive (or too long) is
// InvalidArgument.
func checkLockConfig(cfg storage.ObjectLockConfig) error {
	if !cfg.Enabled {
		return s3err.ErrMalformedXML
	}
	r := cfg.Rule
	switch {
	case r == nil:
		return nil
	case !validMode(r.Mode):
		return s3err.ErrMalformedXML
	case r.Days != 0 && r.Years != 0:
		return s3err.ErrMalformedXML
	case r.Days < 0 || r.Years < 0 || r.Days+r.Years == 0:
		return s3err.ErrInvalidArgument.WithMessage("Default retention period must be a positive integer value.")
	case r.Days > maxRetentionDays || r.Years > maxRetentionYears:
		return s3err.ErrInvalidArgument.WithMessage("Default retention period is too large.")
	}
	return nil
}

// PutObjectLockConfiguration implements storage.ObjectLock.
func (b *Backend) PutObjectLockConfiguration(ctx context.Context, bucket string, cfg storage.ObjectLockConfig) error {
	if err := b.writable(); err != nil {
		return err
	}
	if err := validateBucket(bucket); err != nil {
		return err
	}
	if err := checkLockConfig(cfg); err != nil {
		return err
	}
	bl := b.bucketLock(bucket)
	bl.Lock()
	defer bl.Unlock()
	bm, err := b.metaLocked(bucket)
	if err != nil {
		return err
	}
	if !bm.ObjectLock && bm.Versioning != storage.VersioningEnabled {
		return s3err.ErrInvalidBucketState.WithMessage("Versioning must be 'Enabled' on the bucket to apply a Object Lock configuration").WithResource(bucket)
	}
	bm.ObjectLock, bm.LockRule = true, nil
	if cfg.Rule != nil {
		r := *cfg.Rule
		bm.LockRule = &r
	}
	return b.writeBucketMeta(bucket, bm)
}

// lockedVersion opens the version a lock call names ("" = the latest),
// in a bucket with object lock.
func (b *Backend) lockedVersion(bucket, key, versionID string) (*objMeta, error) {
	bm, err := b.meta(bucket)
	if err != nil {
		return nil, err
	}
	if !bm.ObjectLock {
		return nil, errNoLockConfig()
	}
	f, m, err := b.openObject(bucket, key, versionID)
	if err != nil {
		return nil, err
	}
	_ = f.Close()
	return m, nil
}

// GetObjectRetention implements storage.ObjectLock.
func (b *Backend) GetObjectRetention(ctx context.Context, bucket, key, versionID string) (*storage.Retention, error) {
	m, err := b.lockedVersion(bucket, key, versionID)
	if err != nil {
		return nil, err
	}
	if m.Lock == nil || m.Lock.Mode == "" {
		return nil, s3err.ErrNoSuchObjectLockConfiguration.WithResource(key)
	}
	return &storage.Retention{Mode: m.Lock.Mode, RetainUntil: m.Lock.RetainUntil}, nil
}

// GetObjectLegalHold implements storage.ObjectLock. A version whose legal
// hold was never set is NoSuchObjectLockConfiguration, as S3.
func (b *Backend) GetObjectLegalHold(ctx context.Context, bucket, key, versionID string) (bool, error) {
	m, err := b.lockedVersion(bucket, key, versionID)
	if err != nil {
		return false, err
	}
	if m.Lock == nil || !m.Lock.HoldSet {
		return false, s3err.ErrNoSuchObjectLockConfiguration.WithResource(key)
	}
	return m.Lock.LegalHold, nil
}

// PutObjectRetention implements storage.ObjectLock.
func (b *Backend) PutObjectRetention(ctx context.Context, bucket, key, versionID string, r storage.Retention, bypassGovernance bool) error {
	if err := b.writable(); err != nil {
		return err
	}
	now := b.now()
	if r != (storage.Retention{}) {
		if err := checkLockRequest(storage.LockState{Retention: r}, now); err != nil {
			return err
		}
	}
	return b.updateLock(bucket, key, versionID, func(l *lockMeta) error {
		if err := checkRetentionChange(l, r, now, bypassGovernance); err != nil {
			return err
		}
		l.Mode, l.RetainUntil = r.Mode, r.RetainUntil.UTC()
		return nil
	})
}

// PutObjectLegalHold implements storage.ObjectLock.
func (b *Backend) PutObjectLegalHold(ctx context.Context, bucket, key, versionID string, on bool) error {
	if err := b.writable(); err != nil {
		return err
	}
	return b.updateLock(bucket, key, versionID, func(l *lockMeta) error {
		l.LegalHold, l.HoldSet = on, true
		return nil
	})
}

// updateLock changes the lock state of a version under the key lock by
// rewriting its file (a staged copy renamed over it).
func (b *Backend) updateLock(bucket, key, versionID string, change func(*lockMeta) error) error {
	if err := validateVersionTarget(bucket, key, versionID); err != nil {
		return err
	}
	bl := b.bucketLock(bucket)
	bl.RLock()
	defer bl.RUnlock()
	bm, err := b.metaLocked(bucket)
	if err != nil {
		return err
	}
	if !bm.ObjectLock {
		return errNoLockConfig()
	}
	kl := b.keyLock(bucket, key)
	kl.Lock()
	defer kl.Unlock()
	kf := keyFilesOf(bucket, key)
	vs, err := readVersions(b.root, kf.obj, kf.vdir, key)
	if err != nil {
		return err
	}
	i := 0
	switch {
	case versionID != "":
		i = slices.IndexFunc(vs, func(v version) bool { return matchesID(v.meta, versionID) })
		if i < 0 {
			return s3err.ErrNoSuchVersion.WithResource(key)
		}
		if vs[i].meta.DeleteMarker {
			return markerNotAllowed(vs[i].meta)
		}
	case len(vs) == 0 || vs[0].meta.DeleteMarker:
		var marker *objMeta
		if len(vs) > 0 {
			marker = vs[0].meta
		}
		return noSuchKey(key, marker)
	}
	v := vs[i]
	l := new(lockMeta)
	if v.meta.Lock != nil {
		*l = *v.meta.Lock
	}
	if err := change(l); err != nil {
		return err
	}
	v.meta.Lock = l
	if *l == (lockMeta{}) {
		v.meta.Lock = nil
	}
	return b.rewriteMeta(v.rel, v.meta)
}

// rewriteMeta replaces the trailer of the object-format file rel with m.
func (b *Backend) rewriteMeta(rel string, m *objMeta) error {
	f, err := b.root.Open(rel)
	if err != nil {
		return fmt.Errorf("open version: %w", err)
	}
	defer f.Close()
	st, err := b.stage()
	if err != nil {
		return err
	}
	defer st.discard()
	n, err := io.Copy(st.f, &io.LimitedReader{R: f, N: m.Size})
	if err != nil {
		return fmt.Errorf("copy version data: %w", err)
	}
	if n != m.Size {
		return fmt.Errorf("copy version data: %w", errCorrupt)
	}
	if err := writeTrailer(st.f, m); err != nil {
		return err
	}
	if err := st.finish(); err != nil {
		return err
	}
	if err := b.renameTo(st.name, rel); err != nil {
		return fmt.Errorf("replace version: %w", err)
	}
	st.committed()
	if err := b.syncDir(path.Dir(rel)); err != nil {
		return fmt.Errorf("sync version directory: %w", err)
	}
	return nil
}
