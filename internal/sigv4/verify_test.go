package sigv4

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// headerRequest returns a GET signed by the SDK signer, after mutate ran on
// it, and then fix ran on the signed request.
func headerRequest(t *testing.T, mutate, fix func(r *http.Request)) *http.Request {
	t.Helper()
	r := httptest.NewRequest("GET", "http://dgp.test:9000/bucket/some/key.txt?versionId=3", nil)
	if mutate != nil {
		mutate(r)
	}
	sdkSign(t, r, emptySHA256Hex, testSecret, testRegion, testTime())
	if fix != nil {
		fix(r)
	}
	return r
}

func setAuth(f func(string) string) func(r *http.Request) {
	return func(r *http.Request) { r.Header.Set("Authorization", f(r.Header.Get("Authorization"))) }
}

func TestVerifyHeaderErrors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name        string
		mutate, fix func(r *http.Request)
		lookup      SecretLookup
		now         time.Time
		code        string
	}{
		{name: "no auth", fix: func(r *http.Request) { r.Header.Del("Authorization") }, code: "AccessDenied"},
		{name: "sigv2 header (sigv2 off)", fix: func(r *http.Request) { r.Header.Set("Authorization", "AWS "+testAccess+":c2lnbmF0dXJl") }, code: "InvalidRequest"},
		{name: "sigv4a header", fix: setAuth(func(a string) string { return strings.Replace(a, "AWS4-HMAC-SHA256", "AWS4-ECDSA-P256-SHA256", 1) }), code: "NotImplemented"},
		{name: "bearer", fix: func(r *http.Request) { r.Header.Set("Authorization", "Bearer abc") }, code: "InvalidArgument"},
		{name: "two mechanisms", fix: func(r *http.Request) { r.URL.RawQuery += "&X-Amz-Algorithm=AWS4-HMAC-SHA256" }, code: "InvalidArgument"},
		{name: "two authorization headers", fix: func(r *http.Request) { r.Header.Add("Authorization", r.Header.Get("Authorization")) }, code: "AuthorizationHeaderMalformed"},
		{name: "malformed header", fix: setAuth(func(a string) string { return strings.Replace(a, "SignedHeaders=", "Signed=", 1) }), code: "AuthorizationHeaderMalformed"},
		{name: "wrong service", fix: setAuth(func(a string) string { return strings.Replace(a, "/s3/", "/ec2/", 1) }), code: "AuthorizationHeaderMalformed"},
		{name: "wrong terminator", fix: setAuth(func(a string) string { return strings.Replace(a, "aws4_request", "aws5_request", 1) }), code: "AuthorizationHeaderMalformed"},
		{name: "credential date differs", fix: setAuth(func(a string) string { return strings.Replace(a, "/20240309/", "/20240308/", 1) }), code: "AuthorizationHeaderMalformed"},
		{name: "unknown access key", lookup: func(string) (string, bool) { return "", false }, code: "InvalidAccessKeyId"},
		{name: "wrong secret", lookup: func(string) (string, bool) { return "other-secret", true }, code: "SignatureDoesNotMatch"},
		{name: "tampered path", fix: func(r *http.Request) { r.URL.Path = "/bucket/some/key.txu" }, code: "SignatureDoesNotMatch"},
		{name: "tampered query", fix: func(r *http.Request) { r.URL.RawQuery = "versionId=4" }, code: "SignatureDoesNotMatch"},
		{name: "added query", fix: func(r *http.Request) { r.URL.RawQuery += "&acl" }, code: "SignatureDoesNotMatch"},
		{name: "tampered method", fix: func(r *http.Request) { r.Method = "DELETE" }, code: "SignatureDoesNotMatch"},
		{name: "tampered host", fix: func(r *http.Request) { r.Host = "evil.test:9000" }, code: "SignatureDoesNotMatch"},
		{name: "tampered signed header", mutate: func(r *http.Request) { r.Header.Set("Range", "bytes=0-9") },
			fix: func(r *http.Request) { r.Header.Set("Range", "bytes=0-99") }, code: "SignatureDoesNotMatch"},
		{name: "unsigned x-amz header", fix: func(r *http.Request) { r.Header.Set("X-Amz-Meta-Evil", "1") }, code: "AccessDenied"},
		{name: "host not signed", fix: setAuth(func(a string) string { return strings.Replace(a, "SignedHeaders=host;", "SignedHeaders=", 1) }), code: "AuthorizationHeaderMalformed"},
		{name: "clock 16 min ahead", now: testTime().Add(16 * time.Minute), code: "RequestTimeTooSkewed"},
		{name: "clock 16 min behind", now: testTime().Add(-16 * time.Minute), code: "RequestTimeTooSkewed"},
		{name: "missing content sha256", fix: func(r *http.Request) { r.Header.Del("X-Amz-Content-Sha256") }, code: "InvalidRequest"},
		{name: "bad content sha256", mutate: func(r *http.Request) {}, fix: func(r *http.Request) { r.Header.Set("X-Amz-Content-Sha256", "abc") }, code: "InvalidArgument"},
		{name: "missing date", fix: func(r *http.Request) { r.Header.Del("X-Amz-Date") }, code: "AccessDenied"},
		{name: "bad date", fix: func(r *http.Request) { r.Header.Set("X-Amz-Date", "2024-03-09T10:11:12Z") }, code: "AccessDenied"},
		{name: "sigv2 query (sigv2 off)", fix: func(r *http.Request) {
			r.Header.Del("Authorization")
			r.URL.RawQuery = "AWSAccessKeyId=" + testAccess + "&Expires=1&Signature=abc"
		}, code: "InvalidRequest"},
		{name: "sigv2 access key without signature is anonymous", fix: func(r *http.Request) {
			r.Header.Del("Authorization")
			r.URL.RawQuery = "AWSAccessKeyId=" + testAccess + "&Expires=1"
		}, code: "AccessDenied"},
		{name: "header and sigv2 query", fix: func(r *http.Request) { r.URL.RawQuery += "&Signature=abc" }, code: "InvalidArgument"},
		{name: "bad query escape", fix: func(r *http.Request) { r.URL.RawQuery = "a=%zz" }, code: "InvalidArgument"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := headerRequest(t, tc.mutate, tc.fix)
			lookup, now := testLookup, testTime()
			if tc.lookup != nil {
				lookup = tc.lookup
			}
			if !tc.now.IsZero() {
				now = tc.now
			}
			_, err := NewVerifier(func() time.Time { return now }).Verify(r, lookup)
			wantCode(t, err, tc.code)
		})
	}
}

func TestVerifyHeaderAccepted(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name        string
		mutate, fix func(r *http.Request)
		region      string
		now         time.Time
	}{
		{name: "plain"},
		{name: "any region", region: "some-custom-region-9"},
		{name: "clock 14 min ahead", now: testTime().Add(14 * time.Minute)},
		{name: "clock 14 min behind", now: testTime().Add(-14 * time.Minute)},
		{name: "signed range and metadata", mutate: func(r *http.Request) {
			r.Header.Set("Range", "bytes=0-9")
			r.Header.Set("X-Amz-Meta-Note", "  several   spaces  ")
		}},
		{name: "unsigned ordinary header added", fix: func(r *http.Request) { r.Header.Set("User-Agent", "x") }},
		{name: "date header instead of x-amz-date", fix: func(r *http.Request) {
			r.Header.Del("X-Amz-Date")
			r.Header.Set("Date", testTime().Format(http.TimeFormat))
			r.Header.Set("Authorization", resign(t, r, "date;host;x-amz-content-sha256"))
		}},
		{name: "spaces after commas", fix: setAuth(func(a string) string { return strings.ReplaceAll(a, ", ", ",   ") })},
		{name: "no spaces after commas", fix: setAuth(func(a string) string { return strings.ReplaceAll(a, ", ", ",") })},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			region := testRegion
			if tc.region != "" {
				region = tc.region
			}
			r := httptest.NewRequest("GET", "http://dgp.test:9000/bucket/some/key.txt?versionId=3", nil)
			if tc.mutate != nil {
				tc.mutate(r)
			}
			sdkSign(t, r, emptySHA256Hex, testSecret, region, testTime())
			if tc.fix != nil {
				tc.fix(r)
			}
			now := testTime()
			if !tc.now.IsZero() {
				now = tc.now
			}
			res, err := NewVerifier(func() time.Time { return now }).Verify(r, testLookup)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if res.AccessKeyID != testAccess || res.Region != region || res.Presigned {
				t.Errorf("result = %+v", res)
			}
		})
	}
}

// resign computes an Authorization header with the package's own
// canonicalisation (used only where the SDK cannot express the request).
func resign(t *testing.T, r *http.Request, signed string) string {
	t.Helper()
	q, _ := parseQuery(r.URL.RawQuery)
	amzDate := testTime().Format(amzDateFormat)
	scope := amzDate[:8] + "/" + testRegion + "/s3/aws4_request"
	cr := appendCanonicalRequest(nil, r, canonicalInput{method: r.Method, escapedPath: r.URL.EscapedPath(), query: q,
		signedHeaders: signed, payloadHash: r.Header.Get("X-Amz-Content-Sha256")})
	sig := signHex(deriveSigningKey(testSecret, amzDate[:8], testRegion, "s3"), appendStringToSign(nil, amzDate, scope, cr))
	return "AWS4-HMAC-SHA256 Credential=" + testAccess + "/" + scope + ", SignedHeaders=" + signed + ", Signature=" + string(sig[:])
}

// presign returns a presigned URL made by the SDK signer.
func presign(t testing.TB, method, rawURL string, expires string, at time.Time) string {
	t.Helper()
	r := httptest.NewRequest(method, rawURL, nil)
	if expires != "" {
		q := r.URL.Query()
		q.Set("X-Amz-Expires", expires)
		r.URL.RawQuery = q.Encode()
	}
	s := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
	u, _, err := s.PresignHTTP(context.Background(), aws.Credentials{AccessKeyID: testAccess, SecretAccessKey: testSecret},
		r, UnsignedPayload, "s3", testRegion, at)
	if err != nil {
		t.Fatalf("PresignHTTP: %v", err)
	}
	return u
}

func TestVerifyPresignedErrors(t *testing.T) {
	t.Parallel()
	base := "http://dgp.test:9000/bucket/key"
	good := presign(t, "GET", base, "3600", testTime())
	edit := func(key, value string) string {
		u, _ := url.Parse(good)
		q := u.Query()
		if value == "" {
			q.Del(key)
		} else {
			q.Set(key, value)
		}
		u.RawQuery = q.Encode()
		return u.String()
	}
	cases := []struct {
		name, url string
		now       time.Time
		code, msg string
	}{
		{name: "expires zero", url: edit(qExpires, "0"), code: "AccessDenied", msg: "Request has expired"},
		{name: "expires negative", url: edit(qExpires, "-1"), code: "AuthorizationQueryParametersError",
			msg: "X-Amz-Expires must be non-negative"},
		{name: "expires over a week", url: edit(qExpires, "604801"), code: "AuthorizationQueryParametersError",
			msg: "X-Amz-Expires must be less than a week (in seconds); that is, the given X-Amz-Expires must be less than 604800 seconds"},
		{name: "expires not a number", url: edit(qExpires, "soon"), code: "AuthorizationQueryParametersError",
			msg: "X-Amz-Expires should be a number"},
		{name: "expires fractional", url: edit(qExpires, "1.5"), code: "AuthorizationQueryParametersError",
			msg: "X-Amz-Expires should be a number"},
		{name: "expires a week is accepted (wrong signature)", url: edit(qExpires, "604800"), code: "SignatureDoesNotMatch"},
		{name: "missing signature", url: edit(qSignature, ""), code: "AuthorizationQueryParametersError"},
		{name: "missing credential", url: edit(qCredential, ""), code: "AuthorizationQueryParametersError"},
		{name: "missing date", url: edit(qDate, ""), code: "AuthorizationQueryParametersError"},
		{name: "bad algorithm", url: edit(qAlgorithm, "AWS4-HMAC-SHA512"), code: "AuthorizationQueryParametersError"},
		{name: "sigv4a", url: edit(qAlgorithm, "AWS4-ECDSA-P256-SHA256"), code: "NotImplemented"},
		{name: "bad credential", url: edit(qCredential, "x/y"), code: "AuthorizationQueryParametersError"},
		{name: "date differs from credential", url: edit(qDate, "20240308T235959Z"), code: "AuthorizationQueryParametersError"},
		{name: "bad date", url: edit(qDate, "2024-03-09"), code: "AuthorizationQueryParametersError"},
		{name: "duplicate signature", url: good + "&X-Amz-Signature=00", code: "AuthorizationQueryParametersError"},
		{name: "expired", url: good, now: testTime().Add(3601 * time.Second), code: "AccessDenied", msg: "Request has expired"},
		{name: "not yet valid", url: good, now: testTime().Add(-16 * time.Minute), code: "AccessDenied"},
		{name: "longer expiry than signed", url: edit(qExpires, "7200"), now: testTime().Add(3601 * time.Second), code: "SignatureDoesNotMatch"},
		{name: "extra parameter", url: good + "&acl", code: "SignatureDoesNotMatch"},
		{name: "unknown key", url: strings.Replace(good, testAccess, "AKIDUNKNOWN", 1), code: "InvalidAccessKeyId"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			now := testTime()
			if !tc.now.IsZero() {
				now = tc.now
			}
			_, err := NewVerifier(func() time.Time { return now }).Verify(httptest.NewRequest("GET", tc.url, nil), testLookup)
			wantCode(t, err, tc.code)
			if tc.msg != "" && !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("err = %v, want message %q", err, tc.msg)
			}
		})
	}
	t.Run("unsigned x-amz header", func(t *testing.T) {
		r := httptest.NewRequest("GET", good, nil)
		r.Header.Set("X-Amz-Acl", "public-read")
		_, err := testVerifier().Verify(r, testLookup)
		wantCode(t, err, "AccessDenied")
	})
}

// signedPut returns a PUT of body signed by the SDK with payloadHash
// (the body's SHA-256 when empty), after mutate ran on it.
func signedPut(t *testing.T, body []byte, payloadHash string, mutate func(r *http.Request)) *http.Request {
	t.Helper()
	r := httptest.NewRequest("PUT", "http://dgp.test:9000/bucket/object", bytes.NewReader(body))
	if payloadHash == "" {
		payloadHash = sha256Hex(string(body))
	}
	if mutate != nil {
		mutate(r)
	}
	sdkSign(t, r, payloadHash, testSecret, testRegion, testTime())
	return r
}

func TestSingleChunkBody(t *testing.T) {
	t.Parallel()
	body := pattern(100_000, 5)
	md5sum := md5.Sum(body)
	goodMD5 := base64.StdEncoding.EncodeToString(md5sum[:])
	setHeader := func(k, v string) func(r *http.Request) { return func(r *http.Request) { r.Header.Set(k, v) } }
	cases := []struct {
		name        string
		payloadHash string
		mutate      func(r *http.Request)
		send        []byte // what actually arrives (nil: body)
		length      int64  // Content-Length override (0: none)
		verifyCode  string // error from Verify
		readCode    string // error from reading the body
	}{
		{name: "signed payload"},
		{name: "unsigned payload", payloadHash: UnsignedPayload},
		{name: "unsigned payload, other body", payloadHash: UnsignedPayload, send: pattern(100_000, 6)},
		{name: "tampered body", send: pattern(100_000, 6), readCode: "XAmzContentSHA256Mismatch"},
		{name: "wrong payload hash", payloadHash: sha256Hex("other"), readCode: "XAmzContentSHA256Mismatch"},
		{name: "short body", send: body[:50_000], length: 100_000, readCode: "IncompleteBody"},
		{name: "long body", send: append(append([]byte{}, body...), 'x'), length: 100_000, readCode: "InvalidRequest"},
		{name: "content-md5 good", mutate: setHeader("Content-Md5", goodMD5)},
		{name: "content-md5 mismatch", payloadHash: UnsignedPayload, mutate: setHeader("Content-Md5", base64.StdEncoding.EncodeToString(make([]byte, 16))), readCode: "BadDigest"},
		{name: "content-md5 malformed", mutate: setHeader("Content-Md5", "nope"), verifyCode: "InvalidDigest"},
		{name: "content-md5 wrong size", mutate: setHeader("Content-Md5", base64.StdEncoding.EncodeToString(make([]byte, 15))), verifyCode: "InvalidDigest"},
		{name: "checksum header good", mutate: setHeader("X-Amz-Checksum-Sha256", sha256Base64(body))},
		{name: "checksum header crc32 good", payloadHash: UnsignedPayload, mutate: setHeader("X-Amz-Checksum-Crc32", crc32Base64(body))},
		{name: "checksum header mismatch", payloadHash: UnsignedPayload, mutate: setHeader("X-Amz-Checksum-Crc32", "AAAAAA=="), readCode: "BadDigest"},
		{name: "checksum header malformed", mutate: setHeader("X-Amz-Checksum-Crc32", "AAAA"), verifyCode: "InvalidRequest"},
		{name: "two checksum headers", mutate: func(r *http.Request) {
			r.Header.Set("X-Amz-Checksum-Crc32", crc32Base64(body))
			r.Header.Set("X-Amz-Checksum-Sha256", sha256Base64(body))
		}, verifyCode: "InvalidRequest"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := signedPut(t, body, tc.payloadHash, tc.mutate)
			send := body
			if tc.send != nil {
				send = tc.send
			}
			r.Body = http.NoBody
			if len(send) > 0 {
				r.Body = httpBody(send)
			}
			if tc.length != 0 {
				r.ContentLength = tc.length
			}
			res, err := testVerifier().Verify(r, testLookup)
			if tc.verifyCode != "" {
				wantCode(t, err, tc.verifyCode)
				return
			}
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			got, err := readAllChecked(t, res.Body, 8192)
			if tc.readCode != "" {
				wantCode(t, err, tc.readCode)
				if int64(len(got)) >= r.ContentLength {
					t.Fatalf("delivered all %d bytes before failing", len(got))
				}
				return
			}
			if err != nil {
				t.Fatalf("read: %v", err)
			}
			if !bytes.Equal(got, send) {
				t.Fatalf("body differs")
			}
		})
	}
}

func httpBody(b []byte) *bodyCloser { return &bodyCloser{Reader: bytes.NewReader(b)} }

type bodyCloser struct {
	*bytes.Reader
	closed bool
}

func (b *bodyCloser) Close() error { b.closed = true; return nil }

func TestResultBodyCloseClosesRequestBody(t *testing.T) {
	t.Parallel()
	r := signedPut(t, []byte("abc"), "", nil)
	rb := httpBody([]byte("abc"))
	r.Body = rb
	res, err := testVerifier().Verify(r, testLookup)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if rb.Reader.Len() != 3 {
		t.Fatalf("Verify read the body")
	}
	if err := res.Body.Close(); err != nil || !rb.closed {
		t.Fatalf("Close = %v, closed = %v", err, rb.closed)
	}
}

func TestCompleteMultipartUploadChecksumNotAppliedToBody(t *testing.T) {
	t.Parallel()
	xml := []byte("<CompleteMultipartUpload></CompleteMultipartUpload>")
	r := httptest.NewRequest("POST", "http://dgp.test:9000/bucket/object?uploadId=abc", bytes.NewReader(xml))
	r.Header.Set("X-Amz-Checksum-Crc32", "AAAAAA==") // the whole object's checksum
	sdkSign(t, r, sha256Hex(string(xml)), testSecret, testRegion, testTime())
	res, err := testVerifier().Verify(r, testLookup)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if _, err := readAllChecked(t, res.Body, 512); err != nil {
		t.Fatalf("read: %v", err)
	}
}

// A consumer that reads exactly the declared length and stops (as a
// backend with a known size does) never receives the whole body when a
// check fails at the end.
func TestFinalBytesHeldBack(t *testing.T) {
	t.Parallel()
	body := pattern(50_000, 1)
	for _, size := range []int{1, 4096, 50_000, 100_000} {
		r := signedPut(t, body, "", nil)
		tampered := append([]byte{}, body...)
		tampered[len(tampered)-1] ^= 1
		r.Body = httpBody(tampered)
		res, err := testVerifier().Verify(r, testLookup)
		if err != nil {
			t.Fatalf("Verify: %v", err)
		}
		buf := make([]byte, len(body))
		n := 0
		for n < len(buf) && err == nil {
			var m int
			m, err = res.Body.Read(buf[n:min(n+size, len(buf))])
			n += m
		}
		if n >= len(body) {
			t.Fatalf("read size %d: all %d bytes delivered", size, n)
		}
		wantCode(t, err, "XAmzContentSHA256Mismatch")
	}
}

func TestKeyCacheBounded(t *testing.T) {
	t.Parallel()
	c := newKeyCache()
	want := deriveSigningKey("s", "20240101", "r", "s3")
	if got := c.get("s", "20240101", "r", "s3"); !bytes.Equal(got, want) {
		t.Fatal("cached key differs from the derived key")
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 3 * keyCacheGeneration {
				secret := "secret-" + strconv.Itoa(g*100000+i)
				if k := c.get(secret, "20240101", "r", "s3"); len(k) != 32 {
					t.Errorf("key length %d", len(k))
					return
				}
			}
		})
	}
	wg.Wait()
	if n := c.len(); n > 2*keyCacheGeneration {
		t.Fatalf("cache holds %d keys, bound is %d", n, 2*keyCacheGeneration)
	}
	// A key in use survives generations.
	for range 3 * keyCacheGeneration {
		c.get("hot", "20240101", "r", "s3")
		c.get("cold-"+strconv.Itoa(c.len()), "20240101", "r", "s3")
	}
	hot := keyCacheKey{secret: "hot", date: "20240101", region: "r", service: "s3"}
	c.mu.Lock()
	_, inCur := c.cur[hot]
	c.mu.Unlock()
	if !inCur {
		t.Fatal("a key in constant use was evicted")
	}
	if got := c.get("hot", "20240101", "r", "s3"); !bytes.Equal(got, deriveSigningKey("hot", "20240101", "r", "s3")) {
		t.Fatal("hot key wrong")
	}
}
