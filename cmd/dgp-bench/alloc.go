package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"runtime"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/dgp-proxy/dgp/internal/app"
	"github.com/dgp-proxy/dgp/internal/sigv4"
)

// verifyResult is the cost of one SigV4 verification.
type verifyResult struct {
	request     string // what was verified
	nsPerOp     int64
	allocsPerOp int64
	bytesPerOp  int64
	n           int
}

// captureTransport answers every request with an empty 200 and keeps the
// last request as it would arrive on the wire.
type captureTransport struct{ wire []byte }

func (c *captureTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	var buf bytes.Buffer
	if err := r.Write(&buf); err != nil {
		return nil, err
	}
	c.wire = buf.Bytes()
	return &http.Response{
		StatusCode: http.StatusOK, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: http.Header{"Content-Length": {"0"}}, Body: http.NoBody, Request: r,
	}, nil
}

// sdkGetRequest returns a GetObject request exactly as aws-sdk-go-v2 signs
// it for endpoint and as a server reads it off the wire.
func sdkGetRequest(ctx context.Context, endpoint, bucket, key string, creds app.RootCredentials) (*http.Request, error) {
	ct := &captureTransport{}
	c := newS3Client(&http.Client{Transport: ct}, endpoint, creds.AccessKeyID, creds.SecretAccessKey)
	return sdkGetRequestFrom(ctx, c, ct, bucket, key)
}

// sdkGetRequestFrom has c, whose transport is ct, sign a GetObject request.
func sdkGetRequestFrom(ctx context.Context, c *s3.Client, ct *captureTransport, bucket, key string) (*http.Request, error) {
	if _, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)}); err != nil {
		return nil, fmt.Errorf("sign get request: %w", err)
	}
	r, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(ct.wire)))
	if err != nil {
		return nil, fmt.Errorf("parse signed get request: %w", err)
	}
	return r, nil
}

// benchVerify measures sigv4 verification of r with testing.Benchmark. The
// verifier's signing-key cache is warm after the first iteration, as it is
// for a client sending many requests.
func benchVerify(r *http.Request, creds app.RootCredentials) (verifyResult, error) {
	v := sigv4.NewVerifier(time.Now)
	lookup := func(id string) (string, bool) {
		if id == creds.AccessKeyID {
			return creds.SecretAccessKey, true
		}
		return "", false
	}
	if _, err := v.Verify(r, lookup); err != nil {
		return verifyResult{}, fmt.Errorf("verify the sdk's get request: %w", err)
	}
	var failed error
	br := testing.Benchmark(func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := v.Verify(r, lookup); err != nil {
				failed = err
				b.FailNow()
			}
		}
	})
	if failed != nil {
		return verifyResult{}, fmt.Errorf("verify: %w", failed)
	}
	if br.N == 0 {
		return verifyResult{}, fmt.Errorf("verify benchmark did not run")
	}
	return verifyResult{
		request:     "GetObject, Authorization header, as signed by aws-sdk-go-v2",
		nsPerOp:     br.NsPerOp(),
		allocsPerOp: br.AllocsPerOp(),
		bytesPerOp:  br.AllocedBytesPerOp(),
		n:           br.N,
	}, nil
}

// allocCase is one kind of request served by dgp's handler.
type allocCase struct {
	method string
	size   int64
	signed bool // signed payload hash instead of UNSIGNED-PAYLOAD (PUT only)
	n      int  // requests measured
}

func (c allocCase) title() string {
	s := c.method + " " + formatSize(c.size)
	if c.method == http.MethodPut {
		if c.signed {
			s += ", signed payload"
		} else {
			s += ", UNSIGNED-PAYLOAD"
		}
	}
	return s
}

// allocResult is the heap cost of one request through dgp's handler.
type allocResult struct {
	c              allocCase
	allocsPerReq   float64
	bytesPerReq    float64
	baselineAllocs float64 // building the *http.Request, subtracted
}

// discardWriter is a ResponseWriter that drops the body. Like net/http's
// it implements io.ReaderFrom with a buffer it reuses across responses.
type discardWriter struct {
	h      http.Header
	status int
	n      int64
	buf    []byte
}

func (w *discardWriter) Header() http.Header { return w.h }
func (w *discardWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
}
func (w *discardWriter) Write(p []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	w.n += int64(len(p))
	return len(p), nil
}
func (w *discardWriter) ReadFrom(r io.Reader) (int64, error) {
	w.WriteHeader(http.StatusOK)
	n, err := drain(r, w.buf)
	w.n += n
	return n, err
}
func (w *discardWriter) Flush() {}

// allocProbe serves signed requests to dgp's handler in-process (no
// network between client and dgp; dgp still talks to MinIO).
type allocProbe struct {
	h      http.Handler
	host   string
	bucket string
	body   *payload
	creds  aws.Credentials
	buf    []byte
}

// template signs a request for c; the same signature is replayed for every
// measured request (SigV4 allows that within the clock-skew window).
func (p *allocProbe) template(ctx context.Context, c allocCase) (*http.Request, error) {
	key := fmt.Sprintf("bench/alloc/%d", c.size)
	u := &url.URL{Scheme: "http", Host: p.host, Path: "/" + p.bucket + "/" + key}
	r, err := http.NewRequestWithContext(ctx, c.method, u.String(), nil)
	if err != nil {
		return nil, err
	}
	hash := "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" // empty body
	if c.method == http.MethodPut {
		r.ContentLength = c.size
		hash = sigv4.UnsignedPayload
		if c.signed {
			hash = p.body.sha256Hex(c.size)
		}
	}
	r.Header.Set("X-Amz-Content-Sha256", hash)
	if err := v4.NewSigner().SignHTTP(ctx, p.creds, r, hash, "s3", benchRegion, time.Now()); err != nil {
		return nil, fmt.Errorf("sign: %w", err)
	}
	return r, nil
}

// request builds the server-side view of t.
func (p *allocProbe) request(t *http.Request, size int64) *http.Request {
	u := *t.URL
	u.Scheme, u.Host = "", ""
	r := &http.Request{
		Method: t.Method, URL: &u, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: t.Header.Clone(), Host: p.host, RemoteAddr: "127.0.0.1:1", RequestURI: u.RequestURI(),
		Body: http.NoBody,
	}
	if t.Method == http.MethodPut {
		r.Body = plainBody{p.body.reader(size)}
		r.ContentLength = size
	}
	return r
}

func (p *allocProbe) serve(t *http.Request, c allocCase) error {
	w := &discardWriter{h: http.Header{}, buf: p.buf}
	p.h.ServeHTTP(w, p.request(t, c.size))
	if w.status != http.StatusOK {
		return fmt.Errorf("%s: status %d", c.title(), w.status)
	}
	if c.method == http.MethodGet && w.n != c.size {
		return fmt.Errorf("%s: got %d bytes, want %d", c.title(), w.n, c.size)
	}
	return nil
}

// measure returns the mean heap allocations of one request of c, minus
// the cost of building the request. The PUT is served (and the object
// thereby created) once before measuring.
func (p *allocProbe) measure(ctx context.Context, c allocCase) (allocResult, error) {
	get := c
	if c.method == http.MethodGet {
		// The object a GET reads is put first.
		get = allocCase{method: http.MethodPut, size: c.size}
	}
	put, err := p.template(ctx, get)
	if err != nil {
		return allocResult{}, err
	}
	if err := p.serve(put, get); err != nil {
		return allocResult{}, err
	}
	t, err := p.template(ctx, c)
	if err != nil {
		return allocResult{}, err
	}
	if err := p.serve(t, c); err != nil { // warm-up
		return allocResult{}, err
	}

	var m0, m1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m0)
	for range c.n {
		if err := p.serve(t, c); err != nil {
			return allocResult{}, err
		}
	}
	runtime.ReadMemStats(&m1)

	// The same loop without dgp: building the request and the writer.
	var b0, b1 runtime.MemStats
	runtime.ReadMemStats(&b0)
	for range c.n {
		w := &discardWriter{h: http.Header{}, buf: p.buf}
		r := p.request(t, c.size)
		if _, err := drain(r.Body, p.buf); err != nil {
			return allocResult{}, err
		}
		w.WriteHeader(http.StatusOK)
	}
	runtime.ReadMemStats(&b1)

	n := float64(c.n)
	base := float64(b1.Mallocs-b0.Mallocs) / n
	baseBytes := float64(b1.TotalAlloc-b0.TotalAlloc) / n
	return allocResult{
		c:              c,
		allocsPerReq:   float64(m1.Mallocs-m0.Mallocs)/n - base,
		bytesPerReq:    float64(m1.TotalAlloc-m0.TotalAlloc)/n - baseBytes,
		baselineAllocs: base,
	}, nil
}

// measureAllocs runs every alloc case through dgp's handler.
func measureAllocs(ctx context.Context, a *app.App, bucket string, body *payload, smallSize, largeSize int64) ([]allocResult, error) {
	rc := a.RootCredentials()
	p := &allocProbe{
		h: a.Handler(), host: a.Addr(), bucket: bucket, body: body,
		creds: aws.Credentials{AccessKeyID: rc.AccessKeyID, SecretAccessKey: rc.SecretAccessKey},
		buf:   make([]byte, 32<<10),
	}
	cases := []allocCase{
		{method: http.MethodPut, size: smallSize, n: 400},
		{method: http.MethodPut, size: largeSize, n: 8},
		{method: http.MethodPut, size: smallSize, signed: true, n: 400},
		{method: http.MethodPut, size: largeSize, signed: true, n: 8},
		{method: http.MethodGet, size: smallSize, n: 400},
		{method: http.MethodGet, size: largeSize, n: 8},
	}
	var out []allocResult
	for _, c := range cases {
		r, err := p.measure(ctx, c)
		if err != nil {
			return nil, fmt.Errorf("allocations of %s: %w", c.title(), err)
		}
		out = append(out, r)
	}
	return out, nil
}
