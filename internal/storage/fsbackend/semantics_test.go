package fsbackend

import (
	"context"
	"net/http"
	"testing"

	"github.com/dgp-proxy/dgp/internal/s3err"
	"github.com/dgp-proxy/dgp/internal/storage"
)

// Re-sending a part number replaces the part: completion takes the new
// one, and the old ETag no longer names a part.
func TestUploadPartResendReplaces(t *testing.T) {
	b, _ := mustNew(t)
	ctx := context.Background()
	mustBucket(t, b, "bkt")
	id, err := b.CreateMultipartUpload(ctx, "bkt", "k", storage.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	old := mustUpload(t, b, "bkt", "k", id, 1, []byte("first"))
	cur := mustUpload(t, b, "bkt", "k", id, 1, []byte("second!"))
	parts, err := b.ListParts(ctx, "bkt", "k", id, storage.ListPartsOptions{})
	if err != nil || len(parts.Parts) != 1 || parts.Parts[0].ETag != cur || parts.Parts[0].Size != 7 {
		t.Fatalf("ListParts = %+v, %v", parts, err)
	}
	_, err = b.CompleteMultipartUpload(ctx, "bkt", "k", id, []storage.CompletedPart{part(1, old)})
	wantErr(t, err, s3err.ErrInvalidPart)
	if _, err := b.CompleteMultipartUpload(ctx, "bkt", "k", id, []storage.CompletedPart{part(1, cur)}); err != nil {
		t.Fatal(err)
	}
	if got := mustGet(t, b, "bkt", "k"); got != "second!" {
		t.Fatalf("object = %q", got)
	}
}

// 304 and 412 answers of GET and HEAD carry ETag and Last-Modified.
func TestConditionalErrorsCarryValidators(t *testing.T) {
	b, _ := mustNew(t)
	ctx := context.Background()
	mustBucket(t, b, "bkt")
	etag := mustPut(t, b, "bkt", "k", "data").ETag
	lm := testEpoch.Format(http.TimeFormat)
	for _, c := range []storage.Conditions{{IfNoneMatch: etag}, {IfMatch: `"other"`}} {
		_, err := b.GetObject(ctx, "bkt", "k", storage.GetOptions{Conditions: c})
		if err == nil || errHeader(err, "ETag") != etag || errHeader(err, "Last-Modified") != lm {
			t.Fatalf("GET %+v = %v", c, err)
		}
		_, err = b.HeadObject(ctx, "bkt", "k", storage.GetOptions{Conditions: c})
		if err == nil || errHeader(err, "ETag") != etag || errHeader(err, "Last-Modified") != lm {
			t.Fatalf("HEAD %+v = %v", c, err)
		}
	}
}
