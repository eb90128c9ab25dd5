package sigv4

import (
	"encoding/base64"
	"encoding/binary"
	"hash/crc32"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"testing"
)

// signedGET is a typical GET signed with header authentication.
func signedGET(b *testing.B) *http.Request {
	r := httptest.NewRequest("GET", "http://dgp.test:9000/bucket/photos/2024/03/IMG_0042.jpg?versionId=3", nil)
	r.Header.Set("Range", "bytes=0-1023")
	r.Header.Set("User-Agent", "aws-sdk-go-v2/1.0")
	sdkSign(b, r, emptySHA256Hex, testSecret, testRegion, testTime())
	return r
}

// BenchmarkVerifyHeader verifies a typical GET with header authentication;
// the signing key is cached after the first iteration.
func BenchmarkVerifyHeader(b *testing.B) {
	r := signedGET(b)
	v := testVerifier()
	b.ReportAllocs()
	for b.Loop() {
		res, err := v.Verify(r, testLookup)
		if err != nil {
			b.Fatal(err)
		}
		res.Body.Close()
	}
}

// BenchmarkVerifyHeaderInto is BenchmarkVerifyHeader with the Result kept
// in the caller's storage, as the S3 handler keeps it (no allocation).
func BenchmarkVerifyHeaderInto(b *testing.B) {
	r := signedGET(b)
	v := testVerifier()
	var into Verification
	b.ReportAllocs()
	for b.Loop() {
		res, err := v.VerifyInto(r, testLookup, &into)
		if err != nil {
			b.Fatal(err)
		}
		res.Body.Close()
	}
}

// BenchmarkVerifyPresigned verifies a presigned GET.
func BenchmarkVerifyPresigned(b *testing.B) {
	r := httptest.NewRequest("GET", presign(b, "GET", "http://dgp.test:9000/bucket/key.txt", "3600", testTime()), nil)
	v := testVerifier()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(r, testLookup); err != nil {
			b.Fatal(err)
		}
	}
}

// zeros yields n zero bytes without allocating.
type zeros struct{ n int64 }

func (z *zeros) Read(p []byte) (int, error) {
	if z.n == 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > z.n {
		p = p[:z.n]
	}
	clear(p)
	z.n -= int64(len(p))
	return len(p), nil
}

func (z *zeros) Close() error { return nil }

// chunkGen yields an aws-chunked body of zero-filled chunks, framing
// generated on the fly.
type chunkGen struct {
	parts   []string // header lines, one per chunk, then the tail
	size    int
	i       int
	pending string
	data    int // zero bytes left in the current chunk
}

func (g *chunkGen) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		switch {
		case g.pending != "":
			c := copy(p[n:], g.pending)
			g.pending = g.pending[c:]
			n += c
		case g.data > 0:
			c := min(g.data, len(p)-n)
			clear(p[n : n+c])
			g.data -= c
			n += c
			if g.data == 0 {
				g.pending = "\r\n"
			}
		case g.i < len(g.parts):
			g.pending = g.parts[g.i]
			if g.i < len(g.parts)-1 {
				g.data = g.size
			}
			g.i++
		default:
			if n == 0 {
				return 0, io.EOF
			}
			return n, nil
		}
	}
	return n, nil
}

func (g *chunkGen) Close() error { return nil }

// allocatedWhile reports the bytes allocated while f ran.
func allocatedWhile(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// Reading a 64 MiB body through Result.Body allocates a small, fixed
// amount, whatever the payload mode. (Not parallel: it reads the process's
// allocation counters.)
func TestLargeBodyDoesNotAllocatePerByte(t *testing.T) {
	const size = 64 << 20
	const chunk = 64 << 10
	zeroCRC := func() string {
		var sum uint32
		buf := make([]byte, chunk)
		for range size / chunk {
			sum = crc32.Update(sum, crc32.IEEETable, buf)
		}
		return base64.StdEncoding.EncodeToString(binary.BigEndian.AppendUint32(nil, sum))
	}()
	unsignedTrailer := func() *http.Request {
		parts := make([]string, 0, size/chunk+1)
		for range size / chunk {
			parts = append(parts, strconv.FormatInt(chunk, 16)+"\r\n")
		}
		parts = append(parts, "0\r\nx-amz-checksum-crc32:"+zeroCRC+"\r\n\r\n")
		r := httptest.NewRequest("PUT", "http://dgp.test:9000/bucket/big", nil)
		r.ContentLength = -1
		r.Header.Set("X-Amz-Decoded-Content-Length", strconv.Itoa(size))
		r.Header.Set("X-Amz-Trailer", "x-amz-checksum-crc32")
		sdkSign(t, r, StreamingUnsignedPayloadTrailer, testSecret, testRegion, testTime())
		r.Body = &chunkGen{parts: parts, size: chunk}
		return r
	}
	signedChunks := func() *http.Request {
		r := httptest.NewRequest("PUT", "http://dgp.test:9000/bucket/big", nil)
		r.ContentLength = -1
		r.Header.Set("X-Amz-Decoded-Content-Length", strconv.Itoa(size))
		sdkSign(t, r, StreamingSignedPayload, testSecret, testRegion, testTime())
		chain := newTestChain(testSecret, testTime().Format(amzDateFormat), testRegion, signatureOf(t, r))
		zero := make([]byte, chunk)
		parts := make([]string, 0, size/chunk+1)
		for range size / chunk {
			parts = append(parts, strconv.FormatInt(chunk, 16)+";chunk-signature="+chain.chunk(zero)+"\r\n")
		}
		parts = append(parts, "0;chunk-signature="+chain.chunk(nil)+"\r\n\r\n")
		r.Body = &chunkGen{parts: parts, size: chunk}
		return r
	}
	cases := []struct {
		name string
		req  func() *http.Request
	}{
		{"unsigned payload", func() *http.Request {
			r := httptest.NewRequest("PUT", "http://dgp.test:9000/bucket/big", nil)
			r.ContentLength = size
			sdkSign(t, r, UnsignedPayload, testSecret, testRegion, testTime())
			r.Body = &zeros{n: size}
			return r
		}},
		{"unsigned payload with checksum header", func() *http.Request {
			r := httptest.NewRequest("PUT", "http://dgp.test:9000/bucket/big", nil)
			r.ContentLength = size
			r.Header.Set("X-Amz-Checksum-Crc32", zeroCRC)
			sdkSign(t, r, UnsignedPayload, testSecret, testRegion, testTime())
			r.Body = &zeros{n: size}
			return r
		}},
		{"unsigned aws-chunked with trailer", unsignedTrailer},
		{"signed aws-chunked", signedChunks},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.req()
			res, err := testVerifier().Verify(r, testLookup)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			buf := make([]byte, 32<<10)
			var n int64
			alloc := allocatedWhile(func() {
				n, err = io.CopyBuffer(struct{ io.Writer }{io.Discard}, res.Body, buf)
			})
			if err != nil || n != size {
				t.Fatalf("copied %d bytes, err %v", n, err)
			}
			t.Logf("%s: %d bytes allocated reading %d MiB", tc.name, alloc, size>>20)
			if alloc > 256<<10 {
				t.Fatalf("reading %d MiB allocated %d bytes", size>>20, alloc)
			}
		})
	}
}
