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
	handle   func(*Server, *request) error
}

func notImplemented(name string) op {
	return op{Name: name, handle: func(*Server, *request) error { return s3err.ErrNotImplemented }}
}

func methodNotAllowed() op {
	return op{Name: "MethodNotAllowed", handle: func(*Server, *request) error { return s3err.ErrMethodNotAllowed }}
}

// unsupportedSubresource reports whether a query parameter names an S3
// feature dgp does not implement; a request carrying one answers
// NotImplemented (except the harmless GET ?acl and GET ?versioning probes,
// answered with defaults).
func unsupportedSubresource(k string) bool {
	switch k {
	case "accelerate", "acl", "analytics", "attributes", "cors", "encryption",
		"intelligent-tiering", "inventory", "legal-hold", "lifecycle", "logging",
		"metadataTable", "metrics", "notification", "object-lock", "ownershipControls",
		"policy", "policyStatus", "publicAccessBlock", "renameObject", "replication",
		"requestPayment", "restore", "retention", "select", "session", "tagging",
		"torrent", "versioning", "versions", "website":
		return true
	}
	return false
}

func hasUnsupported(q url.Values) bool {
	for k := range q {
		if unsupportedSubresource(k) {
			return true
		}
	}
	return false
}

// classify picks the operation a request asks for.
func classify(method string, t target, q url.Values, h http.Header) op {
	has := func(k string) bool { _, ok := q[k]; return ok }
	if t.Bucket == "" {
		if method == http.MethodGet {
			return op{Name: "ListBuckets", Action: iam.ActionList, selfAuth: true, handle: (*Server).listBuckets}
		}
		return methodNotAllowed()
	}
	if !t.HasKey {
		switch method {
		case http.MethodGet:
			switch {
			case has("location"):
				return op{Name: "GetBucketLocation", Action: iam.ActionList, handle: (*Server).getBucketLocation}
			case has("uploads"):
				return op{Name: "ListMultipartUploads", Action: iam.ActionList, handle: (*Server).listMultipartUploads}
			case has("versioning") && !has("acl"):
				return op{Name: "GetBucketVersioning", Action: iam.ActionList, handle: (*Server).getBucketVersioning}
			case has("acl") && !has("versioning"):
				return op{Name: "GetBucketAcl", Action: iam.ActionList, handle: (*Server).getACL}
			case hasUnsupported(q):
				return notImplemented("NotImplemented")
			case q.Get("list-type") == "2":
				return op{Name: "ListObjectsV2", Action: iam.ActionList, handle: (*Server).listObjectsV2}
			default:
				return op{Name: "ListObjects", Action: iam.ActionList, handle: (*Server).listObjectsV1}
			}
		case http.MethodHead:
			return op{Name: "HeadBucket", Action: iam.ActionList, handle: (*Server).headBucket}
		case http.MethodPut:
			if hasUnsupported(q) {
				return notImplemented("NotImplemented")
			}
			return op{Name: "CreateBucket", Action: iam.ActionAdmin, handle: (*Server).createBucket}
		case http.MethodDelete:
			if hasUnsupported(q) {
				return notImplemented("NotImplemented")
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
			return notImplemented("NotImplemented")
		}
		return methodNotAllowed()
	}
	switch method {
	case http.MethodGet:
		switch {
		case has("uploadId"):
			return op{Name: "ListParts", Action: iam.ActionList, needKey: true, handle: (*Server).listParts}
		case has("acl") && !has("versioning"):
			return op{Name: "GetObjectAcl", Action: iam.ActionRead, needKey: true, handle: (*Server).getACL}
		case has("tagging"):
			// aws s3 cp probes the tags of a multipart copy's source.
			return op{Name: "GetObjectTagging", Action: iam.ActionRead, needKey: true, handle: (*Server).getObjectTagging}
		case hasUnsupported(q):
			return notImplemented("NotImplemented")
		}
		return op{Name: "GetObject", Action: iam.ActionRead, needKey: true, handle: (*Server).getObject}
	case http.MethodHead:
		if hasUnsupported(q) {
			return notImplemented("NotImplemented")
		}
		return op{Name: "HeadObject", Action: iam.ActionRead, needKey: true, handle: (*Server).headObject}
	case http.MethodPut:
		switch {
		case hasUnsupported(q):
			return notImplemented("NotImplemented")
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
		return notImplemented("NotImplemented")
	case http.MethodDelete:
		switch {
		case has("uploadId"):
			return op{Name: "AbortMultipartUpload", Action: iam.ActionDelete, needKey: true, handle: (*Server).abortMultipartUpload}
		case hasUnsupported(q):
			return notImplemented("NotImplemented")
		}
		return op{Name: "DeleteObject", Action: iam.ActionDelete, needKey: true, handle: (*Server).deleteObject}
	}
	return methodNotAllowed()
}
