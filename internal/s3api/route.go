package s3api

import (
	"net/url"
	"strings"

	"github.com/dgp-proxy/dgp/internal/vhost"
)

// target is what a request addresses, before validation.
type target struct {
	Bucket string
	Key    string
	// HasKey is true when the path names an object (even an empty or invalid one).
	HasKey bool
	// VirtualHost is true when the bucket came from the Host header.
	VirtualHost bool
}

// parseTarget extracts bucket and key from the host and the decoded path.
// Path style: "/bucket/key"; virtual-host style: Host "bucket.domain", path "/key".
// A key keeps every byte after the separating '/', so "/b//k" yields key "/k"
// (which validation rejects).
func parseTarget(host, path string, domains vhost.Domains) target {
	var t target
	rest := strings.TrimPrefix(path, "/")
	if b := domains.Bucket(host); b != "" {
		t.Bucket, t.VirtualHost = b, true
		if path == "" || path == "/" {
			return t
		}
		t.Key, t.HasKey = rest, true
		return t
	}
	if rest == "" {
		return t
	}
	b, k, found := strings.Cut(rest, "/")
	t.Bucket = b
	if found && k != "" {
		t.Key, t.HasKey = k, true
	}
	return t
}

// parseCopySource splits an x-amz-copy-source header ("[/]bucket/key[?versionId=v]",
// URL-encoded) into bucket, key and version id.
func parseCopySource(h string) (bucket, key, versionID string, ok bool) {
	src, query, _ := strings.Cut(h, "?")
	if query != "" {
		q, err := url.ParseQuery(query)
		if err != nil {
			return "", "", "", false
		}
		versionID = q.Get("versionId")
	}
	dec, err := url.PathUnescape(src)
	if err != nil {
		return "", "", "", false
	}
	dec = strings.TrimPrefix(dec, "/")
	bucket, key, found := strings.Cut(dec, "/")
	if !found || bucket == "" || key == "" {
		return "", "", "", false
	}
	return bucket, key, versionID, true
}
