package s3api

import (
	"bytes"
	"encoding/xml"
	"math/rand/v2"
	"net/http/httptest"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/dgp-proxy/dgp/internal/storage"
)

// randTime is an instant around now, or now and then one whose year is
// outside 0-9999 (a stamp of another width).
func randTime(r *rand.Rand) time.Time {
	switch r.IntN(10) {
	case 0:
		return time.Date(10000+r.IntN(5000), 1, 2, 3, 4, 5, 0, time.UTC)
	case 1:
		return time.Date(-r.IntN(500)-1, 6, 7, 8, 9, 10, 0, time.UTC)
	case 2:
		return time.Time{}
	}
	return time.Unix(1_700_000_000+r.Int64N(100_000_000), r.Int64N(1e9)).In(time.FixedZone("z", 3600*(r.IntN(25)-12)))
}

// randVersionsPage is a backend's page of versions and delete markers,
// interleaved, with keys from randText (characters that need escaping or
// URL encoding, controls, non-ASCII and invalid UTF-8).
func randVersionsPage(r *rand.Rand) *storage.ListVersionsResult {
	res := &storage.ListVersionsResult{IsTruncated: r.IntN(2) == 0}
	if res.IsTruncated {
		res.NextKeyMarker, res.NextVersionIDMarker = randText(r), randText(r)
	}
	for range r.IntN(6) {
		v := storage.ObjectInfo{
			Key: randText(r), VersionID: randText(r), IsLatest: r.IntN(2) == 0,
			LastModified: randTime(r), DeleteMarker: r.IntN(3) == 0,
		}
		if !v.DeleteMarker {
			v.Size, v.StorageClass = r.Int64N(1<<40)*int64(r.IntN(2)), randText(r)
			v.ETag = []string{"", `"` + randText(r) + `"`, randText(r)}[r.IntN(3)]
		}
		res.Versions = append(res.Versions, v)
	}
	for range r.IntN(3) {
		res.CommonPrefixes = append(res.CommonPrefixes, randText(r))
	}
	return res
}

// randVersionsResult is a ListVersionsResult with every optional element
// empty or not, independently of what the handler would put together.
func randVersionsResult(r *rand.Rand) *listVersionsResult {
	opt := func() string {
		if r.IntN(2) == 0 {
			return ""
		}
		return randText(r)
	}
	v := &listVersionsResult{
		Name: randText(r), Prefix: xmlText(randText(r)), KeyMarker: xmlText(randText(r)), VersionIDMarker: randText(r),
		NextKeyMarker: xmlText(opt()), NextVersionIDMarker: opt(), MaxKeys: r.IntN(1001) - r.IntN(2),
		Delimiter: xmlText(opt()), IsTruncated: r.IntN(2) == 0, EncodingType: opt(),
	}
	for range r.IntN(5) {
		e := xmlVersion{
			Key: xmlText(randText(r)), VersionID: randText(r), IsLatest: r.IntN(2) == 0, LastModified: randText(r),
			ETag: opt(), StorageClass: opt(), Owner: xmlOwner{ID: opt(), DisplayName: opt()},
		}
		e.XMLName.Local = []string{"Version", "DeleteMarker", ""}[r.IntN(3)]
		if r.IntN(2) == 0 {
			n := r.Int64N(1<<50) * int64(r.IntN(3)-1)
			e.Size = &n
		}
		v.Versions = append(v.Versions, e)
	}
	for range r.IntN(3) {
		v.CommonPrefixes = append(v.CommonPrefixes, xmlPrefix{Prefix: xmlText(randText(r))})
	}
	return v
}

// versionsXMLWant is encoding/xml's rendering of a ListVersionsResult as
// dgp answers it: each entry without the xmlns="" encoding/xml writes on
// it (which put the entries out of S3's namespace). Texts cannot hold the
// attribute (their quotes are escaped).
func versionsXMLWant(b []byte) []byte {
	b = bytes.ReplaceAll(b, []byte(`<Version xmlns="">`), []byte(`<Version>`))
	return bytes.ReplaceAll(b, []byte(`<DeleteMarker xmlns="">`), []byte(`<DeleteMarker>`))
}

// TestListVersionsXMLMatchesEncodingXML: the hand-written ListVersionsResult
// is, byte for byte, what writeXML (encoding/xml) wrote for the same value
// (less the entries' xmlns=""):
// for pages put together as the handler does (url encoding on and off,
// owner with or without a display name) and for arbitrary values.
func TestListVersionsXMLMatchesEncodingXML(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	check := func(i int, what string, v *listVersionsResult) {
		t.Helper()
		var got bytes.Buffer
		got.WriteString(xml.Header)
		v.appendXML(&got)
		if want := versionsXMLWant(encodingXML(t, v)); !bytes.Equal(got.Bytes(), want) {
			t.Fatalf("case %d (%s):\ngot  %s\nwant %s", i, what, got.Bytes(), want)
		}
	}
	for i := range 4000 {
		p := listParams{prefix: randText(r), delimiter: randText(r), maxKeys: r.IntN(1001), urlEncode: r.IntN(2) == 0}
		owner := xmlOwner{ID: randText(r)}
		if r.IntN(2) == 0 {
			owner.DisplayName = randText(r)
		}
		page := p.versionsResult(randText(r), randText(r), randText(r), randVersionsPage(r), owner)
		check(i, "handler's page", &page)
		check(i, "arbitrary value", randVersionsResult(r))
	}
	check(-1, "empty", &listVersionsResult{})
}

// TestListVersionsResultEntries: the entries put together from a page
// (stamps sliced from one string, sizes from one array) are what each
// version alone gives.
func TestListVersionsResultEntries(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for range 500 {
		res := randVersionsPage(r)
		p := listParams{urlEncode: r.IntN(2) == 0}
		owner := xmlOwner{ID: "o", DisplayName: "d"}
		out := p.versionsResult("b", "", "", res, owner)
		if len(out.Versions) != len(res.Versions) {
			t.Fatalf("%d entries from %d versions", len(out.Versions), len(res.Versions))
		}
		for i, v := range res.Versions {
			e := out.Versions[i]
			id := v.VersionID
			if id == "" {
				id = storage.NullVersion
			}
			if e.Key != p.enc(v.Key) || e.VersionID != id || e.IsLatest != v.IsLatest || e.Owner != owner ||
				e.LastModified != v.LastModified.UTC().Format(s3TimeFormat) {
				t.Fatalf("entry %d: %+v from %+v", i, e, v)
			}
			if v.DeleteMarker {
				if e.XMLName.Local != "DeleteMarker" || e.Size != nil || e.ETag != "" || e.StorageClass != "" {
					t.Fatalf("marker %d: %+v", i, e)
				}
				continue
			}
			sc := v.StorageClass
			if sc == "" {
				sc = "STANDARD"
			}
			if e.XMLName.Local != "Version" || e.Size == nil || *e.Size != v.Size || e.ETag != quoteETag(v.ETag) || e.StorageClass != sc {
				t.Fatalf("version %d: %+v from %+v", i, e, v)
			}
			for j := range i {
				if out.Versions[j].Size == e.Size {
					t.Fatalf("versions %d and %d share a Size", j, i)
				}
			}
		}
	}
}

// TestListVersionsAnswer: writeListing answers a ListVersionsResult with
// the status, headers and body writeXML answered it with.
func TestListVersionsAnswer(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	s := &Server{}
	for range 50 {
		v := randVersionsResult(r)
		var recs [2]*httptest.ResponseRecorder
		for j := range recs {
			recs[j] = httptest.NewRecorder()
			rq := &request{w: &respWriter{ResponseWriter: recs[j]}}
			var err error
			if j == 0 {
				err = writeXML(rq, 200, v)
			} else {
				err = s.writeListing(rq, v)
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		before, after := recs[0].Result(), recs[1].Result()
		if wantBody := versionsXMLWant(recs[0].Body.Bytes()); before.StatusCode != after.StatusCode || !bytes.Equal(wantBody, recs[1].Body.Bytes()) {
			t.Fatalf("status %d, body:\n%s\nwas %d:\n%s", after.StatusCode, recs[1].Body, before.StatusCode, recs[0].Body)
		}
		if len(before.Header) != len(after.Header) {
			t.Fatalf("headers %v, were %v", after.Header, before.Header)
		}
		if got := after.Header.Get("Content-Length"); got != strconv.Itoa(recs[1].Body.Len()) {
			t.Fatalf("Content-Length %s for %d bytes", got, recs[1].Body.Len())
		}
		for k, vals := range before.Header {
			if k == "Content-Length" {
				continue // the body is shorter by the entries' xmlns=""
			}
			if !slices.Equal(vals, after.Header[k]) {
				t.Fatalf("header %s: %q, was %q", k, after.Header[k], vals)
			}
		}
	}
}

// TestListVersionsEntriesInS3Namespace: a namespace-aware reader finds the
// entries as S3's Version and DeleteMarker elements (encoding/xml's
// xmlns="" on each put them in no namespace).
func TestListVersionsEntriesInS3Namespace(t *testing.T) {
	const ns = "http://s3.amazonaws.com/doc/2006-03-01/"
	size := int64(3)
	v := &listVersionsResult{Name: "bkt", Versions: []xmlVersion{
		{XMLName: xml.Name{Local: "Version"}, Key: "a", VersionID: "v1", Size: &size},
		{XMLName: xml.Name{Local: "DeleteMarker"}, Key: "b", VersionID: "m1"},
	}}
	var b bytes.Buffer
	v.appendXML(&b)
	var got struct {
		Versions []struct {
			Key string `xml:"http://s3.amazonaws.com/doc/2006-03-01/ Key"`
		} `xml:"http://s3.amazonaws.com/doc/2006-03-01/ Version"`
		Markers []struct {
			VersionID string `xml:"http://s3.amazonaws.com/doc/2006-03-01/ VersionId"`
		} `xml:"http://s3.amazonaws.com/doc/2006-03-01/ DeleteMarker"`
	}
	if err := xml.Unmarshal(b.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Versions) != 1 || got.Versions[0].Key != "a" || len(got.Markers) != 1 || got.Markers[0].VersionID != "m1" {
		t.Fatalf("entries in %s: %+v\n%s", ns, got, b.Bytes())
	}
}

// TestListingSizeHint: for texts that need no escaping, a listing's size
// hint holds its whole rendering (one allocation for a fresh buffer), and
// is not wildly above it.
func TestListingSizeHint(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 22))
	plain := func() string {
		const alphabet = "abcXYZ019/-_.~"
		b := make([]byte, 1+r.IntN(200))
		for i := range b {
			b[i] = alphabet[r.IntN(len(alphabet))]
		}
		return string(b)
	}
	check := func(i int, what string, v listingXML) {
		t.Helper()
		var b bytes.Buffer
		v.appendXML(&b)
		if hint := v.sizeHint(); hint < b.Len() || hint > 2*b.Len()+1024 {
			t.Fatalf("case %d %s: hint %d for %d bytes", i, what, hint, b.Len())
		}
	}
	for i := range 300 {
		p := listParams{prefix: plain(), delimiter: "/", maxKeys: 1000}
		var owner *xmlOwner
		if r.IntN(2) == 0 {
			owner = &xmlOwner{ID: plain(), DisplayName: plain()}
		}
		objs := &storage.ListResult{IsTruncated: true}
		vers := &storage.ListVersionsResult{IsTruncated: true, NextKeyMarker: plain(), NextVersionIDMarker: plain()}
		for range r.IntN(1001) {
			o := storage.ObjectInfo{
				Key: plain(), ETag: `"` + plain() + `"`, Size: r.Int64N(1 << 62), StorageClass: "STANDARD",
				LastModified: time.Date(1+r.IntN(9998), 12, 31, 23, 59, 59, 999e6, time.UTC), VersionID: plain(),
				IsLatest: r.IntN(2) == 0, DeleteMarker: r.IntN(5) == 0,
			}
			objs.Objects = append(objs.Objects, o)
			vers.Versions = append(vers.Versions, o)
		}
		for range r.IntN(50) {
			objs.CommonPrefixes = append(objs.CommonPrefixes, plain())
			vers.CommonPrefixes = append(vers.CommonPrefixes, plain())
		}
		contents, prefixes := p.contents(objs, owner)
		check(i, "v1", &listBucketResultV1{Name: plain(), Prefix: xmlText(p.prefix), Marker: xmlText(plain()),
			NextMarker: xmlText(plain()), MaxKeys: 1000, Delimiter: "/", IsTruncated: true, Contents: contents, CommonPrefixes: prefixes})
		check(i, "v2", &listBucketResultV2{Name: plain(), Prefix: xmlText(p.prefix), NextContinuationToken: plain(),
			KeyCount: len(contents), MaxKeys: 1000, Delimiter: "/", IsTruncated: true, Contents: contents, CommonPrefixes: prefixes,
			ContinuationToken: plain(), StartAfter: xmlText(plain())})
		o := xmlOwner{ID: plain(), DisplayName: plain()}
		vr := p.versionsResult(plain(), plain(), plain(), vers, o)
		check(i, "versions", &vr)
	}
}
