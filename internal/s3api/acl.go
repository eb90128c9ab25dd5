package s3api

import (
	"net/http"
	"strings"

	"github.com/dgp-proxy/dgp/internal/s3err"
	"github.com/dgp-proxy/dgp/internal/storage"
)

// dgp answers ACL requests as S3 does for a bucket whose Object Ownership
// is BucketOwnerEnforced: ACLs are disabled (IAM rules decide), reads
// answer the owner with FULL_CONTROL, and writes are accepted only when
// they grant the owner FULL_CONTROL and nobody anything else.

// cannedACLs are the canned ACLs S3 knows; true marks those that grant
// only the owner (accepted with ACLs disabled).
func cannedACLs() map[string]bool {
	return map[string]bool{
		"private": true, "bucket-owner-full-control": true,
		"public-read": false, "public-read-write": false, "authenticated-read": false,
		"aws-exec-read": false, "bucket-owner-read": false, "log-delivery-write": false,
	}
}

// grantHeaders are the explicit-grant headers; none is accepted.
func grantHeaders() [5]string {
	return [5]string{"X-Amz-Grant-Full-Control", "X-Amz-Grant-Read", "X-Amz-Grant-Read-Acp", "X-Amz-Grant-Write", "X-Amz-Grant-Write-Acp"}
}

// checkCannedACL validates x-amz-acl and refuses grant headers; denied is
// the error for an ACL that grants more than the owner's full control.
func checkCannedACL(h http.Header, denied *s3err.Error) error {
	for _, g := range grantHeaders() {
		if h.Get(g) != "" {
			return denied
		}
	}
	v := h.Get("X-Amz-Acl")
	if v == "" {
		return nil
	}
	ownerOnly, known := cannedACLs()[v]
	switch {
	case !known:
		return s3err.ErrInvalidArgument.WithMessage("Invalid canned ACL: %s", v)
	case !ownerOnly:
		return denied
	}
	return nil
}

// checkObjectACL checks the ACL headers of an object write (PutObject,
// CopyObject, CreateMultipartUpload).
func checkObjectACL(h http.Header) error {
	return checkCannedACL(h, s3err.ErrAccessControlListNotSupported)
}

// checkBucketACL checks the ACL headers of CreateBucket (create) or
// PutBucketAcl, and CreateBucket's x-amz-object-ownership.
func checkBucketACL(h http.Header, create bool) error {
	if !create {
		return checkCannedACL(h, s3err.ErrAccessControlListNotSupported)
	}
	switch v := h.Get("X-Amz-Object-Ownership"); v {
	case "", "BucketOwnerEnforced":
	case "BucketOwnerPreferred", "ObjectWriter":
		return s3err.ErrNotImplemented.WithMessage("CreateBucket with x-amz-object-ownership %s is not implemented by dgp: ACLs are disabled.", v)
	default:
		return s3err.ErrInvalidArgument.WithMessage("Invalid x-amz-object-ownership header: %s", v)
	}
	return checkCannedACL(h, s3err.ErrInvalidBucketAclWithObjectOwnership)
}

// getACL answers GET ?acl (bucket or object) with the caller as owner
// holding FULL_CONTROL.
func (s *Server) getACL(rq *request) error {
	if _, _, err := s.aclTarget(rq); err != nil {
		return err
	}
	o := ownerOf(rq)
	acl := accessControlPolicy{Owner: o, Grants: []xmlGrant{{
		Grantee: xmlGrantee{
			XMLNSXSI: "http://www.w3.org/2001/XMLSchema-instance", Type: "CanonicalUser",
			ID: o.ID, DisplayName: o.DisplayName,
		},
		Permission: "FULL_CONTROL",
	}}}
	return writeXML(rq, http.StatusOK, &acl)
}

// aclTarget checks that the bucket (and the object version) an ACL request
// names exists.
func (s *Server) aclTarget(rq *request) (storage.Backend, string, error) {
	vid, err := versionParam(rq)
	if err != nil {
		return nil, "", err
	}
	if !rq.t.HasKey {
		return s.requireBucket(rq)
	}
	b, name, err := s.backend(rq.t.Bucket)
	if err != nil {
		return nil, "", err
	}
	if _, err := b.HeadObject(rq.ctx, name, rq.t.Key, storage.GetOptions{VersionID: vid}); err != nil {
		return nil, "", err
	}
	return b, name, nil
}

// putACL serves PutBucketAcl and PutObjectAcl: a canned ACL header or an
// AccessControlPolicy body granting only the owner FULL_CONTROL is
// accepted (and changes nothing); anything else is
// AccessControlListNotSupported.
func (s *Server) putACL(rq *request) error {
	data, err := readSmallBody(rq, maxConfigBody)
	if err != nil {
		return err
	}
	hasBody := len(strings.TrimSpace(string(data))) > 0
	h := rq.r.Header
	hasHeaders := h.Get("X-Amz-Acl") != ""
	for _, g := range grantHeaders() {
		hasHeaders = hasHeaders || h.Get(g) != ""
	}
	switch {
	case hasBody && hasHeaders:
		return s3err.ErrInvalidRequest.WithMessage("Specifying both Canned ACLs and Header Grants is not allowed")
	case hasHeaders:
		if err := checkCannedACL(h, s3err.ErrAccessControlListNotSupported); err != nil {
			return err
		}
	case hasBody:
		if err := checkACLBody(data, ownerOf(rq).ID); err != nil {
			return err
		}
	default:
		return s3err.ErrMissingSecurityHeader.WithMessage("Your request was missing a required header: x-amz-acl")
	}
	if _, _, err := s.aclTarget(rq); err != nil {
		return err
	}
	rq.w.WriteHeader(http.StatusOK)
	return nil
}

// checkACLBody accepts an AccessControlPolicy whose grants all give the
// owner (a CanonicalUser with ownerID) FULL_CONTROL.
func checkACLBody(data []byte, ownerID string) error {
	var req aclRequest
	if err := decodeXML(data, &req); err != nil {
		return err
	}
	if len(req.Grants) == 0 {
		return s3err.ErrAccessControlListNotSupported
	}
	for _, g := range req.Grants {
		if g.Grantee.Type != "CanonicalUser" || g.Grantee.ID != ownerID || g.Permission != "FULL_CONTROL" {
			return s3err.ErrAccessControlListNotSupported
		}
	}
	return nil
}
