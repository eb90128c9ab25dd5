package s3api

import (
	"bytes"
	"encoding/xml"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/dgp-proxy/dgp/internal/storage"
)

// TestWriteEscapedText: the listing's escaper writes what xml.EscapeText
// writes, for the fixed cases and for random strings over an alphabet
// heavy in what is escaped (ASCII, controls, multi-byte and invalid UTF-8).
func TestWriteEscapedText(t *testing.T) {
	check := func(s string) {
		t.Helper()
		var got, want bytes.Buffer
		writeEscapedText(&got, s)
		_ = xml.EscapeText(&want, []byte(s))
		if got.String() != want.String() {
			t.Fatalf("%q: wrote %q, EscapeText %q", s, got.String(), want.String())
		}
	}
	for _, s := range []string{"", "plain", `"0cc175b9c0f1b6a8"`, `a&b<c>d'e"f`, "tab\there", "nl\n", "cr\r", "é", "\xff", "x\x7fy", `"`} {
		check(s)
	}
	alphabet := []string{"a", "Z", "0", "/", " ", `"`, "'", "&", "<", ">", "\t", "\n", "\r", "\x01", "\x7f", "é", "\xff", "😀", "+", "%"}
	r := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		var b bytes.Buffer
		for range r.IntN(12) {
			b.WriteString(alphabet[r.IntN(len(alphabet))])
		}
		check(b.String())
	}
}

// TestS3Time: the hand-written timestamp is Format's, in every zone, for
// random instants and the edges (years of fewer or more than four digits).
func TestS3Time(t *testing.T) {
	zone := time.FixedZone("x", -7*3600-1800)
	check := func(tm time.Time) {
		t.Helper()
		if got, want := s3Time(tm), tm.UTC().Format(s3TimeFormat); got != want {
			t.Fatalf("%v: %q, Format %q", tm, got, want)
		}
	}
	for _, tm := range []time.Time{
		{}, time.Date(2026, 12, 6, 9, 56, 33, 123456789, time.UTC), time.Date(9, 1, 2, 3, 4, 5, 999999999, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC), time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 1, 1, 0, 30, 0, 0, zone),
	} {
		check(tm)
	}
	r := rand.New(rand.NewPCG(3, 4))
	for range 20000 {
		check(time.Unix(r.Int64N(400_000_000_000)-200_000_000_000, r.Int64N(1e9)).In(zone))
	}
}

// TestListContentsTimes: the page's timestamps, written into one string,
// are each object's own, whatever their widths.
func TestListContentsTimes(t *testing.T) {
	zone := time.FixedZone("x", 5*3600)
	times := []time.Time{
		time.Date(2026, 12, 6, 9, 56, 33, 123e6, time.UTC), {}, time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(-5, 3, 1, 0, 0, 0, 0, time.UTC), time.Date(9999, 12, 31, 23, 30, 0, 0, time.UTC).In(zone),
		time.Date(2001, 2, 3, 4, 5, 6, 7e8, zone),
	}
	res := &storage.ListResult{}
	for i, tm := range times {
		res.Objects = append(res.Objects, storage.ObjectInfo{Key: string(rune('a' + i)), LastModified: tm})
	}
	objs, _ := listParams{}.contents(res, nil)
	for i, tm := range times {
		if want := tm.UTC().Format(s3TimeFormat); objs[i].LastModified != want || string(objs[i].Key) != string(rune('a'+i)) {
			t.Errorf("object %d: %q %q, want %q", i, objs[i].Key, objs[i].LastModified, want)
		}
	}
}
