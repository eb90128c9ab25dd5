//go:build integration

package conformance

import "testing"

const versioningOn = `<VersioningConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Status>Enabled</Status></VersioningConfiguration>`
const versioningSuspended = `<VersioningConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Status>Suspended</Status></VersioningConfiguration>`

// deleteBody is a DeleteObjects request for key/version pairs.
func deleteBody(quiet bool, pairs ...string) string {
	s := `<Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/">`
	if quiet {
		s += `<Quiet>true</Quiet>`
	}
	for i := 0; i+1 < len(pairs); i += 2 {
		s += `<Object><Key>` + pairs[i] + `</Key>`
		if pairs[i+1] != "" {
			s += `<VersionId>` + pairs[i+1] + `</VersionId>`
		}
		s += `</Object>`
	}
	return s + `</Delete>`
}

// Versioning: a bucket's life from unversioned through Enabled to
// Suspended, with null versions, delete markers, version listing and
// paging, GET/HEAD/DELETE by version id and DeleteObjects with versions.
func TestDifferentialVersioning(t *testing.T) {
	runDifferential(t, scenario{
		Name:    "versioning",
		Buckets: []string{"bucket"},
		Steps: []step{
			{Name: "create", Method: "PUT", Path: "/{bucket}"},
			{Name: "get-versioning-new", Method: "GET", Path: "/{bucket}?versioning"},
			{Name: "list-versions-empty", Method: "GET", Path: "/{bucket}?versions"},
			{Name: "put-unversioned", Method: "PUT", Path: "/{bucket}/k1", Body: "one"},
			{Name: "list-versions-unversioned", Method: "GET", Path: "/{bucket}?versions"},
			{Name: "get-null-unversioned", Method: "GET", Path: "/{bucket}/k1?versionId=null"},
			{Name: "enable", Method: "PUT", Path: "/{bucket}?versioning", Body: versioningOn},
			{Name: "get-versioning-enabled", Method: "GET", Path: "/{bucket}?versioning"},
			{Name: "put-v1", Method: "PUT", Path: "/{bucket}/k1", Body: "two", Save: map[string]string{"two": "header:X-Amz-Version-Id"}},
			{Name: "put-v2", Method: "PUT", Path: "/{bucket}/k1", Body: "three", Save: map[string]string{"three": "header:X-Amz-Version-Id"}},
			{Name: "put-k2", Method: "PUT", Path: "/{bucket}/k2", Body: "x", Save: map[string]string{"k2": "header:X-Amz-Version-Id"}},
			{Name: "put-dir", Method: "PUT", Path: "/{bucket}/d/a", Body: "da"},
			{Name: "get-latest", Method: "GET", Path: "/{bucket}/k1"},
			{Name: "head-latest", Method: "HEAD", Path: "/{bucket}/k1"},
			{Name: "delete-marker", Method: "DELETE", Path: "/{bucket}/k1", Save: map[string]string{"marker": "header:X-Amz-Version-Id"}},
			{Name: "get-deleted", Method: "GET", Path: "/{bucket}/k1"},
			{Name: "head-deleted", Method: "HEAD", Path: "/{bucket}/k1"},
			{Name: "get-by-version", Method: "GET", Path: "/{bucket}/k1?versionId={two}"},
			{Name: "head-by-version", Method: "HEAD", Path: "/{bucket}/k1?versionId={three}"},
			{Name: "get-range-by-version", Method: "GET", Path: "/{bucket}/k1?versionId={three}", Header: map[string]string{"Range": "bytes=1-3"}},
			{Name: "get-null-version", Method: "GET", Path: "/{bucket}/k1?versionId=null"},
			{Name: "get-marker-version", Method: "GET", Path: "/{bucket}/k1?versionId={marker}"},
			{Name: "head-marker-version", Method: "HEAD", Path: "/{bucket}/k1?versionId={marker}"},
			{Name: "list-versions", Method: "GET", Path: "/{bucket}?versions"},
			{Name: "list-versions-page1", Method: "GET", Path: "/{bucket}?versions&max-keys=2",
				Save: map[string]string{"km": "body:ListVersionsResult/NextKeyMarker", "vm": "body:ListVersionsResult/NextVersionIdMarker"}},
			{Name: "list-versions-page2", Method: "GET", Path: "/{bucket}?versions&max-keys=2&key-marker={km}&version-id-marker={vm}"},
			{Name: "list-versions-key-marker-only", Method: "GET", Path: "/{bucket}?versions&key-marker=k1"},
			{Name: "list-versions-prefix", Method: "GET", Path: "/{bucket}?versions&prefix=k2"},
			{Name: "list-versions-delimiter", Method: "GET", Path: "/{bucket}?versions&delimiter=/"},
			{Name: "list-versions-max-keys-0", Method: "GET", Path: "/{bucket}?versions&max-keys=0"},
			{Name: "list-objects-hides-deleted", Method: "GET", Path: "/{bucket}?list-type=2"},
			{Name: "remove-marker", Method: "DELETE", Path: "/{bucket}/k1?versionId={marker}"},
			{Name: "get-after-marker-removed", Method: "GET", Path: "/{bucket}/k1"},
			{Name: "copy-from-version", Method: "PUT", Path: "/{bucket}/k3", Header: map[string]string{"X-Amz-Copy-Source": "/{bucket}/k1?versionId={two}"}},
			{Name: "get-copy", Method: "GET", Path: "/{bucket}/k3"},
			{Name: "suspend", Method: "PUT", Path: "/{bucket}?versioning", Body: versioningSuspended},
			{Name: "get-versioning-suspended", Method: "GET", Path: "/{bucket}?versioning"},
			{Name: "put-suspended", Method: "PUT", Path: "/{bucket}/k1", Body: "four"},
			{Name: "get-null-after-suspended-put", Method: "GET", Path: "/{bucket}/k1?versionId=null"},
			{Name: "list-versions-suspended", Method: "GET", Path: "/{bucket}?versions&prefix=k1"},
			{Name: "delete-suspended", Method: "DELETE", Path: "/{bucket}/k1"},
			{Name: "list-versions-null-marker", Method: "GET", Path: "/{bucket}?versions&prefix=k1"},
			{Name: "delete-null-marker", Method: "DELETE", Path: "/{bucket}/k1?versionId=null"},
			{Name: "delete-objects-versions", Method: "POST", Path: "/{bucket}?delete", MD5: true,
				Body: deleteBody(false, "k2", "{k2}", "k1", "{two}", "k9", "")},
			{Name: "list-versions-final", Method: "GET", Path: "/{bucket}?versions"},
			{Name: "get-unknown-version", Method: "GET", Path: "/{bucket}/k1?versionId={k2}"},
			{Name: "delete-bucket-not-empty", Method: "DELETE", Path: "/{bucket}"},
		},
	})
}
