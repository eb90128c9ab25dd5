package fsbackend

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"io"
	"path"
	"strconv"

	"github.com/dgp-proxy/dgp/internal/s3err"
	"github.com/dgp-proxy/dgp/internal/storage"
)

// checkedPart is a listed part that exists with the ETag the client gave.
type checkedPart struct {
	number int
	size   int64
	md5    []byte
}

// checkParts validates a CompleteMultipartUpload part list against the
// stored parts: ascending numbers (InvalidPartOrder), each part present
// with the given ETag (InvalidPart), every part but the last at least
// 5 MiB (EntityTooSmall).
func (b *Backend) checkParts(dir string, parts []storage.CompletedPart) ([]checkedPart, error) {
	if len(parts) == 0 {
		return nil, s3err.ErrInvalidRequest.WithMessage("You must specify at least one part")
	}
	for i := 1; i < len(parts); i++ {
		if parts[i].PartNumber <= parts[i-1].PartNumber {
			return nil, s3err.ErrInvalidPartOrder
		}
	}
	out := make([]checkedPart, 0, len(parts))
	for _, p := range parts {
		invalid := s3err.ErrInvalidPart.WithResource(strconv.Itoa(p.PartNumber))
		if p.PartNumber < 1 || p.PartNumber > maxPartNumber {
			return nil, invalid
		}
		m, err := statObject(b.root, path.Join(dir, partName(p.PartNumber)), "")
		if err != nil {
			if isNotExist(err) {
				return nil, invalid
			}
			return nil, fmt.Errorf("read part %d: %w", p.PartNumber, err)
		}
		if storage.TrimETag(p.ETag) != storage.TrimETag(m.ETag) {
			return nil, invalid
		}
		sum, err := hex.DecodeString(storage.TrimETag(m.ETag))
		if err != nil || len(sum) != md5.Size {
			return nil, fmt.Errorf("part %d: %w", p.PartNumber, errCorrupt)
		}
		out = append(out, checkedPart{number: p.PartNumber, size: m.Size, md5: sum})
	}
	for _, p := range out[:len(out)-1] {
		if p.size < minPartSize {
			return nil, s3err.ErrEntityTooSmall.WithResource(strconv.Itoa(p.number))
		}
	}
	return out, nil
}

// CompleteMultipartUpload assembles the listed parts into the object
// (atomically: it appears whole or not at all) and removes the upload. The
// ETag is S3's: the MD5 of the concatenated part MD5s, "-", the part count.
func (b *Backend) CompleteMultipartUpload(ctx context.Context, bucket, key, uploadID string, parts []storage.CompletedPart) (*storage.PutResult, error) {
	if err := b.writable(); err != nil {
		return nil, err
	}
	if _, err := b.loadUpload(bucket, key, uploadID); err != nil {
		return nil, err
	}
	ul := b.uploadLock(uploadID)
	ul.Lock()
	defer ul.Unlock()
	// Reload under the lock: a concurrent Complete or Abort may have won.
	um, err := b.loadUpload(bucket, key, uploadID)
	if err != nil {
		return nil, err
	}
	dir := uploadDir(bucket, uploadID)
	checked, err := b.checkParts(dir, parts)
	if err != nil {
		return nil, err
	}

	st, err := b.stage()
	if err != nil {
		return nil, err
	}
	defer st.discard()
	etagHash := md5.New()
	sizes := make([]int64, len(checked))
	var total int64
	for i, p := range checked {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if err := b.appendPart(st, dir, p); err != nil {
			return nil, err
		}
		_, _ = etagHash.Write(p.md5)
		sizes[i] = p.size
		total += p.size
	}
	m := &objMeta{
		Key:          key,
		Size:         total,
		ETag:         quoteETag(hex.EncodeToString(etagHash.Sum(nil)) + "-" + strconv.Itoa(len(checked))),
		Modified:     b.now().UTC(),
		ContentType:  um.ContentType,
		UserMetadata: um.UserMetadata,
		Headers:      um.Headers,
		PartSizes:    sizes,
	}
	vid, err := b.commit(bucket, key, st, m, commitOpts{lock: um.Lock})
	if err != nil {
		return nil, err
	}
	if err := b.moveAside(dir); err != nil && !isNotExist(err) {
		return nil, fmt.Errorf("remove completed upload: %w", err)
	}
	return &storage.PutResult{ETag: m.ETag, VersionID: vid}, nil
}

// appendPart copies one part's data to the end of st. The part is
// re-checked after opening: a concurrent UploadPart may have replaced it.
func (b *Backend) appendPart(st *staged, dir string, p checkedPart) error {
	f, err := b.root.Open(path.Join(dir, partName(p.number)))
	if err != nil {
		if isNotExist(err) {
			return s3err.ErrInvalidPart.WithResource(strconv.Itoa(p.number))
		}
		return fmt.Errorf("open part %d: %w", p.number, err)
	}
	defer f.Close()
	m, err := readMeta(f)
	if err != nil {
		return fmt.Errorf("read part %d: %w", p.number, err)
	}
	if m.Size != p.size || storage.TrimETag(m.ETag) != hex.EncodeToString(p.md5) {
		return s3err.ErrInvalidPart.WithResource(strconv.Itoa(p.number))
	}
	// File to file: the kernel copies (copy_file_range) without a buffer.
	n, err := io.Copy(st.f, &io.LimitedReader{R: f, N: p.size})
	if err != nil {
		return fmt.Errorf("copy part %d: %w", p.number, err)
	}
	if n != p.size {
		return fmt.Errorf("copy part %d: %w", p.number, errCorrupt)
	}
	return nil
}
