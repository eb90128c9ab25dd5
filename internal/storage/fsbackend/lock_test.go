package fsbackend

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/dgp-proxy/dgp/internal/s3err"
	"github.com/dgp-proxy/dgp/internal/storage"
)

// mustLockBucket creates a bucket with object lock enabled.
func mustLockBucket(tb testing.TB, b *Backend, bucket string) {
	tb.Helper()
	if err := b.CreateBucket(context.Background(), bucket, storage.CreateBucketOptions{ObjectLockEnabled: true}); err != nil {
		tb.Fatalf("CreateBucket(%q, lock): %v", bucket, err)
	}
}

func putLocked(tb testing.TB, b *Backend, bucket, key string, l storage.LockState) (string, error) {
	tb.Helper()
	res, err := b.PutObject(context.Background(), bucket, key, strings.NewReader("x"), 1, storage.PutOptions{Lock: l})
	if err != nil {
		return "", err
	}
	return res.VersionID, nil
}

func TestObjectLockConfiguration(t *testing.T) {
	b, _ := mustNew(t)
	ctx := context.Background()
	mustBucket(t, b, "plain")
	_, err := b.GetObjectLockConfiguration(ctx, "plain")
	wantErr(t, err, s3err.ErrObjectLockConfigurationNotFound)
	rule := &storage.DefaultRetention{Mode: storage.LockGovernance, Days: 1}
	// Enabling lock needs versioning Enabled.
	wantErr(t, b.PutObjectLockConfiguration(ctx, "plain", storage.ObjectLockConfig{Enabled: true, Rule: rule}), s3err.ErrInvalidBucketState)
	mustVersioning(t, b, "plain", storage.VersioningSuspended)
	wantErr(t, b.PutObjectLockConfiguration(ctx, "plain", storage.ObjectLockConfig{Enabled: true}), s3err.ErrInvalidBucketState)

	// Lock calls on a bucket without object lock.
	mustPut(t, b, "plain", "k", "x")
	wantNoLock := func(err error) {
		t.Helper()
		wantErr(t, err, s3err.ErrInvalidRequest)
		if !strings.Contains(err.Error(), "Bucket is missing Object Lock Configuration") {
			t.Fatalf("error = %v", err)
		}
	}
	_, err = b.GetObjectRetention(ctx, "plain", "k", "")
	wantNoLock(err)
	wantNoLock(b.PutObjectRetention(ctx, "plain", "k", "", storage.Retention{}, false))
	_, err = b.GetObjectLegalHold(ctx, "plain", "k", "")
	wantNoLock(err)
	wantNoLock(b.PutObjectLegalHold(ctx, "plain", "k", "", true))
	_, err = putLocked(t, b, "plain", "k", storage.LockState{LegalHold: true, LegalHoldSet: true})
	wantNoLock(err)
	_, err = b.CreateMultipartUpload(ctx, "plain", "k", storage.PutOptions{Lock: storage.LockState{LegalHoldSet: true}})
	wantNoLock(err)

	mustVersioning(t, b, "plain", storage.VersioningEnabled)
	for _, tt := range []struct {
		cfg  storage.ObjectLockConfig
		want error
	}{
		{storage.ObjectLockConfig{Enabled: false}, s3err.ErrMalformedXML},
		{storage.ObjectLockConfig{Enabled: true, Rule: &storage.DefaultRetention{Mode: "BOGUS", Days: 1}}, s3err.ErrMalformedXML},
		{storage.ObjectLockConfig{Enabled: true, Rule: &storage.DefaultRetention{Mode: storage.LockGovernance}}, s3err.ErrInvalidArgument},
		{storage.ObjectLockConfig{Enabled: true, Rule: &storage.DefaultRetention{Mode: storage.LockGovernance, Years: 101}}, s3err.ErrInvalidArgument},
		{storage.ObjectLockConfig{Enabled: true, Rule: &storage.DefaultRetention{Mode: storage.LockGovernance, Days: 1, Years: 1}}, s3err.ErrMalformedXML},
		{storage.ObjectLockConfig{Enabled: true, Rule: &storage.DefaultRetention{Mode: storage.LockGovernance, Days: -1}}, s3err.ErrInvalidArgument},
	} {
		wantErr(t, b.PutObjectLockConfiguration(ctx, "plain", tt.cfg), tt.want)
	}
	wantErr(t, b.PutObjectLockConfiguration(ctx, "plain", storage.ObjectLockConfig{Enabled: true, Rule: rule}), nil)
	cfg, err := b.GetObjectLockConfiguration(ctx, "plain")
	if err != nil || !cfg.Enabled || cfg.Rule == nil || *cfg.Rule != *rule {
		t.Fatalf("GetObjectLockConfiguration = %+v, %v", cfg, err)
	}
	wantErr(t, b.PutBucketVersioning(ctx, "plain", storage.VersioningSuspended), s3err.ErrInvalidBucketState)
	// Removing the rule keeps lock enabled.
	wantErr(t, b.PutObjectLockConfiguration(ctx, "plain", storage.ObjectLockConfig{Enabled: true}), nil)
	if cfg, err := b.GetObjectLockConfiguration(ctx, "plain"); err != nil || !cfg.Enabled || cfg.Rule != nil {
		t.Fatalf("config without rule = %+v, %v", cfg, err)
	}

	// Created with lock: versioning Enabled, lock on, no rule.
	mustLockBucket(t, b, "locked")
	if st, err := b.GetBucketVersioning(ctx, "locked"); err != nil || st != storage.VersioningEnabled {
		t.Fatalf("lock bucket versioning = %q, %v", st, err)
	}
	if cfg, err := b.GetObjectLockConfiguration(ctx, "locked"); err != nil || !cfg.Enabled || cfg.Rule != nil {
		t.Fatalf("lock bucket config = %+v, %v", cfg, err)
	}
	wantErr(t, b.PutBucketVersioning(ctx, "locked", storage.VersioningSuspended), s3err.ErrInvalidBucketState)
	_, err = b.GetObjectLockConfiguration(ctx, "nobkt")
	wantErr(t, err, s3err.ErrNoSuchBucket)
}

func TestObjectLockDefaultRetention(t *testing.T) {
	b, clk := mustNew(t)
	ctx := context.Background()
	mustLockBucket(t, b, "bkt")
	wantErr(t, b.PutObjectLockConfiguration(ctx, "bkt", storage.ObjectLockConfig{Enabled: true,
		Rule: &storage.DefaultRetention{Mode: storage.LockGovernance, Days: 2}}), nil)
	v1 := mustPut(t, b, "bkt", "k", "one").VersionID
	until := testEpoch.AddDate(0, 0, 2)
	r, err := b.GetObjectRetention(ctx, "bkt", "k", v1)
	if err != nil || r.Mode != storage.LockGovernance || !r.RetainUntil.Equal(until) {
		t.Fatalf("default retention = %+v, %v", r, err)
	}
	info, err := b.HeadObject(ctx, "bkt", "k", storage.GetOptions{})
	if err != nil || info.Lock.Retention.Mode != storage.LockGovernance || !info.Lock.Retention.RetainUntil.Equal(until) {
		t.Fatalf("HEAD lock = %+v, %v", info, err)
	}
	// An explicit retention wins over the default.
	explicit := storage.Retention{Mode: storage.LockCompliance, RetainUntil: testEpoch.Add(time.Hour)}
	v2, err := putLocked(t, b, "bkt", "k", storage.LockState{Retention: explicit})
	if err != nil {
		t.Fatal(err)
	}
	if r, err := b.GetObjectRetention(ctx, "bkt", "k", ""); err != nil || *r != explicit {
		t.Fatalf("explicit retention = %+v, %v", r, err)
	}
	// The older version keeps its retention in the versions directory.
	if r, err := b.GetObjectRetention(ctx, "bkt", "k", v1); err != nil || !r.RetainUntil.Equal(until) {
		t.Fatalf("non-current retention = %+v, %v", r, err)
	}
	// A delete without a version id is always allowed (a marker).
	mk := mustDelete(t, b, "bkt", "k", "")
	_, err = b.GetObjectRetention(ctx, "bkt", "k", "")
	wantErr(t, err, s3err.ErrNoSuchKey)
	_, err = b.GetObjectRetention(ctx, "bkt", "k", mk.VersionID)
	wantErr(t, err, s3err.ErrMethodNotAllowed)
	wantErr(t, b.PutObjectRetention(ctx, "bkt", "k", mk.VersionID, explicit, false), s3err.ErrMethodNotAllowed)
	wantErr(t, b.PutObjectLegalHold(ctx, "bkt", "k", "", true), s3err.ErrNoSuchKey)
	wantErr(t, b.PutObjectLegalHold(ctx, "bkt", "k", strings.Repeat("a", 32), true), s3err.ErrNoSuchVersion)
	wantErr(t, b.PutObjectLegalHold(ctx, "bkt", "k", "bad", true), s3err.ErrInvalidArgument)
	mustDelete(t, b, "bkt", "k", mk.VersionID)

	// Locked versions cannot be removed; the bucket is not empty.
	_, err = b.DeleteObject(ctx, "bkt", "k", storage.DeleteOptions{VersionID: v2, BypassGovernance: true})
	wantErr(t, err, s3err.ErrObjectLockedAccessDenied)
	_, err = b.DeleteObject(ctx, "bkt", "k", storage.DeleteOptions{VersionID: v1})
	wantErr(t, err, s3err.ErrObjectLockedAccessDenied)
	wantErr(t, b.DeleteBucket(ctx, "bkt"), s3err.ErrBucketNotEmpty)
	// GOVERNANCE yields to bypass; COMPLIANCE to time only.
	if res := mustDeleteBypass(t, b, "bkt", "k", v1); res.VersionID != v1 {
		t.Fatalf("bypass delete = %+v", res)
	}
	clk.Advance(time.Hour + time.Second)
	mustDelete(t, b, "bkt", "k", v2)
	wantErr(t, b.DeleteBucket(ctx, "bkt"), nil)

	// A retain-until date in the past is refused.
	mustLockBucket(t, b, "bkt2")
	_, err = putLocked(t, b, "bkt2", "k", storage.LockState{Retention: storage.Retention{Mode: storage.LockGovernance, RetainUntil: clk.Now().Add(-time.Second)}})
	wantErr(t, err, s3err.ErrInvalidArgument)
	_, err = putLocked(t, b, "bkt2", "k", storage.LockState{Retention: storage.Retention{Mode: "FOREVER", RetainUntil: clk.Now().Add(time.Hour)}})
	wantErr(t, err, s3err.ErrInvalidArgument)
}

func mustDeleteBypass(tb testing.TB, b *Backend, bucket, key, versionID string) *storage.DeleteResult {
	tb.Helper()
	res, err := b.DeleteObject(context.Background(), bucket, key, storage.DeleteOptions{VersionID: versionID, BypassGovernance: true})
	if err != nil {
		tb.Fatalf("DeleteObject(%q, %q, bypass): %v", key, versionID, err)
	}
	return res
}

func TestObjectRetentionChanges(t *testing.T) {
	b, _ := mustNew(t)
	ctx := context.Background()
	mustLockBucket(t, b, "bkt")
	h, d := testEpoch.Add(time.Hour), testEpoch.Add(24*time.Hour)
	gov := func(t time.Time) storage.Retention {
		return storage.Retention{Mode: storage.LockGovernance, RetainUntil: t}
	}
	comp := func(t time.Time) storage.Retention {
		return storage.Retention{Mode: storage.LockCompliance, RetainUntil: t}
	}

	// COMPLIANCE: only extensions.
	v, err := putLocked(t, b, "bkt", "c", storage.LockState{Retention: comp(h)})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name   string
		r      storage.Retention
		bypass bool
		want   error
	}{
		{"shorten", comp(h.Add(-time.Minute)), true, s3err.ErrObjectLockedAccessDenied},
		{"to governance", gov(d), true, s3err.ErrObjectLockedAccessDenied},
		{"remove", storage.Retention{}, true, s3err.ErrObjectLockedAccessDenied},
		{"extend", comp(d), false, nil},
	} {
		if err := b.PutObjectRetention(ctx, "bkt", "c", v, tt.r, tt.bypass); !sameS3Err(err, tt.want) {
			t.Fatalf("compliance %s: %v, want %v", tt.name, err, tt.want)
		}
	}
	if r, _ := b.GetObjectRetention(ctx, "bkt", "c", v); *r != comp(d) {
		t.Fatalf("compliance retention = %+v", r)
	}

	// GOVERNANCE: extensions freely, anything else with bypass.
	if _, err := putLocked(t, b, "bkt", "g", storage.LockState{Retention: gov(h)}); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name   string
		r      storage.Retention
		bypass bool
		want   error
	}{
		{"extend", gov(d), false, nil},
		{"shorten", gov(h), false, s3err.ErrObjectLockedAccessDenied},
		{"to compliance", comp(d), false, s3err.ErrObjectLockedAccessDenied},
		{"remove", storage.Retention{}, false, s3err.ErrObjectLockedAccessDenied},
		{"shorten bypass", gov(h), true, nil},
		{"remove bypass", storage.Retention{}, true, nil},
	} {
		if err := b.PutObjectRetention(ctx, "bkt", "g", "", tt.r, tt.bypass); !sameS3Err(err, tt.want) {
			t.Fatalf("governance %s: %v, want %v", tt.name, err, tt.want)
		}
	}
	_, err = b.GetObjectRetention(ctx, "bkt", "g", "")
	wantErr(t, err, s3err.ErrNoSuchObjectLockConfiguration)
	// The data survives the trailer rewrites.
	if got := mustGet(t, b, "bkt", "g"); got != "x" {
		t.Fatalf("data after retention changes = %q", got)
	}
	wantErr(t, b.PutObjectRetention(ctx, "bkt", "g", "", gov(testEpoch.Add(-time.Hour)), false), s3err.ErrInvalidArgument)

	// Legal hold: never set, on (blocks even bypass), off.
	_, err = b.GetObjectLegalHold(ctx, "bkt", "g", "")
	wantErr(t, err, s3err.ErrNoSuchObjectLockConfiguration)
	wantErr(t, b.PutObjectLegalHold(ctx, "bkt", "g", "", true), nil)
	if on, err := b.GetObjectLegalHold(ctx, "bkt", "g", ""); err != nil || !on {
		t.Fatalf("legal hold = %v, %v", on, err)
	}
	vg, _ := b.HeadObject(ctx, "bkt", "g", storage.GetOptions{})
	_, err = b.DeleteObject(ctx, "bkt", "g", storage.DeleteOptions{VersionID: vg.VersionID, BypassGovernance: true})
	wantErr(t, err, s3err.ErrObjectLockedAccessDenied)
	wantErr(t, b.PutObjectLegalHold(ctx, "bkt", "g", vg.VersionID, false), nil)
	if on, err := b.GetObjectLegalHold(ctx, "bkt", "g", ""); err != nil || on {
		t.Fatalf("legal hold after off = %v, %v", on, err)
	}
	mustDelete(t, b, "bkt", "g", vg.VersionID)

	// A hold asked at creation, through a multipart upload.
	id, err := b.CreateMultipartUpload(ctx, "bkt", "mp", storage.PutOptions{Lock: storage.LockState{LegalHold: true, LegalHoldSet: true}})
	if err != nil {
		t.Fatal(err)
	}
	etag := mustUpload(t, b, "bkt", "mp", id, 1, []byte("part"))
	done, err := b.CompleteMultipartUpload(ctx, "bkt", "mp", id, []storage.CompletedPart{{PartNumber: 1, ETag: etag}})
	if err != nil {
		t.Fatal(err)
	}
	if on, err := b.GetObjectLegalHold(ctx, "bkt", "mp", done.VersionID); err != nil || !on {
		t.Fatalf("multipart legal hold = %v, %v", on, err)
	}
}

func sameS3Err(got, want error) bool {
	if want == nil {
		return got == nil
	}
	return errorsIs(got, want)
}
