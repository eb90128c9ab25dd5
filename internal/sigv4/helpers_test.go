package sigv4

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"hash/crc32"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/dgp-proxy/dgp/internal/s3err"
)

// Test credentials and clock shared by the tests below.
const (
	testAccess = "AKIDDGPTEST000000001"
	testSecret = "dgp/test/secret+key/0123456789abcdefghij"
	testRegion = "eu-central-1"
)

var errNoEOF = errors.New("no EOF")

func testTime() time.Time { return time.Date(2024, 3, 9, 10, 11, 12, 0, time.UTC) }

func testLookup(id string) (string, bool) {
	if id == testAccess {
		return testSecret, true
	}
	return "", false
}

func testVerifier() *Verifier { return NewVerifier(testTime) }

// sdkSign signs r in place with aws-sdk-go-v2's own SigV4 signer, as the S3
// client does (no path re-escaping), setting x-amz-content-sha256 first.
func sdkSign(t testing.TB, r *http.Request, payloadHash, secret, region string, at time.Time) {
	t.Helper()
	r.Header.Set("X-Amz-Content-Sha256", payloadHash)
	s := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
	creds := aws.Credentials{AccessKeyID: testAccess, SecretAccessKey: secret}
	if err := s.SignHTTP(context.Background(), creds, r, payloadHash, "s3", region, at); err != nil {
		t.Fatalf("sdk SignHTTP: %v", err)
	}
}

// signatureOf extracts the Signature= component of an Authorization header.
func signatureOf(t testing.TB, r *http.Request) string {
	t.Helper()
	_, sig, ok := strings.Cut(r.Header.Get("Authorization"), "Signature=")
	if !ok || len(sig) != 64 {
		t.Fatalf("no signature in %q", r.Header.Get("Authorization"))
	}
	return sig
}

// testChain computes aws-chunked signatures straight from the S3
// documentation, independently of the package code.
type testChain struct {
	key     []byte
	amzDate string
	scope   string
	prev    string
}

func newTestChain(secret, amzDate, region, seed string) *testChain {
	mac := func(k []byte, s string) []byte {
		m := hmac.New(sha256.New, k)
		m.Write([]byte(s))
		return m.Sum(nil)
	}
	date := amzDate[:8]
	k := mac(mac(mac(mac([]byte("AWS4"+secret), date), region), "s3"), "aws4_request")
	return &testChain{key: k, amzDate: amzDate, scope: date + "/" + region + "/s3/aws4_request", prev: seed}
}

func (c *testChain) sign(sts string) string {
	m := hmac.New(sha256.New, c.key)
	m.Write([]byte(sts))
	c.prev = hex.EncodeToString(m.Sum(nil))
	return c.prev
}

func (c *testChain) chunk(data []byte) string {
	sum := sha256.Sum256(data)
	return c.sign("AWS4-HMAC-SHA256-PAYLOAD\n" + c.amzDate + "\n" + c.scope + "\n" + c.prev + "\n" +
		emptySHA256Hex + "\n" + hex.EncodeToString(sum[:]))
}

func (c *testChain) trailer(canonical string) string {
	sum := sha256.Sum256([]byte(canonical))
	return c.sign("AWS4-HMAC-SHA256-TRAILER\n" + c.amzDate + "\n" + c.scope + "\n" + c.prev + "\n" + hex.EncodeToString(sum[:]))
}

// stream describes an aws-chunked body to encode.
type stream struct {
	signed   bool
	chunks   [][]byte
	trailers [][2]string // name, value
	// trailerMode: the body has a trailer section (the *-TRAILER modes).
	trailerMode bool
	// Faults.
	badChunk       int  // 1-based index of a chunk whose signature is corrupted
	badTrailerSig  bool // corrupt the trailer signature
	noTrailerSig   bool // leave the trailer signature out
	noFinalCRLF    bool
	extraAfterEnd  string
	sizeOverride   map[int]string // chunk index (0-based) -> size field text
	dataOverride   map[int][]byte // chunk index -> data actually sent
	truncateEncode int            // >0: keep this many bytes; <0: drop this many from the end
}

// encode renders the body, signing with chain when signed.
func (s stream) encode(chain *testChain) []byte {
	var b bytes.Buffer
	all := append(append([][]byte{}, s.chunks...), nil) // the final zero-size chunk
	for i, c := range all {
		size := strconv.FormatInt(int64(len(c)), 16)
		if o, ok := s.sizeOverride[i]; ok {
			size = o
		}
		b.WriteString(size)
		if s.signed {
			sig := chain.chunk(c)
			if s.badChunk == i+1 {
				sig = flipHex(sig)
			}
			b.WriteString(";chunk-signature=" + sig)
		}
		b.WriteString("\r\n")
		if len(c) > 0 {
			data := c
			if d, ok := s.dataOverride[i]; ok {
				data = d
			}
			b.Write(data)
			b.WriteString("\r\n")
		}
	}
	if s.trailerMode {
		var canon strings.Builder
		for _, tr := range s.trailers {
			b.WriteString(tr[0] + ":" + tr[1] + "\r\n")
			canon.WriteString(tr[0] + ":" + tr[1] + "\n")
		}
		if s.signed && !s.noTrailerSig {
			sig := chain.trailer(canon.String())
			if s.badTrailerSig {
				sig = flipHex(sig)
			}
			b.WriteString("x-amz-trailer-signature:" + sig + "\r\n")
		}
	}
	if !s.noFinalCRLF {
		b.WriteString("\r\n")
	}
	b.WriteString(s.extraAfterEnd)
	out := b.Bytes()
	switch {
	case s.truncateEncode > 0 && s.truncateEncode < len(out):
		out = out[:s.truncateEncode]
	case s.truncateEncode < 0:
		out = out[:len(out)+s.truncateEncode]
	}
	return out
}

func (s stream) decodedLen() int64 {
	var n int64
	for _, c := range s.chunks {
		n += int64(len(c))
	}
	return n
}

func flipHex(sig string) string {
	if sig[0] == '0' {
		return "1" + sig[1:]
	}
	return "0" + sig[1:]
}

// streamRequest builds a signed aws-chunked PUT: the headers are signed by
// the SDK signer (giving the seed signature), the chunks by testChain.
func streamRequest(t testing.TB, mode string, s stream, decodedLen int64, headers map[string]string) *http.Request {
	t.Helper()
	// The encoded length does not depend on signature values, so encode
	// once with a dummy seed to learn it before signing the headers.
	n := len(s.encode(newTestChain(testSecret, testTime().Format(amzDateFormat), testRegion, strings.Repeat("0", 64))))
	r := httptest.NewRequest("PUT", "http://dgp.test:9000/bucket/key", nil)
	r.ContentLength = int64(n)
	r.Header.Set("Content-Encoding", "aws-chunked")
	r.Header.Set("X-Amz-Decoded-Content-Length", strconv.FormatInt(decodedLen, 10))
	for k, v := range headers {
		r.Header.Set(k, v)
	}
	sdkSign(t, r, mode, testSecret, testRegion, testTime())
	chain := newTestChain(testSecret, testTime().Format(amzDateFormat), testRegion, signatureOf(t, r))
	body := s.encode(chain)
	if len(body) != n {
		t.Fatalf("encoded length changed: %d != %d", len(body), n)
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	return r
}

// readAllChecked reads body in small pieces and reports the bytes delivered
// and the error that ended the body (nil for a clean io.EOF). It fails the
// test if a failure came after io.EOF.
func readAllChecked(t testing.TB, body io.Reader, bufSize int) ([]byte, error) {
	t.Helper()
	var out []byte
	buf := make([]byte, bufSize)
	for range 1 << 24 {
		n, err := body.Read(buf)
		if n > len(buf) {
			t.Fatalf("Read returned %d > %d", n, len(buf))
		}
		out = append(out, buf[:n]...)
		if err == io.EOF {
			if n2, err2 := body.Read(buf); n2 != 0 || err2 != io.EOF {
				t.Fatalf("after EOF: Read = %d, %v", n2, err2)
			}
			return out, nil
		}
		if err != nil {
			var se *s3err.Error
			if !errors.As(err, &se) {
				t.Fatalf("body error %T %v is not an *s3err.Error", err, err)
			}
			if n2, err2 := body.Read(buf); n2 != 0 || err2 == nil || err2 == io.EOF {
				t.Fatalf("error not sticky: Read = %d, %v", n2, err2)
			}
			return out, err
		}
	}
	return out, errNoEOF
}

func crc32Base64(data []byte) string {
	var b [4]byte
	s := crc32.ChecksumIEEE(data)
	b[0], b[1], b[2], b[3] = byte(s>>24), byte(s>>16), byte(s>>8), byte(s)
	return base64.StdEncoding.EncodeToString(b[:])
}

func sha256Base64(data []byte) string {
	sum := sha256.Sum256(data)
	return base64.StdEncoding.EncodeToString(sum[:])
}

// wantCode asserts err is an *s3err.Error with the given code.
func wantCode(t testing.TB, err error, code string) {
	t.Helper()
	var se *s3err.Error
	if !errors.As(err, &se) {
		t.Fatalf("err = %v (%T), want S3 error %s", err, err, code)
	}
	if se.Code != code {
		t.Fatalf("err = %v, want code %s", err, code)
	}
}

// pattern returns n deterministic bytes.
func pattern(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7) ^ seed
	}
	return b
}
