package s3api

import (
	"net/http"
	"net/url"
	"slices"

	"github.com/dgp-proxy/dgp/internal/s3err"
)

// unsupported names the S3 operations of one subresource dgp does not
// implement, by method. list is GET without an id (the List* variant of
// configurations addressed by id); "" means no operation of that shape.
type unsupported struct {
	get, put, del, post, list string
}

// unsupportedSubresources maps each subresource dgp does not implement to
// the operations it names. GET ?tagging on an object is served (an empty
// tag set); every other use of these subresources is NotImplemented.
func unsupportedSubresources() map[string]unsupported {
	return map[string]unsupported{
		"accelerate":          {get: "GetBucketAccelerateConfiguration", put: "PutBucketAccelerateConfiguration"},
		"analytics":           {get: "GetBucketAnalyticsConfiguration", put: "PutBucketAnalyticsConfiguration", del: "DeleteBucketAnalyticsConfiguration", list: "ListBucketAnalyticsConfigurations"},
		"attributes":          {get: "GetObjectAttributes"},
		"cors":                {get: "GetBucketCors", put: "PutBucketCors", del: "DeleteBucketCors"},
		"encryption":          {get: "GetBucketEncryption", put: "PutBucketEncryption", del: "DeleteBucketEncryption"},
		"intelligent-tiering": {get: "GetBucketIntelligentTieringConfiguration", put: "PutBucketIntelligentTieringConfiguration", del: "DeleteBucketIntelligentTieringConfiguration", list: "ListBucketIntelligentTieringConfigurations"},
		"inventory":           {get: "GetBucketInventoryConfiguration", put: "PutBucketInventoryConfiguration", del: "DeleteBucketInventoryConfiguration", list: "ListBucketInventoryConfigurations"},
		"lifecycle":           {get: "GetBucketLifecycleConfiguration", put: "PutBucketLifecycleConfiguration", del: "DeleteBucketLifecycle"},
		"logging":             {get: "GetBucketLogging", put: "PutBucketLogging"},
		"metadataTable":       {get: "GetBucketMetadataTableConfiguration", post: "CreateBucketMetadataTableConfiguration", del: "DeleteBucketMetadataTableConfiguration"},
		"metrics":             {get: "GetBucketMetricsConfiguration", put: "PutBucketMetricsConfiguration", del: "DeleteBucketMetricsConfiguration", list: "ListBucketMetricsConfigurations"},
		"notification":        {get: "GetBucketNotificationConfiguration", put: "PutBucketNotificationConfiguration"},
		"ownershipControls":   {get: "GetBucketOwnershipControls", put: "PutBucketOwnershipControls", del: "DeleteBucketOwnershipControls"},
		"policy":              {get: "GetBucketPolicy", put: "PutBucketPolicy", del: "DeleteBucketPolicy"},
		"policyStatus":        {get: "GetBucketPolicyStatus"},
		"publicAccessBlock":   {get: "GetPublicAccessBlock", put: "PutPublicAccessBlock", del: "DeletePublicAccessBlock"},
		"renameObject":        {put: "RenameObject"},
		"replication":         {get: "GetBucketReplication", put: "PutBucketReplication", del: "DeleteBucketReplication"},
		"requestPayment":      {get: "GetBucketRequestPayment", put: "PutBucketRequestPayment"},
		"restore":             {post: "RestoreObject"},
		"select":              {post: "SelectObjectContent"},
		"session":             {get: "CreateSession"},
		"tagging":             {get: "GetBucketTagging", put: "PutBucketTagging", del: "DeleteBucketTagging"},
		"torrent":             {get: "GetObjectTorrent"},
		"website":             {get: "GetBucketWebsite", put: "PutBucketWebsite", del: "DeleteBucketWebsite"},
	}
}

// isUnsupportedSubresource reports whether k is a key of
// unsupportedSubresources, without allocating (every request asks).
func isUnsupportedSubresource(k string) bool {
	switch k {
	case "accelerate", "analytics", "attributes", "cors", "encryption",
		"intelligent-tiering", "inventory", "lifecycle", "logging", "metadataTable",
		"metrics", "notification", "ownershipControls", "policy", "policyStatus",
		"publicAccessBlock", "renameObject", "replication", "requestPayment",
		"restore", "select", "session", "tagging", "torrent", "website":
		return true
	}
	return false
}

// objectTagging names the object-level tagging operations (GET is served).
func objectTagging() unsupported {
	return unsupported{put: "PutObjectTagging", del: "DeleteObjectTagging"}
}

// unsupportedOp returns the operation a request names when it carries a
// subresource dgp does not implement. Several such subresources: the first
// in name order decides. A subresource used with a method S3 has no
// operation for is an unknown request.
func unsupportedOp(method string, hasKey bool, q url.Values) (op, bool) {
	found := false
	for k := range q {
		if isUnsupportedSubresource(k) {
			found = true
			break
		}
	}
	if !found {
		return op{}, false // the common case, without building the table
	}
	table := unsupportedSubresources()
	var subs []string
	for k := range q {
		if _, ok := table[k]; ok {
			subs = append(subs, k)
		}
	}
	if len(subs) == 0 {
		return op{}, false
	}
	slices.Sort(subs)
	sub := subs[0]
	u := table[sub]
	if sub == "tagging" && hasKey {
		if method == http.MethodGet && len(subs) == 1 {
			return op{}, false // GetObjectTagging is served
		}
		u = objectTagging()
	}
	var name string
	switch method {
	case http.MethodGet, http.MethodHead:
		name = u.get
		if u.list != "" && q.Get("id") == "" {
			name = u.list
		}
	case http.MethodPut:
		name = u.put
	case http.MethodDelete:
		name = u.del
	case http.MethodPost:
		name = u.post
	}
	if name == "" {
		return unknownRequest(method + " ?" + sub), true
	}
	return notImplemented(name), true
}

// servedSubresources are the subresources dgp implements for some method.
// A request carrying one with a method that has no operation for it is an
// unknown request (never, say, DELETE /b?versioning deleting the bucket).
func servedSubresources() [10]string {
	return [10]string{"acl", "delete", "legal-hold", "location", "object-lock", "retention", "tagging", "uploads", "versioning", "versions"}
}

// strayed returns an unknown-request op when q carries a served
// subresource the method and target have no operation for.
func strayed(method string, q url.Values) (op, bool) {
	for _, k := range servedSubresources() {
		if _, ok := q[k]; ok {
			return unknownRequest(method + " ?" + k), true
		}
	}
	return op{}, false
}

// notImplemented is an operation dgp knows by name but does not implement:
// it answers NotImplemented naming it.
func notImplemented(name string) op {
	return op{Name: name, notImpl: true, handle: func(*Server, *request) error {
		return s3err.ErrNotImplemented.WithMessage("%s is not implemented by dgp.", name)
	}}
}

// unknownRequest is a request that names no S3 operation dgp knows.
func unknownRequest(what string) op {
	return op{Name: "NotImplemented", notImpl: true, handle: func(*Server, *request) error {
		return s3err.ErrNotImplemented.WithMessage("%s is not implemented by dgp.", what)
	}}
}
