package fsbackend

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/dgp-proxy/dgp/internal/s3err"
	"github.com/dgp-proxy/dgp/internal/storage"
)

// Versions on disk (see docs/storage.md). The latest version of a key,
// when it is an object, is the key's object file "<esc>%o", so unversioned
// reads and ListObjects never look further. Every other version (the
// non-current ones and every delete marker) is a file in the directory
// "<esc>%v" beside it, in the object file format (a delete marker has no
// data and DeleteMarker set in its trailer). Invariant: the object file
// exists iff the latest version is an object.
//
// A file in a versions directory is named so that names sort newest first:
// 16 hex digits of the bitwise complement of the version's Seq, then either
// 16 random hex digits (the whole name is then the version id) or "null"
// (the null version). Version ids are thus 32 lower-case hex digits.
const (
	seqDigits    = 16
	versionIDLen = 32
	nullSuffix   = "null"
)

// keyFiles are the paths (relative to the root) of one key.
type keyFiles struct {
	dir  string // the directory holding obj and vdir
	obj  string // the object file: the latest version when it is an object
	vdir string // the versions directory
}

func keyFilesOf(bucket, key string) keyFiles {
	names := keyPath(key)
	dir := path.Join(append([]string{bucket}, names[:len(names)-1]...)...)
	last := names[len(names)-1]
	stem := strings.TrimSuffix(last, suffixObject)
	return keyFiles{dir: dir, obj: dir + "/" + last, vdir: dir + "/" + stem + suffixVers}
}

// siblingFiles returns the object file and versions directory beside rel,
// which is either of them.
func siblingFiles(rel string) (obj, vdir string) {
	dir, name := path.Split(rel)
	stem := name[:len(name)-len(suffixObject)]
	return dir + stem + suffixObject, dir + stem + suffixVers
}

// nextSeq returns a version order number above floor: the clock in
// nanoseconds, made strictly increasing within the backend. floor is the
// newest existing version's of the key, so a clock that went back (or a
// restart with a clock that stands still) cannot order a new version
// below an old one.
func (b *Backend) nextSeq(floor uint64) uint64 {
	now := uint64(max(b.now().UnixNano(), 1))
	for {
		last := b.lastSeq.Load()
		next := max(now, last+1, floor+1)
		if b.lastSeq.CompareAndSwap(last, next) {
			return next
		}
	}
}

// newestSeq returns the order of a key's newest version (0: none); cur is
// its object file's metadata (nil: none). The caller holds the key lock.
func newestSeq(base *os.Root, kf keyFiles, cur *objMeta) (uint64, error) {
	if cur != nil {
		return cur.seq(), nil // the object file is the newest version
	}
	names, err := versionNames(base, kf.vdir)
	if err != nil || len(names) == 0 {
		return 0, err
	}
	inv, err := strconv.ParseUint(names[0][:seqDigits], 16, 64)
	if err != nil {
		return 0, fmt.Errorf("version name %q: %w", names[0], err)
	}
	return ^inv, nil
}

func seqPrefix(seq uint64) string {
	s := strconv.FormatUint(^seq, 16)
	return strings.Repeat("0", seqDigits-len(s)) + s
}

// newVersionID returns the id of a new version with order seq.
func newVersionID(seq uint64) string {
	var r [8]byte
	_, _ = rand.Read(r[:])
	return seqPrefix(seq) + hex.EncodeToString(r[:])
}

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// validVersionID reports whether id is one this backend can have issued.
func validVersionID(id string) bool {
	return id == storage.NullVersion || (len(id) == versionIDLen && isLowerHex(id))
}

// checkVersionID is InvalidArgument for a malformed version id, as S3.
func checkVersionID(id string) error {
	if !validVersionID(id) {
		return s3err.ErrInvalidArgument.WithMessage("Invalid version id specified")
	}
	return nil
}

// validateVersionTarget validates the bucket, key and version id ("" = the
// latest) a call on one object version names.
func validateVersionTarget(bucket, key, versionID string) error {
	if err := validateBucket(bucket); err != nil {
		return err
	}
	if err := validateKey(key); err != nil {
		return err
	}
	if versionID != "" {
		return checkVersionID(versionID)
	}
	return nil
}

// versionName is the file name of a version in its versions directory.
func versionName(m *objMeta) string {
	if m.isNull() {
		return seqPrefix(m.seq()) + nullSuffix
	}
	return m.VersionID
}

// isVersionName reports whether name is a version file name; null tells
// whether it is the null version's.
func isVersionName(name string) (ok, null bool) {
	if len(name) == seqDigits+len(nullSuffix) && strings.HasSuffix(name, nullSuffix) {
		return isLowerHex(name[:seqDigits]), true
	}
	return len(name) == versionIDLen && isLowerHex(name), false
}

// matchesID reports whether a version is the one id names.
func matchesID(m *objMeta, id string) bool {
	if id == storage.NullVersion {
		return m.isNull()
	}
	return m.VersionID == id
}

// reportID is the version id S3 reports for a version: "" for the null
// version of a bucket that never had versioning, else "null" or the id.
func reportID(m *objMeta, state storage.VersioningStatus) string {
	if m.VersionID == "" {
		if state == storage.VersioningOff {
			return ""
		}
		return storage.NullVersion
	}
	return m.VersionID
}

// listID is the version id a version listing shows (null versions are
// "null" even in an unversioned bucket).
func listID(m *objMeta) string {
	if m.isNull() {
		return storage.NullVersion
	}
	return m.VersionID
}

// versionNames returns the version file names in vdir (relative to base),
// newest first.
func versionNames(base *os.Root, vdir string) ([]string, error) {
	names, err := readNames(base, vdir)
	if err != nil {
		return nil, fmt.Errorf("read versions: %w", err)
	}
	out := names[:0]
	for _, n := range names {
		if ok, _ := isVersionName(n); ok {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out, nil
}

// version is one version of a key as found on disk.
type version struct {
	meta    *objMeta
	rel     string // its file, relative to the base it was read from
	current bool   // it is the key's object file
	latest  bool   // it is the newest version of the key
}

// readVersions returns the versions of key, newest first, from its object
// file and versions directory (relative to base). A version file that
// duplicates the object file (an interrupted move) is skipped.
func readVersions(base *os.Root, obj, vdir, key string) ([]version, error) {
	return readVersionsPage(nil, base, obj, vdir, key, "", -1)
}

// readVersionsPage is readVersions after the version afterID ("" = from
// the newest; an id that is not there: none), at most limit of them
// (negative: all). Only the files returned are read, besides the object
// file. A listing passes its ps (decoding whole trailers), which reads the
// object file and looks for the versions directory relative to their
// directory, held from key to key, instead of resolving both paths from
// base; nil: statObject and versionNames.
func readVersionsPage(ps *pageStat, base *os.Root, obj, vdir, key, afterID string, limit int) ([]version, error) {
	var out []version
	curName := ""
	stat := statObject
	if ps != nil {
		stat = ps.stat
	}
	m, err := stat(base, obj, key)
	switch {
	case err == nil:
		curName = versionName(m)
		if afterID == "" && limit != 0 {
			out = append(out, version{meta: m, rel: obj, current: true, latest: true})
		}
	case !isNotExist(err):
		return nil, fmt.Errorf("read %q: %w", key, err)
	}
	var names []string
	if ps == nil || !ps.absent(base, vdir) {
		if names, err = versionNames(base, vdir); err != nil {
			return nil, err
		}
	}
	names = slices.DeleteFunc(names, func(n string) bool { return n == curName })
	start := 0
	if afterID != "" {
		start = len(names)
		if curName == "" || !matchesID(m, afterID) {
			for i, n := range names {
				if _, null := isVersionName(n); n == afterID || (null && afterID == storage.NullVersion) {
					start = i + 1
					break
				}
			}
		} else {
			start = 0
		}
	}
	for i := start; i < len(names) && (limit < 0 || len(out) < limit); i++ {
		rel := path.Join(vdir, names[i])
		m, err := statObject(base, rel, key)
		if err != nil {
			if isNotExist(err) {
				continue // removed meanwhile
			}
			return nil, fmt.Errorf("read version of %q: %w", key, err)
		}
		out = append(out, version{meta: m, rel: rel, latest: i == 0 && curName == ""})
	}
	return out, nil
}

// openVersion opens the version id of key for reading (without the key
// lock). A version moves only from the versions directory to the object
// file (a promotion) or is linked the other way, so a miss is checked once
// more before it is NoSuchVersion.
func (b *Backend) openVersion(bucket, key, id string) (*os.File, *objMeta, error) {
	kf := keyFilesOf(bucket, key)
	for range 2 {
		f, m, err := b.openMeta(kf.obj, key)
		if err != nil {
			return nil, nil, err
		}
		if f != nil && matchesID(m, id) {
			return f, m, nil
		}
		if f != nil {
			_ = f.Close()
		}
		name := id
		if id == storage.NullVersion {
			names, err := versionNames(b.root, kf.vdir)
			if err != nil {
				return nil, nil, err
			}
			name = ""
			for _, n := range names {
				if _, null := isVersionName(n); null {
					name = n
					break
				}
			}
			if name == "" {
				continue
			}
		}
		f, m, err = b.openMeta(path.Join(kf.vdir, name), key)
		if err != nil {
			return nil, nil, err
		}
		if f != nil {
			return f, m, nil
		}
	}
	if err := b.bucketExists(bucket); err != nil {
		return nil, nil, err
	}
	return nil, nil, s3err.ErrNoSuchVersion.WithResource(key)
}

// openMeta opens an object-format file and reads its trailer; a missing
// file is (nil, nil, nil).
func (b *Backend) openMeta(rel, key string) (*os.File, *objMeta, error) {
	f, err := b.root.Open(rel)
	if err != nil {
		if isNotExist(err) {
			return nil, nil, nil
		}
		return nil, nil, fmt.Errorf("open object: %w", err)
	}
	m, err := readMeta(f)
	if err != nil {
		_ = f.Close()
		return nil, nil, fmt.Errorf("read object %q: %w", key, err)
	}
	m.Key = key
	return f, m, nil
}

// latestMarker returns the latest version of a key without an object
// file when it is a delete marker (nil otherwise).
func (b *Backend) latestMarker(kf keyFiles, key string) (*objMeta, error) {
	names, err := versionNames(b.root, kf.vdir)
	if err != nil || len(names) == 0 {
		return nil, err
	}
	m, err := statObject(b.root, path.Join(kf.vdir, names[0]), key)
	if err != nil {
		if isNotExist(err) {
			return nil, nil
		}
		return nil, err
	}
	if !m.DeleteMarker {
		return nil, nil
	}
	return m, nil
}

// noSuchKey is NoSuchKey, telling about a latest delete marker as S3 does.
func noSuchKey(key string, marker *objMeta) error {
	e := s3err.ErrNoSuchKey.WithResource(key)
	if marker != nil {
		e = e.WithHeader("x-amz-delete-marker", "true").WithHeader("x-amz-version-id", listID(marker))
	}
	return e
}

// markerNotAllowed is S3's answer to a GET/HEAD naming a delete marker.
func markerNotAllowed(m *objMeta) error {
	return s3err.ErrMethodNotAllowed.
		WithHeader("x-amz-delete-marker", "true").
		WithHeader("x-amz-version-id", listID(m)).
		WithHeader("Last-Modified", m.Modified.UTC().Format(http.TimeFormat))
}

// inDir runs op (a rename or link into dir) after creating dir, again
// when a concurrent delete's clean-up removed dir meanwhile.
func (b *Backend) inDir(dir string, op func() error) error {
	var err error
	for range commitAttempts {
		err = b.mkdirAll(dir)
		if err == nil {
			if err = op(); err == nil {
				return nil
			}
		}
		if !isNotExist(err) {
			return err
		}
	}
	return err
}

// keepAsVersion links the key's object file (version m) into the versions
// directory, so it stays when the object file is replaced or removed. A
// file already there under that name (left by an interrupted earlier move,
// possibly with an older trailer) is replaced.
func (b *Backend) keepAsVersion(kf keyFiles, m *objMeta) error {
	name := path.Join(kf.vdir, versionName(m))
	link := func() error { return b.root.Link(kf.obj, name) }
	err := b.inDir(kf.vdir, link)
	if errors.Is(err, fs.ErrExist) {
		if err = b.root.Remove(name); err == nil {
			err = link()
		}
	}
	if err != nil {
		return fmt.Errorf("keep version: %w", err)
	}
	return nil
}

// removeNullVersions removes the null versions in the versions directory
// except the one named keep.
func (b *Backend) removeNullVersions(kf keyFiles, keep string) error {
	names, err := versionNames(b.root, kf.vdir)
	if err != nil {
		return err
	}
	for _, n := range names {
		if _, null := isVersionName(n); null && n != keep {
			if err := b.root.Remove(path.Join(kf.vdir, n)); err != nil && !isNotExist(err) {
				return fmt.Errorf("remove null version: %w", err)
			}
		}
	}
	return nil
}

// pruneKey removes the key's versions directory when it is empty, then
// its parent directories while they are empty.
func (b *Backend) pruneKey(bucket string, kf keyFiles) {
	if err := b.remove(kf.vdir); err != nil && !isNotExist(err) {
		return
	}
	b.pruneDirs(bucket, kf.dir)
}
