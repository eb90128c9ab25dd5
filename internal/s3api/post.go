package s3api

import (
	"encoding/xml"
	"errors"
	"mime"
	"net/http"
	"net/url"
	"os"
	"strings"

	"github.com/dgp-proxy/dgp/internal/iam"
	"github.com/dgp-proxy/dgp/internal/s3err"
	"github.com/dgp-proxy/dgp/internal/storage"
)

// isPostObject reports whether a POST to a bucket is a browser-based upload
// (a multipart/form-data body).
func isPostObject(h http.Header) bool {
	mt, _, err := mime.ParseMediaType(h.Get("Content-Type"))
	return err == nil && strings.EqualFold(mt, "multipart/form-data")
}

// postObject serves POST Object: a browser-based upload whose form carries
// the key, the object's metadata, a POST policy and its signature (SigV4,
// or SigV2 for legacy clients), then the file. The fields before the file
// are read (bounded); the file is streamed to the backend. The policy
// must hold for the form and the principal must be allowed to write the
// key, as for PutObject.
func (s *Server) postObject(rq *request) error {
	_, params, err := mime.ParseMediaType(rq.r.Header.Get("Content-Type"))
	if err != nil || params["boundary"] == "" {
		return s3err.ErrMalformedPOSTRequest
	}
	mr, guard := newPostReader(rq.r.Body, &rq.bytesIn, params["boundary"])
	form, err := readPostForm(mr)
	if err != nil {
		return err
	}
	if form.file == nil {
		return s3err.ErrInvalidArgument.WithMessage("POST requires exactly one file upload per request.")
	}
	key, ok := form.get("key")
	if !ok {
		return missingPostField("key")
	}
	auth, err := s.authenticatePost(rq, form)
	if err != nil {
		return err
	}
	pol, err := decodePostPolicy(auth.policy)
	if err != nil {
		return err
	}
	key = strings.ReplaceAll(key, "${filename}", form.filename)
	rq.t.Key = key
	fields := &policyFields{form: form, bucket: rq.t.Bucket, key: key, exempt: auth.exempt}
	if err := pol.check(fields, s.now()); err != nil {
		return err
	}
	if err := checkKey(key); err != nil {
		return err
	}
	if !rq.allowed(iam.ActionWrite, rq.t.Bucket, key) {
		return s3err.ErrAccessDenied
	}
	opts, err := postPutOptions(form)
	if err != nil {
		return err
	}
	b, name, err := s.backend(rq.t.Bucket)
	if err != nil {
		return err
	}
	guard.limit = 0
	lo, hi := pol.lengthRange()
	body := &postFile{src: form.file, min: lo, max: hi}
	res, err := s.putPostFile(rq, b, name, key, body, opts)
	if f := body.failure(); f != nil {
		return f
	}
	if err != nil {
		return err
	}
	return s.postResponse(rq, form, key, res)
}

// missingPostField is S3's answer to a form without a required field.
func missingPostField(name string) *s3err.Error {
	return s3err.ErrInvalidArgument.WithMessage("Bucket POST must contain a field named '%s'.  If it is specified, please check the order of the fields.", name)
}

// putPostFile stores the file with an unknown size. A backend that needs
// the size up front (S3 needs Content-Length) refuses -1 with
// MissingContentLength before reading anything; the file is then spooled
// to a temporary file (bounded by the policy's maximum) and stored from
// there.
func (s *Server) putPostFile(rq *request, b storage.Backend, bucket, key string, body *postFile, opts storage.PutOptions) (*storage.PutResult, error) {
	res, err := b.PutObject(rq.ctx, bucket, key, body, -1, opts)
	if err == nil || body.touched || !errors.Is(err, s3err.ErrMissingContentLength) {
		return res, err
	}
	tmp, err := os.CreateTemp("", "dgp-post-*")
	if err != nil {
		return nil, s3err.ErrInternalError.WithCause(err)
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	n, err := s.bufs.copy(tmp, body)
	if err != nil {
		return nil, bodyError(err)
	}
	if _, err := tmp.Seek(0, 0); err != nil {
		return nil, s3err.ErrInternalError.WithCause(err)
	}
	return b.PutObject(rq.ctx, bucket, key, readOnly{tmp}, n, opts)
}

// postPutOptions reads what is stored with the object from the form:
// Content-Type, Cache-Control, Content-Disposition, Content-Encoding,
// Expires and x-amz-meta-* (names lower-cased). An acl field may only
// name the ACLs of a bucket-owner-enforced bucket.
func postPutOptions(form *postForm) (storage.PutOptions, error) {
	var o storage.PutOptions
	metaSize := 0
	for _, f := range form.fields {
		switch f.name {
		case "content-type":
			o.ContentType = f.value
		case "cache-control", "content-disposition", "content-encoding", "expires":
			if o.Headers == nil {
				o.Headers = make(map[string]string, 4)
			}
			o.Headers[http.CanonicalHeaderKey(f.name)] = f.value
		case "acl":
			if f.value != "private" && f.value != "bucket-owner-full-control" {
				return o, s3err.ErrAccessControlListNotSupported
			}
		default:
			switch {
			case strings.HasPrefix(f.name, "x-amz-meta-") && len(f.name) > len("x-amz-meta-"):
				if o.UserMetadata == nil {
					o.UserMetadata = make(map[string]string)
				}
				n := f.name[len("x-amz-meta-"):]
				o.UserMetadata[n] = f.value
				metaSize += len(n) + len(f.value)
			case strings.HasPrefix(f.name, "x-amz-server-side-encryption-customer-"):
				return o, s3err.ErrNotImplemented.WithMessage("Server-side encryption with customer keys is not supported.")
			}
		}
	}
	if metaSize > maxUserMetadata {
		return o, s3err.ErrInvalidArgument.WithMessage("Your metadata headers exceed the maximum allowed metadata size of %d bytes.", maxUserMetadata)
	}
	return o, nil
}

// postResult is the 201 answer of POST Object.
type postResult struct {
	XMLName  xml.Name `xml:"PostResponse"`
	Location string   `xml:"Location"`
	Bucket   string   `xml:"Bucket"`
	Key      string   `xml:"Key"`
	ETag     string   `xml:"ETag"`
}

// postResponse answers a stored upload as S3 does: a 303 to
// success_action_redirect (or redirect) with bucket, key and etag added to
// its query when that is an http(s) URL; else success_action_status 200,
// 201 (with a PostResponse document) or 204 (the default, and what any
// other value means). ETag, Location and x-amz-version-id headers are set.
func (s *Server) postResponse(rq *request, form *postForm, key string, res *storage.PutResult) error {
	etag := quoteETag(res.ETag)
	h := rq.w.Header()
	h.Set("ETag", etag)
	if res.VersionID != "" {
		h.Set("x-amz-version-id", res.VersionID)
	}
	redirect, ok := form.get("success_action_redirect")
	if !ok {
		redirect, _ = form.get("redirect")
	}
	if u, ok := redirectURL(redirect); ok {
		// Appended to the URL's own query, in S3's order.
		extra := "bucket=" + url.QueryEscape(rq.t.Bucket) + "&key=" + url.QueryEscape(key) + "&etag=" + url.QueryEscape(etag)
		if u.RawQuery != "" {
			extra = u.RawQuery + "&" + extra
		}
		u.RawQuery = extra
		h.Set("Location", u.String())
		rq.w.WriteHeader(http.StatusSeeOther)
		return nil
	}
	loc := postLocation(rq, key)
	h.Set("Location", loc)
	status, _ := form.get("success_action_status")
	switch status {
	case "200":
		rq.w.WriteHeader(http.StatusOK)
	case "201":
		return writeXML(rq, http.StatusCreated, &postResult{Location: loc, Bucket: rq.t.Bucket, Key: key, ETag: etag})
	default:
		rq.w.WriteHeader(http.StatusNoContent)
	}
	return nil
}

// redirectURL parses a success_action_redirect value: an absolute http or
// https URL, or nothing (S3 ignores a value it cannot use).
func redirectURL(v string) (*url.URL, bool) {
	if v == "" {
		return nil, false
	}
	u, err := url.Parse(v)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, false
	}
	return u, true
}

// postLocation is the new object's URL as the client addressed the
// bucket, with the key escaped whole ('/' as %2F) as S3 writes it.
func postLocation(rq *request, key string) string {
	scheme := "http"
	if rq.r.TLS != nil {
		scheme = "https"
	}
	path := "/" + url.PathEscape(key)
	if !rq.t.VirtualHost {
		path = "/" + rq.t.Bucket + path
	}
	return scheme + "://" + rq.r.Host + path
}
