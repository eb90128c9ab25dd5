package s3backend

import (
	"compress/gzip"
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	smithytime "github.com/aws/smithy-go/time"

	"github.com/dgp-proxy/dgp/internal/storage"
)

// A ListObjectsV2 answer as MinIO writes it (one line, namespace, owner
// when asked, entities in ETags), with the fields dgp ignores.
const minioListAnswer = `<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>bkt</Name><Prefix></Prefix>` +
	`<NextContinuationToken>MTIz</NextContinuationToken><KeyCount>3</KeyCount><MaxKeys>2</MaxKeys>` +
	`<Delimiter>%2F</Delimiter><IsTruncated>true</IsTruncated>` +
	`<Contents><Key>a+b%26c%0D</Key><LastModified>2026-01-02T03:04:05.678Z</LastModified>` +
	`<ETag>&#34;0cc175b9c0f1b6a831c399e269772661&#34;</ETag><Size>1</Size>` +
	`<Owner><ID>02d6176db174dc93cb1b899f7c6078f08654445fe8cf1b6ce98d8855f66bdbf4</ID><DisplayName>minio</DisplayName></Owner>` +
	`<StorageClass>STANDARD</StorageClass><ChecksumAlgorithm>CRC32</ChecksumAlgorithm></Contents>` +
	"<Contents>\n  <Key>x&amp;y&lt;&gt;&apos;&quot;&#xE9;</Key>\n  <Size>12345678901</Size>\n  <ETag>\"e-2\"</ETag>\n</Contents>" +
	`<CommonPrefixes><Prefix>dir%2F</Prefix></CommonPrefixes><CommonPrefixes><Prefix>d%C3%BC%2F</Prefix></CommonPrefixes>` +
	`<EncodingType>url</EncodingType><!-- a comment --></ListBucketResult>`

func TestScanListV2(t *testing.T) {
	p, err := scanListV2([]byte(minioListAnswer))
	if err != nil {
		t.Fatal(err)
	}
	if !p.truncated || !p.urlEncoding || len(p.objects) != 2 {
		t.Fatalf("page %+v", p)
	}
	res, err := p.toResult()
	if err != nil {
		t.Fatal(err)
	}
	o := res.Objects
	if o[0].Key != "a b&c\r" || o[0].ETag != `"0cc175b9c0f1b6a831c399e269772661"` || o[0].Size != 1 ||
		o[0].StorageClass != "STANDARD" || !o[0].LastModified.Equal(time.Date(2026, 1, 2, 3, 4, 5, 678e6, time.UTC)) {
		t.Errorf("first object %+v", o[0])
	}
	if o[1].Key != `x&y<>'"é` || o[1].Size != 12345678901 || o[1].ETag != `"e-2"` || !o[1].LastModified.IsZero() {
		t.Errorf("second object %+v", o[1])
	}
	if !slices.Equal(res.CommonPrefixes, []string{"dir/", "dü/"}) {
		t.Errorf("prefixes %q", res.CommonPrefixes)
	}
}

// TestScanListV2RefusesUnknownShapes: what the scanner does not read for
// certain is refused (the listing then goes through the SDK), never
// misread.
func TestScanListV2RefusesUnknownShapes(t *testing.T) {
	for name, doc := range map[string]string{
		"other root":       `<ListVersionsResult><IsTruncated>false</IsTruncated></ListVersionsResult>`,
		"namespace prefix": `<s3:ListBucketResult xmlns:s3="x"><s3:IsTruncated>false</s3:IsTruncated></s3:ListBucketResult>`,
		"cdata":            `<ListBucketResult><Contents><Key><![CDATA[a]]></Key></Contents></ListBucketResult>`,
		"doctype":          `<!DOCTYPE x><ListBucketResult></ListBucketResult>`,
		"unbalanced":       `<ListBucketResult><Contents><Key>a</Contents></ListBucketResult>`,
		"unclosed":         `<ListBucketResult><Contents>`,
		"unknown entity":   `<ListBucketResult><Contents><Key>&nbsp;</Key></Contents></ListBucketResult>`,
		"bad size":         `<ListBucketResult><Contents><Size>1x</Size></Contents></ListBucketResult>`,
		"two roots":        `<ListBucketResult></ListBucketResult><ListBucketResult></ListBucketResult>`,
		"empty":            ``,
		"truncated tag":    `<ListBucketResult><Contents`,
	} {
		if _, err := scanListV2([]byte(doc)); !errors.Is(err, errListShape) {
			t.Errorf("%s: err = %v, want errListShape", name, err)
		}
	}
}

func TestToResultRejectsBadEncoding(t *testing.T) {
	p, err := scanListV2([]byte(`<ListBucketResult><Contents><Key>%zz</Key></Contents><EncodingType>url</EncodingType></ListBucketResult>`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.toResult(); err == nil {
		t.Fatal("a malformed URL-encoded key must fail the listing")
	}
}

// TestParseListTime: the hand parser reads what it accepts exactly as the
// SDK's parser does, and leaves every doubtful text to it.
func TestParseListTime(t *testing.T) {
	for _, s := range []string{
		"2026-01-02T03:04:05Z", "2026-01-02T03:04:05.6Z", "2026-01-02T03:04:05.678Z",
		"2026-12-31T23:59:59.123456789Z", "2024-02-29T00:00:00.000Z", "0001-01-01T00:00:00Z",
	} {
		got, ok := parseListTime([]byte(s))
		want, err := smithytime.ParseDateTime(s)
		if !ok || err != nil || !got.Equal(want) || got.Location() != time.UTC {
			t.Errorf("%s: hand %v %v, SDK %v %v", s, got, ok, want, err)
		}
	}
	for _, s := range []string{
		"", "2026-01-02", "2026-01-02T03:04:05", "2026-01-02T03:04:05+01:00", "2026-01-02t03:04:05Z",
		"2026-02-30T00:00:00Z", "2025-02-29T00:00:00Z", "2026-13-01T00:00:00Z", "2026-00-01T00:00:00Z",
		"2026-01-00T00:00:00Z", "2026-01-02T24:00:00Z", "2026-01-02T03:60:00Z", "2026-01-02T03:04:60Z",
		"2026-01-02T03:04:05.Z", "2026-01-02T03:04:05.1234567890Z", "2026-01-02T03:04:05,1Z",
		"2026-01-02T03:04:05.1aZ", "2026-01-02T03:04:05xZ", "+026-01-02T03:04:05Z", "2026-1-02T03:04:05.0Z",
	} {
		if got, ok := parseListTime([]byte(s)); ok {
			t.Errorf("%q: read as %v, want it left to the SDK's parser", s, got)
		}
	}
	// A page with a time only the SDK reads, and one nobody reads.
	p, err := scanListV2([]byte(`<ListBucketResult><Contents><Key>a</Key><LastModified>2026-01-02T03:04:05.1234567891Z</LastModified></Contents></ListBucketResult>`))
	if err != nil {
		t.Fatal(err)
	}
	if res, err := p.toResult(); err != nil || res.Objects[0].LastModified.IsZero() {
		t.Errorf("a 10-digit fraction: %v %v", res, err)
	}
	p, err = scanListV2([]byte(`<ListBucketResult><Contents><Key>a</Key><LastModified>yesterday</LastModified></Contents></ListBucketResult>`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.toResult(); err == nil {
		t.Error("an unreadable LastModified must fail the listing")
	}
}

// TestListETags: the common entity-quoted ETag is read into one string,
// every other form through the general unescaping, with the same result.
func TestListETags(t *testing.T) {
	for raw, want := range map[string]string{
		"&#34;0cc175b9&#34;": `"0cc175b9"`,
		"&#34;34abc&#34;":    `"34abc"`,
		"&quot;abc-2&quot;":  `"abc-2"`,
		"&#34;&#34;":         `""`,
		`"abc"`:              `"abc"`,
		"abc":                `"abc"`,
		"&#34;a&amp;b&#34;":  `"a&b"`,
		"&#34;abc":           `"abc`, // quoteETag leaves what starts with a quote
		"&#34;":              `"`,
		"&quot;abc&#34;":     `"abc"`,
		"&#34;a\r\nb&#34;":   "\"a\nb\"",
		"&#x22;x&#x22;":      `"x"`,
	} {
		doc := `<ListBucketResult><Contents><Key>k</Key><ETag>` + raw + `</ETag></Contents></ListBucketResult>`
		p, err := scanListV2([]byte(doc))
		if err != nil {
			t.Fatalf("%q: %v", raw, err)
		}
		res, err := p.toResult()
		if err != nil || res.Objects[0].ETag != want {
			t.Errorf("%q: ETag %q (%v), want %q", raw, res.Objects[0].ETag, err, want)
		}
	}
	if n := entityQuoted([]byte("&#34;a&amp;b&#34;")); n != 0 {
		t.Errorf("an entity inside the quotes taken as the common form (%d)", n)
	}
}

// TestFastListingAsksUncompressed: the fast listing asks for the page
// uncompressed, as the SDK does; a server that gzips whatever a client
// accepts (MinIO does) then sends it plain, and dgp spends no CPU on it.
func TestFastListingAsksUncompressed(t *testing.T) {
	stub := newS3Stub(t)
	page := minioPage(3)
	stub.setAnswer(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/xml")
		if strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
			w.Header().Set("Content-Encoding", "gzip")
			zw := gzip.NewWriter(w)
			_, _ = zw.Write(page)
			_ = zw.Close()
			return
		}
		_, _ = w.Write(page)
	})
	fast, sdk := stubBackends(t, stub, Options{Endpoint: "http://minio.test:9000", ForcePathStyle: true, AccessKeyID: "a", SecretAccessKey: "b"})
	for name, b := range map[string]*Backend{"fast": fast, "sdk": sdk} {
		res, err := b.ListObjects(context.Background(), "bkt", storage.ListOptions{Prefix: "flat/", MaxKeys: 1000})
		if err != nil || len(res.Objects) != 3 || res.Objects[2].Key != "flat/k0000002" {
			t.Fatalf("%s: %+v, %v", name, res, err)
		}
		reqs := stub.take()
		if len(reqs) != 1 {
			t.Fatalf("%s: %d requests", name, len(reqs))
		}
		if ae := reqs[0].Header.Get("Accept-Encoding"); ae != "identity" {
			t.Errorf("%s listing sent Accept-Encoding %q, want identity", name, ae)
		}
	}
}
