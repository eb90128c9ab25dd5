package s3backend

import (
	"context"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/dgp-proxy/dgp/internal/storage"
)

// TestListingsDecodeURLEncoding: ListObjects and ListMultipartUploads ask
// for encoding-type=url and decode names when the answer says they are
// encoded (and only then).
func TestListingsDecodeURLEncoding(t *testing.T) {
	const objects = `<ListBucketResult><IsTruncated>true</IsTruncated><EncodingType>url</EncodingType>` +
		`<Contents><Key>a+b%01c</Key><Size>1</Size></Contents><CommonPrefixes><Prefix>p%2Bq+/</Prefix></CommonPrefixes></ListBucketResult>`
	const uploads = `<ListMultipartUploadsResult><IsTruncated>true</IsTruncated><EncodingType>url</EncodingType>` +
		`<NextKeyMarker>k+%25</NextKeyMarker><NextUploadIdMarker>u1</NextUploadIdMarker>` +
		`<Upload><Key>k+%25</Key><UploadId>u1</UploadId></Upload><CommonPrefixes><Prefix>d+/</Prefix></CommonPrefixes></ListMultipartUploadsResult>`
	stub := newS3Stub(t)
	body := objects
	stub.setAnswer(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, body) })
	_, sdk := stubBackends(t, stub, Options{Endpoint: "http://minio.test:9000", ForcePathStyle: true, AccessKeyID: "a", SecretAccessKey: "b"})
	ctx := context.Background()

	res, err := sdk.ListObjects(ctx, "bkt", storage.ListOptions{MaxKeys: 10})
	if err != nil {
		t.Fatalf("ListObjects: %v", err)
	}
	if keys := keysOf(res.Objects); !reflect.DeepEqual(keys, []string{"a b\x01c"}) || !reflect.DeepEqual(res.CommonPrefixes, []string{"p+q /"}) || res.NextMarker != "p+q /" {
		t.Errorf("ListObjects = keys %q prefixes %q next %q", keys, res.CommonPrefixes, res.NextMarker)
	}
	body = strings.Replace(objects, "<EncodingType>url</EncodingType>", "", 1)
	if res, err = sdk.ListObjects(ctx, "bkt", storage.ListOptions{MaxKeys: 10}); err != nil || res.Objects[0].Key != "a+b%01c" {
		t.Errorf("ListObjects(unencoded answer) = %+v, %v", res, err)
	}

	body = uploads
	ures, err := sdk.ListMultipartUploads(ctx, "bkt", storage.ListUploadsOptions{})
	if err != nil {
		t.Fatalf("ListMultipartUploads: %v", err)
	}
	if ures.Uploads[0].Key != "k %" || ures.NextKeyMarker != "k %" || !reflect.DeepEqual(ures.CommonPrefixes, []string{"d /"}) {
		t.Errorf("ListMultipartUploads = %+v", ures)
	}
	for _, r := range stub.take() {
		if !strings.Contains(r.RequestURI, "encoding-type=url") {
			t.Errorf("%s does not ask for encoding-type=url", r.RequestURI)
		}
	}
}

// keysOf returns the keys of infos in order.
func keysOf(infos []storage.ObjectInfo) []string {
	out := make([]string, len(infos))
	for i, o := range infos {
		out[i] = o.Key
	}
	return out
}
