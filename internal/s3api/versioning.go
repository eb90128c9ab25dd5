package s3api

import (
	"net/http"
	"strings"

	"github.com/dgp-proxy/dgp/internal/iam"
	"github.com/dgp-proxy/dgp/internal/s3err"
	"github.com/dgp-proxy/dgp/internal/storage"
)

// maxConfigBody bounds the small configuration bodies (versioning, object
// lock, retention, legal hold, ACL).
const maxConfigBody = 64 << 10

// setVersionID sets x-amz-version-id when the backend reported a version.
func setVersionID(h http.Header, id string) {
	if id != "" {
		h.Set("x-amz-version-id", id)
	}
}

// versionParam reads the versionId query parameter ("" = the current
// version). S3 refuses an empty one.
func versionParam(rq *request) (string, error) {
	v, ok := rq.q["versionId"]
	if !ok {
		return "", nil
	}
	if v[0] == "" {
		return "", s3err.ErrInvalidArgument.WithMessage("Version id cannot be the empty string")
	}
	return v[0], nil
}

// versionBackend reads the versionId query parameter, then resolves the
// request's bucket: what a request on one object version needs first.
func (s *Server) versionBackend(rq *request) (b storage.Backend, bucket, versionID string, err error) {
	vid, err := versionParam(rq)
	if err != nil {
		return nil, "", "", err
	}
	b, bucket, err = s.backend(rq.t.Bucket)
	if err != nil {
		return nil, "", "", err
	}
	return b, bucket, vid, nil
}

// bypassGovernance reads x-amz-bypass-governance-retention. Bypassing needs
// admin on the bucket in addition to the operation's own action.
func bypassGovernance(rq *request) (bool, error) {
	if !strings.EqualFold(strings.TrimSpace(rq.r.Header.Get("X-Amz-Bypass-Governance-Retention")), "true") {
		return false, nil
	}
	if !rq.allowed(iam.ActionAdmin, rq.t.Bucket, "") {
		return false, s3err.ErrAccessDenied
	}
	return true, nil
}

func (s *Server) getBucketVersioning(rq *request) error {
	b, name, err := s.backend(rq.t.Bucket)
	if err != nil {
		return err
	}
	st, err := b.GetBucketVersioning(rq.ctx, name)
	if err != nil {
		return err
	}
	return writeXML(rq, http.StatusOK, &versioningConfiguration{Status: string(st)})
}

// parseVersioning validates a PutBucketVersioning body as S3 does: Status
// Enabled or Suspended; MfaDelete Disabled (enabling it needs MFA, which
// dgp does not implement).
func parseVersioning(data []byte) (storage.VersioningStatus, error) {
	var req versioningRequest
	if err := decodeXML(data, &req); err != nil {
		return "", err
	}
	if req.MfaDelete != nil {
		switch strings.TrimSpace(*req.MfaDelete) {
		case "Disabled":
		case "Enabled":
			return "", s3err.ErrNotImplemented.WithMessage("MFA delete is not implemented by dgp.")
		default:
			return "", s3err.ErrMalformedXML
		}
	}
	if req.Status == nil {
		return "", s3err.ErrIllegalVersioningConfiguration.WithMessage("The Versioning element must be specified")
	}
	switch st := storage.VersioningStatus(strings.TrimSpace(*req.Status)); st {
	case storage.VersioningEnabled, storage.VersioningSuspended:
		return st, nil
	}
	return "", s3err.ErrMalformedXML
}

func (s *Server) putBucketVersioning(rq *request) error {
	data, err := readSmallBody(rq, maxConfigBody)
	if err != nil {
		return err
	}
	st, err := parseVersioning(data)
	if err != nil {
		return err
	}
	b, name, err := s.backend(rq.t.Bucket)
	if err != nil {
		return err
	}
	if err := b.PutBucketVersioning(rq.ctx, name, st); err != nil {
		return err
	}
	rq.w.WriteHeader(http.StatusOK)
	return nil
}

func (s *Server) listObjectVersions(rq *request) error {
	p, err := parseListParams(rq, "max-keys")
	if err != nil {
		return err
	}
	keyMarker, idMarker := rq.q.Get("key-marker"), rq.q.Get("version-id-marker")
	if err := checkPrefix("key-marker", keyMarker); err != nil {
		return err
	}
	if idMarker != "" && keyMarker == "" {
		return s3err.ErrInvalidArgument.WithMessage("A version-id marker cannot be specified without a key marker.")
	}
	res, err := fetchPage(s, rq, p.maxKeys, func(b storage.Backend, bucket string) (*storage.ListVersionsResult, error) {
		return b.ListObjectVersions(rq.ctx, bucket, storage.ListVersionsOptions{
			Prefix: p.prefix, Delimiter: p.delimiter, KeyMarker: keyMarker, VersionIDMarker: idMarker, MaxKeys: p.maxKeys,
		})
	})
	if err != nil {
		return err
	}
	out := p.versionsResult(rq.t.Bucket, keyMarker, idMarker, res, ownerOf(rq))
	return s.writeListing(rq, &out)
}

// versionsResult is the ListVersionsResult of the page res, listed from
// keyMarker and idMarker in bucket, each entry owned by owner.
func (p listParams) versionsResult(bucket, keyMarker, idMarker string, res *storage.ListVersionsResult, owner xmlOwner) listVersionsResult {
	out := listVersionsResult{
		Name: bucket, Prefix: p.enc(p.prefix), KeyMarker: p.enc(keyMarker), VersionIDMarker: idMarker,
		MaxKeys: p.maxKeys, Delimiter: p.enc(p.delimiter), IsTruncated: res.IsTruncated,
	}
	if res.IsTruncated {
		out.NextKeyMarker, out.NextVersionIDMarker = p.enc(res.NextKeyMarker), res.NextVersionIDMarker
	}
	vs := res.Versions
	out.Versions = make([]xmlVersion, len(vs))
	stamps := s3Times(vs)
	// The entries' Size points into one array: one allocation a page
	// instead of one a version.
	sizes := make([]int64, len(vs))
	for i := range vs {
		sizes[i] = vs[i].Size
		out.Versions[i] = p.version(&vs[i], owner, stamps.at(i), &sizes[i])
	}
	out.CommonPrefixes = p.prefixes(res.CommonPrefixes)
	out.EncodingType = p.encodingType()
	return out
}

// version renders one entry of a version listing, v's LastModified written
// as lastModified; a version (not a delete marker) gets size, which holds
// v.Size, as its Size.
func (p listParams) version(v *storage.ObjectInfo, owner xmlOwner, lastModified string, size *int64) xmlVersion {
	id := v.VersionID
	if id == "" {
		id = storage.NullVersion
	}
	x := xmlVersion{
		Key: p.enc(v.Key), VersionID: id, IsLatest: v.IsLatest,
		LastModified: lastModified, Owner: owner,
	}
	if v.DeleteMarker {
		x.XMLName.Local = "DeleteMarker"
		return x
	}
	x.XMLName.Local = "Version"
	x.ETag, x.Size, x.StorageClass = quoteETag(v.ETag), size, v.StorageClass
	if x.StorageClass == "" {
		x.StorageClass = "STANDARD"
	}
	return x
}
