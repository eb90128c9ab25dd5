package storage

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/dgp-proxy/dgp/internal/s3err"
)

// CheckConditions evaluates the conditional headers of a GET or HEAD against
// an object, in the order of RFC 7232 section 6, as S3 does:
//
//  1. If-Match present and no listed ETag matches: PreconditionFailed.
//  2. Else, If-Match absent and If-Unmodified-Since present and the object
//     was modified after it: PreconditionFailed. (When If-Match is present
//     and true, If-Unmodified-Since is ignored.)
//  3. If-None-Match present and a listed ETag matches (or is "*"):
//     NotModified.
//  4. Else, If-None-Match absent and If-Modified-Since present and the
//     object was not modified after it: NotModified.
//
// ETags compare without quotes; a header may list several, comma separated.
// If-Match compares strongly (a weak "W/" tag never matches, S3 ETags being
// strong), If-None-Match weakly (the "W/" prefix is ignored). Times compare
// at second granularity, the precision of HTTP dates. Empty strings and zero
// times mean "absent". Both failures carry the object's ETag and
// Last-Modified response headers, as S3 sends them.
func CheckConditions(info ObjectInfo, c Conditions) error {
	lastModified := info.LastModified.Truncate(time.Second)
	if c.IfMatch != "" {
		if !ETagListMatches(c.IfMatch, info.ETag, false) {
			return withValidators(s3err.ErrPreconditionFailed, info)
		}
	} else if !c.IfUnmodifiedSince.IsZero() && lastModified.After(c.IfUnmodifiedSince) {
		return withValidators(s3err.ErrPreconditionFailed, info)
	}
	if c.IfNoneMatch != "" {
		if ETagListMatches(c.IfNoneMatch, info.ETag, true) {
			return withValidators(s3err.ErrNotModified, info)
		}
	} else if !c.IfModifiedSince.IsZero() && !lastModified.After(c.IfModifiedSince) {
		return withValidators(s3err.ErrNotModified, info)
	}
	return nil
}

// withValidators attaches the object's ETag and Last-Modified headers.
func withValidators(e *s3err.Error, info ObjectInfo) *s3err.Error {
	e = e.WithHeader("ETag", info.ETag)
	if !info.LastModified.IsZero() {
		e = e.WithHeader("Last-Modified", info.LastModified.UTC().Format(http.TimeFormat))
	}
	return e
}

// CheckCopySourceConditions evaluates x-amz-copy-source-if-* headers. They
// follow CheckConditions, except that every failure is PreconditionFailed
// (S3 never answers 304 to a copy).
func CheckCopySourceConditions(info ObjectInfo, c Conditions) error {
	if err := CheckConditions(info, c); err != nil {
		return s3err.ErrPreconditionFailed
	}
	return nil
}

// ETagListMatches reports whether header (an If-Match / If-None-Match value:
// "*" or a comma-separated list of ETags, quoted or not) matches etag. With
// weak, a "W/" prefix is ignored (If-None-Match); without, a weak tag never
// matches (If-Match).
func ETagListMatches(header, etag string, weak bool) bool {
	want := TrimETag(etag)
	for item := range strings.SplitSeq(header, ",") {
		item = strings.TrimSpace(item)
		if item == "*" {
			return true
		}
		if rest, isWeak := strings.CutPrefix(item, "W/"); isWeak {
			if !weak {
				continue
			}
			item = rest
		}
		if item != "" && TrimETag(item) == want {
			return true
		}
	}
	return false
}

// TrimETag returns an ETag without surrounding spaces and quotes, so that
// "\"abc\"" and "abc" compare equal.
func TrimETag(etag string) string {
	return strings.Trim(strings.TrimSpace(etag), "\"")
}

// ParseRange parses a Range header as S3 does. It understands a single
// "bytes=first-last", "bytes=first-" or "bytes=-suffix". The result is nil
// (serve the whole object, status 200) when the header is empty, uses
// another unit, names several ranges or is otherwise malformed: S3 ignores
// such headers. It returns s3err.ErrInvalidRange for the two well-formed but
// impossible forms S3 rejects: first > last, and a zero-length suffix.
//
// A suffix range is returned as Range{Start: -1, End: n}.
func ParseRange(header string) (*Range, error) {
	header = strings.TrimSpace(header)
	spec, ok := strings.CutPrefix(header, "bytes=")
	if !ok {
		return nil, nil
	}
	first, last, ok := strings.Cut(spec, "-")
	if !ok {
		return nil, nil
	}
	switch {
	case first == "" && last == "":
		return nil, nil
	case first == "":
		n, ok := parsePos(last)
		if !ok {
			return nil, nil
		}
		if n == 0 {
			return nil, s3err.ErrInvalidRange
		}
		return &Range{Start: -1, End: n}, nil
	}
	start, ok := parsePos(first)
	if !ok {
		return nil, nil
	}
	if last == "" {
		return &Range{Start: start, End: -1}, nil
	}
	end, ok := parsePos(last)
	if !ok {
		return nil, nil
	}
	if start > end {
		return nil, s3err.ErrInvalidRange
	}
	return &Range{Start: start, End: end}, nil
}

// parsePos parses a byte position: decimal digits only, no sign.
func parsePos(s string) (int64, bool) {
	if s == "" {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, false
	}
	return n, true
}

// ResolveRange turns r into the byte span of an object of the given size.
// A nil r is the whole object. A range whose first byte is at or beyond the
// end, a zero-length suffix, and any range of an empty object are
// s3err.ErrInvalidRange; a last byte beyond the end is clamped, and a suffix
// longer than the object is the whole object.
func ResolveRange(r *Range, size int64) (start, length int64, err error) {
	if r == nil {
		return 0, size, nil
	}
	if size <= 0 {
		return 0, 0, s3err.ErrInvalidRange
	}
	if r.Start == -1 {
		n := r.End
		if n <= 0 {
			return 0, 0, s3err.ErrInvalidRange
		}
		n = min(n, size)
		return size - n, n, nil
	}
	if r.Start < 0 || r.Start >= size {
		return 0, 0, s3err.ErrInvalidRange
	}
	end := r.End
	if end == -1 || end >= size {
		end = size - 1
	}
	if end < r.Start {
		return 0, 0, s3err.ErrInvalidRange
	}
	return r.Start, end - r.Start + 1, nil
}

// ContentRange formats the Content-Range value of a served span.
func ContentRange(start, length, size int64) string {
	return "bytes " + strconv.FormatInt(start, 10) + "-" + strconv.FormatInt(start+length-1, 10) + "/" + strconv.FormatInt(size, 10)
}
