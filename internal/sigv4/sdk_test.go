package sigv4

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"github.com/dgp-proxy/dgp/internal/s3err"
)

// seen is what the test server observed for one request.
type seen struct {
	method, path, mode string
	code               string // S3 error code, "" on success
	body               []byte
	res                Result
}

// verifyServer is an HTTP(S) server whose handler authenticates with
// Verify and reads the verified body, the way s3api will.
type verifyServer struct {
	*httptest.Server
	mu     sync.Mutex
	seen   []seen
	tamper func(r *http.Request) // fault injection before Verify
}

func newVerifyServer(t *testing.T, tls bool, v *Verifier) *verifyServer {
	t.Helper()
	s := &verifyServer{}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.tamper != nil {
			s.tamper(r)
		}
		rec := seen{method: r.Method, path: r.URL.Path, mode: r.Header.Get("X-Amz-Content-Sha256")}
		fail := func(err error) {
			e := s3err.From(err)
			rec.code = e.Code
			s.record(rec)
			s3err.Write(w, r, e, "test")
		}
		res, err := v.Verify(r, testLookup)
		if err != nil {
			fail(err)
			return
		}
		body, err := io.ReadAll(res.Body)
		if err != nil {
			fail(err)
			return
		}
		rec.body, rec.res = body, *res
		s.record(rec)
		sum := md5.Sum(body)
		w.Header().Set("ETag", `"`+hex.EncodeToString(sum[:])+`"`)
		w.WriteHeader(http.StatusOK)
	})
	if tls {
		s.Server = httptest.NewTLSServer(h)
	} else {
		s.Server = httptest.NewServer(h)
	}
	t.Cleanup(s.Close)
	return s
}

func (s *verifyServer) record(r seen) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seen = append(s.seen, r)
}

func (s *verifyServer) last(t *testing.T) seen {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.seen) == 0 {
		t.Fatal("the server saw no request")
	}
	return s.seen[len(s.seen)-1]
}

// s3Client returns an aws-sdk-go-v2 S3 client for srv, with request
// checksums on as config.LoadDefaultConfig sets them.
func s3Client(srv *verifyServer, secret string) *s3.Client {
	return s3.New(s3.Options{
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenSupported,
		Region:                     testRegion,
		Credentials:                credentials.NewStaticCredentialsProvider(testAccess, secret, ""),
		BaseEndpoint:               aws.String(srv.URL),
		UsePathStyle:               true,
		HTTPClient:                 srv.Client(),
		RetryMaxAttempts:           1,
	})
}

func apiCode(t *testing.T, err error) string {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("err = %v, want an S3 API error", err)
	}
	return ae.ErrorCode()
}

// onlyReader hides Seek so the SDK must stream the body.
type onlyReader struct{ io.Reader }

func TestS3ClientPutObject(t *testing.T) {
	t.Parallel()
	data := pattern(3<<20+12345, 11)
	for _, tls := range []bool{false, true} {
		for _, seekable := range []bool{true, false} {
			if !tls && !seekable {
				continue // the SDK cannot sign an unseekable body over plain HTTP
			}
			name := map[bool]string{false: "http", true: "https"}[tls] + map[bool]string{true: "", false: " unseekable"}[seekable]
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				srv := newVerifyServer(t, tls, NewVerifier(time.Now))
				var body io.Reader = bytes.NewReader(data)
				if !seekable {
					body = onlyReader{bytes.NewReader(data)}
				}
				_, err := s3Client(srv, testSecret).PutObject(context.Background(), &s3.PutObjectInput{
					Bucket: aws.String("bucket"), Key: aws.String("dir/a key+with spaces&ü.bin"),
					Body: body, ContentLength: aws.Int64(int64(len(data))),
				})
				if err != nil {
					t.Fatalf("PutObject: %v", err)
				}
				got := srv.last(t)
				t.Logf("payload mode %s, content encoding %q", got.mode, got.res.ContentEncoding)
				if got.path != "/bucket/dir/a key+with spaces&ü.bin" {
					t.Errorf("path = %q", got.path)
				}
				if !bytes.Equal(got.body, data) {
					t.Fatalf("server received %d bytes, not the %d sent", len(got.body), len(data))
				}
				if got.res.ContentLength != int64(len(data)) {
					t.Errorf("ContentLength = %d", got.res.ContentLength)
				}
				// What the SDK sends (TESTING.md): a signed payload hash over
				// HTTP, an aws-chunked body with a trailing checksum over TLS.
				if want := sha256Hex(string(data)); !tls && got.mode != want {
					t.Errorf("mode = %s, want the payload hash %s", got.mode, want)
				}
				if tls && got.mode != StreamingUnsignedPayloadTrailer {
					t.Errorf("mode = %s, want %s", got.mode, StreamingUnsignedPayloadTrailer)
				}
			})
		}
	}
}

func TestS3ClientRejections(t *testing.T) {
	t.Parallel()
	data := pattern(300_000, 12)
	flip := func(r *http.Request) {
		r.Body = &flipReader{ReadCloser: r.Body, at: 150_000}
	}
	cases := []struct {
		name     string
		tls      bool
		seekable bool
		secret   string
		skew     time.Duration
		tamper   func(r *http.Request)
		code     string
	}{
		{name: "http tampered body", seekable: true, tamper: flip, code: "XAmzContentSHA256Mismatch"},
		{name: "https tampered body", tls: true, seekable: true, tamper: flip, code: "BadDigest"},
		{name: "https unseekable tampered body", tls: true, tamper: flip, code: "BadDigest"},
		{name: "http wrong secret", seekable: true, secret: "wrong", code: "SignatureDoesNotMatch"},
		{name: "https wrong secret", tls: true, secret: "wrong", code: "SignatureDoesNotMatch"},
		{name: "http clock ahead", seekable: true, skew: time.Hour, code: "RequestTimeTooSkewed"},
		{name: "https clock behind", tls: true, skew: -time.Hour, code: "RequestTimeTooSkewed"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := newVerifyServer(t, tc.tls, NewVerifier(func() time.Time { return time.Now().Add(tc.skew) }))
			srv.tamper = tc.tamper
			secret := testSecret
			if tc.secret != "" {
				secret = tc.secret
			}
			var body io.Reader = bytes.NewReader(data)
			if !tc.seekable {
				body = onlyReader{bytes.NewReader(data)}
			}
			_, err := s3Client(srv, secret).PutObject(context.Background(), &s3.PutObjectInput{
				Bucket: aws.String("bucket"), Key: aws.String("k"), Body: body, ContentLength: aws.Int64(int64(len(data))),
			})
			if err == nil {
				t.Fatal("PutObject succeeded")
			}
			if got := apiCode(t, err); got != tc.code {
				t.Fatalf("error code %s (%v), want %s", got, err, tc.code)
			}
			if s := srv.last(t); s.code != tc.code || s.body != nil {
				t.Fatalf("server saw code %q with %d body bytes", s.code, len(s.body))
			}
		})
	}
}

// flipReader inverts one byte of the stream at offset at.
type flipReader struct {
	io.ReadCloser
	at  int64
	off int64
}

func (f *flipReader) Read(p []byte) (int, error) {
	n, err := f.ReadCloser.Read(p)
	if f.at >= f.off && f.at < f.off+int64(n) {
		p[f.at-f.off] ^= 0xff
	}
	f.off += int64(n)
	return n, err
}

// The SDK's own v4 signer over a real connection: header mode with a
// signed payload, UNSIGNED-PAYLOAD, and presigned URLs; keys and queries
// with characters that need encoding.
func TestSDKSignerRoundTrip(t *testing.T) {
	t.Parallel()
	srv := newVerifyServer(t, false, NewVerifier(time.Now))
	keys := []string{
		"plain.txt",
		"dir/sub/file.bin",
		"a key with spaces",
		"plus+and=equals&amp;",
		"ümlaut/日本語/emoji😀",
		"reserved !$'()*,;:@[]~",
		"percent%2Fliteral%",
		"double//slash/./dot/../x",
	}
	client := srv.Client()
	do := func(t *testing.T, r *http.Request) seen {
		t.Helper()
		resp, err := client.Do(r)
		if err != nil {
			t.Fatalf("request: %v", err)
		}
		msg, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		s := srv.last(t)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d, code %s: %s", resp.StatusCode, s.code, msg)
		}
		return s
	}
	for _, key := range keys {
		u := &url.URL{Scheme: "http", Host: strings.TrimPrefix(srv.URL, "http://"),
			Path: "/bucket/" + key, RawPath: "/bucket/" + string(appendURIEncode(nil, key, true))}
		t.Run("header/"+key, func(t *testing.T) {
			body := []byte("content of " + key)
			q := u.Query()
			q.Set("prefix", key)
			q.Set("x-id", "PutObject")
			r, _ := http.NewRequest("PUT", u.String()+"?"+strings.ReplaceAll(q.Encode(), "+", "%20"), bytes.NewReader(body))
			sdkSign(t, r, sha256Hex(string(body)), testSecret, testRegion, time.Now())
			s := do(t, r)
			if !bytes.Equal(s.body, body) || s.path != "/bucket/"+key {
				t.Fatalf("server saw path %q body %q", s.path, s.body)
			}
		})
		t.Run("unsigned/"+key, func(t *testing.T) {
			r, _ := http.NewRequest("PUT", u.String(), strings.NewReader("x"))
			sdkSign(t, r, UnsignedPayload, testSecret, testRegion, time.Now())
			if s := do(t, r); string(s.body) != "x" {
				t.Fatalf("body %q", s.body)
			}
		})
		t.Run("presigned/"+key, func(t *testing.T) {
			for _, method := range []string{"GET", "PUT"} {
				signed := presign(t, method, u.String()+"?versionId=a%20b", "60", time.Now())
				r, _ := http.NewRequest(method, signed, strings.NewReader("presigned body"))
				s := do(t, r)
				if !s.res.Presigned || s.res.AccessKeyID != testAccess {
					t.Fatalf("result %+v", s.res)
				}
			}
		})
	}
}
