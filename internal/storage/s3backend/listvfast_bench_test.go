package s3backend

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/dgp-proxy/dgp/internal/storage"
)

// minioVersionsPage is a ListObjectVersions answer of n entries as MinIO
// writes it (encoding-type url, owner, markers' cache suffix): every
// tenth entry a delete marker.
func minioVersionsPage(n int) []byte {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n" +
		`<ListVersionsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>bkt</Name><Prefix>flat%2F</Prefix>` +
		`<KeyMarker></KeyMarker><NextKeyMarker>flat%2Fk0000999%5Bminio_cache%3Av2%5D</NextKeyMarker>` +
		`<NextVersionIdMarker>3e5bd8f5-94a3-4d5c-8e4e-b1a2c3d4e5f6</NextVersionIdMarker><VersionIdMarker></VersionIdMarker>` +
		`<MaxKeys>1000</MaxKeys><IsTruncated>true</IsTruncated>`)
	const owner = `<Owner><ID>02d6176db174dc93cb1b899f7c6078f08654445fe8cf1b6ce98d8855f66bdbf4</ID><DisplayName>minio</DisplayName></Owner>`
	for i := range n {
		if i%10 == 9 {
			fmt.Fprintf(&b, `<DeleteMarker><Key>flat%%2Fk%07d</Key><VersionId>5f0c1d2e-%04d-4d5c-8e4e-b1a2c3d4e5f6</VersionId>`+
				`<IsLatest>true</IsLatest><LastModified>2026-12-06T09:56:33.123Z</LastModified>%s</DeleteMarker>`, i, i, owner)
			continue
		}
		fmt.Fprintf(&b, `<Version><Key>flat%%2Fk%07d</Key><VersionId>3e5bd8f5-%04d-4d5c-8e4e-b1a2c3d4e5f6</VersionId>`+
			`<IsLatest>%t</IsLatest><LastModified>2026-12-06T09:56:33.123Z</LastModified>`+
			`<ETag>&#34;0cc175b9c0f1b6a831c399e2697726%02d&#34;</ETag><Size>%d</Size>%s`+
			`<StorageClass>STANDARD</StorageClass></Version>`, i, i, i%10 == 0, i%100, 100+i, owner)
	}
	b.WriteString(`<EncodingType>url</EncodingType></ListVersionsResult>`)
	return []byte(b.String())
}

// BenchmarkListVersions: one 1,000-entry page of versions through the
// backend from a local stub server, on the SDK's path and on the fast
// path (the HTTP exchange is in both).
func BenchmarkListVersions(b *testing.B) {
	doc := minioVersionsPage(1000)
	stub := newS3Stub(b)
	stub.setAnswer(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/xml")
		_, _ = w.Write(doc)
	})
	fast, sdk := stubBackends(b, stub, Options{Endpoint: "http://minio.test:9000", ForcePathStyle: true, AccessKeyID: "a", SecretAccessKey: "b"})
	for _, c := range []struct {
		name string
		b    *Backend
	}{{"sdk", sdk}, {"fast", fast}} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(doc)))
			b.ReportAllocs()
			for b.Loop() {
				res, err := c.b.ListObjectVersions(context.Background(), "bkt", storage.ListVersionsOptions{MaxKeys: 1000})
				if err != nil || len(res.Versions) != 1000 {
					b.Fatal(len(res.Versions), err)
				}
				stub.take()
			}
		})
	}
}
