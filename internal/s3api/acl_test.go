package s3api

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

func TestACLs(t *testing.T) { aclScenario(t, newTestEnv(t, false), "acls", false) }

// aclScenario runs ACL calls through dgp on bucket (and bucket+"-enf",
// created too); the reader's part needs the directory backend's shared
// bucket and is skipped with minio.
func aclScenario(t *testing.T, e *testEnv, bucket string, minio bool) {
	c := e.root()
	ctx := context.Background()
	b := aws.String(bucket)

	// CreateBucket: owner-only canned ACLs; anything else as S3 with ACLs disabled.
	_, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: b, ACL: types.BucketCannedACLPrivate})
	must(t, err, "create with private")
	_, err = c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket + "-pub"), ACL: types.BucketCannedACLPublicRead})
	wantCode(t, err, "InvalidBucketAclWithObjectOwnership", "create with public-read")
	_, err = c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket + "-grant"), GrantRead: aws.String(`uri="http://acs.amazonaws.com/groups/global/AllUsers"`)})
	wantCode(t, err, "InvalidBucketAclWithObjectOwnership", "create with a grant")
	_, err = c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket + "-enf"), ObjectOwnership: types.ObjectOwnershipBucketOwnerEnforced})
	must(t, err, "create with BucketOwnerEnforced")
	_, err = c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket + "-ow"), ObjectOwnership: types.ObjectOwnershipObjectWriter})
	wantCode(t, err, "NotImplemented", "create with ObjectWriter")
	if _, err := c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(bucket + "-pub")}); errStatus(err) != 404 {
		t.Fatalf("a refused CreateBucket created the bucket: %v", err)
	}

	// Object writes.
	for _, acl := range []types.ObjectCannedACL{types.ObjectCannedACLPrivate, types.ObjectCannedACLBucketOwnerFullControl} {
		_, err = c.PutObject(ctx, &s3.PutObjectInput{Bucket: b, Key: aws.String("o"), Body: strings.NewReader("x"), ACL: acl})
		must(t, err, "put with "+string(acl))
	}
	_, err = c.PutObject(ctx, &s3.PutObjectInput{Bucket: b, Key: aws.String("pub"), Body: strings.NewReader("x"), ACL: types.ObjectCannedACLPublicRead})
	wantCode(t, err, "AccessControlListNotSupported", "put with public-read")
	if objectExists(t, c, bucket, "pub") {
		t.Fatal("a refused PutObject stored the object")
	}
	_, err = c.PutObject(ctx, &s3.PutObjectInput{Bucket: b, Key: aws.String("pub"), Body: strings.NewReader("x"), GrantRead: aws.String(`id="someone"`)})
	wantCode(t, err, "AccessControlListNotSupported", "put with a grant header")
	status, body, _ := e.do("PUT", "/"+bucket+"/pub", []byte("x"), http.Header{"X-Amz-Acl": {"no-such-acl"}})
	if status != 400 || !strings.Contains(body, "<Code>InvalidArgument</Code>") {
		t.Fatalf("unknown canned ACL: %d %s", status, body)
	}
	_, err = c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: b, Key: aws.String("cp"), CopySource: aws.String(bucket + "/o"), ACL: types.ObjectCannedACLPublicReadWrite})
	wantCode(t, err, "AccessControlListNotSupported", "copy with public-read-write")
	_, err = c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: b, Key: aws.String("cp"), CopySource: aws.String(bucket + "/o"), ACL: types.ObjectCannedACLBucketOwnerFullControl})
	must(t, err, "copy with bucket-owner-full-control")
	_, err = c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: b, Key: aws.String("mp"), ACL: types.ObjectCannedACLAuthenticatedRead})
	wantCode(t, err, "AccessControlListNotSupported", "multipart with authenticated-read")
	_, err = c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: b, Key: aws.String("mp"), ACL: types.ObjectCannedACLPrivate})
	must(t, err, "multipart with private")

	// Get/Put ACL: the owner with FULL_CONTROL, and only that.
	acl, err := c.GetObjectAcl(ctx, &s3.GetObjectAclInput{Bucket: b, Key: aws.String("o")})
	must(t, err, "get object acl")
	if len(acl.Grants) != 1 || acl.Grants[0].Permission != types.PermissionFullControl || aws.ToString(acl.Grants[0].Grantee.ID) != "root" ||
		acl.Grants[0].Grantee.Type != types.TypeCanonicalUser || aws.ToString(acl.Owner.ID) != "root" {
		t.Fatalf("object acl %+v", acl)
	}
	_, err = c.GetObjectAcl(ctx, &s3.GetObjectAclInput{Bucket: b, Key: aws.String("missing")})
	wantCode(t, err, "NoSuchKey", "acl of a missing object")
	ownerOnly := &types.AccessControlPolicy{Owner: &types.Owner{ID: aws.String("root")}, Grants: []types.Grant{{
		Grantee: &types.Grantee{Type: types.TypeCanonicalUser, ID: aws.String("root")}, Permission: types.PermissionFullControl}}}
	public := &types.AccessControlPolicy{Owner: &types.Owner{ID: aws.String("root")}, Grants: []types.Grant{
		{Grantee: &types.Grantee{Type: types.TypeCanonicalUser, ID: aws.String("root")}, Permission: types.PermissionFullControl},
		{Grantee: &types.Grantee{Type: types.TypeGroup, URI: aws.String("http://acs.amazonaws.com/groups/global/AllUsers")}, Permission: types.PermissionRead}}}
	_, err = c.PutObjectAcl(ctx, &s3.PutObjectAclInput{Bucket: b, Key: aws.String("o"), ACL: types.ObjectCannedACLBucketOwnerFullControl})
	must(t, err, "put object acl canned")
	_, err = c.PutObjectAcl(ctx, &s3.PutObjectAclInput{Bucket: b, Key: aws.String("o"), AccessControlPolicy: ownerOnly})
	must(t, err, "put object acl owner-only body")
	_, err = c.PutObjectAcl(ctx, &s3.PutObjectAclInput{Bucket: b, Key: aws.String("o"), AccessControlPolicy: public})
	wantCode(t, err, "AccessControlListNotSupported", "put object acl public body")
	_, err = c.PutObjectAcl(ctx, &s3.PutObjectAclInput{Bucket: b, Key: aws.String("o"), ACL: types.ObjectCannedACLPublicRead})
	wantCode(t, err, "AccessControlListNotSupported", "put object acl public-read")
	_, err = c.PutObjectAcl(ctx, &s3.PutObjectAclInput{Bucket: b, Key: aws.String("missing"), ACL: types.ObjectCannedACLPrivate})
	wantCode(t, err, "NoSuchKey", "put acl of a missing object")
	_, err = c.PutBucketAcl(ctx, &s3.PutBucketAclInput{Bucket: b, ACL: types.BucketCannedACLPrivate})
	must(t, err, "put bucket acl private")
	_, err = c.PutBucketAcl(ctx, &s3.PutBucketAclInput{Bucket: b, AccessControlPolicy: ownerOnly})
	must(t, err, "put bucket acl owner-only body")
	_, err = c.PutBucketAcl(ctx, &s3.PutBucketAclInput{Bucket: b, AccessControlPolicy: public})
	wantCode(t, err, "AccessControlListNotSupported", "put bucket acl public body")
	_, err = c.PutBucketAcl(ctx, &s3.PutBucketAclInput{Bucket: b, ACL: types.BucketCannedACLPublicRead})
	wantCode(t, err, "AccessControlListNotSupported", "put bucket acl public-read")
	bacl, err := c.GetBucketAcl(ctx, &s3.GetBucketAclInput{Bucket: b})
	must(t, err, "get bucket acl")
	if len(bacl.Grants) != 1 || bacl.Grants[0].Permission != types.PermissionFullControl {
		t.Fatalf("bucket acl %+v", bacl.Grants)
	}

	// IAM: PutBucketAcl needs admin, PutObjectAcl write.
	w := e.client(writerAK, writerSK, false)
	_, err = w.PutBucketAcl(ctx, &s3.PutBucketAclInput{Bucket: b, ACL: types.BucketCannedACLPrivate})
	wantCode(t, err, "AccessDenied", "writer puts a bucket acl")
	_, err = w.PutObjectAcl(ctx, &s3.PutObjectAclInput{Bucket: b, Key: aws.String("o"), ACL: types.ObjectCannedACLPrivate})
	must(t, err, "writer puts an object acl")
	if minio {
		return
	}
	setupBucket(t, c, sharedBucket)
	putString(t, c, sharedBucket, "s", "x")
	_, err = e.client(readerAK, readerSK, false).PutObjectAcl(ctx, &s3.PutObjectAclInput{Bucket: aws.String(sharedBucket), Key: aws.String("s"), ACL: types.ObjectCannedACLPrivate})
	wantCode(t, err, "AccessDenied", "reader puts an object acl")
}
