package s3backend

import (
	"fmt"
	"strings"
	"testing"
)

// minioPage is a ListObjectsV2 answer of n keys as MinIO writes it
// (encoding-type url, owner, checksum algorithm).
func minioPage(n int) []byte {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n" +
		`<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>bkt</Name><Prefix>flat%2F</Prefix>` +
		`<NextContinuationToken>MTIzNDU2Nzg5</NextContinuationToken><KeyCount>1000</KeyCount><MaxKeys>1000</MaxKeys>` +
		`<IsTruncated>true</IsTruncated>`)
	for i := range n {
		fmt.Fprintf(&b, `<Contents><Key>flat%%2Fk%07d</Key><LastModified>2026-12-06T09:56:33.123Z</LastModified>`+
			`<ETag>&#34;0cc175b9c0f1b6a831c399e2697726%02d&#34;</ETag><Size>%d</Size>`+
			`<Owner><ID>02d6176db174dc93cb1b899f7c6078f08654445fe8cf1b6ce98d8855f66bdbf4</ID><DisplayName>minio</DisplayName></Owner>`+
			`<StorageClass>STANDARD</StorageClass></Contents>`, i, i%100, 100+i)
	}
	b.WriteString(`<EncodingType>url</EncodingType></ListBucketResult>`)
	return []byte(b.String())
}

// BenchmarkListPage: what dgp does with one 1,000-key page of its S3
// backend's answer before the handler renders it (scan, decode, parse).
func BenchmarkListPage(b *testing.B) {
	doc := minioPage(1000)
	b.SetBytes(int64(len(doc)))
	b.ReportAllocs()
	for b.Loop() {
		p, err := scanListV2(doc)
		if err != nil {
			b.Fatal(err)
		}
		res, err := p.toResult()
		if err != nil || len(res.Objects) != 1000 {
			b.Fatal(err)
		}
	}
}
