package s3backend

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/dgp-proxy/dgp/internal/s3err"
	"github.com/dgp-proxy/dgp/internal/storage"
)

func TestScanVersionOrder(t *testing.T) {
	tests := []struct {
		name string
		body string
		want []bool
	}{
		{"empty listing", `<ListVersionsResult><Name>b</Name></ListVersionsResult>`, []bool{}},
		{"interleaved", `<?xml version="1.0"?><ListVersionsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">` +
			`<Version><Key>a</Key></Version><DeleteMarker><Key>a</Key></DeleteMarker><Version><Key>a</Key></Version>` +
			`<CommonPrefixes><Prefix>d/</Prefix></CommonPrefixes><DeleteMarker><Key>b</Key></DeleteMarker></ListVersionsResult>`,
			[]bool{false, true, false, true}},
		{"names as the SDK matches them", `<ListVersionsResult><version/><DELETEMARKER/></ListVersionsResult>`, []bool{false, true}},
		{"nested names do not count", `<ListVersionsResult><Version><Version/><DeleteMarker/></Version></ListVersionsResult>`, []bool{false}},
		{"truncated", `<ListVersionsResult><Version><Key>a</Key></Version><Delete`, nil},
		{"unclosed", `<ListVersionsResult><Version></Version>`, nil},
		{"not xml", `{"json": true}`, []bool{}},
	}
	for _, tt := range tests {
		if got := scanVersionOrder([]byte(tt.body)); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: scanVersionOrder = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func FuzzScanVersionOrder(f *testing.F) {
	f.Add([]byte(`<ListVersionsResult><Version><Key>a</Key></Version><DeleteMarker/></ListVersionsResult>`))
	f.Add([]byte(`<ListVersionsResult><Version>`))
	f.Add([]byte(`</x>`))
	f.Add([]byte(``))
	f.Fuzz(func(t *testing.T, body []byte) {
		got := scanVersionOrder(body)
		// Never more entries than start tags.
		if n := strings.Count(string(body), "<"); len(got) > n {
			t.Fatalf("%d entries from %d tags", len(got), n)
		}
	})
}

func vi(key, id string, latest, marker bool, at int) storage.ObjectInfo {
	return storage.ObjectInfo{Key: key, VersionID: id, IsLatest: latest, DeleteMarker: marker,
		LastModified: time.Date(2025, 1, 1, 0, 0, at, 0, time.UTC)}
}

func TestOrderVersions(t *testing.T) {
	versions := []storage.ObjectInfo{vi("a", "a3", true, false, 3), vi("a", "a1", false, false, 1), vi("b", "b1", false, false, 5), vi("c", "c1", true, false, 1)}
	markers := []storage.ObjectInfo{vi("a", "am", false, true, 2), vi("b", "bm", true, true, 5)}
	ids := func(vs []storage.ObjectInfo) string {
		var s []string
		for _, v := range vs {
			s = append(s, v.VersionID)
		}
		return strings.Join(s, ",")
	}
	// The document order wins, even where LastModified would say otherwise.
	doc := []bool{false, false, true, true, false, false}
	if got := ids(orderVersions(versions, markers, doc)); got != "a3,a1,am,bm,b1,c1" {
		t.Errorf("by document order: %s", got)
	}
	// Without it (or when it disagrees with the slices), by key, latest,
	// then newest first.
	for _, bad := range [][]bool{nil, {false, true}, {true, true, true, false, false, false}} {
		if got := ids(orderVersions(versions, markers, bad)); got != "a3,am,a1,bm,b1,c1" {
			t.Errorf("merged (order %v): %s", bad, got)
		}
	}
	if got := orderVersions(nil, nil, []bool{}); got != nil {
		t.Errorf("empty: %v", got)
	}
	if got := ids(mergeVersions(nil, markers)); got != "am,bm" {
		t.Errorf("markers only: %s", got)
	}
}

func TestKeyDecoder(t *testing.T) {
	d := keyDecoder{encoded: true}
	for in, want := range map[string]string{"a+b%2Bc": "a b+c", "%E6%97%A5/x": "日/x", "plain": "plain", "": "", "z%7E%5Bminio_cache%3Av2%5D": "z~[minio_cache:v2]"} {
		if got := d.decode(in); got != want {
			t.Errorf("decode(%q) = %q, want %q", in, got, want)
		}
	}
	if d.err != nil {
		t.Fatalf("err = %v", d.err)
	}
	if got := d.decode("bad%zz"); got != "bad%zz" || d.err == nil {
		t.Errorf("decode(malformed) = %q, err %v", got, d.err)
	}
	raw := keyDecoder{}
	if got := raw.decode("a+b%2B"); got != "a+b%2B" {
		t.Errorf("not encoded: decode = %q", got)
	}
}

// versionsXML is a ListVersionsResult as MinIO sends it, URL-encoded, in
// which a delete marker and an older version of one key share a
// LastModified and only the document order tells which comes first.
const versionsXML = `<?xml version="1.0" encoding="UTF-8"?>
<ListVersionsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>bkt</Name><Prefix></Prefix><KeyMarker>a</KeyMarker>` +
	`<NextKeyMarker>z%7E%5Bminio_cache%3Av2%5D</NextKeyMarker><NextVersionIdMarker>v-next</NextVersionIdMarker><VersionIdMarker></VersionIdMarker>` +
	`<MaxKeys>5</MaxKeys><Delimiter>%2F</Delimiter><IsTruncated>true</IsTruncated>` +
	`<Version><Key>a+b%2Bc</Key><LastModified>2025-10-21T07:28:03.000Z</LastModified><ETag>&#34;e1&#34;</ETag><Size>3</Size><StorageClass>STANDARD</StorageClass><IsLatest>true</IsLatest><VersionId>v3</VersionId></Version>` +
	`<DeleteMarker><Key>a+b%2Bc</Key><LastModified>2025-10-21T07:28:01.000Z</LastModified><IsLatest>false</IsLatest><VersionId>m2</VersionId></DeleteMarker>` +
	`<Version><Key>a+b%2Bc</Key><LastModified>2025-10-21T07:28:01.000Z</LastModified><ETag>e0</ETag><Size>1</Size><StorageClass>STANDARD</StorageClass><IsLatest>false</IsLatest><VersionId>v1</VersionId></Version>` +
	`<CommonPrefixes><Prefix>p+q%2F</Prefix></CommonPrefixes>` +
	`<DeleteMarker><Key>z%7E</Key><LastModified>2025-10-21T07:28:05.000Z</LastModified><IsLatest>true</IsLatest><VersionId>null</VersionId></DeleteMarker>` +
	`<EncodingType>url</EncodingType></ListVersionsResult>`

// TestListObjectVersionsFromRawAnswer: the fast path and the SDK's read
// the same answer into the same page (order, decoding, markers), send the
// same query, and fail alike.
func TestListObjectVersionsFromRawAnswer(t *testing.T) {
	stub := newS3Stub(t)
	fast, sdk := stubBackends(t, stub, Options{Endpoint: "http://minio.test:9000", ForcePathStyle: true, AccessKeyID: "a", SecretAccessKey: "b"})
	for _, c := range []struct {
		name string
		b    *Backend
	}{{"fast", fast}, {"sdk", sdk}} {
		t.Run(c.name, func(t *testing.T) { testVersionsFromRawAnswer(t, stub, c.b) })
	}
}

func testVersionsFromRawAnswer(t *testing.T, stub *s3Stub, b *Backend) {
	body := versionsXML
	stub.setAnswer(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/xml")
		_, _ = io.WriteString(w, body)
	})
	ctx := context.Background()
	opts := storage.ListVersionsOptions{Prefix: "a b", Delimiter: "/", KeyMarker: "a+b c[minio_cache:v2]", VersionIDMarker: "v9", MaxKeys: 5}
	res, err := b.ListObjectVersions(ctx, "bkt", opts)
	if err != nil {
		t.Fatalf("ListObjectVersions: %v", err)
	}
	reqs := stub.take()
	if len(reqs) != 1 {
		t.Fatalf("%d requests", len(reqs))
	}
	_, rawQuery, _ := strings.Cut(reqs[0].RequestURI, "?")
	q, _ := url.ParseQuery(rawQuery)
	for k, want := range map[string]string{"versions": "", "encoding-type": "url", "prefix": "a b", "delimiter": "/",
		"key-marker": "a+b c[minio_cache:v2]", "version-id-marker": "v9", "max-keys": "5"} {
		if got, ok := q[k]; !ok || got[0] != want {
			t.Errorf("query %s = %v, want %q", k, got, want)
		}
	}
	if len(q) != 7 {
		t.Errorf("query %v: want 7 parameters", q)
	}

	at := func(s int) time.Time { return time.Date(2025, 10, 21, 7, 28, s, 0, time.UTC) }
	want := &storage.ListVersionsResult{
		Versions: []storage.ObjectInfo{
			{Key: "a b+c", Size: 3, ETag: `"e1"`, LastModified: at(3), StorageClass: "STANDARD", VersionID: "v3", IsLatest: true},
			{Key: "a b+c", LastModified: at(1), VersionID: "m2", DeleteMarker: true},
			{Key: "a b+c", Size: 1, ETag: `"e0"`, LastModified: at(1), StorageClass: "STANDARD", VersionID: "v1"},
			{Key: "z~", LastModified: at(5), VersionID: "null", IsLatest: true, DeleteMarker: true},
		},
		CommonPrefixes:      []string{"p q/"},
		IsTruncated:         true,
		NextKeyMarker:       "z~[minio_cache:v2]",
		NextVersionIDMarker: "v-next",
	}
	if !reflect.DeepEqual(res, want) {
		t.Fatalf("result:\n got  %+v\n want %+v", res, want)
	}

	// max-keys 0: the upstream is asked (for a missing bucket's error), the
	// page is empty and untruncated.
	res, err = b.ListObjectVersions(ctx, "bkt", storage.ListVersionsOptions{})
	if err != nil || !reflect.DeepEqual(res, &storage.ListVersionsResult{}) {
		t.Fatalf("max-keys 0 = %+v, %v", res, err)
	}
	if reqs := stub.take(); len(reqs) != 1 || !strings.Contains(reqs[0].RequestURI, "max-keys=1") {
		t.Fatalf("max-keys 0 sent %+v", reqs)
	}

	// An answer that is not URL-encoded is taken as it is; a malformed
	// encoded one is an error.
	body = strings.Replace(versionsXML, "<EncodingType>url</EncodingType>", "", 1)
	if res, err = b.ListObjectVersions(ctx, "bkt", opts); err != nil || res.Versions[0].Key != "a+b%2Bc" || res.NextKeyMarker != "z%7E%5Bminio_cache%3Av2%5D" {
		t.Fatalf("unencoded answer: %+v, %v", res, err)
	}
	for _, bad := range []string{"p+q%2F", "z%7E%5Bminio_cache%3Av2%5D"} {
		body = strings.Replace(versionsXML, bad, "p%zz", 1)
		_, err = b.ListObjectVersions(ctx, "bkt", opts)
		assertS3Err(t, "malformed encoding", err, s3err.ErrInternalError)
	}
	stub.take()

	// An error answer goes through translate.
	stub.setAnswer(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(http.StatusNotFound)
		_, _ = io.WriteString(w, s3ErrorXML("NoSuchBucket", "The specified bucket does not exist"))
	})
	_, err = b.ListObjectVersions(ctx, "bkt", opts)
	assertS3Err(t, "missing bucket", err, s3err.ErrNoSuchBucket)
	stub.take()
}

// TestListObjectVersionsLargeAnswer: a page of 1000 entries keeps its
// document order (alternating markers and versions of one key, all with
// one LastModified).
func TestListObjectVersionsLargeAnswer(t *testing.T) {
	var sb strings.Builder
	sb.WriteString(`<ListVersionsResult><IsTruncated>false</IsTruncated>`)
	var want []string
	for i := range 1000 {
		elem := "Version"
		if i%3 == 1 {
			elem = "DeleteMarker"
		}
		fmt.Fprintf(&sb, `<%s><Key>k</Key><LastModified>2025-10-21T07:28:00.000Z</LastModified><VersionId>v%d</VersionId><IsLatest>%t</IsLatest></%s>`, elem, i, i == 0, elem)
		want = append(want, fmt.Sprintf("v%d", i))
	}
	sb.WriteString(`</ListVersionsResult>`)
	stub := newS3Stub(t)
	stub.setAnswer(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, sb.String()) })
	fast, sdk := stubBackends(t, stub, Options{Endpoint: "http://minio.test:9000", ForcePathStyle: true, AccessKeyID: "a", SecretAccessKey: "b"})
	for _, b := range []*Backend{fast, sdk} {
		res, err := b.ListObjectVersions(context.Background(), "bkt", storage.ListVersionsOptions{MaxKeys: 1000})
		if err != nil {
			t.Fatalf("ListObjectVersions: %v", err)
		}
		var got []string
		for _, v := range res.Versions {
			got = append(got, v.VersionID)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("order lost: first entries %v", got[:6])
		}
	}
}
