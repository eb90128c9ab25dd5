package sigv4

import (
	"math/rand/v2"
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
