package main

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
)

// payload is random data generated once; every request body is a prefix of
// it, served by a reader over the shared slice (nothing is copied per
// request besides what the reader hands to its caller).
type payload struct {
	data []byte
	// sums caches the hex SHA-256 of prefixes, by length.
	sums map[int64]string
}

func newPayload(size int64) (*payload, error) {
	b := make([]byte, size)
	if _, err := rand.Read(b); err != nil {
		return nil, fmt.Errorf("random payload: %w", err)
	}
	return &payload{data: b, sums: map[int64]string{}}, nil
}

// reader serves the first n bytes; it is seekable, so the SDK can size and
// hash it without buffering.
func (p *payload) reader(n int64) *bytes.Reader { return bytes.NewReader(p.data[:n]) }

// sha256Hex is the hex SHA-256 of the first n bytes. Not safe for
// concurrent use; call it during setup.
func (p *payload) sha256Hex(n int64) string {
	if s, ok := p.sums[n]; ok {
		return s
	}
	sum := sha256.Sum256(p.data[:n])
	s := hex.EncodeToString(sum[:])
	p.sums[n] = s
	return s
}

// plainBody is a request body that offers only Read and Close, like the
// body net/http hands a server handler (no WriterTo short cut).
type plainBody struct{ r *bytes.Reader }

func (b plainBody) Read(p []byte) (int, error) { return b.r.Read(p) }
func (b plainBody) Close() error               { return nil }

var _ io.ReadCloser = plainBody{}

// drain reads r to the end through buf and returns the byte count.
func drain(r io.Reader, buf []byte) (int64, error) {
	var n int64
	for {
		k, err := r.Read(buf)
		n += int64(k)
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}
