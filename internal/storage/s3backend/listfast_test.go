package s3backend

import (
	"errors"
	"slices"
	"testing"
	"time"
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
	p := &listPage{urlEncoding: true, objects: []listedObject{{key: "%zz"}}}
	if _, err := p.toResult(); err == nil {
		t.Fatal("a malformed URL-encoded key must fail the listing")
	}
}
