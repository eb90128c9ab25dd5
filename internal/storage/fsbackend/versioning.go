package fsbackend

import (
	"context"
	"fmt"
	"path"
	"strings"

	"github.com/dgp-proxy/dgp/internal/s3err"
	"github.com/dgp-proxy/dgp/internal/storage"
)

// GetBucketVersioning implements storage.Versioning.
func (b *Backend) GetBucketVersioning(ctx context.Context, bucket string) (storage.VersioningStatus, error) {
	bm, err := b.meta(bucket)
	if err != nil {
		return storage.VersioningOff, err
	}
	return bm.Versioning, nil
}

// PutBucketVersioning implements storage.Versioning. The state changes
// under the bucket's write lock, so no write is half way through it.
func (b *Backend) PutBucketVersioning(ctx context.Context, bucket string, status storage.VersioningStatus) error {
	if err := b.writable(); err != nil {
		return err
	}
	if err := validateBucket(bucket); err != nil {
		return err
	}
	if status != storage.VersioningEnabled && status != storage.VersioningSuspended {
		return s3err.ErrMalformedXML
	}
	bl := b.bucketLock(bucket)
	bl.Lock()
	defer bl.Unlock()
	bm, err := b.metaLocked(bucket)
	if err != nil {
		return err
	}
	if bm.ObjectLock && status == storage.VersioningSuspended {
		return s3err.ErrInvalidBucketState.WithMessage("An Object Lock configuration is present on this bucket, so the versioning state cannot be changed.").WithResource(bucket)
	}
	if bm.Versioning == status {
		return nil
	}
	bm.Versioning = status
	return b.writeBucketMeta(bucket, bm)
}

// ListObjectVersions implements storage.Versioning: the versions of the
// keys after (KeyMarker, VersionIDMarker) that start with Prefix, by key
// then newest first, with a Delimiter's keys rolled up into common
// prefixes as ListObjects does. Versions and common prefixes count against
// MaxKeys. In a bucket that never had versioning each object is its one
// version, "null".
func (b *Backend) ListObjectVersions(ctx context.Context, bucket string, opts storage.ListVersionsOptions) (*storage.ListVersionsResult, error) {
	if err := validateBucket(bucket); err != nil {
		return nil, err
	}
	if err := b.bucketExists(bucket); err != nil {
		return nil, err
	}
	km, vm := opts.KeyMarker, opts.VersionIDMarker
	if vm != "" {
		if km == "" {
			return nil, s3err.ErrInvalidArgument.WithMessage("A version-id marker cannot be specified without a key marker.")
		}
		if err := checkVersionID(vm); err != nil {
			return nil, err
		}
	}
	res := &storage.ListVersionsResult{}
	maxKeys := min(opts.MaxKeys, maxListKeys)
	if maxKeys <= 0 {
		return res, nil // S3 answers max-keys=0 with an empty, untruncated page
	}
	prefix, delim := opts.Prefix, opts.Delimiter

	names, consumed := prefixDir(prefix)
	w := &walker{limit: prefix, versions: true, cache: b.dirs}
	defer w.Close()
	if err := w.push(b.root, path.Join(append([]string{bucket}, names...)...), consumed); err != nil {
		return nil, err
	}
	bound := prefix
	switch {
	case vm != "" && km > bound:
		bound = km // the rest of km's versions come first
	case vm == "" && km != "" && km+"\x00" > bound:
		bound = km + "\x00"
	}
	var collapse func(string) bool
	if delim != "" {
		collapse = func(full string) bool {
			return strings.HasPrefix(full, prefix) && strings.Contains(full[len(prefix):], delim)
		}
	}

	ps := &pageStat{dec: decodeMeta}
	defer ps.Close()
	count := 0
	var lastKey, lastID string
	full := func() bool {
		if count == maxKeys {
			res.IsTruncated = true
		}
		return res.IsTruncated
	}
walk:
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		it, ok, err := w.next(bound, collapse)
		if err != nil {
			return nil, fmt.Errorf("list object versions: %w", err)
		}
		if !ok || !strings.HasPrefix(it.key, prefix) {
			break
		}
		if delim != "" {
			if i := strings.Index(it.key[len(prefix):], delim); i >= 0 {
				cp := it.key[:len(prefix)+i+len(delim)]
				if cp > km {
					if full() {
						break
					}
					res.CommonPrefixes = append(res.CommonPrefixes, cp)
					count, lastKey, lastID = count+1, cp, ""
				}
				next, ok := successor(cp)
				if !ok {
					break
				}
				bound = next
				continue
			}
		}
		// The key's object file and versions directory are read at once;
		// the bound skips the second of them.
		bound = it.key + "\x00"
		obj, vdir := siblingFiles(it.rel)
		after := ""
		if it.key == km {
			after = vm
		}
		// One more than fits tells whether the page is truncated.
		vs, err := readVersionsPage(ps, it.base, obj, vdir, it.key, after, maxKeys-count+1)
		if err != nil {
			return nil, fmt.Errorf("list object versions: %w", err)
		}
		for _, v := range vs {
			if full() {
				break walk
			}
			info := v.meta.info()
			info.VersionID, info.IsLatest = listID(v.meta), v.latest
			if info.DeleteMarker {
				info.ETag, info.ContentType, info.StorageClass = "", "", ""
			}
			res.Versions = append(res.Versions, info)
			count, lastKey, lastID = count+1, it.key, info.VersionID
		}
	}
	if res.IsTruncated {
		res.NextKeyMarker, res.NextVersionIDMarker = lastKey, lastID
	}
	return res, nil
}
