//go:build integration

package conformance

import "testing"

// ownerOnlyACL is an AccessControlPolicy granting the owner FULL_CONTROL
// and nothing else, with the owner id filled in from an earlier answer.
const ownerOnlyACL = `<AccessControlPolicy xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Owner><ID>{owner}</ID></Owner>` +
	`<AccessControlList><Grant><Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="CanonicalUser"><ID>{owner}</ID></Grantee>` +
	`<Permission>FULL_CONTROL</Permission></Grant></AccessControlList></AccessControlPolicy>`

const publicReadACL = `<AccessControlPolicy xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Owner><ID>{owner}</ID></Owner>` +
	`<AccessControlList><Grant><Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="Group"><URI>http://acs.amazonaws.com/groups/global/AllUsers</URI></Grantee>` +
	`<Permission>READ</Permission></Grant></AccessControlList></AccessControlPolicy>`

// ACLs as S3 answers them for a bucket with Object Ownership "bucket owner
// enforced" (the default for new buckets since April 2023): canned ACLs
// that only give the owner full control are accepted, any other ACL is
// refused; GET ?acl answers the owner with FULL_CONTROL.
func TestDifferentialACL(t *testing.T) {
	acl := func(v string) map[string]string { return map[string]string{"X-Amz-Acl": v} }
	runDifferential(t, scenario{
		Name:    "acl",
		Buckets: []string{"bucket", "public", "ownerfull"},
		Steps: []step{
			{Name: "create-private", Method: "PUT", Path: "/{bucket}", Header: acl("private")},
			{Name: "create-public-read", Method: "PUT", Path: "/{public}", Header: acl("public-read")},
			{Name: "create-grant-header", Method: "PUT", Path: "/{ownerfull}", Header: map[string]string{"X-Amz-Grant-Read": `uri="http://acs.amazonaws.com/groups/global/AllUsers"`}},
			{Name: "get-bucket-acl", Method: "GET", Path: "/{bucket}?acl", Save: map[string]string{"owner": "body:AccessControlPolicy/Owner/ID"}},
			{Name: "put-object-private", Method: "PUT", Path: "/{bucket}/k", Body: "acl", Header: acl("private")},
			{Name: "put-object-owner-full", Method: "PUT", Path: "/{bucket}/k", Body: "acl2", Header: acl("bucket-owner-full-control")},
			{Name: "put-object-public-read", Method: "PUT", Path: "/{bucket}/pub", Body: "pub", Header: acl("public-read")},
			{Name: "put-object-grant-header", Method: "PUT", Path: "/{bucket}/grant", Body: "g", Header: map[string]string{"X-Amz-Grant-Full-Control": `id="someone-else"`}},
			{Name: "copy-object-private", Method: "PUT", Path: "/{bucket}/k-copy", Header: map[string]string{"X-Amz-Copy-Source": "/{bucket}/k", "X-Amz-Acl": "private"}},
			{Name: "copy-object-public-read", Method: "PUT", Path: "/{bucket}/k-pub", Header: map[string]string{"X-Amz-Copy-Source": "/{bucket}/k", "X-Amz-Acl": "public-read"}},
			{Name: "get-object-acl", Method: "GET", Path: "/{bucket}/k?acl"},
			{Name: "put-object-acl-canned-private", Method: "PUT", Path: "/{bucket}/k?acl", Header: acl("private")},
			{Name: "put-object-acl-canned-owner-full", Method: "PUT", Path: "/{bucket}/k?acl", Header: acl("bucket-owner-full-control")},
			{Name: "put-object-acl-canned-public", Method: "PUT", Path: "/{bucket}/k?acl", Header: acl("public-read")},
			{Name: "put-object-acl-xml-owner-only", Method: "PUT", Path: "/{bucket}/k?acl", Body: ownerOnlyACL, MD5: true},
			{Name: "put-object-acl-xml-public", Method: "PUT", Path: "/{bucket}/k?acl", Body: publicReadACL, MD5: true},
			{Name: "put-bucket-acl-canned-private", Method: "PUT", Path: "/{bucket}?acl", Header: acl("private")},
			{Name: "put-bucket-acl-canned-public", Method: "PUT", Path: "/{bucket}?acl", Header: acl("public-read")},
			{Name: "get-object-acl-missing", Method: "GET", Path: "/{bucket}/nope?acl"},
		},
	})
}
