package s3api

import (
	"errors"
	"fmt"
	"net/http"
	"runtime/debug"
	"strings"

	"golang.org/x/sync/errgroup"

	"github.com/dgp-proxy/dgp/internal/iam"
	"github.com/dgp-proxy/dgp/internal/s3err"
	"github.com/dgp-proxy/dgp/internal/storage"
)

// deleteConcurrency is how many keys of one DeleteObjects request are
// deleted at once.
const deleteConcurrency = 16

// hasIntegrityHeader reports whether a request carries what S3 requires on
// DeleteObjects: Content-MD5 or a flexible checksum (header or trailer).
// The value itself was verified by SigV4 while the body was read.
func hasIntegrityHeader(h http.Header) bool {
	if h.Get("Content-Md5") != "" || h.Get("X-Amz-Trailer") != "" || h.Get("X-Amz-Sdk-Checksum-Algorithm") != "" {
		return true
	}
	for k := range h {
		if strings.HasPrefix(k, "X-Amz-Checksum-") {
			return true
		}
	}
	return false
}

func (s *Server) deleteObjects(rq *request) error {
	if !hasIntegrityHeader(rq.r.Header) {
		return s3err.ErrInvalidRequest.WithMessage("Missing required header for this request: Content-MD5")
	}
	data, err := readSmallBody(rq, MaxXMLBodySize)
	if err != nil {
		return err
	}
	quiet, objs, err := parseDeleteObjects(data)
	if err != nil {
		return err
	}
	b, name, err := s.requireBucket(rq)
	if err != nil {
		return err
	}
	bypass, err := bypassGovernance(rq)
	if err != nil {
		return err
	}
	errs := make([]*s3err.Error, len(objs))
	results := make([]storage.DeleteResult, len(objs))
	for i, o := range objs {
		if err := checkKey(o.Key); err != nil {
			errs[i] = s3err.From(err)
		} else if !rq.allowed(iam.ActionDelete, rq.t.Bucket, o.Key) {
			errs[i] = s3err.ErrAccessDenied
		}
	}
	rest, err := s.deleteBatch(rq, b, name, objs, bypass, errs, results)
	if err != nil {
		return err
	}
	s.deleteEach(rq, b, name, objs, rest, bypass, errs, results)
	res := deleteResult{}
	for i, o := range objs {
		if e := errs[i]; e != nil {
			if e.Status >= 500 {
				s.log.Warn().Str("request_id", rq.id).Str("bucket", rq.t.Bucket).Str("key", o.Key).
					Str("error", e.Error()).Msg("delete object failed")
			}
			res.Errors = append(res.Errors, xmlDeleteError{Key: xmlText(o.Key), VersionID: o.VersionID, Code: e.Code, Message: e.Message})
			continue
		}
		if !quiet {
			res.Deleted = append(res.Deleted, deletedEntry(o, results[i]))
		}
	}
	return writeXML(rq, http.StatusOK, &res)
}

// deleteBatch deletes the objects without an error yet in one call when
// the backend deletes in batches (storage.BatchDeleter), filling errs and
// results. rest are the indices of the objects still to delete one by one:
// those the backend left out of its batch (storage.ErrNotBatched), or all
// of them when the backend has no batch delete (or answered
// NotImplemented). err fails the whole request.
func (s *Server) deleteBatch(rq *request, b storage.Backend, bucket string, objs []deleteObject, bypass bool, errs []*s3err.Error, results []storage.DeleteResult) (rest []int, err error) {
	var idx []int // objs' indices in the batch
	for i := range objs {
		if errs[i] == nil {
			idx = append(idx, i)
		}
	}
	bd, ok := b.(storage.BatchDeleter)
	if !ok || len(idx) == 0 {
		return idx, nil
	}
	batch := make([]storage.ObjectToDelete, len(idx))
	for j, i := range idx {
		batch[j] = storage.ObjectToDelete{Key: objs[i].Key, VersionID: objs[i].VersionID}
	}
	out, err := bd.DeleteObjects(rq.ctx, bucket, batch, bypass)
	if errors.Is(err, s3err.ErrNotImplemented) {
		return idx, nil
	}
	if err != nil {
		return nil, err
	}
	for j, i := range idx {
		switch e := out[j].Err; {
		case errors.Is(e, storage.ErrNotBatched):
			rest = append(rest, i)
		case e != nil:
			errs[i] = s3err.From(e)
		default:
			results[i] = out[j].Result
		}
	}
	return rest, nil
}

// deleteEach deletes the objects at indices idx one by one,
// deleteConcurrency at a time, filling errs and results.
func (s *Server) deleteEach(rq *request, b storage.Backend, name string, objs []deleteObject, idx []int, bypass bool, errs []*s3err.Error, results []storage.DeleteResult) {
	g, ctx := errgroup.WithContext(rq.ctx)
	g.SetLimit(deleteConcurrency)
	for _, i := range idx {
		o := objs[i]
		g.Go(func() error {
			defer func() {
				// A panic here would kill the process: the request's recover
				// cannot see this goroutine.
				if p := recover(); p != nil {
					s.log.Error().Str("request_id", rq.id).Str("panic", fmt.Sprint(p)).
						Bytes("stack", debug.Stack()).Msg("panic deleting object")
					errs[i] = s3err.ErrInternalError
				}
			}()
			res, err := b.DeleteObject(ctx, name, o.Key, storage.DeleteOptions{VersionID: o.VersionID, BypassGovernance: bypass})
			if err != nil {
				errs[i] = s3err.From(err)
			} else if res != nil {
				results[i] = *res
			}
			return nil
		})
	}
	_ = g.Wait()
}

// deletedEntry is the <Deleted> entry of one key, as S3 writes it: the
// version asked for, and the delete marker created or removed.
func deletedEntry(o deleteObject, r storage.DeleteResult) xmlDeleted {
	d := xmlDeleted{Key: xmlText(o.Key), VersionID: o.VersionID}
	if r.DeleteMarker {
		d.DeleteMarker, d.DeleteMarkerVersionID = true, r.VersionID
	}
	return d
}
