package admin

import (
	"net/http"
	"strconv"
	"testing"
)

// TestObjectsDownloadRange checks the download's Range and If-Range
// handling: one byte range as S3 serves it (206, Content-Range), the whole
// object for what S3 ignores, and If-Range keeping the range only for the
// object it names (a browser resuming a download).
func TestObjectsDownloadRange(t *testing.T) {
	h, _ := newObjectsHarness(t, "photos")
	c := h.client(t)
	c.login()
	const data = "0123456789"
	c.must(http.StatusOK, "PUT", "/objects/photos/r.bin", data)
	whole := c.must(http.StatusOK, "GET", "/objects/photos/r.bin", nil)
	if string(whole.body) != data || whole.header.Get("Accept-Ranges") != "bytes" || whole.header.Get("Content-Range") != "" {
		t.Fatalf("whole download: %q, Accept-Ranges %q, Content-Range %q",
			whole.body, whole.header.Get("Accept-Ranges"), whole.header.Get("Content-Range"))
	}
	etag, lastMod := whole.header.Get("ETag"), whole.header.Get("Last-Modified")
	if etag == "" || lastMod == "" {
		t.Fatalf("no ETag or Last-Modified: %v", whole.header)
	}

	for _, tc := range []struct {
		name, rng, ifRange string
		status             int
		body, contentRange string
	}{
		{"first-last", "bytes=2-4", "", http.StatusPartialContent, "234", "bytes 2-4/10"},
		{"open end", "bytes=7-", "", http.StatusPartialContent, "789", "bytes 7-9/10"},
		{"suffix", "bytes=-3", "", http.StatusPartialContent, "789", "bytes 7-9/10"},
		{"past the end", "bytes=5-100", "", http.StatusPartialContent, "56789", "bytes 5-9/10"},
		{"several ranges: ignored", "bytes=0-1,3-4", "", http.StatusOK, data, ""},
		{"another unit: ignored", "items=0-1", "", http.StatusOK, data, ""},
		{"If-Range, same ETag", "bytes=2-4", etag, http.StatusPartialContent, "234", "bytes 2-4/10"},
		{"If-Range, another ETag", "bytes=2-4", `"0123"`, http.StatusOK, data, ""},
		{"If-Range, weak ETag", "bytes=2-4", "W/" + etag, http.StatusOK, data, ""},
		{"If-Range, same date", "bytes=2-4", lastMod, http.StatusPartialContent, "234", "bytes 2-4/10"},
		{"If-Range, another date", "bytes=2-4", "Mon, 02 Jan 2006 15:04:05 GMT", http.StatusOK, data, ""},
		{"If-Range, unreadable", "bytes=2-4", "yesterday", http.StatusOK, data, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hdr := map[string]string{"Range": tc.rng}
			if tc.ifRange != "" {
				hdr["If-Range"] = tc.ifRange
			}
			r := c.doHeaders("GET", "/objects/photos/r.bin", "", hdr)
			if r.status != tc.status || string(r.body) != tc.body || r.header.Get("Content-Range") != tc.contentRange {
				t.Fatalf("status %d, body %q, Content-Range %q; want %d, %q, %q",
					r.status, r.body, r.header.Get("Content-Range"), tc.status, tc.body, tc.contentRange)
			}
			if got, want := r.header.Get("Content-Length"), len(tc.body); got != strconv.Itoa(want) {
				t.Fatalf("Content-Length %q, want %d", got, want)
			}
			if r.header.Get("ETag") != etag || r.header.Get("Content-Disposition") == "" {
				t.Fatalf("headers of a ranged download: %v", r.header)
			}
		})
	}

	// Unsatisfiable or inverted: 416, as S3 answers.
	wantError(t, c.doHeaders("GET", "/objects/photos/r.bin", "", map[string]string{"Range": "bytes=20-"}),
		http.StatusRequestedRangeNotSatisfiable, "invalid_range")
	wantError(t, c.doHeaders("GET", "/objects/photos/r.bin", "", map[string]string{"Range": "bytes=4-2"}),
		http.StatusRequestedRangeNotSatisfiable, "invalid_range")

	// A range past the end of the object If-Range names is refused; of
	// another object (replaced by a shorter one since), the whole object.
	wantError(t, c.doHeaders("GET", "/objects/photos/r.bin", "", map[string]string{"Range": "bytes=20-", "If-Range": etag}),
		http.StatusRequestedRangeNotSatisfiable, "invalid_range")
	if r := c.doHeaders("GET", "/objects/photos/r.bin", "", map[string]string{"Range": "bytes=20-", "If-Range": `"0123"`}); r.status != http.StatusOK || string(r.body) != data {
		t.Fatalf("a range past the end of another version: %d %q, want the whole object", r.status, r.body)
	}

	// HEAD: the range's headers, no body.
	r := c.doHeaders("HEAD", "/objects/photos/r.bin", "", map[string]string{"Range": "bytes=2-4"})
	if r.status != http.StatusPartialContent || len(r.body) != 0 ||
		r.header.Get("Content-Range") != "bytes 2-4/10" || r.header.Get("Content-Length") != "3" {
		t.Fatalf("HEAD with a range: %d, %q, %v", r.status, r.body, r.header)
	}
}
