package fsbackend

import (
	"errors"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/dgp-proxy/dgp/internal/s3err"
)

func TestKeyPath(t *testing.T) {
	long := strings.Repeat("x", 300)
	tests := []struct {
		key  string
		want []string
	}{
		{"a", []string{"a%o"}},
		{"a/b", []string{"a", "b%o"}},
		{"dir/", []string{"dir", "%o"}},
		{"a//b", []string{"a", "%n", "b%o"}},
		{".hidden", []string{"%2Ehidden%o"}},
		{"./x", []string{"%2E", "x%o"}},
		{"a.b/c.", []string{"a.b", "c.%o"}},
		{"100%", []string{"100%25%o"}},
		{"x%o", []string{"x%25o%o"}},
		{"tab\there", []string{"tab%09here%o"}},
		{"spaces and ünïcödé/日本", []string{"spaces and ünïcödé", "日本%o"}},
		{long, []string{strings.Repeat("x", 241) + "%p", strings.Repeat("x", 59) + "%o"}},
	}
	for _, tt := range tests {
		got := keyPath(tt.key)
		if !slices.Equal(got, tt.want) {
			t.Errorf("keyPath(%q) = %q, want %q", tt.key, got, tt.want)
		}
	}
}

func TestParseNameRoundTrip(t *testing.T) {
	pieces := []string{"", "a", ".", ".x", "%", "%25", "a%o", "a%p", "x y", "\x01\x7f", "é", "a.b."}
	for _, p := range pieces {
		for _, kind := range []pieceKind{kindObject, kindCont, kindDir, kindVersions} {
			if kind == kindCont && p == "" {
				continue
			}
			name := pieceName(p, kind)
			got, gotKind, ok := parseName(name)
			if !ok || got != p || gotKind != kind {
				t.Errorf("parseName(pieceName(%q, %d) = %q) = %q, %d, %v", p, kind, name, got, gotKind, ok)
			}
		}
	}
	// Names that esc never produces are not pieces.
	for _, name := range []string{".dgp-bucket.json", ".staging", "%", "%2", "%2e", "%41", "a%zz", "%p", "\x01", ".", ".."} {
		if p, kind, ok := parseName(name); ok {
			t.Errorf("parseName(%q) = %q, %d, true; want not a piece", name, p, kind)
		}
	}
}

// randomKey builds keys that exercise the layout: separators, empty
// segments, dots, escapes, multi-byte runes and long segments.
func randomKey(r *rand.Rand) string {
	parts := []string{"a", "b", "/", "/", "-", ".", "%", " ", "é", "日", "\t", "ab", "a/", "z"}
	var sb strings.Builder
	n := 1 + r.IntN(12)
	for range n {
		if r.IntN(40) == 0 {
			// A long segment, cut into several pieces on disk.
			long := []string{"a", "%", "é", " ", "ab", "-"}
			sb.WriteString(strings.Repeat(long[r.IntN(len(long))], 50+r.IntN(300)))
			continue
		}
		sb.WriteString(parts[r.IntN(len(parts))])
	}
	k := sb.String()
	k = strings.TrimLeft(k, "/")
	if len(k) > maxKeyLen {
		k = k[:maxKeyLen]
	}
	for !validKeyForTest(k) {
		k = strings.ReplaceAll(k, "..", "._")
		if k == "" || k[0] == '/' {
			k = "k" + k
		}
		for len(k) > maxKeyLen || (len(k) > 0 && !utf8Valid(k)) {
			k = k[:len(k)-1]
		}
	}
	return k
}

func utf8Valid(s string) bool { return strings.ToValidUTF8(s, "\uFFFD") == s }

func validKeyForTest(k string) bool { return validateKey(k) == nil }

// TestLayoutInvariants checks, on many random keys, what the walk relies
// on: names fit NAME_MAX and are never special, paths are injective, and
// sibling entries cover disjoint key ranges ordered as their pieces.
func TestLayoutInvariants(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	seen := map[string]string{}
	for range 5000 {
		key := randomKey(r)
		names := keyPath(key)
		joined := strings.Join(names, "/")
		if other, dup := seen[joined]; dup && other != key {
			t.Fatalf("keys %q and %q share path %q", key, other, joined)
		}
		seen[joined] = key
		var rebuilt strings.Builder
		for i, n := range names {
			if len(n) > 255 || n == "" || n == "." || n == ".." || strings.ContainsAny(n, "/\x00") || n[0] == '.' {
				t.Fatalf("key %q: bad name %q", key, n)
			}
			p, kind, ok := parseName(n)
			if !ok {
				t.Fatalf("key %q: name %q does not parse", key, n)
			}
			if (kind == kindObject) != (i == len(names)-1) {
				t.Fatalf("key %q: name %q has kind %d at %d", key, n, kind, i)
			}
			rebuilt.WriteString(p)
			if kind == kindDir {
				rebuilt.WriteByte('/')
			}
		}
		if rebuilt.String() != key {
			t.Fatalf("key %q rebuilt as %q", key, rebuilt.String())
		}
		// Every prefix of the key lies under the directory prefixDir names.
		for cut := 0; cut <= len(key); cut += 1 + cut/3 {
			dirNames, consumed := prefixDir(key[:cut])
			if !strings.HasPrefix(key, consumed) || !slices.Equal(dirNames, names[:len(dirNames)]) {
				t.Fatalf("key %q prefix %q: prefixDir = %q, %q; key path %q", key, key[:cut], dirNames, consumed, names)
			}
		}
	}
}

func TestValidateKey(t *testing.T) {
	tests := []struct {
		key  string
		want error
	}{
		{"a", nil},
		{"a/b/c", nil},
		{"dir/", nil},
		{"a//b", nil},
		{"./a", nil},
		{"a/./b", nil},
		{"...", nil},
		{"a..b", nil},
		{strings.Repeat("k", 1024), nil},
		{"", s3err.ErrInvalidObjectName},
		{strings.Repeat("k", 1025), s3err.ErrKeyTooLong},
		{"..", s3err.ErrInvalidObjectName},
		{"../a", s3err.ErrInvalidObjectName},
		{"a/../b", s3err.ErrInvalidObjectName},
		{"a/..", s3err.ErrInvalidObjectName},
		{"/a", s3err.ErrInvalidObjectName},
		{"a\x00b", s3err.ErrInvalidObjectName},
		{"\xff\xfe", s3err.ErrInvalidObjectName},
	}
	for _, tt := range tests {
		err := validateKey(tt.key)
		if (tt.want == nil) != (err == nil) || (tt.want != nil && !errors.Is(err, tt.want)) {
			t.Errorf("validateKey(%.40q) = %v, want %v", tt.key, err, tt.want)
		}
	}
}
