package storage

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/dgp-proxy/dgp/internal/s3err"
)

func TestCheckConditions(t *testing.T) {
	mod := time.Date(2024, 5, 1, 12, 0, 0, 700_000_000, time.UTC) // sub-second part is ignored
	info := ObjectInfo{ETag: `"abc"`, LastModified: mod}
	sec := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	before, after := sec.Add(-time.Second), sec.Add(time.Second)

	tests := []struct {
		name string
		c    Conditions
		want error
	}{
		{"none", Conditions{}, nil},
		{"if-match quoted", Conditions{IfMatch: `"abc"`}, nil},
		{"if-match unquoted", Conditions{IfMatch: `abc`}, nil},
		{"if-match star", Conditions{IfMatch: `*`}, nil},
		{"if-match list", Conditions{IfMatch: `"x", "abc"`}, nil},
		{"if-match list no spaces", Conditions{IfMatch: `"x","abc"`}, nil},
		{"if-match miss", Conditions{IfMatch: `"x"`}, s3err.ErrPreconditionFailed},
		{"if-match weak never matches", Conditions{IfMatch: `W/"abc"`}, s3err.ErrPreconditionFailed},
		{"if-match empty list items", Conditions{IfMatch: ` , `}, s3err.ErrPreconditionFailed},
		{"if-none-match hit", Conditions{IfNoneMatch: `"abc"`}, s3err.ErrNotModified},
		{"if-none-match weak hit", Conditions{IfNoneMatch: `W/"abc"`}, s3err.ErrNotModified},
		{"if-none-match star", Conditions{IfNoneMatch: `*`}, s3err.ErrNotModified},
		{"if-none-match list hit", Conditions{IfNoneMatch: `"x", abc`}, s3err.ErrNotModified},
		{"if-none-match miss", Conditions{IfNoneMatch: `"x"`}, nil},
		{"if-unmodified-since same second", Conditions{IfUnmodifiedSince: sec}, nil},
		{"if-unmodified-since later", Conditions{IfUnmodifiedSince: after}, nil},
		{"if-unmodified-since earlier", Conditions{IfUnmodifiedSince: before}, s3err.ErrPreconditionFailed},
		{"if-modified-since same second", Conditions{IfModifiedSince: sec}, s3err.ErrNotModified},
		{"if-modified-since later", Conditions{IfModifiedSince: after}, s3err.ErrNotModified},
		{"if-modified-since earlier", Conditions{IfModifiedSince: before}, nil},
		// If-Match true overrides a failing If-Unmodified-Since.
		{"if-match true + unmodified-since false", Conditions{IfMatch: `"abc"`, IfUnmodifiedSince: before}, nil},
		{"if-match false + unmodified-since true", Conditions{IfMatch: `"x"`, IfUnmodifiedSince: after}, s3err.ErrPreconditionFailed},
		// If-None-Match present: If-Modified-Since is ignored.
		{"if-none-match miss + modified-since not modified", Conditions{IfNoneMatch: `"x"`, IfModifiedSince: after}, nil},
		{"if-none-match hit + modified-since modified", Conditions{IfNoneMatch: `"abc"`, IfModifiedSince: before}, s3err.ErrNotModified},
		// If-Match is evaluated before If-None-Match.
		{"if-match miss + if-none-match hit", Conditions{IfMatch: `"x"`, IfNoneMatch: `"abc"`}, s3err.ErrPreconditionFailed},
		{"if-match hit + if-none-match hit", Conditions{IfMatch: `"abc"`, IfNoneMatch: `"abc"`}, s3err.ErrNotModified},
		{"unmodified-since fail + if-none-match hit", Conditions{IfUnmodifiedSince: before, IfNoneMatch: `"abc"`}, s3err.ErrPreconditionFailed},
		{"unmodified-since ok + modified-since not modified", Conditions{IfUnmodifiedSince: after, IfModifiedSince: after}, s3err.ErrNotModified},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckConditions(info, tt.c)
			if !sameErr(err, tt.want) {
				t.Fatalf("CheckConditions = %v, want %v", err, tt.want)
			}
			if err != nil {
				// 304 and 412 carry the validators, as S3 sends them.
				var e *s3err.Error
				if !errors.As(err, &e) {
					t.Fatalf("CheckConditions = %T, want *s3err.Error", err)
				}
				want := [][2]string{{"ETag", `"abc"`}, {"Last-Modified", "Wed, 01 May 2024 12:00:00 GMT"}}
				if !slices.Equal(e.Headers, want) {
					t.Fatalf("headers = %q, want %q", e.Headers, want)
				}
			}
			copyErr := CheckCopySourceConditions(info, tt.c)
			wantCopy := tt.want
			if wantCopy != nil {
				wantCopy = s3err.ErrPreconditionFailed
			}
			if !sameErr(copyErr, wantCopy) {
				t.Fatalf("CheckCopySourceConditions = %v, want %v", copyErr, wantCopy)
			}
		})
	}
}

func sameErr(got, want error) bool {
	if want == nil {
		return got == nil
	}
	return errors.Is(got, want)
}

func TestParseRange(t *testing.T) {
	tests := []struct {
		header string
		want   *Range
		err    error
	}{
		{"", nil, nil},
		{"bytes=0-9", &Range{0, 9}, nil},
		{"bytes=5-5", &Range{5, 5}, nil},
		{"bytes=5-", &Range{5, -1}, nil},
		{"bytes=-3", &Range{-1, 3}, nil},
		{" bytes=1-2 ", &Range{1, 2}, nil},
		{"bytes=5-3", nil, s3err.ErrInvalidRange},
		{"bytes=-0", nil, s3err.ErrInvalidRange},
		// Ignored, as S3 ignores them: the whole object is served.
		{"bytes=0-1,3-4", nil, nil},
		{"bytes=abc", nil, nil},
		{"bytes=-", nil, nil},
		{"bytes=", nil, nil},
		{"bytes=+2-3", nil, nil},
		{"bytes=2-+3", nil, nil},
		{"bytes= 2-3", nil, nil},
		{"Bytes=2-3", nil, nil},
		{"items=1-2", nil, nil},
		{"bytes=1", nil, nil},
		{"bytes=99999999999999999999-", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.header, func(t *testing.T) {
			got, err := ParseRange(tt.header)
			if !sameErr(err, tt.err) {
				t.Fatalf("err = %v, want %v", err, tt.err)
			}
			if (got == nil) != (tt.want == nil) || (got != nil && *got != *tt.want) {
				t.Fatalf("ParseRange(%q) = %+v, want %+v", tt.header, got, tt.want)
			}
		})
	}
}

func TestResolveRange(t *testing.T) {
	tests := []struct {
		name          string
		r             *Range
		size          int64
		start, length int64
		err           error
	}{
		{"nil", nil, 10, 0, 10, nil},
		{"nil empty", nil, 0, 0, 0, nil},
		{"first bytes", &Range{0, 4}, 10, 0, 5, nil},
		{"one byte", &Range{9, 9}, 10, 9, 1, nil},
		{"open end", &Range{3, -1}, 10, 3, 7, nil},
		{"end clamped", &Range{8, 20}, 10, 8, 2, nil},
		{"suffix", &Range{-1, 3}, 10, 7, 3, nil},
		{"suffix longer than object", &Range{-1, 20}, 10, 0, 10, nil},
		{"start at size", &Range{10, -1}, 10, 0, 0, s3err.ErrInvalidRange},
		{"start beyond size", &Range{40, 50}, 10, 0, 0, s3err.ErrInvalidRange},
		{"zero suffix", &Range{-1, 0}, 10, 0, 0, s3err.ErrInvalidRange},
		{"empty object", &Range{0, -1}, 0, 0, 0, s3err.ErrInvalidRange},
		{"empty object suffix", &Range{-1, 5}, 0, 0, 0, s3err.ErrInvalidRange},
		{"end before start", &Range{5, 3}, 10, 0, 0, s3err.ErrInvalidRange},
		{"negative start", &Range{-2, 3}, 10, 0, 0, s3err.ErrInvalidRange},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start, length, err := ResolveRange(tt.r, tt.size)
			if !sameErr(err, tt.err) {
				t.Fatalf("err = %v, want %v", err, tt.err)
			}
			if err == nil && (start != tt.start || length != tt.length) {
				t.Fatalf("ResolveRange = %d,%d, want %d,%d", start, length, tt.start, tt.length)
			}
		})
	}
}

func TestContentRange(t *testing.T) {
	if got := ContentRange(8, 2, 10); got != "bytes 8-9/10" {
		t.Fatalf("ContentRange = %q", got)
	}
}
