package sigv4

import (
	"crypto/sha256"
	"encoding"
	"encoding/hex"
	"hash"
	"sync"
)

// signingKey is a derived SigV4 signing key together with the SHA-256
// states HMAC-SHA256 reaches after absorbing the key's inner and outer pad
// blocks, so a signature costs the message's blocks and one final block
// each way, without building an HMAC (two digests and two pads) per
// request.
type signingKey struct {
	raw   []byte // the key itself (chunk signatures use it through hmac.New)
	inner []byte // marshaled SHA-256 state after (key ^ ipad)
	outer []byte // marshaled SHA-256 state after (key ^ opad)
}

// newSigningKey precomputes the HMAC pad states of raw (at most one SHA-256
// block long, as derived keys are).
func newSigningKey(raw []byte) *signingKey {
	var pad [sha256.BlockSize]byte
	copy(pad[:], raw)
	for i := range pad {
		pad[i] ^= 0x36
	}
	h := sha256.New()
	h.Write(pad[:])
	inner, errIn := h.(encoding.BinaryMarshaler).MarshalBinary()
	for i := range pad {
		pad[i] ^= 0x36 ^ 0x5c
	}
	h.Reset()
	h.Write(pad[:])
	outer, errOut := h.(encoding.BinaryMarshaler).MarshalBinary()
	if errIn != nil || errOut != nil {
		// crypto/sha256 always marshals; keep working without the shortcut.
		inner, outer = nil, nil
	}
	return &signingKey{raw: raw, inner: inner, outer: outer}
}

// macScratch is what one signature computation reuses: a SHA-256 digest,
// its digest buffer and a buffer for the canonical request and string to
// sign. Scratches live in a macPool.
type macScratch struct {
	h   hash.Hash
	u   encoding.BinaryUnmarshaler
	sum [sha256.Size]byte
	buf []byte
}

// macPool hands out macScratch values.
type macPool struct{ p sync.Pool }

func (m *macPool) get() *macScratch {
	if s, ok := m.p.Get().(*macScratch); ok {
		return s
	}
	h := sha256.New()
	u, _ := h.(encoding.BinaryUnmarshaler)
	return &macScratch{h: h, u: u, buf: make([]byte, 0, 1024)}
}

// maxPooledBuf bounds the buffer a scratch keeps when it goes back to the
// pool (a request with huge headers does not pin its buffer).
const maxPooledBuf = 16 << 10

func (m *macPool) put(s *macScratch) {
	if cap(s.buf) > maxPooledBuf {
		s.buf = make([]byte, 0, 1024)
	}
	s.buf = s.buf[:0]
	m.p.Put(s)
}

// sha256Hex appends the lower-case hex SHA-256 of data.
func (s *macScratch) appendSHA256Hex(dst, data []byte) []byte {
	s.h.Reset()
	s.h.Write(data)
	return hex.AppendEncode(dst, s.h.Sum(s.sum[:0]))
}

// signature returns the lower-case hex HMAC-SHA256 of msg under k.
func (s *macScratch) signature(k *signingKey, msg []byte) [signatureHexSize]byte {
	var out [signatureHexSize]byte
	if s.u == nil || k.inner == nil {
		return signHex(k.raw, msg)
	}
	if s.u.UnmarshalBinary(k.inner) != nil {
		return signHex(k.raw, msg)
	}
	s.h.Write(msg)
	inner := s.h.Sum(s.sum[:0])
	if s.u.UnmarshalBinary(k.outer) != nil {
		return signHex(k.raw, msg)
	}
	s.h.Write(inner)
	hex.Encode(out[:], s.h.Sum(s.sum[:0]))
	return out
}
