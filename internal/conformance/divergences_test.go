//go:build integration

package conformance

import "strings"

// divergence is one field where MinIO is known to answer differently from
// AWS S3. dgp follows AWS there: compareAnswers checks dgp's value against
// AWS instead of MinIO's, and logs (without failing) when MinIO no longer
// answers as recorded, so the list cannot go stale silently.
type divergence struct {
	// Step is "scenario/step", or "*" for every step. Field is "status", "code", "header:<Name>",
	// "body:<Path>" (all lines under that path, list indexes removed, each
	// written as its rest: "=value" or "/Sub=value", sorted, joined by
	// newlines), or "answer": the whole answer differs (an error on one
	// side), compared as "<status> <code>" and nothing else.
	Step, Field string
	// Targets limits the entry to these dgp targets ("dgp-dir/http",
	// "dgp-minio/http"); empty means both.
	Targets []string
	// AWS is what AWS answers, so dgp must; MinIO what MinIO answers (each
	// a regexp with the prefix "re:").
	AWS, MinIO string
	// Why says what AWS does, and Doc cites where AWS documents it.
	Why, Doc string
}

func divergencesFor(step, tgName string) []divergence {
	var out []divergence
	for _, d := range knownDivergences() {
		if d.Step != step && d.Step != "*" {
			continue
		}
		if len(d.Targets) > 0 && !contains(d.Targets, tgName) {
			continue
		}
		out = append(out, d)
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

// AWS documentation cited by the divergences.
const (
	docOwnershipErrors  = "https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-ownership-error-responses.html"
	docGetBucketACL     = "https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetBucketAcl.html"
	docCopyObject       = "https://docs.aws.amazon.com/AmazonS3/latest/API/API_CopyObject.html"
	docListVersions     = "https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjectVersions.html"
	docListObjects      = "https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjects.html"
	docListUploads      = "https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListMultipartUploads.html"
	docErrorCodes       = "https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html#ErrorCodeList"
	docObjectLock       = "https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-lock.html"
	docPutRetention     = "https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutObjectRetention.html"
	docPutObject        = "https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutObject.html"
	docGetObject        = "https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html"
	docDeleteObject     = "https://docs.aws.amazon.com/AmazonS3/latest/API/API_DeleteObject.html"
	docSuspended        = "https://docs.aws.amazon.com/AmazonS3/latest/userguide/VersionSuspendedBehavior.html"
	docDeleteMarkers    = "https://docs.aws.amazon.com/AmazonS3/latest/userguide/DeleteMarker.html"
	docPostObject       = "https://docs.aws.amazon.com/AmazonS3/latest/API/RESTObjectPOST.html (AWS's answer quoted in github.com/ceph/ceph/pull/20330)"
	docPostAccessDenied = "https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-HTTPPOSTConstructPolicy.html"
	docListParts        = "https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListParts.html"
	docCompleteMPU      = "https://docs.aws.amazon.com/AmazonS3/latest/API/API_CompleteMultipartUpload.html"
)

// Regexps for an ACL read as AWS answers it: the owner (DisplayName is
// optional, AWS is retiring it) and one CanonicalUser grant of FULL_CONTROL.
const (
	awsOwner    = `re:^(/DisplayName=[^\n]+\n)?/ID=\{owner1\}$`
	awsOwnerACL = `re:^/Grant/Grantee/@type=CanonicalUser\n(/Grant/Grantee/DisplayName=[^\n]+\n)?/Grant/Grantee/ID=\{owner1\}\n/Grant/Permission=FULL_CONTROL$`
	minioACL    = "/Grant/Grantee/@type=CanonicalUser\n/Grant/Grantee/Type=CanonicalUser\n/Grant/Permission=FULL_CONTROL"
)

// knownDivergences is the allow-list, one entry per check.
func knownDivergences() []divergence {
	aclRefused := func(step, minio string) divergence {
		return divergence{Step: "acl/" + step, Field: "answer", AWS: "400 AccessControlListNotSupported", MinIO: minio,
			Why: "with ACLs disabled (BucketOwnerEnforced, the default) a request setting any ACL but the owner's full control is refused; MinIO ignores ACL headers or answers NotImplemented",
			Doc: docOwnershipErrors}
	}
	return []divergence{
		// ACLs: MinIO ignores ACL headers on writes and answers NotImplemented
		// to most ACL writes; AWS buckets have ACLs disabled by default.
		{Step: "acl/create-public-read", Field: "answer", AWS: "400 InvalidBucketAclWithObjectOwnership", MinIO: "200 ",
			Why: "CreateBucket with an ACL other than private under BucketOwnerEnforced is InvalidBucketAclWithObjectOwnership", Doc: docOwnershipErrors},
		{Step: "acl/create-grant-header", Field: "answer", AWS: "400 InvalidBucketAclWithObjectOwnership", MinIO: "200 ",
			Why: "CreateBucket with an x-amz-grant-* header under BucketOwnerEnforced is InvalidBucketAclWithObjectOwnership", Doc: docOwnershipErrors},
		aclRefused("put-object-public-read", "200 "),
		aclRefused("put-object-grant-header", "200 "),
		aclRefused("copy-object-public-read", "200 "),
		aclRefused("put-object-acl-canned-public", "501 NotImplemented"),
		aclRefused("put-object-acl-xml-public", "501 NotImplemented"),
		aclRefused("put-bucket-acl-canned-public", "501 NotImplemented"),
		{Step: "acl/put-object-acl-canned-owner-full", Field: "answer", AWS: "200 ", MinIO: "501 NotImplemented",
			Why: "bucket-owner-full-control is the one canned ACL PUT requests may send with ACLs disabled", Doc: docOwnershipErrors},
		{Step: "acl/get-bucket-acl", Field: "body:AccessControlPolicy/Owner", AWS: awsOwner, MinIO: "",
			Why: "the ACL names the bucket owner (MinIO leaves Owner empty)", Doc: docGetBucketACL},
		{Step: "acl/get-bucket-acl", Field: "body:AccessControlPolicy/AccessControlList", AWS: awsOwnerACL, MinIO: minioACL,
			Why: "reads of ACLs always show full control for the bucket owner, a CanonicalUser grantee with the owner's ID and no Type element", Doc: docOwnershipErrors},
		{Step: "acl/get-object-acl", Field: "body:AccessControlPolicy/Owner", AWS: awsOwner, MinIO: "",
			Why: "the ACL names the object owner (MinIO leaves Owner empty)", Doc: docGetBucketACL},
		{Step: "acl/get-object-acl", Field: "body:AccessControlPolicy/AccessControlList", AWS: awsOwnerACL, MinIO: minioACL,
			Why: "reads of ACLs always show full control for the bucket owner", Doc: docOwnershipErrors},
		{Step: "acl/copy-object-private", Field: "header:ETag", AWS: "", MinIO: `re:^"[0-9a-f]{32}"$`,
			Why: "CopyObject returns the ETag in the CopyObjectResult body, not as a response header", Doc: docCopyObject},
		{Step: "versioning/copy-from-version", Field: "header:ETag", AWS: "", MinIO: `re:^"[0-9a-f]{32}"$`,
			Why: "CopyObject returns the ETag in the CopyObjectResult body, not as a response header", Doc: docCopyObject},

		{Step: "semantics/copy-onto-itself-replace", Field: "header:ETag", AWS: "", MinIO: `re:^"[0-9a-f]{32}"$`,
			Why: "CopyObject returns the ETag in the CopyObjectResult body, not as a response header", Doc: docCopyObject},
		{Step: "semantics/copy-keeps-metadata", Field: "header:ETag", AWS: "", MinIO: `re:^"[0-9a-f]{32}"$`,
			Why: "CopyObject returns the ETag in the CopyObjectResult body, not as a response header", Doc: docCopyObject},
		{Step: "semantics/mpu-complete", Field: "header:ETag", AWS: "", MinIO: `re:^"[0-9a-f]{32}-1"$`,
			Why: "CompleteMultipartUpload returns the ETag in its result body, not as a response header", Doc: docCompleteMPU},
		{Step: "semantics/mpu-list-parts", Field: "body:ListPartsResult/MaxParts", AWS: "=1000", MinIO: "=10000",
			Why: "max-parts defaults to (and is at most) 1,000", Doc: docListParts},
		{Step: "semantics/mpu-list-parts", Field: "body:ListPartsResult/NextPartNumberMarker", AWS: "=1", MinIO: "=0",
			Why: "NextPartNumberMarker is the last part number listed", Doc: docListParts},
		{Step: "semantics/mpu-list-uploads", Field: "body:ListMultipartUploadsResult/MaxUploads", AWS: "=1000", MinIO: "=10000",
			Why: "max-uploads defaults to (and is at most) 1,000", Doc: docListUploads},
		{Step: "semantics/mpu-list-uploads", Field: "body:ListMultipartUploadsResult/Upload/Initiator", AWS: awsOwner, MinIO: "",
			Why: "each Upload names its Initiator", Doc: docListUploads},
		{Step: "semantics/mpu-list-uploads", Field: "body:ListMultipartUploadsResult/Upload/Owner", AWS: awsOwner, MinIO: "",
			Why: "each Upload names its Owner", Doc: docListUploads},
		{Step: "semantics/mpu-list-uploads", Field: "body:ListMultipartUploadsResult/Upload/StorageClass", AWS: "=STANDARD", MinIO: "",
			Why: "each Upload has its StorageClass", Doc: docListUploads},

		// Version listings.
		{Step: "*", Field: "body:ListVersionsResult/DeleteMarker/Size", AWS: "", MinIO: "re:^(=0\n?)*$",
			Why: "a DeleteMarker entry has Key, VersionId, IsLatest, LastModified and Owner only", Doc: docListVersions},
		{Step: "*", Field: "body:ListVersionsResult/DeleteMarker/StorageClass", AWS: "", MinIO: "re:^(=STANDARD\n?)*$",
			Why: "a DeleteMarker entry has Key, VersionId, IsLatest, LastModified and Owner only", Doc: docListVersions},
		{Step: "listing/versions-delimiter-page", Field: "body:ListVersionsResult/NextVersionIdMarker", Targets: []string{"dgp-dir/http"}, AWS: "=null", MinIO: "",
			Why: "a truncated version listing names the next version-id marker with the key marker (null for a null version)", Doc: docListVersions},
		{Step: "listing/versions-delimiter-page2", Field: "body:ListVersionsResult/NextVersionIdMarker", Targets: []string{"dgp-dir/http"}, AWS: "=null", MinIO: "",
			Why: "a truncated version listing names the next version-id marker with the key marker (null for a null version)", Doc: docListVersions},
		{Step: "listing/versions-version-id-marker-without-key-marker", Field: "answer", AWS: "400 InvalidArgument", MinIO: "501 NotImplemented",
			Why: "a version-id-marker without a key-marker is InvalidArgument", Doc: docListVersions},
		{Step: "listing/v1-marker", Field: "body:ListBucketResult/NextMarker", AWS: "", MinIO: "=c\\x01d",
			Why: "ListObjects (V1) returns NextMarker only when a delimiter was given", Doc: docListObjects},
		{Step: "listing/uploads-empty", Field: "body:ListMultipartUploadsResult/MaxUploads", AWS: "=1000", MinIO: "=10000",
			Why: "max-uploads defaults to (and is at most) 1,000", Doc: docListUploads},

		// Null versions and delete markers on the directory backend (dgp in
		// front of MinIO passes MinIO's headers through).
		{Step: "versioning/get-null-version", Field: "header:X-Amz-Version-Id", Targets: []string{"dgp-dir/http"}, AWS: "null", MinIO: "",
			Why: "once a bucket has versioning configured, a null version is answered with x-amz-version-id: null", Doc: docSuspended},
		{Step: "versioning/put-suspended", Field: "header:X-Amz-Version-Id", Targets: []string{"dgp-dir/http"}, AWS: "null", MinIO: "",
			Why: "a put to a versioning-suspended bucket writes the null version and says so", Doc: docSuspended},
		{Step: "versioning/get-null-after-suspended-put", Field: "header:X-Amz-Version-Id", Targets: []string{"dgp-dir/http"}, AWS: "null", MinIO: "",
			Why: "once a bucket has versioning configured, a null version is answered with x-amz-version-id: null", Doc: docSuspended},
		{Step: "versioning/delete-suspended", Field: "header:X-Amz-Delete-Marker", Targets: []string{"dgp-dir/http"}, AWS: "true", MinIO: "",
			Why: "a delete in a suspended bucket creates a null delete marker and answers x-amz-delete-marker: true", Doc: docSuspended},
		{Step: "versioning/delete-suspended", Field: "header:X-Amz-Version-Id", Targets: []string{"dgp-dir/http"}, AWS: "null", MinIO: "",
			Why: "a delete in a suspended bucket creates a null delete marker, whose version id it returns", Doc: docDeleteObject},
		{Step: "versioning/delete-null-marker", Field: "header:X-Amz-Delete-Marker", Targets: []string{"dgp-dir/http"}, AWS: "true", MinIO: "",
			Why: "deleting a delete marker by version id answers x-amz-delete-marker: true", Doc: docDeleteObject},
		{Step: "versioning/delete-null-marker", Field: "header:X-Amz-Version-Id", Targets: []string{"dgp-dir/http"}, AWS: "null", MinIO: "",
			Why: "a delete by version id returns that version id", Doc: docDeleteObject},
		{Step: "versioning/get-marker-version", Field: "header:Last-Modified", Targets: []string{"dgp-dir/http"}, AWS: "present", MinIO: "",
			Why: "GET of a delete marker's version id is 405 with the marker's Last-Modified", Doc: docGetObject},
		{Step: "versioning/head-marker-version", Field: "header:Last-Modified", Targets: []string{"dgp-dir/http"}, AWS: "present", MinIO: "",
			Why: "HEAD of a delete marker's version id is 405 with the marker's Last-Modified", Doc: docGetObject},
		{Step: "versioning/delete-objects-versions", Field: "body:DeleteResult/Deleted/DeleteMarkerVersionId", Targets: []string{"dgp-dir/http"}, AWS: "=null", MinIO: "",
			Why: "deleting a key without version id in a suspended bucket creates a null delete marker (even when the key has no object) and names it", Doc: docDeleteMarkers},
		{Step: "versioning/list-versions-final", Field: "body:ListVersionsResult/DeleteMarker", Targets: []string{"dgp-dir/http"},
			AWS:   `re:^/IsLatest=true\n/Key=k9\n/LastModified=\{date\}\n(/Owner/DisplayName=[^\n]+\n)?/Owner/ID=\{owner1\}\n/VersionId=null$`,
			MinIO: "", Why: "the null delete marker the previous DeleteObjects created is listed", Doc: docDeleteMarkers},

		// Object lock.
		{Step: "lock/suspend-locked", Field: "status", AWS: "409", MinIO: "400",
			Why: "InvalidBucketState is 409 Conflict", Doc: docErrorCodes},
		lockDenied("delete-governed-version"),
		lockDenied("shorten-retention"),
		lockDenied("delete-held-with-bypass"),
		lockDenied("delete-compliance-with-bypass"),
		lockDenied("compliance-to-governance"),
		{Step: "lock/get-missing-retention", Field: "status", AWS: "404", MinIO: "400",
			Why: "NoSuchObjectLockConfiguration is 404 Not Found", Doc: docErrorCodes},
		{Step: "lock/get-missing-legal-hold", Field: "status", AWS: "404", MinIO: "400",
			Why: "NoSuchObjectLockConfiguration is 404 Not Found", Doc: docErrorCodes},
		{Step: "lock/retention-in-past", Field: "code", AWS: "InvalidArgument", MinIO: "MalformedXML",
			Why: "a well-formed retention whose date is not in the future is InvalidArgument (\"The retain until date must be in the future!\")", Doc: docPutRetention},
		{Step: "lock/put-lock-headers-without-date", Field: "code", AWS: "InvalidArgument", MinIO: "InvalidRequest",
			Why: "x-amz-object-lock-mode and x-amz-object-lock-retain-until-date must be given together, else InvalidArgument", Doc: docPutObject},

		// POST Object.
		postLocation("default-204", "header:Location"),
		postLocation("status-201", "header:Location"),
		postLocation("status-201", "body:PostResponse/Location"),
		postLocation("status-200", "header:Location"),
		postLocation("filename-key", "header:Location"),
		postLocation("meta-case-insensitive", "header:Location"),
		{Step: "post/anonymous", Field: "answer", AWS: "403 AccessDenied", MinIO: "400 AuthorizationQueryParametersError",
			Why: "an unsigned form to a bucket that grants no anonymous write is refused with AccessDenied", Doc: docPostAccessDenied},
	}
}

// lockDenied is the divergence of a delete or retention change that object
// lock forbids: AWS answers 403 AccessDenied, MinIO 400 InvalidRequest
// ("Object is WORM protected and cannot be overwritten").
func lockDenied(step string) divergence {
	return divergence{Step: "lock/" + step, Field: "answer", AWS: "403 AccessDenied", MinIO: "400 InvalidRequest",
		Why: "a version under retention or legal hold cannot be deleted or have its retention shortened: AccessDenied", Doc: docObjectLock}
}

// postLocation is the divergence of a POST answer's Location: AWS encodes
// the key in it ("/" as %2F), MinIO does not.
func postLocation(step, field string) divergence {
	lead := ""
	if strings.HasPrefix(field, "body:") {
		lead = "="
	}
	return divergence{Step: "post/" + step, Field: field, AWS: "re:^" + lead + "http://\\{host\\}/\\{bucket\\}/up%2F[^/]+$", MinIO: "re:^" + lead + "http://\\{host\\}/\\{bucket\\}/up/[^/]+$",
		Why: "the Location of a POST upload is the object URL with the key percent-encoded, '/' as %2F", Doc: docPostObject}
}
