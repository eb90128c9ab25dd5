package sigv4

import (
	"math/rand/v2"
	"testing"
)

// collapseSpacesByByte is the obvious definition appendCollapsedSpaces
// must agree with: every run of ' ' becomes one ' ', nothing else changes.
func collapseSpacesByByte(v string) string {
	var out []byte
	space := false
	for i := 0; i < len(v); i++ {
		if v[i] == ' ' {
			if !space {
				out = append(out, ' ')
			}
			space = true
			continue
		}
		space = false
		out = append(out, v[i])
	}
	return string(out)
}

func TestAppendCollapsedSpacesMatchesDefinition(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	alphabet := []byte{' ', ' ', ' ', '\t', 'a', 'b', ',', '='}
	for range 20000 {
		b := make([]byte, rng.IntN(24))
		for i := range b {
			b[i] = alphabet[rng.IntN(len(alphabet))]
		}
		v := string(b)
		got := string(appendCollapsedSpaces([]byte("x:"), v))
		if want := "x:" + collapseSpacesByByte(v); got != want {
			t.Fatalf("appendCollapsedSpaces(%q) = %q, want %q", v, got, want)
		}
	}
}
