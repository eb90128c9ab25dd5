package jobs

import (
	"context"
	"fmt"
	"io"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/dgp-proxy/dgp/internal/lease"
	"github.com/dgp-proxy/dgp/internal/storage"
	"github.com/dgp-proxy/dgp/internal/storage/fsbackend"
)

// Large objects are copied in parts: from PartThreshold bytes on, a copy
// to an object store is a multipart upload whose parts (PartSize bytes,
// more when the object would need over maxParts) are streamed from ranged
// reads of the source, PartConcurrency at once. A single stream per object
// leaves the destination idle at the end of a batch of big objects (the
// last few copies run alone); parts keep it busy. Nothing is buffered: each
// part streams from its ranged read to its upload.
const (
	PartThreshold   = 32 << 20
	PartSize        = 16 << 20
	PartConcurrency = 4
	maxParts        = 10000
	// abortTimeout bounds the abort of a failed upload (its run may be
	// ending).
	abortTimeout = 30 * time.Second
)

// partSize returns the part size of an object of size bytes.
func partSize(size int64) int64 {
	ps := int64(PartSize)
	if n := (size + ps - 1) / ps; n > maxParts {
		ps = (size + maxParts - 1) / maxParts
	}
	return ps
}

// inParts says whether an object of size bytes goes to db in parts: big
// enough, and db an object store (a directory backend would write every
// byte twice, the parts then the whole).
func inParts(db storage.Backend, size int64) bool {
	if size < PartThreshold {
		return false
	}
	_, dir := db.(*fsbackend.Backend)
	return !dir
}

// copyParts copies the object obj (open on its first bytes: it serves the
// first part) in parts: parts after the first are ranged reads of the
// source under If-Match on obj's ETag, so that every part is of the same
// version; the upload is completed only under the fence, and aborted on
// any failure.
func (r *replication) copyParts(ctx context.Context, fence lease.Fence, sb storage.Backend, sbk string, db storage.Backend, dbk string, a action, obj *storage.Object) (int64, error) {
	size, in := obj.ContentLength, obj.Info
	if err := fence.Check(); err != nil {
		return 0, err
	}
	id, err := db.CreateMultipartUpload(ctx, dbk, a.dst, storage.PutOptions{
		ContentType: in.ContentType, UserMetadata: in.UserMetadata, Headers: in.Headers,
	})
	if err != nil {
		return 0, fmt.Errorf("create upload at destination: %w", err)
	}
	completed := false
	defer func() {
		if !completed {
			actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), abortTimeout)
			defer cancel()
			_ = db.AbortMultipartUpload(actx, dbk, a.dst, id)
		}
	}()
	ps := partSize(size)
	n := int((size + ps - 1) / ps)
	parts := make([]storage.CompletedPart, n)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(PartConcurrency)
	for i := range n {
		start := int64(i) * ps
		length := min(ps, size-start)
		g.Go(func() error {
			var body io.Reader
			if i == 0 {
				body = io.LimitReader(obj.Body, length)
			} else {
				part, err := sb.GetObject(gctx, sbk, a.src, storage.GetOptions{
					Range:      &storage.Range{Start: start, End: start + length - 1},
					Conditions: storage.Conditions{IfMatch: in.ETag},
				})
				if err != nil {
					return fmt.Errorf("read source part %d: %w", i+1, err)
				}
				defer part.Body.Close()
				if part.ContentLength != length {
					return fmt.Errorf("read source part %d: %d bytes, want %d", i+1, part.ContentLength, length)
				}
				body = part.Body
			}
			res, err := db.UploadPart(gctx, dbk, a.dst, id, i+1, body, length, storage.PartOptions{})
			if err != nil {
				return fmt.Errorf("upload part %d: %w", i+1, err)
			}
			parts[i] = storage.CompletedPart{PartNumber: i + 1, ETag: res.ETag}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return 0, err
	}
	if err := fence.Check(); err != nil {
		return 0, err
	}
	if _, err := db.CompleteMultipartUpload(ctx, dbk, a.dst, id, parts); err != nil {
		return 0, fmt.Errorf("complete upload at destination: %w", err)
	}
	completed = true
	return size, nil
}
