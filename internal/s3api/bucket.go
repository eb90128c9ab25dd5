package s3api

import (
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/dgp-proxy/dgp/internal/iam"
	"github.com/dgp-proxy/dgp/internal/s3err"
	"github.com/dgp-proxy/dgp/internal/storage"
)

// maxCreateBucketBody bounds a CreateBucketConfiguration body.
const maxCreateBucketBody = 64 << 10

func ownerOf(rq *request) xmlOwner {
	n := rq.principal.Name()
	return xmlOwner{ID: n, DisplayName: n}
}

func (s *Server) regionName() string {
	if s.region == "" {
		return "us-east-1"
	}
	return s.region
}

// listBuckets answers ListBuckets: allowed when the principal may list the
// bucket list (Allowed(list, "", "")), filtered to the buckets it may see.
func (s *Server) listBuckets(rq *request) error {
	if !rq.allowed(iam.ActionList, "", "") {
		return s3err.ErrAccessDenied
	}
	visible := func(b string) bool { return rq.allowed(iam.ActionList, b, "") }
	if v, ok := rq.principal.(BucketVisibility); ok {
		visible = v.BucketVisible
	}
	all, err := s.buckets.ListBuckets(rq.ctx)
	if err != nil {
		return err
	}
	slices.SortFunc(all, func(a, b storage.BucketInfo) int { return strings.Compare(a.Name, b.Name) })
	res := listAllMyBucketsResult{Owner: ownerOf(rq)}
	res.Buckets.Bucket = make([]xmlBucket, 0, len(all))
	for _, b := range all {
		if !visible(b.Name) {
			continue
		}
		res.Buckets.Bucket = append(res.Buckets.Bucket, xmlBucket{Name: b.Name, CreationDate: s3Time(b.Created)})
	}
	return writeXML(rq, http.StatusOK, &res)
}

func (s *Server) createBucket(rq *request) error {
	data, err := readSmallBody(rq, maxCreateBucketBody)
	if err != nil {
		return err
	}
	if _, err := parseCreateBucketConfiguration(data); err != nil {
		return err
	}
	if err := checkBucketACL(rq.r.Header, true); err != nil {
		return err
	}
	opts := storage.CreateBucketOptions{
		ObjectLockEnabled: strings.EqualFold(strings.TrimSpace(rq.r.Header.Get("X-Amz-Bucket-Object-Lock-Enabled")), "true"),
	}
	b, name, err := s.backend(rq.t.Bucket)
	if err != nil {
		return err
	}
	if err := b.CreateBucket(rq.ctx, name, opts); err != nil {
		return err
	}
	rq.w.Header().Set("Location", "/"+rq.t.Bucket)
	rq.w.WriteHeader(http.StatusOK)
	return nil
}

func (s *Server) deleteBucket(rq *request) error {
	b, name, err := s.backend(rq.t.Bucket)
	if err != nil {
		return err
	}
	if err := b.DeleteBucket(rq.ctx, name); err != nil {
		return err
	}
	rq.w.WriteHeader(http.StatusNoContent)
	return nil
}

// requireBucket fails with the backend's error unless the bucket exists.
func (s *Server) requireBucket(rq *request) (storage.Backend, string, error) {
	b, name, err := s.backend(rq.t.Bucket)
	if err != nil {
		return nil, "", err
	}
	if err := b.HeadBucket(rq.ctx, name); err != nil {
		return nil, "", err
	}
	return b, name, nil
}

// fetchPage resolves the bucket of a listing and asks its backend for a
// page with list. A max-keys of 0 answers an empty, untruncated page without
// asking the backend for one, as S3 does, so the bucket's existence is
// checked here.
func fetchPage[R any](s *Server, rq *request, maxKeys int, list func(b storage.Backend, bucket string) (*R, error)) (*R, error) {
	if maxKeys == 0 {
		if _, _, err := s.requireBucket(rq); err != nil {
			return nil, err
		}
		return new(R), nil
	}
	b, name, err := s.backend(rq.t.Bucket)
	if err != nil {
		return nil, err
	}
	return list(b, name)
}

func (s *Server) headBucket(rq *request) error {
	if _, _, err := s.requireBucket(rq); err != nil {
		return err
	}
	rq.w.Header().Set("x-amz-bucket-region", s.regionName())
	rq.w.WriteHeader(http.StatusOK)
	return nil
}

func (s *Server) getBucketLocation(rq *request) error {
	if _, _, err := s.requireBucket(rq); err != nil {
		return err
	}
	loc := locationConstraint{}
	if r := s.regionName(); r != "us-east-1" {
		loc.Region = r
	}
	return writeXML(rq, http.StatusOK, &loc)
}

// listParams are the listing parameters shared by V1 and V2.
type listParams struct {
	prefix, delimiter string
	maxKeys           int
	urlEncode         bool
}

func parseListParams(rq *request, maxName string) (listParams, error) {
	q := rq.q
	p := listParams{prefix: q.Get("prefix"), delimiter: q.Get("delimiter"), maxKeys: MaxListKeys}
	if err := checkPrefix("prefix", p.prefix); err != nil {
		return p, err
	}
	if err := checkPrefix("delimiter", p.delimiter); err != nil {
		return p, err
	}
	if v, ok := q[maxName]; ok && v[0] != "" {
		n, err := strconv.Atoi(v[0])
		if err != nil || n < 0 {
			return p, s3err.ErrInvalidArgument.WithMessage("Provided %s not an integer or within integer range", maxName)
		}
		p.maxKeys = min(n, MaxListKeys)
	}
	switch q.Get("encoding-type") {
	case "":
	case "url":
		p.urlEncode = true
	default:
		return p, s3err.ErrInvalidArgument.WithMessage("Invalid Encoding Method specified in Request")
	}
	return p, nil
}

// enc applies encoding-type=url when requested.
func (p listParams) enc(v string) xmlText {
	if p.urlEncode {
		return xmlText(s3URLEncode(v))
	}
	return xmlText(v)
}

// encodingType is the EncodingType a listing answers: "url" when requested.
func (p listParams) encodingType() string {
	if p.urlEncode {
		return "url"
	}
	return ""
}

// prefixes renders the common prefixes of a listing.
func (p listParams) prefixes(cps []string) []xmlPrefix {
	out := make([]xmlPrefix, len(cps))
	for i, cp := range cps {
		out[i] = xmlPrefix{Prefix: p.enc(cp)}
	}
	return out
}

// s3URLEncode percent-encodes everything but unreserved characters and '/',
// and writes a space as '+', as S3 and MinIO do (form encoding: botocore
// decodes listings with unquote_plus; '+' itself is %2B).
func s3URLEncode(v string) string {
	const hexDigits = "0123456789ABCDEF"
	n := 0
	for i := 0; i < len(v); i++ {
		if !keepUnencoded(v[i]) {
			n++
		}
	}
	if n == 0 {
		return v
	}
	out := make([]byte, 0, len(v)+2*n)
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case keepUnencoded(c):
			out = append(out, c)
		case c == ' ':
			out = append(out, '+')
		default:
			out = append(out, '%', hexDigits[c>>4], hexDigits[c&15])
		}
	}
	return string(out)
}

func keepUnencoded(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '-' || c == '_' || c == '.' || c == '~' || c == '/'
}

// lastListed is the greatest key or common prefix of a page.
func lastListed(res *storage.ListResult) string {
	if res.NextMarker != "" {
		return res.NextMarker
	}
	var last string
	if n := len(res.Objects); n > 0 {
		last = res.Objects[n-1].Key
	}
	if n := len(res.CommonPrefixes); n > 0 && res.CommonPrefixes[n-1] > last {
		last = res.CommonPrefixes[n-1]
	}
	return last
}

func (s *Server) listPage(rq *request, p listParams, marker, token string) (*storage.ListResult, error) {
	return fetchPage(s, rq, p.maxKeys, func(b storage.Backend, bucket string) (*storage.ListResult, error) {
		return b.ListObjects(rq.ctx, bucket, storage.ListOptions{
			Prefix: p.prefix, Delimiter: p.delimiter, Marker: marker, MaxKeys: p.maxKeys, Token: token,
		})
	})
}

func (p listParams) contents(res *storage.ListResult, owner *xmlOwner) ([]xmlObject, []xmlPrefix) {
	objs := make([]xmlObject, len(res.Objects))
	stamps := s3Times(res.Objects)
	for i, o := range res.Objects {
		sc := o.StorageClass
		if sc == "" {
			sc = "STANDARD"
		}
		objs[i] = xmlObject{
			Key: p.enc(o.Key), LastModified: stamps.at(i), ETag: o.ETag,
			Size: o.Size, Owner: owner, StorageClass: sc,
		}
	}
	return objs, p.prefixes(res.CommonPrefixes)
}

func (s *Server) listObjectsV1(rq *request) error {
	p, err := parseListParams(rq, "max-keys")
	if err != nil {
		return err
	}
	marker := rq.q.Get("marker")
	if err := checkPrefix("marker", marker); err != nil {
		return err
	}
	res, err := s.listPage(rq, p, marker, "")
	if err != nil {
		return err
	}
	owner := ownerOf(rq)
	out := listBucketResultV1{
		Name: rq.t.Bucket, Prefix: p.enc(p.prefix), Marker: p.enc(marker), MaxKeys: p.maxKeys,
		Delimiter: p.enc(p.delimiter), IsTruncated: res.IsTruncated,
	}
	out.Contents, out.CommonPrefixes = p.contents(res, &owner)
	if res.IsTruncated && p.delimiter != "" {
		out.NextMarker = p.enc(lastListed(res))
	}
	out.EncodingType = p.encodingType()
	return s.writeListing(rq, &out)
}

func (s *Server) listObjectsV2(rq *request) error {
	p, err := parseListParams(rq, "max-keys")
	if err != nil {
		return err
	}
	token, hasToken := rq.q["continuation-token"]
	startAfter := rq.q.Get("start-after")
	if err := checkPrefix("start-after", startAfter); err != nil {
		return err
	}
	marker, backendToken := startAfter, ""
	if hasToken {
		var ok bool
		if marker, backendToken, ok = decodeContinuation(token[0]); !ok {
			return s3err.ErrInvalidArgument.WithMessage("The continuation token provided is incorrect")
		}
	}
	res, err := s.listPage(rq, p, marker, backendToken)
	if err != nil {
		return err
	}
	var owner *xmlOwner
	if rq.q.Get("fetch-owner") == "true" {
		o := ownerOf(rq)
		owner = &o
	}
	out := listBucketResultV2{
		Name: rq.t.Bucket, Prefix: p.enc(p.prefix), MaxKeys: p.maxKeys,
		Delimiter: p.enc(p.delimiter), IsTruncated: res.IsTruncated, StartAfter: p.enc(startAfter),
	}
	if hasToken {
		out.ContinuationToken = token[0]
	}
	out.Contents, out.CommonPrefixes = p.contents(res, owner)
	out.KeyCount = len(out.Contents) + len(out.CommonPrefixes)
	if res.IsTruncated {
		out.NextContinuationToken = encodeContinuation(lastListed(res), res.NextToken)
	}
	out.EncodingType = p.encodingType()
	return s.writeListing(rq, &out)
}

// getObjectTagging answers GET ?tagging on an object with an empty tag set:
// dgp stores no tags (PutObjectTagging is not implemented).
func (s *Server) getObjectTagging(rq *request) error {
	b, name, vid, err := s.versionBackend(rq)
	if err != nil {
		return err
	}
	if _, err := b.HeadObject(rq.ctx, name, rq.t.Key, storage.GetOptions{VersionID: vid}); err != nil {
		return err
	}
	return writeXML(rq, http.StatusOK, &tagging{})
}
