package s3backend

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"github.com/dgp-proxy/dgp/internal/storage"
)

// TestFastVersionsMatchSDK: random version listings (keys that need URL
// and XML escaping, versions and delete markers interleaved, the ETag and
// time forms servers write, optional fields absent, unknown elements)
// read on the fast path and by the SDK come out the same, and the fast
// path reads them without asking again.
func TestFastVersionsMatchSDK(t *testing.T) {
	stub := newS3Stub(t)
	var doc string
	stub.setAnswer(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/xml")
		_, _ = io.WriteString(w, doc)
	})
	fast, sdk := stubBackends(t, stub, Options{Endpoint: "http://minio.test:9000", ForcePathStyle: true, AccessKeyID: "a", SecretAccessKey: "b"})
	ctx := context.Background()
	r := rand.New(rand.NewPCG(11, 12))
	for round := range 300 {
		doc = randomVersionsDoc(r)
		want, werr := sdk.ListObjectVersions(ctx, "bkt", storage.ListVersionsOptions{MaxKeys: 1000})
		stub.take()
		got, gerr := fast.ListObjectVersions(ctx, "bkt", storage.ListVersionsOptions{MaxKeys: 1000})
		if n := len(stub.take()); n != 1 {
			t.Fatalf("round %d: the fast path sent %d requests (not read by the scanner)\n%s", round, n, doc)
		}
		if werr != nil || gerr != nil {
			t.Fatalf("round %d: fast err %v, sdk err %v\n%s", round, gerr, werr, doc)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("round %d:\nfast %+v\nsdk  %+v\n%s", round, got, want, doc)
		}
	}
}

// randomVersionsDoc writes a ListVersionsResult as S3 servers may.
func randomVersionsDoc(r *rand.Rand) string {
	alphabet := []string{"a", "/", " ", "+", "%", "&", "<", ">", "'", "\"", "é", "日", "\t", "~", "k0", "[", ":"}
	word := func() string {
		var b strings.Builder
		for range 1 + r.IntN(6) {
			b.WriteString(alphabet[r.IntN(len(alphabet))])
		}
		return b.String()
	}
	encoded := r.IntN(4) != 0
	text := func(s string, key bool) string {
		if key && encoded {
			s = url.QueryEscape(s)
		}
		var b strings.Builder
		_ = xml.EscapeText(&b, []byte(s))
		return b.String()
	}
	etags := []string{`&#34;%s&#34;`, `&quot;%s&quot;`, `"%s"`, `%s`, `&#34;%s-2&#34;`}
	times := []string{"2026-12-06T09:56:33.123Z", "2026-12-06T09:56:33Z", "2024-02-29T23:59:59.123456789Z", "2025-10-21T07:28:01.000Z"}
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n" + `<ListVersionsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>bkt</Name>`)
	truncated := r.IntN(2) == 0
	if r.IntN(2) == 0 {
		fmt.Fprintf(&b, "<NextKeyMarker>%s</NextKeyMarker>", text(word()+"[minio_cache:v2]", true))
	}
	if r.IntN(2) == 0 {
		fmt.Fprintf(&b, "<NextVersionIdMarker>%s</NextVersionIdMarker>", text(word(), false))
	}
	fmt.Fprintf(&b, "<MaxKeys>1000</MaxKeys><IsTruncated>%t</IsTruncated>", truncated)
	for i := range r.IntN(30) {
		marker := r.IntN(3) == 0
		elem := "Version"
		if marker {
			elem = "DeleteMarker"
		}
		fmt.Fprintf(&b, "<%s>\n <Key>%s</Key>", elem, text(word(), true))
		if r.IntN(8) != 0 {
			fmt.Fprintf(&b, "<VersionId>%s</VersionId>", text(fmt.Sprintf("v%d-%s", i, word()), false))
		}
		fmt.Fprintf(&b, "<IsLatest>%t</IsLatest>", r.IntN(2) == 0)
		if r.IntN(8) != 0 {
			fmt.Fprintf(&b, "<LastModified>%s</LastModified>", times[r.IntN(len(times))])
		}
		if !marker || r.IntN(4) == 0 { // a marker with object fields: ignored by both
			fmt.Fprintf(&b, "<ETag>"+etags[r.IntN(len(etags))]+"</ETag><Size>%d</Size>", fmt.Sprintf("%032x", r.Uint64()), r.Int64N(1<<40))
			if r.IntN(3) != 0 {
				fmt.Fprintf(&b, "<StorageClass>%s</StorageClass>", []string{"STANDARD", "REDUCED_REDUNDANCY", "GLACIER"}[r.IntN(3)])
			}
		}
		if r.IntN(2) == 0 {
			b.WriteString("<Owner><ID>02d6176db174dc93</ID><DisplayName>minio &amp; co</DisplayName></Owner>")
		}
		if r.IntN(4) == 0 {
			b.WriteString("<ChecksumAlgorithm>CRC32</ChecksumAlgorithm><RestoreStatus><IsRestoreInProgress>false</IsRestoreInProgress></RestoreStatus>")
		}
		fmt.Fprintf(&b, "</%s>", elem)
		if r.IntN(6) == 0 {
			fmt.Fprintf(&b, "<CommonPrefixes><Prefix>%s</Prefix></CommonPrefixes>", text(word()+"/", true))
		}
	}
	if encoded {
		b.WriteString("<EncodingType>url</EncodingType>")
	}
	b.WriteString("</ListVersionsResult>")
	return b.String()
}

// TestScanListVersionsRefuses: a version scan reads only a
// ListVersionsResult; a boolean the SDK would not read either is refused
// (the SDK is then asked, and fails on it).
func TestScanListVersionsRefuses(t *testing.T) {
	for name, doc := range map[string]string{
		"listing root":   `<ListBucketResult><IsTruncated>false</IsTruncated></ListBucketResult>`,
		"bad IsLatest":   `<ListVersionsResult><Version><Key>a</Key><IsLatest>yes</IsLatest></Version></ListVersionsResult>`,
		"bad truncation": `<ListVersionsResult><IsTruncated>maybe</IsTruncated></ListVersionsResult>`,
		"bad size":       `<ListVersionsResult><Version><Size>-</Size></Version></ListVersionsResult>`,
		"unbalanced":     `<ListVersionsResult><DeleteMarker><Key>a</DeleteMarker></ListVersionsResult>`,
	} {
		if _, err := scanListVersions([]byte(doc)); !errors.Is(err, errListShape) {
			t.Errorf("%s: err = %v, want errListShape", name, err)
		}
	}
	// Booleans in the forms strconv.ParseBool reads, as the SDK does.
	p, err := scanListVersions([]byte(`<ListVersionsResult><IsTruncated>1</IsTruncated><Version><IsLatest>True</IsLatest></Version><DeleteMarker><IsLatest>F</IsLatest></DeleteMarker></ListVersionsResult>`))
	if err != nil || !p.truncated || len(p.objects) != 2 || !p.objects[0].isLatest || p.objects[1].isLatest || !p.objects[1].deleteMarker {
		t.Fatalf("booleans: %+v, %v", p, err)
	}
}

// TestScanListEmptyEntry: an empty entry written self-closing is an entry,
// and what follows it is read as what it is (the common prefix after it
// is not taken for one of its fields).
func TestScanListEmptyEntry(t *testing.T) {
	for _, versions := range []bool{false, true} {
		doc := `<ListBucketResult><Contents/><CommonPrefixes><Prefix>p/</Prefix></CommonPrefixes></ListBucketResult>`
		if versions {
			doc = `<ListVersionsResult><DeleteMarker/><CommonPrefixes><Prefix>p/</Prefix></CommonPrefixes></ListVersionsResult>`
		}
		p, err := scanList([]byte(doc), versions)
		if err != nil || len(p.objects) != 1 || len(p.prefixes) != 1 || p.prefixes[0] != "p/" || p.objects[0].deleteMarker != versions {
			t.Fatalf("versions=%t: %+v, %v", versions, p, err)
		}
	}
}
