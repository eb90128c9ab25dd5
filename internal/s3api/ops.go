package s3api

import (
	"net/http"
	"net/url"

	"github.com/dgp-proxy/dgp/internal/iam"
	"github.com/dgp-proxy/dgp/internal/s3err"
)

// op is one S3 operation: its name (for logs and metrics), the IAM action
// that authorises it and its handler. Handlers that authorise more than one
// resource (ListBuckets, DeleteObjects, the copies) set selfAuth.
type op struct {
	Name     string
	Action   iam.Action
	selfAuth bool
	needKey  bool
	// formAuth: the handler authenticates the request itself (POST
	// object's policy signature); serve skips header/query SigV4.
	formAuth bool
	// notImpl: the operation answers NotImplemented (logged at warn).
	notImpl bool
	handle  func(*Server, *request) error
}

func methodNotAllowed() op {
	return op{Name: "MethodNotAllowed", handle: func(*Server, *request) error { return s3err.ErrMethodNotAllowed }}
}

// classify picks the operation a request asks for.
func classify(method string, t target, q url.Values, h http.Header) op {
	if t.Bucket == "" {
		if method == http.MethodGet {
			return op{Name: "ListBuckets", Action: iam.ActionList, selfAuth: true, handle: (*Server).listBuckets}
		}
		return methodNotAllowed()
	}
	if o, ok := unsupportedOp(method, t.HasKey, q); ok {
		return o
	}
	if !t.HasKey {
		return classifyBucket(method, q, h)
	}
	return classifyObject(method, q, h)
}

// classifyBucket picks a bucket-level operation.
func classifyBucket(method string, q url.Values, h http.Header) op {
	has := func(k string) bool { _, ok := q[k]; return ok }
	switch method {
	case http.MethodGet:
		switch {
		case has("location"):
			return op{Name: "GetBucketLocation", Action: iam.ActionList, handle: (*Server).getBucketLocation}
		case has("uploads"):
			return op{Name: "ListMultipartUploads", Action: iam.ActionList, handle: (*Server).listMultipartUploads}
		case has("versioning"):
			return op{Name: "GetBucketVersioning", Action: iam.ActionList, handle: (*Server).getBucketVersioning}
		case has("versions"):
			return op{Name: "ListObjectVersions", Action: iam.ActionList, handle: (*Server).listObjectVersions}
		case has("object-lock"):
			return op{Name: "GetObjectLockConfiguration", Action: iam.ActionList, handle: (*Server).getObjectLockConfiguration}
		case has("acl"):
			return op{Name: "GetBucketAcl", Action: iam.ActionList, handle: (*Server).getACL}
		}
		if o, ok := strayed(method, q); ok {
			return o
		}
		if q.Get("list-type") == "2" {
			return op{Name: "ListObjectsV2", Action: iam.ActionList, handle: (*Server).listObjectsV2}
		}
		return op{Name: "ListObjects", Action: iam.ActionList, handle: (*Server).listObjectsV1}
	case http.MethodHead:
		if o, ok := strayed(method, q); ok {
			return o
		}
		return op{Name: "HeadBucket", Action: iam.ActionList, handle: (*Server).headBucket}
	case http.MethodPut:
		switch {
		case has("versioning"):
			return op{Name: "PutBucketVersioning", Action: iam.ActionAdmin, handle: (*Server).putBucketVersioning}
		case has("object-lock"):
			return op{Name: "PutObjectLockConfiguration", Action: iam.ActionAdmin, handle: (*Server).putObjectLockConfiguration}
		case has("acl"):
			return op{Name: "PutBucketAcl", Action: iam.ActionAdmin, handle: (*Server).putACL}
		}
		if o, ok := strayed(method, q); ok {
			return o
		}
		return op{Name: "CreateBucket", Action: iam.ActionAdmin, handle: (*Server).createBucket}
	case http.MethodDelete:
		if o, ok := strayed(method, q); ok {
			return o
		}
		return op{Name: "DeleteBucket", Action: iam.ActionAdmin, handle: (*Server).deleteBucket}
	case http.MethodPost:
		if has("delete") {
			return op{Name: "DeleteObjects", Action: iam.ActionDelete, selfAuth: true, handle: (*Server).deleteObjects}
		}
		if isPostObject(h) {
			// Browser-based upload: authenticated by its form's policy
			// signature, not by the request's (see post.go).
			return op{Name: "PostObject", Action: iam.ActionWrite, selfAuth: true, formAuth: true, handle: (*Server).postObject}
		}
		return unknownRequest("POST on a bucket")
	}
	return methodNotAllowed()
}

// classifyObject picks an object-level operation.
func classifyObject(method string, q url.Values, h http.Header) op {
	has := func(k string) bool { _, ok := q[k]; return ok }
	switch method {
	case http.MethodGet:
		switch {
		case has("uploadId"):
			return op{Name: "ListParts", Action: iam.ActionList, needKey: true, handle: (*Server).listParts}
		case has("acl"):
			return op{Name: "GetObjectAcl", Action: iam.ActionRead, needKey: true, handle: (*Server).getACL}
		case has("tagging"):
			// aws s3 cp probes the tags of a multipart copy's source.
			return op{Name: "GetObjectTagging", Action: iam.ActionRead, needKey: true, handle: (*Server).getObjectTagging}
		case has("retention"):
			return op{Name: "GetObjectRetention", Action: iam.ActionRead, needKey: true, handle: (*Server).getObjectRetention}
		case has("legal-hold"):
			return op{Name: "GetObjectLegalHold", Action: iam.ActionRead, needKey: true, handle: (*Server).getObjectLegalHold}
		}
		if o, ok := strayed(method, q); ok {
			return o
		}
		return op{Name: "GetObject", Action: iam.ActionRead, needKey: true, handle: (*Server).getObject}
	case http.MethodHead:
		if o, ok := strayed(method, q); ok {
			return o
		}
		return op{Name: "HeadObject", Action: iam.ActionRead, needKey: true, handle: (*Server).headObject}
	case http.MethodPut:
		switch {
		case has("acl"):
			return op{Name: "PutObjectAcl", Action: iam.ActionWrite, needKey: true, handle: (*Server).putACL}
		case has("retention"):
			// Bypassing governance retention also needs admin (checked by the handler).
			return op{Name: "PutObjectRetention", Action: iam.ActionWrite, needKey: true, handle: (*Server).putObjectRetention}
		case has("legal-hold"):
			return op{Name: "PutObjectLegalHold", Action: iam.ActionWrite, needKey: true, handle: (*Server).putObjectLegalHold}
		}
		if o, ok := strayed(method, q); ok {
			return o
		}
		switch {
		case has("uploadId") || has("partNumber"):
			if h.Get("x-amz-copy-source") != "" {
				return op{Name: "UploadPartCopy", Action: iam.ActionWrite, selfAuth: true, needKey: true, handle: (*Server).uploadPartCopy}
			}
			return op{Name: "UploadPart", Action: iam.ActionWrite, needKey: true, handle: (*Server).uploadPart}
		case h.Get("x-amz-copy-source") != "":
			return op{Name: "CopyObject", Action: iam.ActionWrite, selfAuth: true, needKey: true, handle: (*Server).copyObject}
		}
		return op{Name: "PutObject", Action: iam.ActionWrite, needKey: true, handle: (*Server).putObject}
	case http.MethodPost:
		switch {
		case has("uploads"):
			return op{Name: "CreateMultipartUpload", Action: iam.ActionWrite, needKey: true, handle: (*Server).createMultipartUpload}
		case has("uploadId"):
			return op{Name: "CompleteMultipartUpload", Action: iam.ActionWrite, needKey: true, handle: (*Server).completeMultipartUpload}
		}
		return unknownRequest("POST on an object")
	case http.MethodDelete:
		if has("uploadId") {
			return op{Name: "AbortMultipartUpload", Action: iam.ActionDelete, needKey: true, handle: (*Server).abortMultipartUpload}
		}
		if o, ok := strayed(method, q); ok {
			return o
		}
		// Bypassing governance retention also needs admin (checked by the handler).
		return op{Name: "DeleteObject", Action: iam.ActionDelete, needKey: true, handle: (*Server).deleteObject}
	}
	return methodNotAllowed()
}
