package s3api

import (
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
	g, ctx := errgroup.WithContext(rq.ctx)
	g.SetLimit(deleteConcurrency)
	for i, o := range objs {
		if err := checkKey(o.Key); err != nil {
			errs[i] = s3err.From(err)
			continue
		}
		if !rq.allowed(iam.ActionDelete, rq.t.Bucket, o.Key) {
			errs[i] = s3err.ErrAccessDenied
			continue
		}
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

// deletedEntry is the <Deleted> entry of one key, as S3 writes it: the
// version asked for, and the delete marker created or removed.
func deletedEntry(o deleteObject, r storage.DeleteResult) xmlDeleted {
	d := xmlDeleted{Key: xmlText(o.Key), VersionID: o.VersionID}
	if r.DeleteMarker {
		d.DeleteMarker, d.DeleteMarkerVersionID = true, r.VersionID
	}
	return d
}
