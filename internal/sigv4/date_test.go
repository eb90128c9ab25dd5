package sigv4

import (
	"crypto/sha256"
	"encoding/hex"
	"math/rand/v2"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestParseAmzDateMatchesTimeParse checks the hand-written date parsers
// accept and return exactly what time.Parse does with the same layouts.
func TestParseAmzDateMatchesTimeParse(t *testing.T) {
	t.Parallel()
	cases := []string{
		"20240309T120000Z", "20240229T235959Z", "20230229T000000Z", "20000229T000000Z",
		"19000229T000000Z", "20241231T240000Z", "20241231T236000Z", "20241231T235960Z",
		"20241301T000000Z", "20240001T000000Z", "20240100T000000Z", "20240431T000000Z",
		"00000101T000000Z", "2024030T9120000Z", "20240309 120000Z", "20240309T120000z",
		"2024-3-9T120000Z", "+2024039T120000Z", "20240309T12000Z", "",
	}
	rng := rand.New(rand.NewPCG(1, 2))
	const alphabet = "0123456789TZ+- "
	for range 20000 {
		b := []byte("20240309T120000Z")
		for range 1 + rng.IntN(3) {
			b[rng.IntN(len(b))] = alphabet[rng.IntN(len(alphabet))]
		}
		cases = append(cases, string(b))
	}
	for _, s := range cases {
		want, err := time.Parse(amzDateFormat, s)
		got, ok := parseAmzDate(s)
		if ok != (err == nil) || ok && !got.Equal(want) {
			t.Errorf("parseAmzDate(%q) = %v, %v; time.Parse: %v, %v", s, got, ok, want, err)
		}
		if len(s) >= 8 {
			_, err := time.Parse("20060102", s[:8])
			if validScopeDate(s[:8]) != (err == nil) {
				t.Errorf("validScopeDate(%q) = %v; time.Parse error %v", s[:8], !(err == nil), err)
			}
		}
	}
}

// TestEmptySHA256Sum checks the constant against crypto/sha256.
func TestEmptySHA256Sum(t *testing.T) {
	t.Parallel()
	if sha256.Sum256(nil) != emptySHA256Sum() || hex.EncodeToString(func() []byte { s := emptySHA256Sum(); return s[:] }()) != emptySHA256Hex {
		t.Fatal("emptySHA256Sum is not the SHA-256 of no bytes")
	}
}

// TestCanonicalURIMatchesPathUnescape checks the one-pass segment decoder
// against url.PathUnescape followed by AWS encoding.
func TestCanonicalURIMatchesPathUnescape(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(3, 4))
	const alphabet = "aZ09-_.~%/+ 2fF4gG%é"
	cases := []string{"", "/", "%", "%2", "%2F", "%zz", "a%2fb", "%E2%82%AC", "%%41", "/a//b/", "a+b%20c"}
	for range 20000 {
		b := make([]byte, rng.IntN(12))
		for i := range b {
			b[i] = alphabet[rng.IntN(len(alphabet))]
		}
		cases = append(cases, string(b))
	}
	for _, p := range cases {
		var want []byte
		if p == "" {
			want = []byte("/")
		} else {
			for i, seg := range strings.Split(p, "/") {
				if i > 0 {
					want = append(want, '/')
				}
				if dec, err := url.PathUnescape(seg); err == nil {
					seg = dec
				}
				want = appendURIEncode(want, seg, false)
			}
		}
		if got := appendCanonicalURI(nil, p); string(got) != string(want) {
			t.Errorf("appendCanonicalURI(%q) = %q, want %q", p, got, want)
		}
	}
}
