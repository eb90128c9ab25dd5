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
	"path"
	"strings"

	"github.com/dgp-proxy/dgp/internal/s3err"
	"github.com/dgp-proxy/dgp/internal/storage"
)

// defaultContentType is what S3 stores when a client sends none.
const defaultContentType = "binary/octet-stream"

// objectPath returns the object file of key and its directory, relative
// to the root.
func objectPath(bucket, key string) (dir, file string) {
	names := keyPath(key)
	dir = path.Join(append([]string{bucket}, names[:len(names)-1]...)...)
	return dir, dir + "/" + names[len(names)-1]
}

// openObject opens an object file and reads its metadata.
func (b *Backend) openObject(bucket, key string) (*os.File, *objMeta, error) {
	if err := validateBucket(bucket); err != nil {
		return nil, nil, err
	}
	if err := validateKey(key); err != nil {
		return nil, nil, err
	}
	_, file := objectPath(bucket, key)
	f, err := b.root.Open(file)
	if err != nil {
		if isNotExist(err) {
			if err := b.bucketExists(bucket); err != nil {
				return nil, nil, err
			}
			return nil, nil, s3err.ErrNoSuchKey.WithResource(key)
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
	f, m, err := b.openObject(bucket, key)
	if err != nil {
		return nil, err
	}
	info := m.info()
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
	f, m, err := b.openObject(bucket, key)
	if err != nil {
		return nil, err
	}
	_ = f.Close()
	info := m.info()
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
	if err := validateBucket(bucket); err != nil {
		return nil, err
	}
	if err := validateKey(key); err != nil {
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
	if err := writeTrailer(st.f, m); err != nil {
		return nil, err
	}
	if err := st.finish(); err != nil {
		return nil, err
	}
	if err := b.commit(bucket, key, st.name, opts.IfMatch, opts.IfNoneMatch); err != nil {
		return nil, err
	}
	st.committed()
	return &storage.PutResult{ETag: m.ETag}, nil
}

// currentETag returns the ETag of key, or "" when there is no such object.
func (b *Backend) currentETag(file string) (string, error) {
	f, err := b.root.Open(file)
	if err != nil {
		if isNotExist(err) {
			return "", nil
		}
		return "", fmt.Errorf("open object: %w", err)
	}
	defer f.Close()
	m, err := readMeta(f)
	if err != nil {
		return "", err
	}
	return m.ETag, nil
}

// commit renames a finished staging file to key's object file, after
// checking the write conditions, atomically with respect to other writes
// of the key in this process. If-None-Match "*" fails on any existing
// object, an ETag list on a matching one; If-Match fails on a mismatch and
// with NoSuchKey on a missing object (S3's conditional writes).
func (b *Backend) commit(bucket, key, stagedName, ifMatch, ifNoneMatch string) error {
	bl := b.bucketLock(bucket)
	bl.RLock()
	defer bl.RUnlock()
	if err := b.bucketExists(bucket); err != nil {
		return err
	}
	kl := b.keyLock(bucket, key)
	kl.Lock()
	defer kl.Unlock()

	dir, file := objectPath(bucket, key)
	if ifMatch != "" || ifNoneMatch != "" {
		cur, err := b.currentETag(file)
		if err != nil {
			return err
		}
		if ifNoneMatch != "" && cur != "" && storage.ETagListMatches(ifNoneMatch, cur, true) {
			return s3err.ErrPreconditionFailed
		}
		if ifMatch != "" {
			if cur == "" {
				return s3err.ErrNoSuchKey.WithResource(key)
			}
			if !storage.ETagListMatches(ifMatch, cur, false) {
				return s3err.ErrPreconditionFailed
			}
		}
	}
	for attempt := 1; ; attempt++ {
		// A concurrent delete may remove a directory it emptied while
		// MkdirAll or Rename runs: then create it again.
		err := b.mkdirAll(dir)
		if err == nil {
			err = b.root.Rename(stagedName, file)
			if err == nil {
				break
			}
		}
		if !isNotExist(err) || attempt == commitAttempts {
			return fmt.Errorf("commit object: %w", err)
		}
	}
	if err := b.syncDir(dir); err != nil {
		return fmt.Errorf("sync object directory: %w", err)
	}
	return nil
}

// DeleteObject removes key; a missing key is not an error. Directories
// left empty are removed.
func (b *Backend) DeleteObject(ctx context.Context, bucket, key string, opts storage.DeleteOptions) (*storage.DeleteResult, error) {
	return &storage.DeleteResult{}, b.deleteObject(bucket, key)
}

func (b *Backend) deleteObject(bucket, key string) error {
	if err := validateBucket(bucket); err != nil {
		return err
	}
	if err := validateKey(key); err != nil {
		return err
	}
	bl := b.bucketLock(bucket)
	bl.RLock()
	defer bl.RUnlock()
	if err := b.bucketExists(bucket); err != nil {
		return err
	}
	kl := b.keyLock(bucket, key)
	kl.Lock()
	defer kl.Unlock()
	dir, file := objectPath(bucket, key)
	if err := b.root.Remove(file); err != nil {
		if isNotExist(err) {
			return nil
		}
		return fmt.Errorf("delete object: %w", err)
	}
	b.pruneDirs(bucket, dir)
	return nil
}

// pruneDirs removes dir and its ancestors below the bucket while they are
// empty. Failures (a directory that is not empty) just stop it.
func (b *Backend) pruneDirs(bucket, dir string) {
	for dir != bucket && strings.HasPrefix(dir, bucket+"/") {
		if err := b.root.Remove(dir); err != nil {
			return
		}
		dir = path.Dir(dir)
	}
}

// CopyObject copies src to dst within this backend. The ETag (and the
// part layout of a multipart source) is kept, as the data is the same.
func (b *Backend) CopyObject(ctx context.Context, src, dst storage.ObjectRef, opts storage.CopyOptions) (*storage.CopyResult, error) {
	if err := validateBucket(dst.Bucket); err != nil {
		return nil, err
	}
	if err := validateKey(dst.Key); err != nil {
		return nil, err
	}
	f, sm, err := b.openObject(src.Bucket, src.Key)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if err := storage.CheckCopySourceConditions(sm.info(), opts.Conditions); err != nil {
		return nil, err
	}
	if src == dst && !opts.ReplaceMetadata {
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
	if err := writeTrailer(st.f, m); err != nil {
		return nil, err
	}
	if err := st.finish(); err != nil {
		return nil, err
	}
	if err := b.commit(dst.Bucket, dst.Key, st.name, opts.Put.IfMatch, opts.Put.IfNoneMatch); err != nil {
		return nil, err
	}
	st.committed()
	return &storage.CopyResult{ETag: m.ETag, LastModified: m.Modified}, nil
}
