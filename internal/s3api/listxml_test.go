package s3api

import (
	"bytes"
	"encoding/xml"
	"math/rand/v2"
	"strings"
	"testing"
)

// encodingXML renders v as writeXML does.
func encodingXML(t *testing.T, v any) []byte {
	t.Helper()
	var buf bytes.Buffer
	buf.WriteString(xml.Header)
	if err := xml.NewEncoder(&buf).Encode(v); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func randText(r *rand.Rand) string {
	parts := []string{"", "a", "b/", "&", "<", ">", "\"", "'", "\t", "\n", "\r", "\x01", "\x7f", "é", "日本",
		"\ufffe", "\uffff", " ", "%2F", "]]>", "\xff"}
	var sb strings.Builder
	for range r.IntN(6) {
		sb.WriteString(parts[r.IntN(len(parts))])
	}
	return sb.String()
}

func randListing(r *rand.Rand) ([]xmlObject, []xmlPrefix) {
	var objs []xmlObject
	for range r.IntN(4) {
		o := xmlObject{
			Key: xmlText(randText(r)), LastModified: randText(r), ETag: `"` + randText(r) + `"`,
			Size: r.Int64N(1 << 40), StorageClass: randText(r),
		}
		if r.IntN(2) == 0 {
			o.Owner = &xmlOwner{ID: randText(r), DisplayName: randText(r)}
		}
		objs = append(objs, o)
	}
	var cps []xmlPrefix
	for range r.IntN(3) {
		cps = append(cps, xmlPrefix{Prefix: xmlText(randText(r))})
	}
	return objs, cps
}

// TestListingXMLMatchesEncodingXML: the hand-written listing encoder
// writes exactly what encoding/xml writes for the same values.
func TestListingXMLMatchesEncodingXML(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 3000 {
		objs, cps := randListing(r)
		v1 := &listBucketResultV1{
			Name: randText(r), Prefix: xmlText(randText(r)), Marker: xmlText(randText(r)),
			NextMarker: xmlText(randText(r)), MaxKeys: r.IntN(1001), Delimiter: xmlText(randText(r)),
			IsTruncated: r.IntN(2) == 0, Contents: objs, CommonPrefixes: cps, EncodingType: randText(r),
		}
		var got bytes.Buffer
		got.WriteString(xml.Header)
		v1.appendXML(&got)
		if want := encodingXML(t, v1); !bytes.Equal(got.Bytes(), want) {
			t.Fatalf("case %d V1:\ngot  %s\nwant %s", i, got.Bytes(), want)
		}
		v2 := &listBucketResultV2{
			Name: randText(r), Prefix: xmlText(randText(r)), NextContinuationToken: randText(r),
			KeyCount: r.IntN(1001), MaxKeys: r.IntN(1001), Delimiter: xmlText(randText(r)),
			IsTruncated: r.IntN(2) == 0, Contents: objs, CommonPrefixes: cps, EncodingType: randText(r),
			ContinuationToken: randText(r), StartAfter: xmlText(randText(r)),
		}
		got.Reset()
		got.WriteString(xml.Header)
		v2.appendXML(&got)
		if want := encodingXML(t, v2); !bytes.Equal(got.Bytes(), want) {
			t.Fatalf("case %d V2:\ngot  %s\nwant %s", i, got.Bytes(), want)
		}
	}
}

// plainXML must agree with xml.EscapeText: a string it calls plain is
// written unchanged.
func TestPlainXMLAgreesWithEscapeText(t *testing.T) {
	cases := []string{"", "STANDARD", `"0cc175b9"`, "2026-12-06T09:56:33.123Z", "a<b", "a&b", "it's", `"`,
		"tab\there", "nl\n", "é", "\x7f", "~!@#$%^*()_+{}|:?,./;[]=-`"}
	for c := range 256 {
		cases = append(cases, string([]byte{'x', byte(c), 'y'}))
	}
	for _, s := range cases {
		var b bytes.Buffer
		_ = xml.EscapeText(&b, []byte(s))
		if plainXML(s) && b.String() != s {
			t.Errorf("plainXML(%q) but EscapeText writes %q", s, b.String())
		}
	}
}
