//go:build integration

package conformance

import "testing"

// Object semantics the issue lists: conditional requests (304 / 412 carry
// ETag and Last-Modified), HEAD with Range (206 / 416), CopyObject onto
// itself with and without REPLACE, metadata handling, a re-sent part
// number replacing the earlier part, and DeleteBucket with only an
// in-progress upload left.
func TestDifferentialSemantics(t *testing.T) {
	runDifferential(t, scenario{
		Name:    "semantics",
		Buckets: []string{"bucket"},
		Steps: []step{
			{Name: "create", Method: "PUT", Path: "/{bucket}"},
			{Name: "put", Method: "PUT", Path: "/{bucket}/obj", Body: "0123456789",
				Header: map[string]string{"Content-Type": "text/plain", "X-Amz-Meta-Color": "blue", "Cache-Control": "max-age=60"},
				Save:   map[string]string{"etag": "header:ETag"}},
			{Name: "get-if-none-match", Method: "GET", Path: "/{bucket}/obj", Header: map[string]string{"If-None-Match": "{etag}"}},
			{Name: "get-if-match-stale", Method: "GET", Path: "/{bucket}/obj", Header: map[string]string{"If-Match": `"00000000000000000000000000000000"`}},
			{Name: "head-if-match-stale", Method: "HEAD", Path: "/{bucket}/obj", Header: map[string]string{"If-Match": `"00000000000000000000000000000000"`}},
			{Name: "get-if-modified-since-future", Method: "GET", Path: "/{bucket}/obj", Header: map[string]string{"If-Modified-Since": "Tue, 01 Jan 2036 00:00:00 GMT"}},
			{Name: "get-if-unmodified-since-past", Method: "GET", Path: "/{bucket}/obj", Header: map[string]string{"If-Unmodified-Since": "Mon, 01 Jan 2001 00:00:00 GMT"}},
			{Name: "get-range", Method: "GET", Path: "/{bucket}/obj", Header: map[string]string{"Range": "bytes=2-5"}},
			{Name: "get-suffix-range", Method: "GET", Path: "/{bucket}/obj", Header: map[string]string{"Range": "bytes=-3"}},
			{Name: "get-range-unsatisfiable", Method: "GET", Path: "/{bucket}/obj", Header: map[string]string{"Range": "bytes=100-200"}},
			{Name: "head-range", Method: "HEAD", Path: "/{bucket}/obj", Header: map[string]string{"Range": "bytes=0-1"}},
			// S3 documents the 416 of a HEAD, not which headers come with it
			// (MinIO sends ETag and Last-Modified): the status is compared.
			{Name: "head-range-unsatisfiable", Method: "HEAD", Path: "/{bucket}/obj", Header: map[string]string{"Range": "bytes=100-200"}, StatusOnly: true},
			{Name: "copy-onto-itself-without-replace", Method: "PUT", Path: "/{bucket}/obj", Header: map[string]string{"X-Amz-Copy-Source": "/{bucket}/obj"}},
			{Name: "copy-onto-itself-replace", Method: "PUT", Path: "/{bucket}/obj",
				Header: map[string]string{"X-Amz-Copy-Source": "/{bucket}/obj", "X-Amz-Metadata-Directive": "REPLACE", "Content-Type": "application/json", "X-Amz-Meta-Shape": "round"}},
			{Name: "head-after-replace", Method: "HEAD", Path: "/{bucket}/obj"},
			{Name: "copy-keeps-metadata", Method: "PUT", Path: "/{bucket}/copy", Header: map[string]string{"X-Amz-Copy-Source": "/{bucket}/obj"}},
			{Name: "head-copy", Method: "HEAD", Path: "/{bucket}/copy"},
			{Name: "mpu-create", Method: "POST", Path: "/{bucket}/mpu?uploads", Save: map[string]string{"upload": "body:InitiateMultipartUploadResult/UploadId"}},
			{Name: "mpu-part-1", Method: "PUT", Path: "/{bucket}/mpu?partNumber=1&uploadId={upload}", Body: "first attempt"},
			{Name: "mpu-part-1-again", Method: "PUT", Path: "/{bucket}/mpu?partNumber=1&uploadId={upload}", Body: "second attempt", Save: map[string]string{"p1": "header:ETag"}},
			{Name: "mpu-list-parts", Method: "GET", Path: "/{bucket}/mpu?uploadId={upload}"},
			{Name: "mpu-list-uploads", Method: "GET", Path: "/{bucket}?uploads"},
			{Name: "mpu-complete", Method: "POST", Path: "/{bucket}/mpu?uploadId={upload}",
				Body: `<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>{p1}</ETag></Part></CompleteMultipartUpload>`},
			{Name: "mpu-get", Method: "GET", Path: "/{bucket}/mpu"},
			{Name: "delete-missing-key", Method: "DELETE", Path: "/{bucket}/nothing-here"},
			{Name: "list-v2-max-keys-0", Method: "GET", Path: "/{bucket}?list-type=2&max-keys=0"},
			// DeleteBucket succeeds when only in-progress uploads remain.
			{Name: "upload-left", Method: "POST", Path: "/{bucket}/left?uploads"},
			{Name: "delete-obj", Method: "DELETE", Path: "/{bucket}/obj"},
			{Name: "delete-copy", Method: "DELETE", Path: "/{bucket}/copy"},
			{Name: "delete-mpu", Method: "DELETE", Path: "/{bucket}/mpu"},
			{Name: "delete-bucket-with-upload-left", Method: "DELETE", Path: "/{bucket}"},
			{Name: "head-deleted-bucket", Method: "HEAD", Path: "/{bucket}"},
		},
	})
}
