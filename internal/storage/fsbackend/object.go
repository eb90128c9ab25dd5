package fsbackend

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"maps"
	"os"
	"strings"

	"github.com/dgp-proxy/dgp/internal/s3err"
	"github.com/dgp-proxy/dgp/internal/storage"
)

// defaultContentType is what S3 stores when a client sends none.
const defaultContentType = "binary/octet-stream"

// openObject opens the version of key that a GET, HEAD or copy names
// ("" = the latest) and reads its metadata. The latest being a delete
// marker is NoSuchKey, a delete marker named by id MethodNotAllowed (both
// with S3's x-amz-delete-marker headers).
func (b *Backend) openObject(bucket, key, versionID string) (*os.File, *objMeta, error) {
	if err := validateVersionTarget(bucket, key, versionID); err != nil {
		return nil, nil, err
	}
	if versionID != "" {
		f, m, err := b.openVersion(bucket, key, versionID)
		if err != nil {
			return nil, nil, err
		}
		if m.DeleteMarker {
			_ = f.Close()
			return nil, nil, markerNotAllowed(m)
		}
		return f, m, nil
	}
	kf := keyFilesOf(bucket, key)
	f, m, err := b.openMeta(kf.obj, key)
	if err != nil {
		return nil, nil, err
	}
	if f == nil {
		if err := b.bucketExists(bucket); err != nil {
			return nil, nil, err
		}
		marker, err := b.latestMarker(kf, key)
		if err != nil {
			return nil, nil, err
		}
		return nil, nil, noSuchKey(key, marker)
	}
	return f, m, nil
}

// objectInfo is the metadata GET/HEAD report for version m of bucket.
func (b *Backend) objectInfo(bucket string, m *objMeta) (storage.ObjectInfo, error) {
	info := m.info()
	if m.VersionID == "" {
		// Written unversioned: the null version once versioning was on.
		bm, err := b.meta(bucket)
		if err != nil {
			return info, err
		}
		info.VersionID = reportID(m, bm.Versioning)
	}
	return info, nil
}

// span returns the byte span GetObject/HeadObject serve for opts, and the
// Content-Range value ("" for the whole object).
func span(m *objMeta, opts storage.GetOptions) (start, length int64, contentRange string, err error) {
	switch {
	case opts.PartNumber != 0 && opts.Range != nil:
		return 0, 0, "", s3err.ErrInvalidRequest.WithMessage("Cannot specify both Range header and partNumber query parameter.")
	case opts.PartNumber != 0:
		if opts.PartNumber < 1 || opts.PartNumber > maxPartNumber {
			return 0, 0, "", s3err.ErrInvalidArgument.WithMessage("Part number must be an integer between 1 and 10000, inclusive.")
		}
		sizes := m.PartSizes
		if len(sizes) == 0 {
			sizes = []int64{m.Size} // a single-part object is its own part 1
		}
		if opts.PartNumber > len(sizes) {
			return 0, 0, "", s3err.ErrInvalidPartNumber
		}
		for _, s := range sizes[:opts.PartNumber-1] {
			start += s
		}
		length = sizes[opts.PartNumber-1]
		if length == 0 {
			return start, 0, "", nil // an empty part has no expressible range
		}
		return start, length, storage.ContentRange(start, length, m.Size), nil
	case opts.Range != nil:
		start, length, err = storage.ResolveRange(opts.Range, m.Size)
		if err != nil {
			return 0, 0, "", err
		}
		return start, length, storage.ContentRange(start, length, m.Size), nil
	}
	return 0, m.Size, "", nil
}

// GetObject opens an object, or a range or part of it, after evaluating the
// conditional headers.
func (b *Backend) GetObject(ctx context.Context, bucket, key string, opts storage.GetOptions) (*storage.Object, error) {
	f, m, err := b.openObject(bucket, key, opts.VersionID)
	if err != nil {
		return nil, err
	}
	info, err := b.objectInfo(bucket, m)
	if err != nil {
		_ = f.Close()
		return nil, err
	}
	if err := storage.CheckConditions(info, opts.Conditions); err != nil {
		_ = f.Close()
		return nil, err
	}
	start, length, cr, err := span(m, opts)
	if err != nil {
		_ = f.Close()
		return nil, err
	}
	body, err := newObjectBody(f, start, length, &b.bufs)
	if err != nil {
		_ = f.Close()
		return nil, err
	}
	return &storage.Object{Info: info, Body: body, ContentLength: length, ContentRange: cr}, nil
}

// HeadObject returns an object's metadata after evaluating the conditional
// headers; a Range or PartNumber is validated (InvalidRange,
// InvalidPartNumber) but the returned Size is the whole object's.
func (b *Backend) HeadObject(ctx context.Context, bucket, key string, opts storage.GetOptions) (*storage.ObjectInfo, error) {
	f, m, err := b.openObject(bucket, key, opts.VersionID)
	if err != nil {
		return nil, err
	}
	_ = f.Close()
	info, err := b.objectInfo(bucket, m)
	if err != nil {
		return nil, err
	}
	if err := storage.CheckConditions(info, opts.Conditions); err != nil {
		return nil, err
	}
	if _, _, _, err := span(m, opts); err != nil {
		return nil, err
	}
	return &info, nil
}

// decodeContentMD5 decodes a Content-MD5 header (nil when absent).
func decodeContentMD5(v string) ([]byte, error) {
	if v == "" {
		return nil, nil
	}
	sum, err := base64.StdEncoding.DecodeString(v)
	if err != nil || len(sum) != md5.Size {
		return nil, s3err.ErrInvalidDigest
	}
	return sum, nil
}

// copyHashed copies src (exactly size bytes, or to EOF when size < 0) to
// dst through a pooled buffer, feeding h. It returns the bytes copied.
func (b *Backend) copyHashed(ctx context.Context, dst io.Writer, h hash.Hash, src io.Reader, size int64) (int64, error) {
	bp := b.bufs.Get().(*[]byte)
	defer b.bufs.Put(bp)
	buf := *bp
	var n int64
	for size < 0 || n < size {
		if err := ctx.Err(); err != nil {
			return n, err
		}
		p := buf
		if size >= 0 && int64(len(p)) > size-n {
			p = p[:size-n]
		}
		m, rerr := src.Read(p)
		if m > 0 {
			_, _ = h.Write(p[:m])
			if _, err := dst.Write(p[:m]); err != nil {
				return n, fmt.Errorf("write staging file: %w", err)
			}
			n += int64(m)
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			if errors.Is(rerr, io.ErrUnexpectedEOF) {
				return n, s3err.ErrIncompleteBody.WithCause(rerr)
			}
			return n, fmt.Errorf("read body: %w", rerr)
		}
	}
	if size >= 0 && n != size {
		return n, s3err.ErrIncompleteBody
	}
	return n, nil
}

// receive streams body into a new staging file, verifying its length and
// Content-MD5. On success the file holds the data (no trailer yet) and the
// raw MD5 is returned; on failure nothing is left behind.
func (b *Backend) receive(ctx context.Context, body io.Reader, size int64, contentMD5 string) (*staged, int64, []byte, error) {
	want, err := decodeContentMD5(contentMD5)
	if err != nil {
		return nil, 0, nil, err
	}
	if body == nil {
		body = strings.NewReader("")
	}
	st, err := b.stage()
	if err != nil {
		return nil, 0, nil, err
	}
	h := md5.New()
	n, err := b.copyHashed(ctx, st.f, h, body, size)
	if err != nil {
		st.discard()
		return nil, 0, nil, err
	}
	sum := h.Sum(nil)
	if want != nil && !bytes.Equal(want, sum) {
		st.discard()
		return nil, 0, nil, s3err.ErrBadDigest
	}
	return st, n, sum, nil
}

func quoteETag(hexSum string) string { return "\"" + hexSum + "\"" }

// metaFromPut fills the stored headers of m from opts.
func metaFromPut(m *objMeta, opts storage.PutOptions) {
	m.ContentType = opts.ContentType
	if m.ContentType == "" {
		m.ContentType = defaultContentType
	}
	m.UserMetadata = maps.Clone(opts.UserMetadata)
	m.Headers = maps.Clone(opts.Headers)
}

// PutObject stores body as key. Nothing is stored unless the whole body
// arrives (and matches Content-MD5); the previous object stays intact.
func (b *Backend) PutObject(ctx context.Context, bucket, key string, body io.Reader, size int64, opts storage.PutOptions) (*storage.PutResult, error) {
	if err := b.writable(); err != nil {
		return nil, err
	}
	if err := validateBucket(bucket); err != nil {
		return nil, err
	}
	if err := validateKey(key); err != nil {
		return nil, err
	}
	if err := checkLockRequest(opts.Lock, b.now()); err != nil {
		return nil, err
	}
	if err := b.bucketExists(bucket); err != nil {
		return nil, err
	}
	st, n, sum, err := b.receive(ctx, body, size, opts.ContentMD5)
	if err != nil {
		return nil, err
	}
	defer st.discard()
	m := &objMeta{Key: key, Size: n, ETag: quoteETag(hex.EncodeToString(sum)), Modified: b.now().UTC()}
	metaFromPut(m, opts)
	vid, err := b.commit(bucket, key, st, m, commitOpts{ifMatch: opts.IfMatch, ifNoneMatch: opts.IfNoneMatch, lock: opts.Lock})
	if err != nil {
		return nil, err
	}
	return &storage.PutResult{ETag: m.ETag, VersionID: vid}, nil
}

// CopyObject copies src to dst within this backend. The ETag (and the
// part layout of a multipart source) is kept, as the data is the same.
func (b *Backend) CopyObject(ctx context.Context, src, dst storage.ObjectRef, opts storage.CopyOptions) (*storage.CopyResult, error) {
	if err := b.writable(); err != nil {
		return nil, err
	}
	if err := validateBucket(dst.Bucket); err != nil {
		return nil, err
	}
	if err := validateKey(dst.Key); err != nil {
		return nil, err
	}
	if err := checkLockRequest(opts.Put.Lock, b.now()); err != nil {
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
	if src.Bucket == dst.Bucket && src.Key == dst.Key && src.VersionID == "" && !opts.ReplaceMetadata {
		return nil, s3err.ErrInvalidRequest.WithMessage("This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.")
	}
	if err := b.bucketExists(dst.Bucket); err != nil {
		return nil, err
	}
	m := &objMeta{Key: dst.Key, Size: sm.Size, ETag: sm.ETag, Modified: b.now().UTC(), PartSizes: sm.PartSizes}
	if opts.ReplaceMetadata {
		metaFromPut(m, opts.Put)
	} else {
		m.ContentType, m.UserMetadata, m.Headers = sm.ContentType, sm.UserMetadata, sm.Headers
	}
	st, err := b.stage()
	if err != nil {
		return nil, err
	}
	defer st.discard()
	// File to file: the kernel copies (copy_file_range) without a buffer.
	n, err := io.Copy(st.f, &io.LimitedReader{R: f, N: sm.Size})
	if err != nil {
		return nil, fmt.Errorf("copy object data: %w", err)
	}
	if n != sm.Size {
		return nil, fmt.Errorf("copy object data: %w", errCorrupt)
	}
	vid, err := b.commit(dst.Bucket, dst.Key, st, m, commitOpts{ifMatch: opts.Put.IfMatch, ifNoneMatch: opts.Put.IfNoneMatch, lock: opts.Put.Lock})
	if err != nil {
		return nil, err
	}
	return &storage.CopyResult{ETag: m.ETag, LastModified: m.Modified, VersionID: vid, SourceVersionID: srcInfo.VersionID}, nil
}

// openCopySource opens the source of a copy: a delete marker named by
// version id is InvalidRequest there, as S3.
func (b *Backend) openCopySource(src storage.ObjectRef) (*os.File, *objMeta, error) {
	f, m, err := b.openObject(src.Bucket, src.Key, src.VersionID)
	if err != nil && errors.Is(err, s3err.ErrMethodNotAllowed) {
		return nil, nil, s3err.ErrInvalidRequest.WithMessage("The source of a copy request may not specifically refer to a delete marker by version id.")
	}
	return f, m, err
}
