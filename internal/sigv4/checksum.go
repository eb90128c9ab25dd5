package sigv4

import (
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"hash"
	"hash/crc32"
	"hash/crc64"
	"strings"
	"sync"
)

// checksumAlgorithm names one of the S3 flexible checksum algorithms.
type checksumAlgorithm string

// The S3 checksum algorithms, named as in x-amz-checksum-<alg> (lower case).
const (
	checksumCRC32     checksumAlgorithm = "crc32"
	checksumCRC32C    checksumAlgorithm = "crc32c"
	checksumSHA1      checksumAlgorithm = "sha1"
	checksumSHA256    checksumAlgorithm = "sha256"
	checksumCRC64NVME checksumAlgorithm = "crc64nvme"
)

// crc64NVMEPoly is the CRC-64/NVME polynomial in the reflected form hash/crc64 expects.
const crc64NVMEPoly = 0x9a6c9329ac4bc9b5

// checksumHeaderPrefix is the lower-case prefix of the checksum headers and trailers.
const checksumHeaderPrefix = "x-amz-checksum-"

// parseChecksumName maps "x-amz-checksum-<alg>" (any case) to its algorithm.
func parseChecksumName(name string) (checksumAlgorithm, bool) {
	if len(name) <= len(checksumHeaderPrefix) || !strings.EqualFold(name[:len(checksumHeaderPrefix)], checksumHeaderPrefix) {
		return "", false
	}
	alg := name[len(checksumHeaderPrefix):]
	for _, a := range [...]checksumAlgorithm{checksumCRC32, checksumCRC32C, checksumSHA1, checksumSHA256, checksumCRC64NVME} {
		if asciiEqualFold(alg, string(a)) {
			return a, true
		}
	}
	return "", false
}

// asciiEqualFold reports whether s equals lower, a lower-case ASCII
// string, ignoring the case of ASCII letters only (as strings.ToLower(s)
// == lower would, without building the lower-case copy).
func asciiEqualFold(s, lower string) bool {
	if len(s) != len(lower) {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

// size is the digest length in bytes.
func (a checksumAlgorithm) size() int {
	switch a {
	case checksumCRC32, checksumCRC32C:
		return 4
	case checksumSHA1:
		return sha1.Size
	case checksumSHA256:
		return sha256.Size
	case checksumCRC64NVME:
		return 8
	}
	return 0
}

// headerName is the canonical lower-case header (and trailer) name.
func (a checksumAlgorithm) headerName() string { return checksumHeaderPrefix + string(a) }

// decodeChecksum decodes a base64 checksum value and checks its length.
func decodeChecksum(alg checksumAlgorithm, value string) ([]byte, bool) {
	want := alg.size()
	if want == 0 || base64.StdEncoding.EncodedLen(want) != len(value) {
		return nil, false
	}
	b, err := base64.StdEncoding.DecodeString(value)
	if err != nil || len(b) != want {
		return nil, false
	}
	return b, true
}

// hashes holds the tables the checksums need, built once per Verifier.
type hashes struct {
	crc32c *crc32.Table
	crc64  *crc64Slicing
	// payload holds SHA-256 digests for signed payloads, returned by a
	// body once it has verified them (see bodyReader.verify).
	payload sync.Pool
}

func newHashes() *hashes {
	h := &hashes{
		crc32c: crc32.MakeTable(crc32.Castagnoli),
		crc64:  newCRC64Slicing(crc64.MakeTable(crc64NVMEPoly)),
	}
	h.payload.New = func() any { return sha256.New() }
	return h
}

// payloadSHA256 returns a reset SHA-256 digest from the pool; give it back
// with putPayloadSHA256 once nothing uses it.
func (h *hashes) payloadSHA256() hash.Hash {
	d := h.payload.Get().(hash.Hash)
	d.Reset()
	return d
}

// putPayloadSHA256 returns a digest from payloadSHA256 to the pool.
func (h *hashes) putPayloadSHA256(d hash.Hash) { h.payload.Put(d) }

// newChecksum returns a fresh hash for alg.
func (h *hashes) newChecksum(alg checksumAlgorithm) hash.Hash {
	switch alg {
	case checksumCRC32:
		return crc32.NewIEEE()
	case checksumCRC32C:
		return crc32.New(h.crc32c)
	case checksumSHA1:
		return sha1.New()
	case checksumSHA256:
		return sha256.New()
	case checksumCRC64NVME:
		return &crc64Digest{tab: h.crc64}
	}
	return nil
}

// newMD5 returns a fresh MD5 hash (Content-MD5).
func newMD5() hash.Hash { return md5.New() }

// crc64Slicing is a slicing-by-8 expansion of a hash/crc64 table. hash/crc64
// rebuilds such an expansion on every large Update for tables other than ISO
// and ECMA, which would allocate in proportion to the body; this one is built
// once per Verifier.
type crc64Slicing [8]crc64.Table

func newCRC64Slicing(base *crc64.Table) *crc64Slicing {
	var t crc64Slicing
	t[0] = *base
	for i := 0; i < 256; i++ {
		crc := t[0][i]
		for j := 1; j < 8; j++ {
			crc = t[0][crc&0xff] ^ (crc >> 8)
			t[j][i] = crc
		}
	}
	return &t
}

// update continues crc (in the same pre/post-inverted convention as crc64.Update).
func (t *crc64Slicing) update(crc uint64, p []byte) uint64 {
	crc = ^crc
	for len(p) >= 8 {
		crc ^= binary.LittleEndian.Uint64(p)
		crc = t[7][crc&0xff] ^
			t[6][crc>>8&0xff] ^
			t[5][crc>>16&0xff] ^
			t[4][crc>>24&0xff] ^
			t[3][crc>>32&0xff] ^
			t[2][crc>>40&0xff] ^
			t[1][crc>>48&0xff] ^
			t[0][crc>>56]
		p = p[8:]
	}
	for _, b := range p {
		crc = t[0][byte(crc)^b] ^ (crc >> 8)
	}
	return ^crc
}

// crc64Digest is a hash.Hash64 computing CRC-64/NVME.
type crc64Digest struct {
	tab *crc64Slicing
	crc uint64
}

var _ hash.Hash64 = (*crc64Digest)(nil)

func (d *crc64Digest) Write(p []byte) (int, error) {
	d.crc = d.tab.update(d.crc, p)
	return len(p), nil
}
func (d *crc64Digest) Sum64() uint64 { return d.crc }
func (d *crc64Digest) Sum(in []byte) []byte {
	return binary.BigEndian.AppendUint64(in, d.crc)
}
func (d *crc64Digest) Reset()         { d.crc = 0 }
func (d *crc64Digest) Size() int      { return 8 }
func (d *crc64Digest) BlockSize() int { return 1 }
