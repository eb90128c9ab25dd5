package sigv4

import (
	"bytes"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"hash/crc64"
	"strings"
	"testing"
)

func TestStreamingAccepted(t *testing.T) {
	t.Parallel()
	c1, c2, c3 := pattern(64<<10, 1), pattern(64<<10, 2), pattern(100, 3)
	all := bytes.Join([][]byte{c1, c2, c3}, nil)
	h := newHashes()
	b64 := func(alg checksumAlgorithm) string {
		d := h.newChecksum(alg)
		d.Write(all)
		return base64.StdEncoding.EncodeToString(d.Sum(nil))
	}
	cases := []struct {
		name    string
		mode    string
		s       stream
		headers map[string]string
	}{
		{name: "signed", mode: StreamingSignedPayload, s: stream{signed: true, chunks: [][]byte{c1, c2, c3}}},
		{name: "signed single small chunk", mode: StreamingSignedPayload, s: stream{signed: true, chunks: [][]byte{c3}}},
		{name: "signed empty", mode: StreamingSignedPayload, s: stream{signed: true}},
		{name: "signed with header checksum", mode: StreamingSignedPayload, s: stream{signed: true, chunks: [][]byte{c1, c3}},
			headers: map[string]string{"X-Amz-Checksum-Crc32": crc32Base64(append(append([]byte{}, c1...), c3...))}},
		{name: "signed trailer crc32c", mode: StreamingSignedPayloadTrailer,
			s:       stream{signed: true, trailerMode: true, chunks: [][]byte{c1, c2, c3}, trailers: [][2]string{{"x-amz-checksum-crc32c", b64(checksumCRC32C)}}},
			headers: map[string]string{"X-Amz-Trailer": "x-amz-checksum-crc32c"}},
		{name: "signed trailer without trailers", mode: StreamingSignedPayloadTrailer,
			s: stream{signed: true, trailerMode: true, chunks: [][]byte{c1, c2, c3}}},
	}
	for _, alg := range []checksumAlgorithm{checksumCRC32, checksumCRC32C, checksumSHA1, checksumSHA256, checksumCRC64NVME} {
		cases = append(cases, struct {
			name    string
			mode    string
			s       stream
			headers map[string]string
		}{
			name: "unsigned trailer " + string(alg), mode: StreamingUnsignedPayloadTrailer,
			s:       stream{trailerMode: true, chunks: [][]byte{c1, c2, c3}, trailers: [][2]string{{alg.headerName(), b64(alg)}}},
			headers: map[string]string{"X-Amz-Trailer": alg.headerName()},
		})
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := streamRequest(t, tc.mode, tc.s, tc.s.decodedLen(), tc.headers)
			res, err := testVerifier().Verify(r, testLookup)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if res.ContentLength != tc.s.decodedLen() {
				t.Errorf("ContentLength = %d, want %d", res.ContentLength, tc.s.decodedLen())
			}
			for _, bufSize := range []int{1 << 20, 4093} {
				r := streamRequest(t, tc.mode, tc.s, tc.s.decodedLen(), tc.headers)
				res, err := testVerifier().Verify(r, testLookup)
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				got, err := readAllChecked(t, res.Body, bufSize)
				if err != nil {
					t.Fatalf("read (buf %d): %v", bufSize, err)
				}
				if !bytes.Equal(got, bytes.Join(tc.s.chunks, nil)) {
					t.Fatalf("decoded %d bytes differ from the %d sent", len(got), tc.s.decodedLen())
				}
			}
		})
	}
}

func TestStreamingRejected(t *testing.T) {
	t.Parallel()
	c1, c2, c3 := pattern(64<<10, 1), pattern(64<<10, 2), pattern(100, 3)
	chunks := [][]byte{c1, c2, c3}
	total := int64(len(c1) + len(c2) + len(c3))
	good := crc32Base64(bytes.Join(chunks, nil))
	trailerHdr := map[string]string{"X-Amz-Trailer": "x-amz-checksum-crc32"}
	cases := []struct {
		name    string
		mode    string
		s       stream
		decoded int64 // 0: the real decoded length
		headers map[string]string
		code    string
	}{
		{name: "bad first chunk signature", mode: StreamingSignedPayload,
			s: stream{signed: true, chunks: chunks, badChunk: 1}, code: "SignatureDoesNotMatch"},
		{name: "bad middle chunk signature", mode: StreamingSignedPayload,
			s: stream{signed: true, chunks: chunks, badChunk: 2}, code: "SignatureDoesNotMatch"},
		{name: "bad final chunk signature", mode: StreamingSignedPayload,
			s: stream{signed: true, chunks: chunks, badChunk: 4}, code: "SignatureDoesNotMatch"},
		{name: "chunk data altered", mode: StreamingSignedPayload,
			s: stream{signed: true, chunks: chunks, dataOverride: map[int][]byte{1: pattern(64<<10, 9)}}, code: "SignatureDoesNotMatch"},
		{name: "small chunk before the last", mode: StreamingSignedPayload,
			s: stream{signed: true, chunks: [][]byte{c3, c1}}, code: "InvalidChunkSizeError"},
		{name: "bad trailer signature", mode: StreamingSignedPayloadTrailer,
			s:       stream{signed: true, trailerMode: true, chunks: chunks, trailers: [][2]string{{"x-amz-checksum-crc32", good}}, badTrailerSig: true},
			headers: trailerHdr, code: "SignatureDoesNotMatch"},
		{name: "missing trailer signature", mode: StreamingSignedPayloadTrailer,
			s:       stream{signed: true, trailerMode: true, chunks: chunks, trailers: [][2]string{{"x-amz-checksum-crc32", good}}, noTrailerSig: true},
			headers: trailerHdr, code: "SignatureDoesNotMatch"},
		{name: "wrong trailer checksum signed", mode: StreamingSignedPayloadTrailer,
			s:       stream{signed: true, trailerMode: true, chunks: chunks, trailers: [][2]string{{"x-amz-checksum-crc32", "AAAAAA=="}}},
			headers: trailerHdr, code: "BadDigest"},
		{name: "wrong trailer checksum unsigned", mode: StreamingUnsignedPayloadTrailer,
			s:       stream{trailerMode: true, chunks: chunks, trailers: [][2]string{{"x-amz-checksum-crc32", "AAAAAA=="}}},
			headers: trailerHdr, code: "BadDigest"},
		{name: "malformed trailer checksum", mode: StreamingUnsignedPayloadTrailer,
			s:       stream{trailerMode: true, chunks: chunks, trailers: [][2]string{{"x-amz-checksum-crc32", "not base64!"}}},
			headers: trailerHdr, code: "InvalidRequest"},
		{name: "trailer not declared", mode: StreamingUnsignedPayloadTrailer,
			s:    stream{trailerMode: true, chunks: chunks, trailers: [][2]string{{"x-amz-checksum-crc32", good}}},
			code: "InvalidRequest"},
		{name: "declared trailer missing", mode: StreamingUnsignedPayloadTrailer,
			s: stream{trailerMode: true, chunks: chunks}, headers: trailerHdr, code: "InvalidRequest"},
		{name: "other trailer than declared", mode: StreamingUnsignedPayloadTrailer,
			s:       stream{trailerMode: true, chunks: chunks, trailers: [][2]string{{"x-amz-checksum-sha1", good}}},
			headers: trailerHdr, code: "InvalidRequest"},
		{name: "header checksum mismatch", mode: StreamingSignedPayload,
			s: stream{signed: true, chunks: chunks}, headers: map[string]string{"X-Amz-Checksum-Crc32": "AAAAAA=="}, code: "BadDigest"},
		{name: "short: declared length larger", mode: StreamingSignedPayload,
			s: stream{signed: true, chunks: chunks}, decoded: total + 1, code: "IncompleteBody"},
		{name: "long: declared length smaller", mode: StreamingSignedPayload,
			s: stream{signed: true, chunks: chunks}, decoded: total - 1, code: "InvalidRequest"},
		{name: "long unsigned", mode: StreamingUnsignedPayloadTrailer,
			s: stream{trailerMode: true, chunks: chunks}, decoded: 10, code: "InvalidRequest"},
		{name: "truncated inside a chunk", mode: StreamingSignedPayload,
			s: stream{signed: true, chunks: chunks, truncateEncode: 70000}, code: "IncompleteBody"},
		{name: "truncated before the final chunk", mode: StreamingUnsignedPayloadTrailer,
			s: stream{trailerMode: true, chunks: chunks, truncateEncode: -len("0\r\n\r\n")}, code: "IncompleteBody"},
		{name: "missing final CRLF", mode: StreamingSignedPayload,
			s: stream{signed: true, chunks: chunks, noFinalCRLF: true}, code: "IncompleteBody"},
		{name: "data after the final chunk", mode: StreamingSignedPayload,
			s: stream{signed: true, chunks: chunks, extraAfterEnd: "x"}, code: "InvalidRequest"},
		{name: "non-hex chunk size", mode: StreamingUnsignedPayloadTrailer,
			s: stream{trailerMode: true, chunks: chunks, sizeOverride: map[int]string{1: "1000g"}}, code: "InvalidRequest"},
		{name: "chunk size with extension in unsigned mode", mode: StreamingUnsignedPayloadTrailer,
			s: stream{trailerMode: true, chunks: chunks, sizeOverride: map[int]string{0: "10000;x=y"}}, code: "InvalidRequest"},
		{name: "chunk data longer than its size", mode: StreamingUnsignedPayloadTrailer,
			s: stream{trailerMode: true, chunks: chunks, sizeOverride: map[int]string{0: "fff0"}}, code: "InvalidRequest"},
		{name: "oversized chunk", mode: StreamingUnsignedPayloadTrailer,
			s: stream{trailerMode: true, chunks: chunks, sizeOverride: map[int]string{0: "1000001"}}, code: "InvalidRequest"},
		{name: "huge chunk size", mode: StreamingUnsignedPayloadTrailer,
			s: stream{trailerMode: true, chunks: chunks, sizeOverride: map[int]string{0: "ffffffffffffffff"}}, code: "InvalidRequest"},
		{name: "overlong chunk header line", mode: StreamingUnsignedPayloadTrailer,
			s: stream{trailerMode: true, chunks: chunks, sizeOverride: map[int]string{0: strings.Repeat("0", 600) + "10000"}}, code: "InvalidRequest"},
		{name: "endless chunk header line", mode: StreamingUnsignedPayloadTrailer,
			s: stream{trailerMode: true, chunks: chunks, sizeOverride: map[int]string{0: strings.Repeat("0", 70000)}}, code: "InvalidRequest"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			decoded := tc.decoded
			if decoded == 0 {
				decoded = tc.s.decodedLen()
			}
			r := streamRequest(t, tc.mode, tc.s, decoded, tc.headers)
			res, err := testVerifier().Verify(r, testLookup)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			got, err := readAllChecked(t, res.Body, 32<<10)
			wantCode(t, err, tc.code)
			// The full declared length is never handed out when a check fails.
			if int64(len(got)) >= decoded {
				t.Fatalf("delivered %d bytes of %d before failing", len(got), decoded)
			}
		})
	}
}

func TestStreamingHeaderErrors(t *testing.T) {
	t.Parallel()
	s := stream{trailerMode: true, chunks: [][]byte{pattern(10, 1)}}
	cases := []struct {
		name    string
		mode    string
		headers map[string]string
		code    string
	}{
		{"unsupported trailer", StreamingUnsignedPayloadTrailer, map[string]string{"X-Amz-Trailer": "x-amz-checksum-md5"}, "InvalidRequest"},
		{"trailer without trailer mode", StreamingSignedPayload, map[string]string{"X-Amz-Trailer": "x-amz-checksum-crc32"}, "InvalidRequest"},
		{"bad decoded length", StreamingUnsignedPayloadTrailer, map[string]string{"X-Amz-Decoded-Content-Length": "-5"}, "InvalidArgument"},
		{"sigv4a streaming", "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD", nil, "NotImplemented"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := streamRequest(t, tc.mode, s, s.decodedLen(), tc.headers)
			_, err := testVerifier().Verify(r, testLookup)
			wantCode(t, err, tc.code)
		})
	}
}

func TestContentEncodingStripped(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"aws-chunked":       "",
		"aws-chunked,gzip":  "gzip",
		"gzip, aws-chunked": "gzip",
		"gzip":              "gzip",
		"AWS-Chunked , br":  "br",
		"":                  "",
	} {
		if got := stripAWSChunked(in); got != want {
			t.Errorf("stripAWSChunked(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestChecksums(t *testing.T) {
	t.Parallel()
	h := newHashes()
	check := []byte("123456789")
	// Published check values of each CRC for "123456789".
	d := h.newChecksum(checksumCRC64NVME)
	d.Write(check)
	if v := binary.BigEndian.Uint64(d.Sum(nil)); v != 0xae8b14860a799888 {
		t.Errorf("crc64nvme(123456789) = %#x, want 0xae8b14860a799888", v)
	}
	d = h.newChecksum(checksumCRC32C)
	d.Write(check)
	if v := binary.BigEndian.Uint32(d.Sum(nil)); v != 0xe3069283 {
		t.Errorf("crc32c(123456789) = %#x, want 0xe3069283", v)
	}
	d = h.newChecksum(checksumCRC32)
	d.Write(check)
	if v := binary.BigEndian.Uint32(d.Sum(nil)); v != 0xcbf43926 {
		t.Errorf("crc32(123456789) = %#x, want 0xcbf43926", v)
	}
	d = h.newChecksum(checksumSHA1)
	d.Write(check)
	if want := sha1.Sum(check); !bytes.Equal(d.Sum(nil), want[:]) {
		t.Errorf("sha1 differs")
	}

	// The slicing-by-8 CRC64 equals hash/crc64's own for every length and
	// any split of the writes.
	tab := crc64.MakeTable(crc64NVMEPoly)
	data := pattern(5000, 7)
	for n := 0; n < len(data); n += 97 {
		want := crc64.Checksum(data[:n], tab)
		d := h.newChecksum(checksumCRC64NVME)
		d.Write(data[:n/3])
		d.Write(data[n/3 : n])
		if got := binary.BigEndian.Uint64(d.Sum(nil)); got != want {
			t.Fatalf("len %d: crc64 %#x, want %#x", n, got, want)
		}
	}
}
