package fsbackend

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dgp-proxy/dgp/internal/storage"
)

// trailerJSON is the JSON writeTrailer writes for m.
func trailerJSON(t testing.TB, m *objMeta) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := writeTrailer(&buf, m); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	return b[:len(b)-trailerFixed]
}

// sameListed fails t unless decodeListed gives what the whole decode
// gives for the fields a listing reports.
func sameListed(t *testing.T, js []byte) {
	t.Helper()
	var want objMeta
	if err := json.Unmarshal(js, &want); err != nil {
		t.Fatalf("json.Unmarshal(%s): %v", js, err)
	}
	var got objMeta
	if err := decodeListed(js, &got); err != nil {
		t.Fatalf("decodeListed(%s): %v", js, err)
	}
	if got.Size != want.Size || got.ETag != want.ETag || !got.Modified.Equal(want.Modified) ||
		got.Modified.Location().String() != want.Modified.Location().String() {
		t.Fatalf("decodeListed(%s) = size %d etag %q modified %v; want %d %q %v",
			js, got.Size, got.ETag, got.Modified, want.Size, want.ETag, want.Modified)
	}
}

func randomText(r *rand.Rand, alphabet []string, n int) string {
	var b strings.Builder
	for range n {
		b.WriteString(alphabet[r.IntN(len(alphabet))])
	}
	return b.String()
}

// TestDecodeListedTrailers: for trailers as writeTrailer writes them
// (keys with quotes, backslashes, HTML characters, control characters,
// non-ASCII and invalid UTF-8; multipart ETags; sizes up to the largest;
// times in UTC and in other zones), decodeListed reads them in place and
// gives what encoding/json gives.
func TestDecodeListedTrailers(t *testing.T) {
	r := rand.New(rand.NewPCG(17, 4))
	keyChars := []string{"a", "Z", "0", "/", " ", `"`, `\`, "<", ">", "&", "\n", "\x01", "é", "日", "\xff", "\u2028", "%", "+"}
	zones := []*time.Location{time.UTC, time.FixedZone("", 3600), time.FixedZone("X", -5*3600-30*60)}
	sizes := []int64{0, 1, 9, 10, 4096, math.MaxInt32, 1 << 50, math.MaxInt64}
	for i := range 2000 {
		m := objMeta{
			Key:      randomText(r, keyChars, 1+r.IntN(40)),
			Size:     sizes[i%len(sizes)],
			ETag:     randomText(r, []string{"0", "9", "a", "f"}, 32),
			Modified: time.Unix(r.Int64N(1<<34), r.Int64N(1e9)*int64(r.IntN(2))).In(zones[i%len(zones)]),
		}
		if i%3 == 0 {
			m.ETag += "-" + randomText(r, []string{"1", "2", "7"}, 1+r.IntN(3))
		}
		if i%4 != 0 {
			m.ETag = quoteETag(m.ETag) // as the backend stores them
		}
		if i%2 == 0 {
			m.ContentType = "text/plain"
			m.UserMetadata = map[string]string{"k": randomText(r, keyChars, 8)}
			m.Seq = r.Uint64()
		}
		if i%5 == 0 {
			m.Size = r.Int64N(1 << 40)
		}
		js := trailerJSON(t, &m)
		var got objMeta
		if !decodeListedFast(js, &got) {
			t.Fatalf("trailer %s not read in place", js)
		}
		sameListed(t, js)
	}
}

// TestDecodeListedFallsBack: JSON that does not start as writeTrailer
// writes it is decoded whole by encoding/json, with the same result; JSON
// that encoding/json refuses is an error.
func TestDecodeListedFallsBack(t *testing.T) {
	const rest = `,"modified":"2026-12-07T15:00:00.5Z"}`
	for _, js := range []string{
		`{"size":12,"key":"a","etag":"x","modified":"2026-12-07T15:00:00Z"}`,
		`{"key":"a","size":12,"etag":"x\\y"` + rest,
		`{"key":"a","size":12,"etag":"x\/y"` + rest,
		`{"key":"a","size":12,"etag":"x\u0041"` + rest,
		`{"key":"a","size":12,"etag":"é"` + rest,
		`{"key":"a", "size":12,"etag":"x"` + rest,
		`{"key":"a","size":12,"etag":"x","modified":null}`,
		`{"key":"a","size":12,"etag":"x","modified":"2026-12-07T15:00:00Z" }`,
		`{"key":"a","size":12,"etag":"x"}`,
	} {
		var got objMeta
		if decodeListedFast([]byte(js), &got) {
			t.Errorf("%s read in place", js)
		}
		sameListed(t, []byte(js))
	}
	for _, js := range []string{
		`{"key":"a","size":12,"etag":"x","modified":"yesterday"}`,
		`{"key":"a","size":12,"etag":"x"` + rest[:len(rest)-1],
		`{"key":"a","size":012,"etag":"x"` + rest,
		`{"key":"a","size":12,"etag":"x","modified":"2026-12-07T15:00:00\u002e5Z"}`,
		`{"key":"a","size":12.0,"etag":"x"` + rest,
		`{"key":"a","size":1e3,"etag":"x"` + rest,
		`{"key":"a","size":9223372036854775808,"etag":"x"` + rest,
		`{"key":"a\`,
		`{"key":"a","size":`,
		`{"key":"a","size":12,"etag":"x"`,
		`{"key":"a","size":12,"etag":"x","modified":"2026-12-07T15:00:00Z"`,
		``,
	} {
		var got objMeta
		if err := decodeListed([]byte(js), &got); err == nil {
			t.Errorf("decodeListed(%s) = size %d etag %q, no error", js, got.Size, got.ETag)
		}
	}
}

// FuzzDecodeListed: every trailer writeTrailer writes is decoded as
// encoding/json decodes it, and read in place unless its ETag holds what
// JSON escapes (other than quotes).
func FuzzDecodeListed(f *testing.F) {
	f.Add("photos/a.jpg", int64(12), "0123abcd", int64(1765119600), int64(5), "text/plain")
	f.Add(`a"b\c`, int64(0), "x-2", int64(-1), int64(0), "")
	f.Add("k", int64(5), `"0123abcd"`, int64(0), int64(0), "")
	f.Add("k", int64(5), `"abc"def"`, int64(0), int64(0), "")
	f.Fuzz(func(t *testing.T, key string, size int64, etag string, sec, nsec int64, ct string) {
		if size < 0 || sec < -62135596800 || sec > 253402300799 {
			return // no object has them; time.Time cannot marshal the years outside 0-9999
		}
		m := objMeta{Key: key, Size: size, ETag: etag, Modified: time.Unix(sec, nsec%1e9), ContentType: ct}
		js := trailerJSON(t, &m)
		plain := true
		for _, c := range []byte(etag) {
			plain = plain && c >= 0x20 && c < 0x7f && c != '\\' && c != '<' && c != '>' && c != '&'
		}
		var got objMeta
		if fast := decodeListedFast(js, &got); plain && !fast {
			t.Fatalf("trailer %s not read in place", js)
		}
		sameListed(t, js)
	})
}

// BenchmarkDecodeListed compares the listing's decode of a trailer with
// encoding/json's decode of all of it.
func BenchmarkDecodeListed(b *testing.B) {
	js := trailerJSON(b, &objMeta{
		Key: "bench/000123456-some-key.txt", Size: 1234, ETag: quoteETag("0123456789abcdef0123456789abcdef"),
		Modified: time.Date(2026, 12, 7, 15, 0, 0, 123456789, time.UTC), ContentType: "text/plain",
		UserMetadata: map[string]string{"owner": "alice"}, Seq: 123456789,
	})
	for _, c := range []struct {
		name string
		dec  metaDecoder
	}{{"listed", decodeListed}, {"whole", decodeMeta}} {
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

// TestListObjectsReportsWhatHeadDoes: on every way a listing reads an
// object (small file read whole, larger file, multipart ETag, a symlink's
// fallback, keys with characters JSON escapes, a page read by several
// workers), it reports the key, size, ETag and time HEAD reports, and
// nothing of the content type or metadata.
func TestListObjectsReportsWhatHeadDoes(t *testing.T) {
	root := t.TempDir()
	b, err := New("fs", root, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	b.statWorkers = 2
	ctx := context.Background()
	mustBucket(t, b, "bkt")
	put := func(key string, size int) {
		t.Helper()
		opts := storage.PutOptions{ContentType: "text/x-" + strconv.Itoa(size), UserMetadata: map[string]string{"n": key}}
		if _, err := b.PutObject(ctx, "bkt", key, strings.NewReader(strings.Repeat("d", size)), int64(size), opts); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 150 {
		put(fmt.Sprintf("many/%03d", i), i)
	}
	put(`q"uote\back<html>&amp;`, 3)
	put("ctl\x01\u2028é", 0)
	put("large", 3*tailRead)
	put("linked-to", 5)
	id, err := b.CreateMultipartUpload(ctx, "bkt", "multi", storage.PutOptions{ContentType: "a/b"})
	if err != nil {
		t.Fatal(err)
	}
	e := mustUpload(t, b, "bkt", "multi", id, 1, []byte("part"))
	if _, err := b.CompleteMultipartUpload(ctx, "bkt", "multi", id, []storage.CompletedPart{{PartNumber: 1, ETag: e}}); err != nil {
		t.Fatal(err)
	}
	put("linked", 1)
	files, err := filepath.Glob(filepath.Join(root, "bkt", "linked%*"))
	if err != nil || len(files) != 1 {
		t.Fatalf("object file of linked: %v %v", files, err)
	}
	target, _ := filepath.Glob(filepath.Join(root, "bkt", "linked-to%*"))
	if len(target) != 1 || os.Remove(files[0]) != nil || os.Symlink(filepath.Base(target[0]), files[0]) != nil {
		t.Fatalf("symlink linked -> %v", target)
	}

	var listed []storage.ObjectInfo
	for marker := ""; ; {
		res, err := b.ListObjects(ctx, "bkt", storage.ListOptions{Marker: marker, MaxKeys: 1000})
		if err != nil {
			t.Fatal(err)
		}
		listed = append(listed, res.Objects...)
		if !res.IsTruncated {
			break
		}
		marker = res.NextMarker
	}
	if len(listed) != 156 {
		t.Fatalf("listed %d objects, want 156", len(listed))
	}
	for _, o := range listed {
		h, err := b.HeadObject(ctx, "bkt", o.Key, storage.GetOptions{})
		if err != nil {
			t.Fatalf("HEAD %q: %v", o.Key, err)
		}
		want := storage.ObjectInfo{Key: h.Key, Size: h.Size, ETag: h.ETag, LastModified: h.LastModified, StorageClass: "STANDARD"}
		if h.ContentType == "" || h.UserMetadata == nil && o.Key != "multi" {
			t.Fatalf("HEAD %q has no content type or metadata: %+v", o.Key, h)
		}
		if !reflect.DeepEqual(o, want) {
			t.Errorf("listed %+v\n  want %+v", o, want)
		}
	}
}
