//go:build integration

package conformance

import "testing"

// Listing edge cases on an unversioned bucket: max-keys=0, delimiters,
// encoding-type=url, keys with control characters and spaces, paging
// markers of ListObjects V1 and V2, and ListObjectVersions on a bucket that
// never had versioning.
func TestDifferentialListing(t *testing.T) {
	put := func(name, escapedKey string) step {
		return step{Name: "put-" + name, Method: "PUT", Path: "/{bucket}/" + escapedKey, Body: name}
	}
	runDifferential(t, scenario{
		Name:    "listing",
		Buckets: []string{"bucket"},
		Steps: []step{
			{Name: "create", Method: "PUT", Path: "/{bucket}"},
			put("a-b", "a/b"),
			put("a-c", "a/c"),
			put("b", "b"),
			put("ctrl", "c%01d"),
			put("tab", "c%09t"),
			put("space", "e%20f"),
			put("plus", "g%2Bh"),
			put("umlaut", "%C3%BC"),
			put("deep", "x/y/z"),
			{Name: "v2-all", Method: "GET", Path: "/{bucket}?list-type=2"},
			{Name: "v2-max-keys-0", Method: "GET", Path: "/{bucket}?list-type=2&max-keys=0"},
			{Name: "v2-max-keys-0-delimiter", Method: "GET", Path: "/{bucket}?list-type=2&max-keys=0&delimiter=/"},
			{Name: "v2-delimiter", Method: "GET", Path: "/{bucket}?list-type=2&delimiter=/"},
			{Name: "v2-delimiter-prefix", Method: "GET", Path: "/{bucket}?list-type=2&delimiter=/&prefix=x/"},
			{Name: "v2-encoding-url", Method: "GET", Path: "/{bucket}?list-type=2&encoding-type=url"},
			{Name: "v2-encoding-url-delimiter", Method: "GET", Path: "/{bucket}?list-type=2&encoding-type=url&delimiter=%01"},
			{Name: "v2-page1", Method: "GET", Path: "/{bucket}?list-type=2&max-keys=3", Save: map[string]string{"tok": "body:ListBucketResult/NextContinuationToken"}},
			{Name: "v2-page2", Method: "GET", Path: "/{bucket}?list-type=2&max-keys=3&continuation-token={tok}"},
			{Name: "v2-start-after", Method: "GET", Path: "/{bucket}?list-type=2&start-after=b"},
			{Name: "v2-fetch-owner", Method: "GET", Path: "/{bucket}?list-type=2&fetch-owner=true&prefix=a/"},
			{Name: "v2-bad-encoding", Method: "GET", Path: "/{bucket}?list-type=2&encoding-type=base64"},
			{Name: "v2-bad-max-keys", Method: "GET", Path: "/{bucket}?list-type=2&max-keys=-1"},
			{Name: "v1-all", Method: "GET", Path: "/{bucket}"},
			{Name: "v1-max-keys-0", Method: "GET", Path: "/{bucket}?max-keys=0"},
			{Name: "v1-marker", Method: "GET", Path: "/{bucket}?marker=a/c&max-keys=2"},
			{Name: "v1-delimiter-page", Method: "GET", Path: "/{bucket}?delimiter=/&max-keys=2", Save: map[string]string{"next": "body:ListBucketResult/NextMarker"}},
			{Name: "v1-delimiter-page2", Method: "GET", Path: "/{bucket}?delimiter=/&max-keys=2&marker={next}"},
			{Name: "v1-encoding-url", Method: "GET", Path: "/{bucket}?encoding-type=url&prefix=c"},
			{Name: "versions-unversioned", Method: "GET", Path: "/{bucket}?versions"},
			{Name: "versions-max-keys-0", Method: "GET", Path: "/{bucket}?versions&max-keys=0"},
			{Name: "versions-delimiter-page", Method: "GET", Path: "/{bucket}?versions&delimiter=/&max-keys=2",
				Save: map[string]string{"km": "body:ListVersionsResult/NextKeyMarker"}},
			{Name: "versions-delimiter-page2", Method: "GET", Path: "/{bucket}?versions&delimiter=/&max-keys=2&key-marker={km}"},
			{Name: "versions-encoding-url", Method: "GET", Path: "/{bucket}?versions&encoding-type=url&prefix=c"},
			{Name: "versions-version-id-marker-without-key-marker", Method: "GET", Path: "/{bucket}?versions&version-id-marker=null"},
			{Name: "uploads-empty", Method: "GET", Path: "/{bucket}?uploads"},
		},
	})
}
