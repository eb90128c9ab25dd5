//go:build integration

package conformance

import "strings"

// divergence is one field where MinIO is known to answer differently from
// AWS S3. dgp follows AWS there: compareAnswers checks dgp's value against
// AWS instead of MinIO's, and logs (without failing) when MinIO no longer
// answers as recorded, so the list cannot go stale silently.
type divergence struct {
	// Step is "scenario/step". Field is "status", "code", "header:<Name>",
	// "body:<Path>" (all lines under that path, list indexes removed, each
	// written as its rest: "=value" or "/Sub=value", sorted, joined by
	// newlines), or "answer": the whole answer differs (an error on one
	// side), compared as "<status> <code>" and nothing else.
	Step, Field string
	// Targets limits the entry to these dgp targets ("dgp-dir/http",
	// "dgp-minio/http"); empty means both.
	Targets []string
	// AWS is what AWS answers, so dgp must ("re:" prefix: a regexp); MinIO
	// what MinIO answers.
	AWS, MinIO string
	// Why says what AWS does, and Doc cites where AWS documents it.
	Why, Doc string
}

func divergencesFor(step, tgName string) []divergence {
	var out []divergence
	for _, d := range knownDivergences() {
		if d.Step != step {
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
	docOwnershipErrors = "https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-ownership-error-responses.html"
	docGetBucketACL    = "https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetBucketAcl.html"
	docCopyObject      = "https://docs.aws.amazon.com/AmazonS3/latest/API/API_CopyObject.html"
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
		{Step: "acl/copy-object-private", Field: "header:ETag", AWS: "", MinIO: `"31fefa82acf9a1d2d52ce10f6783a2ba"`,
			Why: "CopyObject returns the ETag in the CopyObjectResult body, not as a response header", Doc: docCopyObject},
	}
}
