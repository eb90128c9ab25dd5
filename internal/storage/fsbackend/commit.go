package fsbackend

import (
	"context"
	"fmt"
	"os"
	"path"
	"slices"
	"strings"

	"github.com/dgp-proxy/dgp/internal/s3err"
	"github.com/dgp-proxy/dgp/internal/storage"
)

// commitOpts are the conditions and lock request of a write.
type commitOpts struct {
	ifMatch, ifNoneMatch string
	lock                 storage.LockState
}

// commit makes a staged file (data written, no trailer yet) the new
// latest version of key, atomically with respect to other writes of the
// key in this process. Under the key lock it checks the write conditions,
// gives m its version id, order and lock state (from the bucket's current
// versioning and object lock configuration), appends the trailer and
// renames the file to the key's object file, keeping the replaced version
// in the versions directory when the bucket is versioned. If-None-Match
// "*" fails on any existing object, an ETag list on a matching one;
// If-Match fails on a mismatch and with NoSuchKey on a missing object
// (S3's conditional writes). It returns the version id to report.
func (b *Backend) commit(bucket, key string, st *staged, m *objMeta, co commitOpts) (string, error) {
	bl := b.bucketLock(bucket)
	bl.RLock()
	defer bl.RUnlock()
	bm, err := b.metaLocked(bucket)
	if err != nil {
		return "", err
	}
	lock, err := newLock(bm, co.lock, m.Modified)
	if err != nil {
		return "", err
	}
	kl := b.keyLock(bucket, key)
	kl.Lock()
	defer kl.Unlock()

	kf := keyFilesOf(bucket, key)
	state := bm.Versioning
	var cur *objMeta // the current object: needed by conditions and versions
	if state != storage.VersioningOff || co.ifMatch != "" || co.ifNoneMatch != "" {
		var f *os.File
		if f, cur, err = b.openMeta(kf.obj, key); err != nil {
			return "", err
		}
		if f != nil {
			_ = f.Close()
		}
	}
	if co.ifNoneMatch != "" && cur != nil && storage.ETagListMatches(co.ifNoneMatch, cur.ETag, true) {
		return "", s3err.ErrPreconditionFailed
	}
	if co.ifMatch != "" {
		if cur == nil {
			return "", s3err.ErrNoSuchKey.WithResource(key)
		}
		if !storage.ETagListMatches(co.ifMatch, cur.ETag, false) {
			return "", s3err.ErrPreconditionFailed
		}
	}

	var floor uint64 // an unversioned bucket has no versions directory
	if state != storage.VersioningOff {
		if floor, err = newestSeq(b.root, kf, cur); err != nil {
			return "", err
		}
	}
	m.Seq, m.Lock = b.nextSeq(floor), lock
	switch state {
	case storage.VersioningOff:
		m.VersionID = ""
	case storage.VersioningEnabled:
		m.VersionID = newVersionID(m.Seq)
	default:
		m.VersionID = storage.NullVersion
	}
	if err := writeTrailer(st.f, m); err != nil {
		return "", err
	}
	if err := st.finish(); err != nil {
		return "", err
	}
	if state != storage.VersioningOff && cur != nil && !(state == storage.VersioningSuspended && cur.isNull()) {
		if err := b.keepAsVersion(kf, cur); err != nil {
			return "", err
		}
	}
	// A concurrent delete of another key may remove a directory it
	// emptied while MkdirAll or Rename runs: inDir creates it again.
	if err := b.inDir(kf.dir, func() error { return b.renameTo(st.name, kf.obj) }); err != nil {
		return "", fmt.Errorf("commit object: %w", err)
	}
	st.committed()
	if err := b.syncDir(kf.dir); err != nil {
		return "", fmt.Errorf("sync object directory: %w", err)
	}
	if state == storage.VersioningSuspended {
		if err := b.removeNullVersions(kf, ""); err != nil {
			return "", err
		}
		_ = b.remove(kf.vdir) // when it is left empty
	}
	return reportID(m, state), nil
}

// DeleteObject is S3's DeleteObject. Without a version id: in an
// unversioned bucket it removes key (a missing key is not an error; the
// directories left empty are removed); in a versioned one it adds a delete
// marker. With a version id it removes that version for good, object lock
// permitting (a version that does not exist, or could not, is not an
// error either, as in S3).
func (b *Backend) DeleteObject(ctx context.Context, bucket, key string, opts storage.DeleteOptions) (*storage.DeleteResult, error) {
	if err := b.writable(); err != nil {
		return nil, err
	}
	if err := validateBucket(bucket); err != nil {
		return nil, err
	}
	if err := validateKey(key); err != nil {
		return nil, err
	}
	bl := b.bucketLock(bucket)
	bl.RLock()
	defer bl.RUnlock()
	bm, err := b.metaLocked(bucket)
	if err != nil {
		return nil, err
	}
	kl := b.keyLock(bucket, key)
	kl.Lock()
	defer kl.Unlock()
	kf := keyFilesOf(bucket, key)
	switch {
	case opts.VersionID != "" && !validVersionID(opts.VersionID):
		// A version that cannot exist: like any missing version, not an
		// error (S3 answers 204 with the id).
		return &storage.DeleteResult{VersionID: opts.VersionID}, nil
	case opts.VersionID != "":
		return b.deleteVersion(bucket, key, kf, opts.VersionID, opts.BypassGovernance)
	case bm.Versioning == storage.VersioningOff:
		if err := b.remove(kf.obj); err != nil {
			if isNotExist(err) {
				return &storage.DeleteResult{}, nil
			}
			return nil, fmt.Errorf("delete object: %w", err)
		}
		b.pruneDirs(bucket, kf.dir)
		return &storage.DeleteResult{}, nil
	}
	return b.addMarker(key, kf, bm.Versioning)
}

// addMarker makes a delete marker the latest version of key: a new
// version in an Enabled bucket, the null version in a Suspended one
// (replacing the previous null version). The caller holds the key lock.
func (b *Backend) addMarker(key string, kf keyFiles, state storage.VersioningStatus) (*storage.DeleteResult, error) {
	f, cur, err := b.openMeta(kf.obj, key)
	if err != nil {
		return nil, err
	}
	if f != nil {
		_ = f.Close()
	}
	if cur != nil && !(state == storage.VersioningSuspended && cur.isNull()) {
		if err := b.keepAsVersion(kf, cur); err != nil {
			return nil, err
		}
	}
	floor, err := newestSeq(b.root, kf, cur)
	if err != nil {
		return nil, err
	}
	mk := &objMeta{Key: key, Modified: b.now().UTC(), Seq: b.nextSeq(floor), DeleteMarker: true, VersionID: storage.NullVersion}
	if state == storage.VersioningEnabled {
		mk.VersionID = newVersionID(mk.Seq)
	}
	st, err := b.stage()
	if err != nil {
		return nil, err
	}
	defer st.discard()
	if err := writeTrailer(st.f, mk); err != nil {
		return nil, err
	}
	if err := st.finish(); err != nil {
		return nil, err
	}
	name := versionName(mk)
	if err := b.inDir(kf.vdir, func() error { return b.root.Rename(st.name, path.Join(kf.vdir, name)) }); err != nil {
		return nil, fmt.Errorf("add delete marker: %w", err)
	}
	st.committed()
	if cur != nil {
		if err := b.remove(kf.obj); err != nil && !isNotExist(err) {
			return nil, fmt.Errorf("delete object: %w", err)
		}
	}
	if state == storage.VersioningSuspended {
		if err := b.removeNullVersions(kf, name); err != nil {
			return nil, err
		}
	}
	if err := b.syncDir(kf.vdir); err != nil {
		return nil, fmt.Errorf("sync versions directory: %w", err)
	}
	return &storage.DeleteResult{VersionID: mk.VersionID, DeleteMarker: true}, nil
}

// deleteVersion removes version id of key for good; when it was the
// latest, the newest remaining version becomes the latest (an object is
// moved back to the object file). The caller holds the key lock.
func (b *Backend) deleteVersion(bucket, key string, kf keyFiles, id string, bypass bool) (*storage.DeleteResult, error) {
	vs, err := readVersions(b.root, kf.obj, kf.vdir, key)
	if err != nil {
		return nil, err
	}
	i := slices.IndexFunc(vs, func(v version) bool { return matchesID(v.meta, id) })
	if i < 0 {
		return &storage.DeleteResult{VersionID: id}, nil
	}
	v := vs[i]
	if !v.meta.DeleteMarker {
		if err := checkDeletable(v.meta.Lock, b.now(), bypass); err != nil {
			return nil, err
		}
	}
	rest := slices.Delete(slices.Clone(vs), i, i+1)
	promote := i == 0 && len(rest) > 0 && !rest[0].meta.DeleteMarker
	switch {
	case promote:
		// Over the object file when v is it: one rename removes v and
		// makes the next version the latest.
		if err := b.renameTo(rest[0].rel, kf.obj); err != nil {
			return nil, fmt.Errorf("promote version: %w", err)
		}
		if !v.current {
			if err := b.remove(v.rel); err != nil && !isNotExist(err) {
				return nil, fmt.Errorf("delete version: %w", err)
			}
		}
	default:
		if err := b.remove(v.rel); err != nil && !isNotExist(err) {
			return nil, fmt.Errorf("delete version: %w", err)
		}
	}
	b.pruneKey(bucket, kf)
	return &storage.DeleteResult{VersionID: listID(v.meta), DeleteMarker: v.meta.DeleteMarker}, nil
}

// pruneDirs removes dir and its ancestors below the bucket while they are
// empty. Failures (a directory that is not empty) just stop it.
func (b *Backend) pruneDirs(bucket, dir string) {
	for dir != bucket && strings.HasPrefix(dir, bucket+"/") {
		if err := b.remove(dir); err != nil {
			return
		}
		dir = path.Dir(dir)
	}
}
