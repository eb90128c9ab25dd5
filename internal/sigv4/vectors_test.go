package sigv4

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/dgp-proxy/dgp/internal/s3err"
)

// Published AWS examples. The expected signatures come from the AWS
// documentation and the AWS SigV4 test suite, not from this package.

const (
	suiteSecret   = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
	suiteDate     = "20150830T123600Z"
	suiteScope    = "20150830/us-east-1/service/aws4_request"
	s3DocAccess   = "AKIAIOSFODNN7EXAMPLE"
	s3DocSecret   = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
	s3DocDate     = "20130524T000000Z"
	s3DocScope    = "20130524/us-east-1/s3/aws4_request"
	s3DocCredLine = "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"
)

func s3DocTime() time.Time { return time.Date(2013, 5, 24, 0, 0, 0, 0, time.UTC) }

func s3DocLookup(id string) (string, bool) {
	if id == s3DocAccess {
		return s3DocSecret, true
	}
	return "", false
}

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// The general SigV4 test suite signs for service "service", which Verify
// refuses (S3 only), so these cases drive the canonicalisation and signing
// steps directly. Only the cases that apply to S3 are here: the suite's
// path-normalisation cases do not (S3 keys keep dots and slashes).
func TestSigV4TestSuite(t *testing.T) {
	t.Parallel()
	type hdr struct{ k, v string }
	cases := []struct {
		name, method, target string
		headers              []hdr
		signed, body, want   string
	}{
		{name: "get-vanilla", method: "GET", target: "/", signed: "host;x-amz-date",
			want: "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"},
		{name: "get-vanilla-query-order-key-case", method: "GET", target: "/?Param2=value2&Param1=value1", signed: "host;x-amz-date",
			want: "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"},
		{name: "get-vanilla-empty-query-key", method: "GET", target: "/?Param1=value1", signed: "host;x-amz-date",
			want: "a67d582fa61cc504c4bae71f336f98b97f1ea3c7a6bfe1b6e45aec72011b9aeb"},
		{name: "get-vanilla-query-unreserved", method: "GET",
			target: "/?-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz=-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
			signed: "host;x-amz-date", want: "9c3e54bfcdf0b19771a7f523ee5669cdf59bc7cc0884027167c21bb143a40197"},
		{name: "get-vanilla-utf8-query", method: "GET", target: "/?ሴ=bar", signed: "host;x-amz-date",
			want: "2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04"},
		{name: "get-unreserved", method: "GET", target: "/-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", signed: "host;x-amz-date",
			want: "07ef7494c76fa4850883e2b006601f940f8a34d404d0cfa977f52a65bbf5f24f"},
		{name: "get-utf8", method: "GET", target: "/ሴ", signed: "host;x-amz-date",
			want: "8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85"},
		{name: "get-header-value-trim", method: "GET", target: "/",
			headers: []hdr{{"My-Header1", " value1"}, {"My-Header2", `"a   b   c"`}},
			signed:  "host;my-header1;my-header2;x-amz-date",
			want:    "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736"},
		{name: "get-header-key-duplicate", method: "GET", target: "/",
			headers: []hdr{{"My-Header1", "value2"}, {"My-Header1", "value2"}, {"My-Header1", "value1"}},
			signed:  "host;my-header1;x-amz-date",
			want:    "c9d5ea9f3f72853aea855b47ea873832890dbdd183b4468f858259531a5138ea"},
		{name: "get-header-value-order", method: "GET", target: "/",
			headers: []hdr{{"My-Header1", "value4"}, {"My-Header1", "value1"}, {"My-Header1", "value3"}, {"My-Header1", "value2"}},
			signed:  "host;my-header1;x-amz-date",
			want:    "08c7e5a9acfcfeb3ab6b2185e75ce8b1deb5e634ec47601a50643f830c755c01"},
		{name: "post-vanilla-query", method: "POST", target: "/?Param1=value1", signed: "host;x-amz-date",
			want: "28038455d6de14eafc1f9222cf5aa6f1a96197d7deb8263271d420d138af7f11"},
		{name: "post-x-www-form-urlencoded", method: "POST", target: "/",
			headers: []hdr{{"Content-Type", "application/x-www-form-urlencoded"}},
			signed:  "content-type;host;x-amz-date", body: "Param1=value1",
			want: "ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a"},
	}
	key := deriveSigningKey(suiteSecret, "20150830", "us-east-1", "service")
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(tc.method, "http://example.amazonaws.com"+tc.target, strings.NewReader(tc.body))
			r.Header.Set("X-Amz-Date", suiteDate)
			for _, h := range tc.headers {
				r.Header.Add(h.k, h.v)
			}
			q, ok := parseQuery(r.URL.RawQuery)
			if !ok {
				t.Fatalf("parseQuery(%q) failed", r.URL.RawQuery)
			}
			cr := appendCanonicalRequest(nil, r, canonicalInput{
				method: r.Method, escapedPath: r.URL.EscapedPath(), query: q,
				signedHeaders: tc.signed, payloadHash: sha256Hex(tc.body),
			})
			sts := appendStringToSign(nil, suiteDate, suiteScope, cr)
			got := signHex(key, sts)
			if string(got[:]) != tc.want {
				t.Errorf("signature = %s, want %s\ncanonical request:\n%s", got, tc.want, cr)
			}
		})
	}
}

func TestDeriveSigningKeyDocExample(t *testing.T) {
	t.Parallel()
	// AWS General Reference, "Examples of how to derive a signing key".
	got := hex.EncodeToString(deriveSigningKey(suiteSecret, "20120215", "us-east-1", "iam"))
	if want := "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d"; got != want {
		t.Fatalf("signing key = %s, want %s", got, want)
	}
}

// The examples of the S3 API reference ("Signature Calculations for the
// Authorization Header", "... Query Parameters", "... Multiple Chunks"),
// verified end to end through Verify.
func TestS3DocumentationExamples(t *testing.T) {
	t.Parallel()
	type hdr struct{ k, v string }
	cases := []struct {
		name, method, target string
		headers              []hdr
		body                 string
		auth                 string
	}{
		{
			name: "GET object", method: "GET", target: "http://examplebucket.s3.amazonaws.com/test.txt",
			headers: []hdr{{"Range", "bytes=0-9"}, {"X-Amz-Content-Sha256", emptySHA256Hex}, {"X-Amz-Date", s3DocDate}},
			auth: s3DocCredLine + "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date," +
				"Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41",
		},
		{
			name: "PUT object", method: "PUT", target: "http://examplebucket.s3.amazonaws.com/test$file.text",
			headers: []hdr{{"Date", "Fri, 24 May 2013 00:00:00 GMT"}, {"X-Amz-Date", s3DocDate},
				{"X-Amz-Storage-Class", "REDUCED_REDUNDANCY"},
				{"X-Amz-Content-Sha256", "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072"}},
			body: "Welcome to Amazon S3.",
			auth: s3DocCredLine + "SignedHeaders=date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class," +
				"Signature=98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd",
		},
		{
			name: "GET bucket lifecycle", method: "GET", target: "http://examplebucket.s3.amazonaws.com/?lifecycle",
			headers: []hdr{{"X-Amz-Content-Sha256", emptySHA256Hex}, {"X-Amz-Date", s3DocDate}},
			auth: s3DocCredLine + "SignedHeaders=host;x-amz-content-sha256;x-amz-date," +
				"Signature=fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543",
		},
		{
			name: "GET bucket list objects", method: "GET", target: "http://examplebucket.s3.amazonaws.com/?max-keys=2&prefix=J",
			headers: []hdr{{"X-Amz-Content-Sha256", emptySHA256Hex}, {"X-Amz-Date", s3DocDate}},
			auth: s3DocCredLine + "SignedHeaders=host;x-amz-content-sha256;x-amz-date," +
				"Signature=34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7",
		},
	}
	v := NewVerifier(s3DocTime)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(tc.method, tc.target, strings.NewReader(tc.body))
			for _, h := range tc.headers {
				r.Header.Set(h.k, h.v)
			}
			r.Header.Set("Authorization", tc.auth)
			res, err := v.Verify(r, s3DocLookup)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if res.AccessKeyID != s3DocAccess || res.Presigned || res.Region != "us-east-1" {
				t.Errorf("result = %+v", res)
			}
			got, err := io.ReadAll(res.Body)
			if err != nil || string(got) != tc.body {
				t.Errorf("body = %q, %v; want %q", got, err, tc.body)
			}

			// One changed character in the signature must fail.
			r.Header.Set("Authorization", tc.auth[:len(tc.auth)-1]+"0")
			if tc.auth[len(tc.auth)-1] == '0' {
				r.Header.Set("Authorization", tc.auth[:len(tc.auth)-1]+"1")
			}
			if _, err := v.Verify(r, s3DocLookup); !errors.Is(err, s3err.ErrSignatureDoesNotMatch) {
				t.Errorf("tampered signature: err = %v, want SignatureDoesNotMatch", err)
			}
		})
	}
}

func TestS3DocumentationPresignedGET(t *testing.T) {
	t.Parallel()
	const target = "http://examplebucket.s3.amazonaws.com/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256" +
		"&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request" +
		"&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host" +
		"&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"
	cases := []struct {
		name string
		at   time.Time
		want *s3err.Error
	}{
		{"at signing time", s3DocTime(), nil},
		{"one second before expiry", s3DocTime().Add(86400*time.Second - time.Second), nil},
		{"exactly at expiry", s3DocTime().Add(86400 * time.Second), nil},
		{"one second after expiry", s3DocTime().Add(86401 * time.Second), s3err.ErrAccessDeniedExpired},
		{"signed in the future", s3DocTime().Add(-MaxClockSkew - time.Second), s3err.ErrAccessDenied},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v := NewVerifier(func() time.Time { return tc.at })
			r := httptest.NewRequest("GET", target, nil)
			res, err := v.Verify(r, s3DocLookup)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				if !res.Presigned || res.AccessKeyID != s3DocAccess {
					t.Errorf("result = %+v", res)
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
	t.Run("expired message", func(t *testing.T) {
		v := NewVerifier(func() time.Time { return s3DocTime().Add(48 * time.Hour) })
		_, err := v.Verify(httptest.NewRequest("GET", target, nil), s3DocLookup)
		if e := s3err.From(err); e.Code != "AccessDenied" || e.Message != "Request has expired" {
			t.Fatalf("err = %v, want AccessDenied: Request has expired", err)
		}
	})
	t.Run("tampered path", func(t *testing.T) {
		v := NewVerifier(s3DocTime)
		r := httptest.NewRequest("GET", strings.Replace(target, "/test.txt", "/test.txu", 1), nil)
		if _, err := v.Verify(r, s3DocLookup); !errors.Is(err, s3err.ErrSignatureDoesNotMatch) {
			t.Fatalf("err = %v, want SignatureDoesNotMatch", err)
		}
	})
}

// s3DocStreamingRequest is the request of the S3 "Transferring Payload in
// Multiple Chunks" example: 65 KiB of 'a' in a 64 KiB and a 1 KiB chunk.
func s3DocStreamingRequest(body string) *httptestRequest {
	return &httptestRequest{
		method: "PUT", target: "http://s3.amazonaws.com/examplebucket/chunkObject.txt", body: body,
		headers: map[string]string{
			"X-Amz-Date":                   s3DocDate,
			"X-Amz-Storage-Class":          "REDUCED_REDUNDANCY",
			"X-Amz-Content-Sha256":         StreamingSignedPayload,
			"Content-Encoding":             "aws-chunked",
			"X-Amz-Decoded-Content-Length": "66560",
			"Content-Length":               "66824",
			"Authorization": s3DocCredLine + "SignedHeaders=content-encoding;content-length;host;x-amz-content-sha256;" +
				"x-amz-date;x-amz-decoded-content-length;x-amz-storage-class," +
				"Signature=4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9",
		},
	}
}

const (
	s3DocChunk1Sig = "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648"
	s3DocChunk2Sig = "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497"
	s3DocFinalSig  = "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9"
)

func s3DocStreamingBody(sig1 string) string {
	return "10000;chunk-signature=" + sig1 + "\r\n" + strings.Repeat("a", 65536) + "\r\n" +
		"400;chunk-signature=" + s3DocChunk2Sig + "\r\n" + strings.Repeat("a", 1024) + "\r\n" +
		"0;chunk-signature=" + s3DocFinalSig + "\r\n\r\n"
}

func TestS3DocumentationStreamingPUT(t *testing.T) {
	t.Parallel()
	v := NewVerifier(s3DocTime)

	r := s3DocStreamingRequest(s3DocStreamingBody(s3DocChunk1Sig)).build()
	if r.ContentLength != 66824 {
		t.Fatalf("test framing: encoded length %d, want 66824", r.ContentLength)
	}
	res, err := v.Verify(r, s3DocLookup)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if res.ContentLength != 66560 || res.ContentEncoding != "" {
		t.Errorf("ContentLength = %d, ContentEncoding = %q", res.ContentLength, res.ContentEncoding)
	}
	got, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	if string(got) != strings.Repeat("a", 66560) {
		t.Fatalf("decoded body of %d bytes differs", len(got))
	}

	// The first chunk's signature from the documentation, one digit off.
	bad := "bd80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648"
	res, err = v.Verify(s3DocStreamingRequest(s3DocStreamingBody(bad)).build(), s3DocLookup)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if _, err := io.ReadAll(res.Body); !errors.Is(err, s3err.ErrSignatureDoesNotMatch) {
		t.Fatalf("bad chunk signature: err = %v, want SignatureDoesNotMatch", err)
	}
}

// httptestRequest builds server-side requests for tests.
type httptestRequest struct {
	method, target, body string
	headers              map[string]string
}

func (h *httptestRequest) build() *http.Request {
	r := httptest.NewRequest(h.method, h.target, strings.NewReader(h.body))
	for k, v := range h.headers {
		r.Header.Set(k, v)
	}
	return r
}
