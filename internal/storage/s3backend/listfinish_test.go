package s3backend

import (
	"encoding/xml"
	"math/rand/v2"
	"net/url"
	"strings"
	"testing"
)

// TestAppendQueryUnescaped: the listing's URL decoding is
// url.QueryUnescape's, result and error, for random strings over an
// alphabet heavy in escapes.
func TestAppendQueryUnescaped(t *testing.T) {
	alphabet := []string{"a", "Z", "/", "%", "%2F", "%2f", "%C3%A9", "%zz", "%4", "+", " ", "é", "\xff", "%%", "7", "F"}
	r := rand.New(rand.NewPCG(5, 6))
	for i := range 30000 {
		var b strings.Builder
		for range r.IntN(8) {
			b.WriteString(alphabet[r.IntN(len(alphabet))])
		}
		s := b.String()
		want, wantErr := url.QueryUnescape(s)
		got, err := appendQueryUnescaped([]byte("pre"), []byte(s))
		if (err == nil) != (wantErr == nil) || err != nil && err.Error() != wantErr.Error() {
			t.Fatalf("%d %q: error %v, QueryUnescape's %v", i, s, err, wantErr)
		}
		if err == nil && string(got) != "pre"+want {
			t.Fatalf("%q: %q, QueryUnescape %q", s, got, want)
		}
	}
}

// TestScanListV2Keys: random keys, URL-encoded as S3 encodes them and then
// XML-escaped (entities, numeric references, CR LF), come back from a
// scanned page as they were, in order, with the prefixes.
func TestScanListV2Keys(t *testing.T) {
	alphabet := []string{"a", "/", " ", "+", "%", "&", "<", ">", "'", "\"", "é", "日", "\t", "~", "k0"}
	r := rand.New(rand.NewPCG(7, 8))
	for round := range 300 {
		var keys, prefixes []string
		var doc strings.Builder
		doc.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n<ListBucketResult><KeyCount>3</KeyCount>")
		esc := func(s string) string {
			var b strings.Builder
			_ = xml.EscapeText(&b, []byte(url.QueryEscape(s)))
			return b.String()
		}
		for range r.IntN(20) {
			var k strings.Builder
			for range 1 + r.IntN(6) {
				k.WriteString(alphabet[r.IntN(len(alphabet))])
			}
			keys = append(keys, k.String())
			doc.WriteString("<Contents><Key>" + esc(k.String()) + "</Key><ETag>&#34;e&#34;</ETag></Contents>")
		}
		for range r.IntN(3) {
			p := alphabet[r.IntN(len(alphabet))] + "/"
			prefixes = append(prefixes, p)
			doc.WriteString("<CommonPrefixes><Prefix>" + esc(p) + "</Prefix></CommonPrefixes>")
		}
		doc.WriteString("<EncodingType>url</EncodingType></ListBucketResult>")
		p, err := scanListV2([]byte(doc.String()))
		if err != nil {
			t.Fatalf("round %d: %v\n%s", round, err, doc.String())
		}
		res, err := p.toResult()
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Objects) != len(keys) || len(res.CommonPrefixes) != len(prefixes) {
			t.Fatalf("round %d: %d objects, %d prefixes; want %d, %d", round, len(res.Objects), len(res.CommonPrefixes), len(keys), len(prefixes))
		}
		for i, k := range keys {
			if res.Objects[i].Key != k || res.Objects[i].ETag != `"e"` {
				t.Fatalf("round %d, key %d: %q %q, want %q", round, i, res.Objects[i].Key, res.Objects[i].ETag, k)
			}
		}
		for i, cp := range prefixes {
			if res.CommonPrefixes[i] != cp {
				t.Fatalf("round %d, prefix %d: %q, want %q", round, i, res.CommonPrefixes[i], cp)
			}
		}
	}
}
