package fsbackend

import (
	"context"
	"crypto/md5"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/dgp-proxy/dgp/internal/s3err"
	"github.com/dgp-proxy/dgp/internal/storage"
)

// Multipart uploads live in <root>/.multipart/<bucket>/<uploadID>/: the
// file upload.json (key, initiation time, metadata for the final object)
// and one file per part, "<5-digit number>.part", in the object format.
const (
	uploadMetaName = "upload.json"
	partSuffix     = ".part"
	maxPartNumber  = 10000
	minPartSize    = 5 << 20
	maxListParts   = 1000
	maxListUploads = 1000
	uploadIDLen    = 32
)

// uploadMeta is the content of upload.json.
type uploadMeta struct {
	Key          string            `json:"key"`
	Initiated    time.Time         `json:"initiated"`
	ContentType  string            `json:"contentType,omitempty"`
	UserMetadata map[string]string `json:"userMetadata,omitempty"`
	Headers      map[string]string `json:"headers,omitempty"`
	// Lock is the object lock state asked for the final object.
	Lock storage.LockState `json:"lock,omitzero"`
}

// newUploadID returns 32 hex digits: the initiation time in nanoseconds,
// then 64 random bits, so IDs of one key sort by initiation time.
func newUploadID(t time.Time) string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(t.UnixNano()))
	_, _ = rand.Read(b[8:])
	return hex.EncodeToString(b[:])
}

// validUploadID accepts only IDs newUploadID can produce, so an ID can
// never address anything but one directory.
func validUploadID(id string) bool {
	if len(id) != uploadIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

func uploadDir(bucket, id string) string { return path.Join(multipartDir, bucket, id) }

func partName(n int) string { return fmt.Sprintf("%05d%s", n, partSuffix) }

func parsePartName(name string) (int, bool) {
	digits, ok := strings.CutSuffix(name, partSuffix)
	if !ok || len(digits) != 5 {
		return 0, false
	}
	n, err := strconv.Atoi(digits)
	if err != nil || n < 1 || n > maxPartNumber {
		return 0, false
	}
	return n, true
}

func noSuchUpload(id string) error { return s3err.ErrNoSuchUpload.WithResource(id) }

// loadUpload validates and reads an upload, which must belong to key.
func (b *Backend) loadUpload(bucket, key, id string) (*uploadMeta, error) {
	if err := validateBucket(bucket); err != nil {
		return nil, err
	}
	if err := validateKey(key); err != nil {
		return nil, err
	}
	if !validUploadID(id) {
		return nil, noSuchUpload(id)
	}
	m, err := b.readUploadMeta(bucket, id)
	if err != nil {
		if isNotExist(err) {
			if err := b.bucketExists(bucket); err != nil {
				return nil, err
			}
			return nil, noSuchUpload(id)
		}
		return nil, err
	}
	if m.Key != key {
		return nil, noSuchUpload(id)
	}
	return m, nil
}

func (b *Backend) readUploadMeta(bucket, id string) (*uploadMeta, error) {
	js, err := b.root.ReadFile(path.Join(uploadDir(bucket, id), uploadMetaName))
	if err != nil {
		return nil, err
	}
	m := new(uploadMeta)
	if err := json.Unmarshal(js, m); err != nil {
		return nil, fmt.Errorf("decode upload %s: %w", id, err)
	}
	return m, nil
}

// uploadIDs returns the IDs of a bucket's uploads, unsorted.
func (b *Backend) uploadIDs(bucket string) ([]string, error) {
	names, err := b.readNames(path.Join(multipartDir, bucket))
	if err != nil {
		return nil, fmt.Errorf("list uploads: %w", err)
	}
	ids := names[:0]
	for _, n := range names {
		if validUploadID(n) {
			ids = append(ids, n)
		}
	}
	return ids, nil
}

// CreateMultipartUpload starts an upload; opts are stored for the final
// object. The upload directory appears atomically with its upload.json.
func (b *Backend) CreateMultipartUpload(ctx context.Context, bucket, key string, opts storage.PutOptions) (string, error) {
	if err := b.writable(); err != nil {
		return "", err
	}
	if err := validateBucket(bucket); err != nil {
		return "", err
	}
	if err := validateKey(key); err != nil {
		return "", err
	}
	now := b.now().UTC()
	if err := checkLockRequest(opts.Lock, now); err != nil {
		return "", err
	}
	m := uploadMeta{Key: key, Initiated: now, ContentType: opts.ContentType,
		UserMetadata: maps.Clone(opts.UserMetadata), Headers: maps.Clone(opts.Headers), Lock: opts.Lock}
	if m.ContentType == "" {
		m.ContentType = defaultContentType
	}
	js, err := json.Marshal(m)
	if err != nil {
		return "", fmt.Errorf("encode upload: %w", err)
	}
	id := newUploadID(now)

	bl := b.bucketLock(bucket)
	bl.RLock()
	defer bl.RUnlock()
	bm, err := b.metaLocked(bucket)
	if err != nil {
		return "", err
	}
	if _, err := newLock(bm, opts.Lock, now); err != nil {
		return "", err
	}
	tmp := tempName()
	if err := b.root.Mkdir(tmp, dirPerm); err != nil {
		return "", fmt.Errorf("create upload directory: %w", err)
	}
	if err := b.writeSynced(path.Join(tmp, uploadMetaName), js); err != nil {
		_ = b.root.RemoveAll(tmp)
		return "", err
	}
	parent := path.Join(multipartDir, bucket)
	if err := b.mkdirAll(parent); err != nil {
		_ = b.root.RemoveAll(tmp)
		return "", fmt.Errorf("create uploads directory: %w", err)
	}
	if err := b.root.Rename(tmp, path.Join(parent, id)); err != nil {
		_ = b.root.RemoveAll(tmp)
		return "", fmt.Errorf("create upload: %w", err)
	}
	if err := b.syncDir(parent); err != nil {
		return "", fmt.Errorf("sync uploads directory: %w", err)
	}
	return id, nil
}

func checkPartNumber(n int) error {
	if n < 1 || n > maxPartNumber {
		return s3err.ErrInvalidArgument.WithMessage("Part number must be an integer between 1 and 10000, inclusive.")
	}
	return nil
}

// commitPart finishes a staged part and renames it into its upload; a
// part with the same number is replaced.
func (b *Backend) commitPart(st *staged, bucket, id string, n int, m *objMeta) error {
	if err := writeTrailer(st.f, m); err != nil {
		return err
	}
	if err := st.finish(); err != nil {
		return err
	}
	dir := uploadDir(bucket, id)
	if err := b.root.Rename(st.name, path.Join(dir, partName(n))); err != nil {
		if isNotExist(err) {
			return noSuchUpload(id) // aborted or completed meanwhile
		}
		return fmt.Errorf("commit part: %w", err)
	}
	st.committed()
	if err := b.syncDir(dir); err != nil && !isNotExist(err) {
		return fmt.Errorf("sync upload directory: %w", err)
	}
	return nil
}

// UploadPart stores one part of an upload.
func (b *Backend) UploadPart(ctx context.Context, bucket, key, uploadID string, partNumber int, body io.Reader, size int64, opts storage.PartOptions) (*storage.PartResult, error) {
	if err := b.writable(); err != nil {
		return nil, err
	}
	if _, err := b.loadUpload(bucket, key, uploadID); err != nil {
		return nil, err
	}
	if err := checkPartNumber(partNumber); err != nil {
		return nil, err
	}
	st, n, sum, err := b.receive(ctx, body, size, opts.ContentMD5)
	if err != nil {
		return nil, err
	}
	defer st.discard()
	m := &objMeta{Key: key, Size: n, ETag: quoteETag(hex.EncodeToString(sum)), Modified: b.now().UTC()}
	if err := b.commitPart(st, bucket, uploadID, partNumber, m); err != nil {
		return nil, err
	}
	return &storage.PartResult{ETag: m.ETag}, nil
}

// UploadPartCopy stores a part copied from an object (or an inclusive byte
// range of it, which must lie within the object).
func (b *Backend) UploadPartCopy(ctx context.Context, src storage.ObjectRef, bucket, key, uploadID string, partNumber int, opts storage.CopyPartOptions) (*storage.CopyResult, error) {
	if err := b.writable(); err != nil {
		return nil, err
	}
	if _, err := b.loadUpload(bucket, key, uploadID); err != nil {
		return nil, err
	}
	if err := checkPartNumber(partNumber); err != nil {
		return nil, err
	}
	f, sm, err := b.openCopySource(src)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	srcInfo, err := b.objectInfo(src.Bucket, sm)
	if err != nil {
		return nil, err
	}
	if err := storage.CheckCopySourceConditions(srcInfo, opts.Conditions); err != nil {
		return nil, err
	}
	start, length := int64(0), sm.Size
	if r := opts.Range; r != nil {
		if r.Start < 0 || r.End < r.Start {
			return nil, s3err.ErrInvalidArgument.WithMessage("The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy")
		}
		if r.End >= sm.Size {
			return nil, s3err.ErrInvalidArgument.WithMessage("Range specified is not valid for source object of size: %d", sm.Size)
		}
		start, length = r.Start, r.End-r.Start+1
	}
	if _, err := f.Seek(start, io.SeekStart); err != nil {
		return nil, fmt.Errorf("seek source: %w", err)
	}
	st, err := b.stage()
	if err != nil {
		return nil, err
	}
	defer st.discard()
	h := md5.New()
	if _, err := b.copyHashed(ctx, st.f, h, &io.LimitedReader{R: f, N: length}, length); err != nil {
		return nil, err
	}
	m := &objMeta{Key: key, Size: length, ETag: quoteETag(hex.EncodeToString(h.Sum(nil))), Modified: b.now().UTC()}
	if err := b.commitPart(st, bucket, uploadID, partNumber, m); err != nil {
		return nil, err
	}
	return &storage.CopyResult{ETag: m.ETag, LastModified: m.Modified, SourceVersionID: srcInfo.VersionID}, nil
}

// AbortMultipartUpload discards an upload and its parts.
func (b *Backend) AbortMultipartUpload(ctx context.Context, bucket, key, uploadID string) error {
	if err := b.writable(); err != nil {
		return err
	}
	if _, err := b.loadUpload(bucket, key, uploadID); err != nil {
		return err
	}
	ul := b.uploadLock(uploadID)
	ul.Lock()
	defer ul.Unlock()
	if err := b.moveAside(uploadDir(bucket, uploadID)); err != nil {
		if isNotExist(err) {
			return noSuchUpload(uploadID)
		}
		return fmt.Errorf("abort upload: %w", err)
	}
	return nil
}

// ListParts returns the parts of an upload in part-number order after
// PartNumberMarker; MaxParts 0 or above 1000 means 1000.
func (b *Backend) ListParts(ctx context.Context, bucket, key, uploadID string, opts storage.ListPartsOptions) (*storage.ListPartsResult, error) {
	if _, err := b.loadUpload(bucket, key, uploadID); err != nil {
		return nil, err
	}
	maxParts := opts.MaxParts
	if maxParts <= 0 || maxParts > maxListParts {
		maxParts = maxListParts
	}
	dir := uploadDir(bucket, uploadID)
	names, err := b.readNames(dir)
	if err != nil {
		return nil, fmt.Errorf("list parts: %w", err)
	}
	var nums []int
	for _, name := range names {
		if n, ok := parsePartName(name); ok && n > opts.PartNumberMarker {
			nums = append(nums, n)
		}
	}
	sort.Ints(nums)
	res := &storage.ListPartsResult{}
	for _, n := range nums {
		m, err := statObject(b.root, path.Join(dir, partName(n)), key)
		if err != nil {
			if isNotExist(err) {
				continue
			}
			return nil, fmt.Errorf("list parts: %w", err)
		}
		if len(res.Parts) == maxParts {
			res.IsTruncated = true
			res.NextPartNumberMarker = res.Parts[len(res.Parts)-1].PartNumber
			break
		}
		res.Parts = append(res.Parts, storage.PartInfo{PartNumber: n, ETag: m.ETag, Size: m.Size, LastModified: m.Modified})
	}
	return res, nil
}

// ListMultipartUploads lists a bucket's uploads sorted by key, then
// initiation, with S3's marker, prefix and delimiter semantics; MaxUploads
// 0 or above 1000 means 1000.
func (b *Backend) ListMultipartUploads(ctx context.Context, bucket string, opts storage.ListUploadsOptions) (*storage.ListUploadsResult, error) {
	if err := validateBucket(bucket); err != nil {
		return nil, err
	}
	if err := b.bucketExists(bucket); err != nil {
		return nil, err
	}
	maxUploads := opts.MaxUploads
	if maxUploads <= 0 || maxUploads > maxListUploads {
		maxUploads = maxListUploads
	}
	ids, err := b.uploadIDs(bucket)
	if err != nil {
		return nil, err
	}
	all := make([]storage.UploadInfo, 0, len(ids))
	for _, id := range ids {
		m, err := b.readUploadMeta(bucket, id)
		if err != nil {
			if isNotExist(err) {
				continue // completed or aborted meanwhile
			}
			return nil, err
		}
		if !strings.HasPrefix(m.Key, opts.Prefix) {
			continue
		}
		all = append(all, storage.UploadInfo{Key: m.Key, UploadID: id, Initiated: m.Initiated})
	}
	sort.Slice(all, func(i, j int) bool {
		if all[i].Key != all[j].Key {
			return all[i].Key < all[j].Key
		}
		return all[i].UploadID < all[j].UploadID
	})

	res := &storage.ListUploadsResult{}
	count := 0
	lastKey, lastID := "", ""
	for i := 0; i < len(all); i++ {
		u := all[i]
		if opts.KeyMarker != "" {
			if u.Key < opts.KeyMarker {
				continue
			}
			if u.Key == opts.KeyMarker && (opts.UploadIDMarker == "" || u.UploadID <= opts.UploadIDMarker) {
				continue
			}
		}
		if opts.Delimiter != "" {
			if j := strings.Index(u.Key[len(opts.Prefix):], opts.Delimiter); j >= 0 {
				cp := u.Key[:len(opts.Prefix)+j+len(opts.Delimiter)]
				for i+1 < len(all) && strings.HasPrefix(all[i+1].Key, cp) {
					i++
				}
				if cp <= opts.KeyMarker {
					continue
				}
				if count == maxUploads {
					res.IsTruncated = true
					break
				}
				res.CommonPrefixes = append(res.CommonPrefixes, cp)
				count, lastKey, lastID = count+1, cp, ""
				continue
			}
		}
		if count == maxUploads {
			res.IsTruncated = true
			break
		}
		res.Uploads = append(res.Uploads, u)
		count, lastKey, lastID = count+1, u.Key, u.UploadID
	}
	if res.IsTruncated {
		res.NextKeyMarker, res.NextUploadIDMarker = lastKey, lastID
	}
	return res, nil
}
