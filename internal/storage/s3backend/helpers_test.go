package s3backend

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/dgp-proxy/dgp/internal/s3err"
	"github.com/dgp-proxy/dgp/internal/storage"
)

func TestRangeHeader(t *testing.T) {
	tests := []struct {
		r       storage.Range
		want    string
		wantErr bool
	}{
		{storage.Range{Start: 0, End: 99}, "bytes=0-99", false},
		{storage.Range{Start: 10, End: 10}, "bytes=10-10", false},
		{storage.Range{Start: 100, End: -1}, "bytes=100-", false},
		{storage.Range{Start: -1, End: 500}, "bytes=-500", false},
		{storage.Range{Start: 5, End: 4}, "", true},
		{storage.Range{Start: -1, End: -1}, "", true},
	}
	for _, tt := range tests {
		got, err := rangeHeader(tt.r)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("rangeHeader(%+v) = %q, %v; want %q, err=%v", tt.r, got, err, tt.want, tt.wantErr)
		}
		if err != nil && !errors.Is(err, s3err.ErrInvalidRange) {
			t.Errorf("rangeHeader(%+v) error %v is not InvalidRange", tt.r, err)
		}
	}
}

func TestCopySource(t *testing.T) {
	tests := []struct {
		ref  storage.ObjectRef
		want string
	}{
		{storage.ObjectRef{Bucket: "b", Key: "plain/key.txt"}, "b/plain/key.txt"},
		{storage.ObjectRef{Bucket: "b", Key: "a b+c&d?e#f%g"}, "b/a%20b%2Bc%26d%3Fe%23f%25g"},
		{storage.ObjectRef{Bucket: "b", Key: "dir//x~y_z-1.0"}, "b/dir//x~y_z-1.0"},
		{storage.ObjectRef{Bucket: "b", Key: "ünï"}, "b/%C3%BCn%C3%AF"},
		{storage.ObjectRef{Bucket: "b", Key: "k?x", VersionID: "3HL4kqtJ+lcp/X="}, "b/k%3Fx?versionId=3HL4kqtJ%2Blcp%2FX%3D"},
		{storage.ObjectRef{Bucket: "b", Key: "k", VersionID: "null"}, "b/k?versionId=null"},
	}
	for _, tt := range tests {
		if got := copySource(tt.ref); got != tt.want {
			t.Errorf("copySource(%+v) = %q, want %q", tt.ref, got, tt.want)
		}
	}
}

func TestTotalFromContentRange(t *testing.T) {
	if n, ok := totalFromContentRange("bytes 0-9/1234"); !ok || n != 1234 {
		t.Errorf("got %d, %v", n, ok)
	}
	for _, bad := range []string{"", "bytes 0-9/*", "0-9/12"} {
		if _, ok := totalFromContentRange(bad); ok {
			t.Errorf("totalFromContentRange(%q) ok", bad)
		}
	}
}

func TestStoredHeaders(t *testing.T) {
	h := parseStoredHeaders(map[string]string{
		"cache-control":       "no-cache",
		"Content-Disposition": "attachment",
		"CONTENT-ENCODING":    "gzip",
		"Content-Language":    "fr",
		"expires":             "Wed, 21 Oct 2037 07:28:00 GMT",
		"X-Other":             "ignored",
	})
	got := h.toMap()
	want := map[string]string{
		"Cache-Control":       "no-cache",
		"Content-Disposition": "attachment",
		"Content-Encoding":    "gzip",
		"Content-Language":    "fr",
		"Expires":             "Wed, 21 Oct 2037 07:28:00 GMT",
	}
	if len(got) != len(want) {
		t.Fatalf("toMap() = %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("toMap()[%q] = %q, want %q", k, got[k], v)
		}
	}
	if m := (storedHeaders{}).toMap(); m != nil {
		t.Errorf("empty toMap() = %v, want nil", m)
	}
}

func TestQuoteETag(t *testing.T) {
	for in, want := range map[string]string{"": "", "abc": `"abc"`, `"abc"`: `"abc"`, `"abc-2"`: `"abc-2"`} {
		if got := quoteETag(in); got != want {
			t.Errorf("quoteETag(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestUploadBody(t *testing.T) {
	t.Run("exact size", func(t *testing.T) {
		b := newUploadBody(iotest.OneByteReader(strings.NewReader("hello")), 5)
		got, err := io.ReadAll(b)
		if err != nil || string(got) != "hello" {
			t.Fatalf("ReadAll = %q, %v", got, err)
		}
		if err := b.finish(); err != nil {
			t.Fatalf("finish() = %v", err)
		}
	})
	t.Run("longer reader is cut at size", func(t *testing.T) {
		b := newUploadBody(strings.NewReader("hello world"), 5)
		got, err := io.ReadAll(b)
		if err != nil || string(got) != "hello" {
			t.Fatalf("ReadAll = %q, %v", got, err)
		}
	})
	t.Run("short reader is unexpected EOF", func(t *testing.T) {
		b := newUploadBody(strings.NewReader("hel"), 5)
		_, err := io.ReadAll(b)
		if !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("ReadAll error = %v, want ErrUnexpectedEOF", err)
		}
		ferr := b.finish()
		if !errors.Is(ferr, io.ErrUnexpectedEOF) {
			t.Fatalf("finish() = %v", ferr)
		}
		if got := bodyError("put object", ferr); !errors.Is(got, s3err.ErrIncompleteBody) {
			t.Fatalf("bodyError = %v, want IncompleteBody", got)
		}
	})
	t.Run("reader error is kept", func(t *testing.T) {
		boom := s3err.ErrSignatureDoesNotMatch.WithCause(errors.New("chunk"))
		b := newUploadBody(io.MultiReader(strings.NewReader("he"), iotest.ErrReader(boom)), 5)
		_, err := io.ReadAll(b)
		if !errors.Is(err, boom) {
			t.Fatalf("ReadAll error = %v", err)
		}
		got := bodyError("put object", b.finish())
		var se *s3err.Error
		if !errors.As(got, &se) || se.Code != "SignatureDoesNotMatch" {
			t.Fatalf("bodyError = %v, want the reader's SignatureDoesNotMatch", got)
		}
	})
	t.Run("no reads after finish", func(t *testing.T) {
		src := bytes.NewReader([]byte("hello"))
		b := newUploadBody(src, 5)
		_ = b.finish()
		if n, err := b.Read(make([]byte, 5)); n != 0 || !errors.Is(err, errBodyFinished) {
			t.Fatalf("Read after finish = %d, %v", n, err)
		}
		if src.Len() != 5 {
			t.Fatalf("underlying reader was read after finish")
		}
	})
}
