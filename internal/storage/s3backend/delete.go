package s3backend

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/xml"
	"io"
	"net/http"

	"github.com/dgp-proxy/dgp/internal/s3err"
	"github.com/dgp-proxy/dgp/internal/storage"
)

// maxBatchDelete is S3's limit of keys in one DeleteObjects request.
const maxBatchDelete = 1000

// maxDeleteAnswer bounds a DeleteObjects answer (1,000 entries with
// 1 KiB keys escaped, version ids and messages stay well below).
const maxDeleteAnswer = 16 << 20

var _ storage.BatchDeleter = (*Backend)(nil)

// DeleteObjects deletes the plain deletes of objs (no version named) with
// DeleteObjects requests of up to 1,000 keys, sent on the fast path (not
// quiet: every object's outcome is read from the answer). An object named
// twice and answered once has that answer twice; one the answer does not
// mention is an InternalError of its own. A failed request fails the
// call. Without the fast path (or for a bucket it does not reach), and
// from a backend that answers NotImplemented, the error is
// ErrNotImplemented: the caller deletes key by key.
//
// Two kinds of object are left to the caller (storage.ErrNotBatched), to
// delete with DeleteObject: one naming a version (MinIO's DeleteObjects
// answer does not say whether the version removed was a delete marker,
// which S3's does and DeleteObject's answer does), and a key XML cannot
// carry as it is (control characters but tab, newline and carriage
// return).
func (b *Backend) DeleteObjects(ctx context.Context, bucket string, objs []storage.ObjectToDelete, bypassGovernance bool) ([]storage.DeleteOutcome, error) {
	var t *target
	if b.fast != nil {
		t = b.fast.targetFor(ctx, bucket)
	}
	if t == nil {
		return nil, s3err.ErrNotImplemented
	}
	out := make([]storage.DeleteOutcome, len(objs))
	var idx []int // objs' indices in the batch being filled
	batch := make([]storage.ObjectToDelete, 0, min(len(objs), maxBatchDelete))
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		res := make([]storage.DeleteOutcome, len(batch))
		if err := b.deleteBatch(ctx, t, batch, bypassGovernance, res); err != nil {
			return err
		}
		for j, i := range idx {
			out[i] = res[j]
		}
		idx, batch = idx[:0], batch[:0]
		return nil
	}
	for i, o := range objs {
		if o.VersionID != "" || !xmlSafeKey(o.Key) {
			out[i].Err = storage.ErrNotBatched
			continue
		}
		idx = append(idx, i)
		batch = append(batch, o)
		if len(batch) == maxBatchDelete {
			if err := flush(); err != nil {
				return nil, err
			}
		}
	}
	if err := flush(); err != nil {
		return nil, err
	}
	return out, nil
}

// xmlSafeKey reports whether key comes back unchanged from a trip through
// XML: no control characters but tab, newline and carriage return
// (encoding/xml writes those as character references; XML 1.0 cannot
// carry the others, for which it would write U+FFFD).
func xmlSafeKey(key string) bool {
	for i := 0; i < len(key); i++ {
		if c := key[i]; c < 0x20 && c != '\t' && c != '\n' && c != '\r' {
			return false
		}
	}
	return true
}

// The DeleteObjects request and answer bodies.
type (
	deleteRequest struct {
		XMLName xml.Name          `xml:"http://s3.amazonaws.com/doc/2006-03-01/ Delete"`
		Objects []deleteObjectXML `xml:"Object"`
		Quiet   bool              `xml:"Quiet"`
	}
	deleteObjectXML struct {
		Key       string `xml:"Key"`
		VersionID string `xml:"VersionId,omitempty"`
	}
	deleteAnswer struct {
		Deleted []struct {
			Key                   string `xml:"Key"`
			VersionID             string `xml:"VersionId"`
			DeleteMarker          bool   `xml:"DeleteMarker"`
			DeleteMarkerVersionID string `xml:"DeleteMarkerVersionId"`
		} `xml:"Deleted"`
		Errors []struct {
			Key       string `xml:"Key"`
			VersionID string `xml:"VersionId"`
			Code      string `xml:"Code"`
			Message   string `xml:"Message"`
		} `xml:"Error"`
	}
)

// deleteBatch sends one DeleteObjects request for objs and fills out
// (indexed as objs).
func (b *Backend) deleteBatch(ctx context.Context, t *target, objs []storage.ObjectToDelete, bypass bool, out []storage.DeleteOutcome) error {
	body := deleteRequest{Objects: make([]deleteObjectXML, len(objs))}
	for i, o := range objs {
		body.Objects[i] = deleteObjectXML{Key: o.Key, VersionID: o.VersionID}
	}
	data, err := xml.Marshal(&body)
	if err != nil {
		return err
	}
	req, err := newBucketRequest(ctx, http.MethodPost, t, "delete=", bytes.NewReader(data))
	if err != nil {
		return err
	}
	sum := md5.Sum(data) // S3 requires Content-MD5 (or a checksum) on DeleteObjects
	req.Header.Set("Content-Md5", base64.StdEncoding.EncodeToString(sum[:]))
	req.Header.Set("Content-Type", "application/xml")
	req.Header.Set("Accept-Encoding", "identity")
	if bypass {
		req.Header.Set("X-Amz-Bypass-Governance-Retention", "true")
	}
	hash := sha256.Sum256(data)
	resp, err := b.fast.send(req, t, hex.EncodeToString(hash[:]))
	if err != nil {
		return translate(err, kindBucket)
	}
	if resp.StatusCode < 200 || resp.StatusCode >= 300 {
		return responseError(resp, kindBucket)
	}
	defer resp.Body.Close()
	var ans deleteAnswer
	if err := xml.NewDecoder(io.LimitReader(resp.Body, maxDeleteAnswer)).Decode(&ans); err != nil {
		return unreadable(resp, kindBucket, err)
	}

	// pending finds the request's entries an answer's entry is about, by
	// key and version; a key named twice may be answered twice, in order.
	pending := make(map[storage.ObjectToDelete][]int, len(objs))
	for i, o := range objs {
		pending[o] = append(pending[o], i)
	}
	done := make([]bool, len(objs))
	first := make(map[storage.ObjectToDelete]int, len(objs)) // the first answered entry of each object
	take := func(key, versionID string) (int, bool) {
		o := storage.ObjectToDelete{Key: key, VersionID: versionID}
		idx := pending[o]
		if len(idx) == 0 {
			return 0, false
		}
		pending[o] = idx[1:]
		done[idx[0]] = true
		if _, ok := first[o]; !ok {
			first[o] = idx[0]
		}
		return idx[0], true
	}
	for _, d := range ans.Deleted {
		i, ok := take(d.Key, d.VersionID)
		if !ok {
			continue
		}
		r := storage.DeleteResult{VersionID: d.VersionID, DeleteMarker: d.DeleteMarker}
		if r.DeleteMarker && d.DeleteMarkerVersionID != "" {
			// The marker created (a plain delete) or removed (its
			// version named), as DeleteObject reports it.
			r.VersionID = d.DeleteMarkerVersionID
		}
		out[i].Result = r
	}
	for _, e := range ans.Errors {
		i, ok := take(e.Key, e.VersionID)
		if !ok {
			continue
		}
		out[i].Err = translateAnswer(0, e.Code, e.Message, objectKind(e.VersionID), nil)
	}
	// An object named twice may be answered once (MinIO does): the
	// second is the same delete, with the same outcome.
	for i, o := range objs {
		if done[i] {
			continue
		}
		if j, ok := first[o]; ok {
			out[i] = out[j]
			continue
		}
		out[i].Err = s3err.ErrInternalError.WithMessage("%s", "The storage backend's answer did not mention the object.")
	}
	return nil
}
