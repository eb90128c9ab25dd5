package sigv4

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// TestSignerMatchesSDK signs the same requests with Signer and with
// aws-sdk-go-v2's v4.Signer (DisableURIPathEscaping, as s3backend uses it)
// and compares everything the signature touches.
func TestSignerMatchesSDK(t *testing.T) {
	t.Parallel()
	type tc struct {
		name, method, url, host string
		header                  http.Header
		length                  int64
		hash                    string
		token                   string
	}
	cases := []tc{
		{name: "get", method: "GET", url: "http://127.0.0.1:9000/bucket/dir/obj.bin", hash: emptySHA256Hex,
			header: http.Header{"Accept-Encoding": {"identity"}}},
		{name: "get range and conditions", method: "GET", url: "http://minio.test:9000/b/k", hash: emptySHA256Hex,
			header: http.Header{"Accept-Encoding": {"identity"}, "Range": {"bytes=0-99"}, "If-None-Match": {`"abc"`},
				"If-Modified-Since": {"Wed, 21 Oct 2025 07:28:00 GMT"}}},
		{name: "put", method: "PUT", url: "https://s3.us-east-1.amazonaws.com/bkt/a%20b/c%2Bd", length: 4096, hash: "UNSIGNED-PAYLOAD",
			header: http.Header{"Content-Type": {"application/octet-stream"}, "X-Amz-Meta-Colour": {"  dark   blue  "},
				"Expect": {"100-continue"}, "User-Agent": {"x"}, "Cache-Control": {"no-cache"}}},
		{name: "query", method: "PUT", url: "http://127.0.0.1:9000/b/k?uploadId=a+b/c%3D&partNumber=3", length: 1, hash: "UNSIGNED-PAYLOAD"},
		{name: "version query", method: "GET", url: "http://127.0.0.1:9000/b/k?versionId=x%2By&partNumber=2", hash: emptySHA256Hex},
		{name: "default port http", method: "HEAD", url: "http://host.test:80/b/k", hash: emptySHA256Hex},
		{name: "default port https", method: "GET", url: "https://host.test:443/b/k", hash: emptySHA256Hex},
		{name: "ipv6", method: "GET", url: "http://[::1]:9000/b/k", hash: emptySHA256Hex},
		{name: "ipv6 default port", method: "GET", url: "http://[::1]:80/b/k", hash: emptySHA256Hex},
		{name: "explicit host", method: "GET", url: "http://127.0.0.1:9000/b/k", host: "bucket.example.com", hash: emptySHA256Hex},
		{name: "session token", method: "GET", url: "http://127.0.0.1:9000/b/k", hash: emptySHA256Hex, token: "tok/en=="},
		{name: "root path", method: "GET", url: "http://127.0.0.1:9000", hash: emptySHA256Hex},
		{name: "odd header keys", method: "PUT", url: "http://127.0.0.1:9000/b/k", length: 10, hash: "UNSIGNED-PAYLOAD",
			header: http.Header{"x-custom": {"a"}, "Content-Length": {"10"}, "Transfer-Encoding": {"chunked"},
				"X-Amzn-Trace-Id": {"t"}, "Tabbed": {"\tv\t"}}},
	}
	at := time.Date(2026, 3, 9, 12, 34, 56, 0, time.UTC)
	s := NewSigner()
	sdk := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
	for _, c := range cases {
		build := func() *http.Request {
			r, err := http.NewRequest(c.method, c.url, nil)
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range c.header {
				r.Header[k] = append([]string(nil), v...)
			}
			if c.host != "" {
				r.Host = c.host
			}
			r.ContentLength = c.length
			r.Header["X-Amz-Content-Sha256"] = []string{c.hash}
			return r
		}
		for _, region := range []string{"us-east-1", "eu-west-3"} {
			mine, theirs := build(), build()
			s.SignHTTP(mine, Credentials{AccessKeyID: "AKID", SecretAccessKey: "secret", SessionToken: c.token}, c.hash, "s3", region, at)
			creds := aws.Credentials{AccessKeyID: "AKID", SecretAccessKey: "secret", SessionToken: c.token}
			if err := sdk.SignHTTP(context.Background(), creds, theirs, c.hash, "s3", region, at); err != nil {
				t.Fatal(err)
			}
			for _, h := range []string{"Authorization", "X-Amz-Date", "X-Amz-Security-Token"} {
				if got, want := strings.Join(mine.Header[h], "|"), strings.Join(theirs.Header[h], "|"); got != want {
					t.Errorf("%s/%s: %s = %q, SDK %q", c.name, region, h, got, want)
				}
			}
			if mine.URL.RawQuery != theirs.URL.RawQuery || mine.Host != theirs.Host || mine.URL.String() != theirs.URL.String() {
				t.Errorf("%s: request %q host %q, SDK %q host %q", c.name, mine.URL, mine.Host, theirs.URL, theirs.Host)
			}
		}
	}
	// The date string is reused within a second and replaced after it.
	r := func() *http.Request { r, _ := http.NewRequest("GET", "http://h/b/k", nil); return r }
	r1, r2 := r(), r()
	s.SignHTTP(r1, Credentials{AccessKeyID: "a", SecretAccessKey: "b"}, emptySHA256Hex, "s3", "r", at)
	s.SignHTTP(r2, Credentials{AccessKeyID: "a", SecretAccessKey: "b"}, emptySHA256Hex, "s3", "r", at.Add(time.Second))
	if r1.Header["X-Amz-Date"][0] != "20260309T123456Z" || r2.Header["X-Amz-Date"][0] != "20260309T123457Z" {
		t.Errorf("dates %q %q", r1.Header["X-Amz-Date"], r2.Header["X-Amz-Date"])
	}
}

// BenchmarkSigner signs a GetObject request as s3backend's fast path does.
func BenchmarkSigner(b *testing.B) {
	s := NewSigner()
	at := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		r := &http.Request{Method: "GET", URL: &url.URL{Scheme: "http", Host: "127.0.0.1:9000", Path: "/bucket/dir/obj.bin"},
			Header: http.Header{"Accept-Encoding": {"identity"}, "X-Amz-Content-Sha256": {emptySHA256Hex}}}
		s.SignHTTP(r, Credentials{AccessKeyID: "AKID", SecretAccessKey: "secret"}, emptySHA256Hex, "s3", "us-east-1", at)
	}
}

// TestVerifyAndSignAllocations bounds the heap allocations of verifying a
// signed GET (the Result and its body share one) and of signing one (the
// header values and the Authorization string), so a change that brings
// back per-request HMAC or buffer allocations fails here.
func TestVerifyAndSignAllocations(t *testing.T) {
	r := httptest.NewRequest("GET", "http://dgp.test:9000/bucket/photos/2024/03/IMG_0042.jpg?versionId=3", nil)
	r.Header.Set("Range", "bytes=0-1023")
	sdkSign(t, r, emptySHA256Hex, testSecret, testRegion, testTime())
	v := testVerifier()
	verify := func() {
		res, err := v.Verify(r, testLookup)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
	}
	verify() // derive and cache the signing key
	if n := testing.AllocsPerRun(200, verify); n > 1 {
		t.Errorf("Verify: %.0f allocations, want at most 1", n)
	}
	var into Verification
	verifyInto := func() {
		res, err := v.VerifyInto(r, testLookup, &into)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
	}
	if n := testing.AllocsPerRun(200, verifyInto); n != 0 {
		t.Errorf("VerifyInto: %.0f allocations, want none", n)
	}

	s := NewSigner()
	out := &http.Request{Method: "GET", URL: &url.URL{Scheme: "http", Host: "127.0.0.1:9000", Path: "/b/k"}}
	at := time.Now()
	sign := func() {
		out.Header = http.Header{"Accept-Encoding": {"identity"}, "X-Amz-Content-Sha256": {emptySHA256Hex}}
		s.SignHTTP(out, Credentials{AccessKeyID: "AKID", SecretAccessKey: "secret"}, emptySHA256Hex, "s3", "us-east-1", at)
	}
	sign()
	// Building the header map in sign costs 3-4 of these.
	n := testing.AllocsPerRun(200, sign)
	t.Logf("SignHTTP: %.0f allocations with the header map", n)
	if n > 8 {
		t.Errorf("SignHTTP: %.0f allocations with the header map, want at most 8", n)
	}
}

// BenchmarkSDKSigner is BenchmarkSigner with aws-sdk-go-v2's v4.Signer, as
// s3backend's fast path signed before Signer.
func BenchmarkSDKSigner(b *testing.B) {
	s := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
	creds := aws.Credentials{AccessKeyID: "AKID", SecretAccessKey: "secret"}
	at := time.Now()
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		r := &http.Request{Method: "GET", URL: &url.URL{Scheme: "http", Host: "127.0.0.1:9000", Path: "/bucket/dir/obj.bin"},
			Header: http.Header{"Accept-Encoding": {"identity"}, "X-Amz-Content-Sha256": {emptySHA256Hex}}}
		if err := s.SignHTTP(ctx, creds, r, emptySHA256Hex, "s3", "us-east-1", at); err != nil {
			b.Fatal(err)
		}
	}
}
