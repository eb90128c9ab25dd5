package fsbackend

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"
)

// sameMeta fails t unless decodeMeta gives what encoding/json gives for
// js: the same metadata, or an error from both.
func sameMeta(t *testing.T, js []byte) {
	t.Helper()
	var want, got objMeta
	wantErr := json.Unmarshal(js, &want)
	err := decodeMeta(js, &got)
	if (err == nil) != (wantErr == nil) {
		t.Fatalf("decodeMeta(%s): error %v; encoding/json: %v", js, err, wantErr)
	}
	if err == nil && !sameObjMeta(&got, &want) {
		t.Fatalf("decodeMeta(%s) =\n%#v\nencoding/json:\n%#v", js, got, want)
	}
}

// sameObjMeta compares two decoded trailers, times by instant and zone.
func sameObjMeta(a, b *objMeta) bool {
	sameTime := func(x, y time.Time) bool {
		return x.Equal(y) && x.Location().String() == y.Location().String()
	}
	ac, bc := *a, *b
	if !sameTime(ac.Modified, bc.Modified) {
		return false
	}
	ac.Modified, bc.Modified = time.Time{}, time.Time{}
	if (ac.Lock == nil) != (bc.Lock == nil) {
		return false
	}
	if ac.Lock != nil {
		al, bl := *ac.Lock, *bc.Lock
		if !sameTime(al.RetainUntil, bl.RetainUntil) {
			return false
		}
		al.RetainUntil, bl.RetainUntil = time.Time{}, time.Time{}
		if al != bl {
			return false
		}
		ac.Lock, bc.Lock = nil, nil
	}
	return reflect.DeepEqual(ac, bc)
}

// TestDecodeMetaTrailers: every field of trailers as writeTrailer writes
// them (keys and metadata with characters JSON escapes, invalid UTF-8,
// multipart part sizes, versions, delete markers, lock states, times in
// several zones) is read in place, as encoding/json reads it.
func TestDecodeMetaTrailers(t *testing.T) {
	r := rand.New(rand.NewPCG(17, 5))
	chars := []string{"a", "Z", "0", "/", " ", `"`, `\`, "<", ">", "&", "\n", "\x01", "é", "日", "\xff", "\u2028", "%", "+"}
	zones := []*time.Location{time.UTC, time.FixedZone("", 3600), time.FixedZone("X", -5*3600-30*60)}
	sizes := []int64{0, 1, 4096, math.MaxInt32, math.MaxInt64}
	for i := range 2000 {
		m := objMeta{
			Key:      randomText(r, chars, 1+r.IntN(40)),
			Size:     sizes[i%len(sizes)],
			ETag:     quoteETag(randomText(r, []string{"0", "9", "a", "f"}, 32)),
			Modified: time.Unix(r.Int64N(1<<34), r.Int64N(1e9)*int64(r.IntN(2))).In(zones[i%len(zones)]),
		}
		if i%2 == 0 {
			m.ContentType = randomText(r, chars, 12)
			m.UserMetadata = map[string]string{randomText(r, chars, 5): randomText(r, chars, 8), "owner": "alice"}
			m.Headers = map[string]string{"Cache-Control": "no-cache", "Content-Disposition": randomText(r, chars, 6)}
		}
		if i%3 == 0 {
			m.PartSizes = []int64{5 << 20, 5 << 20, r.Int64N(5 << 20)}
		}
		if i%4 == 0 {
			m.VersionID, m.Seq, m.DeleteMarker = newVersionID(r.Uint64()), r.Uint64(), i%8 == 0
		}
		if i%5 == 0 {
			m.Lock = &lockMeta{Mode: "GOVERNANCE", RetainUntil: m.Modified.Add(time.Hour), LegalHold: i%10 == 0, HoldSet: true}
		}
		if i%7 == 0 {
			m.Lock = &lockMeta{HoldSet: true}
		}
		js := trailerJSON(t, &m)
		var got objMeta
		if !decodeMetaInPlace(js, &got) {
			t.Fatalf("trailer %s not read in place", js)
		}
		sameMeta(t, js)
	}
}

// TestDecodeMetaFallsBack: what the in-place reading cannot read as
// encoding/json would is decoded by encoding/json, with its result or its
// error.
func TestDecodeMetaFallsBack(t *testing.T) {
	const base = `{"key":"a","size":12,"etag":"x","modified":"2026-12-07T15:00:00.5Z"`
	for _, js := range []string{
		// decoded by encoding/json
		`{"Key":"a","size":1}`,
		base + `,"ETAG":"y"}`,
		base + `,"size":13}`,
		base + `,"contentType":null}`,
		base + `,"userMetadata":{"a":null}}`,
		base + `,"userMetadata":null}`,
		base + `,"lock":null}`,
		base + `,"lock":{"Mode":"x"}}`,
		base + `,"seq":-0}`,
		base + `,"partSizes":null}`,
		base + `,"deleteMarker":null}`,
		// refused by both
		base + `,"size":1.0}`,
		base + `,"size":1e3}`,
		base + `,"size":9223372036854775808}`,
		base + `,"seq":-1}`,
		base + `,"seq":18446744073709551616}`,
		base + `,"partSizes":[1,"2"]}`,
		base + `,"deleteMarker":"true"}`,
		base + `,"modified":"yesterday"}`,
		base + `,"modified":"2026-12-07T15:00:00\u002e5Z"}`,
		base + `,"userMetadata":{"a":1}}`,
		base + `}x`,
		base + `,}`,
		base,
		`[]`,
		``,
	} {
		var got objMeta
		if decodeMetaInPlace([]byte(js), &got) {
			t.Errorf("%s read in place", js)
		}
		sameMeta(t, []byte(js))
	}
	// Read in place, and the same: unknown members skipped, a repeated
	// name within a map (the last value kept), white space, {} and [].
	for _, js := range []string{
		base + `,"future":{"x":[1,2,{"y":null}]},"userMetadata":{"a":"1","a":"2"}}`,
		" \n" + base + `, "headers" : {} , "partSizes" : [ ] } ` + "\t",
		`{"key":"a","size":-0,"etag":"x","modified":"2026-12-07T15:00:00Z"}`,
		base + `,"lock":{"mode":"COMPLIANCE","retainUntil":"2030-01-01T00:00:00+01:00","legalHold":false,"holdSet":true}}`,
	} {
		var got objMeta
		if !decodeMetaInPlace([]byte(js), &got) {
			t.Errorf("%s not read in place", js)
		}
		sameMeta(t, []byte(js))
	}
}

// FuzzDecodeMeta: decodeMeta agrees with encoding/json on any input.
func FuzzDecodeMeta(f *testing.F) {
	f.Add(`{"key":"a","size":12,"etag":"\"x\"","modified":"2026-12-07T15:00:00.5Z","userMetadata":{"k":"v"},"partSizes":[1,2],"seq":3,"deleteMarker":true,"lock":{"mode":"GOVERNANCE","holdSet":true}}`)
	f.Add(`{"key":"a","Size":1}`)
	f.Fuzz(func(t *testing.T, js string) {
		if strings.Count(js, "[")+strings.Count(js, "{") > 1000 {
			return
		}
		sameMeta(t, []byte(js))
	})
}

// BenchmarkDecodeMeta compares decodeMeta with encoding/json on a typical
// trailer.
func BenchmarkDecodeMeta(b *testing.B) {
	js := trailerJSON(b, &objMeta{
		Key: "bench/000123456-some-key.txt", Size: 1234, ETag: quoteETag("0123456789abcdef0123456789abcdef"),
		Modified: time.Date(2026, 12, 7, 15, 0, 0, 123456789, time.UTC), ContentType: "text/plain",
		UserMetadata: map[string]string{"owner": "alice"}, VersionID: newVersionID(123456789), Seq: 123456789,
	})
	for _, c := range []struct {
		name string
		dec  metaDecoder
	}{{"in-place", decodeMeta}, {"encoding-json", func(js []byte, m *objMeta) error { return json.Unmarshal(js, m) }}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				var m objMeta
				if err := c.dec(js, &m); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
