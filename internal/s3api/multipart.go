package s3api

import (
	"net/http"
	"net/url"
	"strconv"

	"github.com/dgp-proxy/dgp/internal/s3err"
	"github.com/dgp-proxy/dgp/internal/storage"
)

func (s *Server) createMultipartUpload(rq *request) error {
	opts, err := putOptions(rq.r.Header)
	if err != nil {
		return err
	}
	opts.ContentMD5 = ""
	if err := checkObjectACL(rq.r.Header); err != nil {
		return err
	}
	if opts.Lock, err = s.lockHeaders(rq.r.Header); err != nil {
		return err
	}
	b, name, err := s.backend(rq.t.Bucket)
	if err != nil {
		return err
	}
	id, err := b.CreateMultipartUpload(rq.ctx, name, rq.t.Key, opts)
	if err != nil {
		return err
	}
	return writeXML(rq, http.StatusOK, &initiateMultipartUploadResult{Bucket: rq.t.Bucket, Key: xmlText(rq.t.Key), UploadID: id})
}

// uploadTarget reads uploadId (required) from the query.
func uploadTarget(rq *request) (string, error) {
	id := rq.q.Get("uploadId")
	if id == "" {
		return "", s3err.ErrNoSuchUpload
	}
	return id, nil
}

func (s *Server) uploadPart(rq *request) error {
	id, err := uploadTarget(rq)
	if err != nil {
		return err
	}
	pn, err := parsePartNumber(rq.q.Get("partNumber"))
	if err != nil {
		return err
	}
	size := rq.res.ContentLength
	if size < 0 {
		return s3err.ErrMissingContentLength
	}
	if size > MaxPutSize {
		return s3err.ErrEntityTooLarge
	}
	b, name, err := s.backend(rq.t.Bucket)
	if err != nil {
		return err
	}
	body := rq.uploadBody(size, s.bufs)
	res, err := b.UploadPart(rq.ctx, name, rq.t.Key, id, pn, body, size,
		storage.PartOptions{ContentMD5: rq.r.Header.Get("Content-Md5")})
	if f := body.failure(); f != nil {
		return f
	}
	if err != nil {
		return err
	}
	rq.w.Header()["Etag"] = []string{quoteETag(res.ETag)} // Set's canonical key, not re-canonicalised
	rq.w.WriteHeader(http.StatusOK)
	return nil
}

func (s *Server) completeMultipartUpload(rq *request) error {
	id, err := uploadTarget(rq)
	if err != nil {
		return err
	}
	data, err := readSmallBody(rq, MaxXMLBodySize)
	if err != nil {
		return err
	}
	parts, err := parseCompleteMultipartUpload(data)
	if err != nil {
		return err
	}
	b, name, err := s.backend(rq.t.Bucket)
	if err != nil {
		return err
	}
	res, err := b.CompleteMultipartUpload(rq.ctx, name, rq.t.Key, id, parts)
	if err != nil {
		return err
	}
	setVersionID(rq.w.Header(), res.VersionID)
	return writeXML(rq, http.StatusOK, &completeMultipartUploadResult{
		Location: s.location(rq), Bucket: rq.t.Bucket, Key: xmlText(rq.t.Key), ETag: quoteETag(res.ETag),
	})
}

// location is the URL of the request's object, as the client addressed it.
func (s *Server) location(rq *request) string {
	scheme := "http"
	if rq.r.TLS != nil {
		scheme = "https"
	}
	u := url.URL{Scheme: scheme, Host: rq.r.Host, Path: "/" + rq.t.Key}
	if !rq.t.VirtualHost {
		u.Path = "/" + rq.t.Bucket + "/" + rq.t.Key
	}
	return u.String()
}

func (s *Server) abortMultipartUpload(rq *request) error {
	id, err := uploadTarget(rq)
	if err != nil {
		return err
	}
	b, name, err := s.backend(rq.t.Bucket)
	if err != nil {
		return err
	}
	if err := b.AbortMultipartUpload(rq.ctx, name, rq.t.Key, id); err != nil {
		return err
	}
	rq.w.WriteHeader(http.StatusNoContent)
	return nil
}

// intParam reads a non-negative integer query parameter (def when absent).
func intParam(rq *request, name string, def int) (int, error) {
	v, ok := rq.q[name]
	if !ok || v[0] == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v[0])
	if err != nil || n < 0 {
		return 0, s3err.ErrInvalidArgument.WithMessage("Provided %s not an integer or within integer range", name)
	}
	return n, nil
}

func (s *Server) listParts(rq *request) error {
	id, err := uploadTarget(rq)
	if err != nil {
		return err
	}
	maxParts, err := intParam(rq, "max-parts", MaxListKeys)
	if err != nil {
		return err
	}
	maxParts = min(maxParts, MaxListKeys)
	marker, err := intParam(rq, "part-number-marker", 0)
	if err != nil {
		return err
	}
	b, name, err := s.backend(rq.t.Bucket)
	if err != nil {
		return err
	}
	res, err := b.ListParts(rq.ctx, name, rq.t.Key, id, storage.ListPartsOptions{PartNumberMarker: marker, MaxParts: maxParts})
	if err != nil {
		return err
	}
	o := ownerOf(rq)
	out := listPartsResult{
		Bucket: rq.t.Bucket, Key: xmlText(rq.t.Key), UploadID: id, Initiator: o, Owner: o, StorageClass: "STANDARD",
		PartNumberMarker: marker, NextPartNumberMarker: res.NextPartNumberMarker, MaxParts: maxParts,
		IsTruncated: res.IsTruncated,
	}
	out.Parts = make([]xmlPart, len(res.Parts))
	for i, p := range res.Parts {
		out.Parts[i] = xmlPart{PartNumber: p.PartNumber, LastModified: s3Time(p.LastModified), ETag: quoteETag(p.ETag), Size: p.Size}
	}
	if !res.IsTruncated && len(res.Parts) > 0 {
		out.NextPartNumberMarker = res.Parts[len(res.Parts)-1].PartNumber
	}
	return writeXML(rq, http.StatusOK, &out)
}

func (s *Server) listMultipartUploads(rq *request) error {
	p, err := parseListParams(rq, "max-uploads")
	if err != nil {
		return err
	}
	keyMarker, idMarker := rq.q.Get("key-marker"), rq.q.Get("upload-id-marker")
	if err := checkPrefix("key-marker", keyMarker); err != nil {
		return err
	}
	res, err := fetchPage(s, rq, p.maxKeys, func(b storage.Backend, bucket string) (*storage.ListUploadsResult, error) {
		return b.ListMultipartUploads(rq.ctx, bucket, storage.ListUploadsOptions{
			Prefix: p.prefix, Delimiter: p.delimiter, KeyMarker: keyMarker, UploadIDMarker: idMarker, MaxUploads: p.maxKeys,
		})
	})
	if err != nil {
		return err
	}
	o := ownerOf(rq)
	out := listMultipartUploadsResult{
		Bucket: rq.t.Bucket, KeyMarker: p.enc(keyMarker), UploadIDMarker: idMarker,
		NextKeyMarker: p.enc(res.NextKeyMarker), NextUploadIDMarker: res.NextUploadIDMarker,
		Delimiter: p.enc(p.delimiter), Prefix: p.enc(p.prefix), MaxUploads: p.maxKeys, IsTruncated: res.IsTruncated,
	}
	out.Uploads = make([]xmlUpload, len(res.Uploads))
	for i, u := range res.Uploads {
		out.Uploads[i] = xmlUpload{Key: p.enc(u.Key), UploadID: u.UploadID, Initiator: o, Owner: o,
			StorageClass: "STANDARD", Initiated: s3Time(u.Initiated)}
	}
	out.CommonPrefixes = p.prefixes(res.CommonPrefixes)
	out.EncodingType = p.encodingType()
	return writeXML(rq, http.StatusOK, &out)
}
