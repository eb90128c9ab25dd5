package sigv4

import (
	"bytes"
	"fmt"
	"io"
	"sync"
	"testing"
)

// TestPayloadDigestReuse: the SHA-256 digests of signed payloads are
// pooled per Verifier; whatever the previous bodies did (failed, stopped
// half-way, passed), every body is checked against its own signed hash
// alone, also with bodies verified concurrently.
func TestPayloadDigestReuse(t *testing.T) {
	v := testVerifier()
	check := func(t *testing.T, body, send []byte, readAll bool) error {
		t.Helper()
		r := signedPut(t, body, "", nil)
		r.Body = httpBody(send)
		r.ContentLength = int64(len(send))
		res, err := v.Verify(r, testLookup)
		if err != nil {
			return fmt.Errorf("verify: %w", err)
		}
		if !readAll {
			_, err := io.ReadFull(res.Body, make([]byte, len(send)/2))
			return err
		}
		got, err := io.ReadAll(res.Body)
		if err == nil && !bytes.Equal(got, send) {
			return fmt.Errorf("read %d bytes, not the body", len(got))
		}
		return err
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 20 {
				body := pattern(10_000+i*97, byte(g*31+i))
				other := pattern(len(body), byte(g*31+i+1))
				if err := check(t, body, other, true); err == nil {
					t.Errorf("goroutine %d round %d: tampered body accepted", g, i)
				} else {
					wantCode(t, err, "XAmzContentSHA256Mismatch")
				}
				if err := check(t, body, body, false); err != nil {
					t.Errorf("goroutine %d round %d: half a body: %v", g, i, err)
				}
				if err := check(t, body, body, true); err != nil {
					t.Errorf("goroutine %d round %d: good body refused: %v", g, i, err)
				}
			}
		})
	}
	wg.Wait()
}
