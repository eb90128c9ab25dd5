package s3api

import (
	"encoding/base64"
	"testing"
)

func TestContinuationToken(t *testing.T) {
	for _, c := range []struct{ last, backend string }{
		{"a/b", ""}, {"日本/é", "MTIzW21pbmlvX2NhY2hlOnYyXQ=="}, {"k", "\x00odd"}, {"", "x"},
	} {
		tok := encodeContinuation(c.last, c.backend)
		m, b, ok := decodeContinuation(tok)
		if !ok || m != c.last || b != c.backend {
			t.Errorf("%q/%q: decoded %q/%q ok=%v", c.last, c.backend, m, b, ok)
		}
	}
	// Tokens issued before backend cursors were carried: the key alone.
	if m, b, ok := decodeContinuation(base64.StdEncoding.EncodeToString([]byte("old/key"))); !ok || m != "old/key" || b != "" {
		t.Errorf("old token: %q %q %v", m, b, ok)
	}
	for _, bad := range []string{"", "!!!", base64.StdEncoding.EncodeToString([]byte("\xff\xfe"))} {
		if _, _, ok := decodeContinuation(bad); ok {
			t.Errorf("token %q accepted", bad)
		}
	}
}
