package s3api

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/rs/zerolog"

	"github.com/dgp-proxy/dgp/internal/iam"
	"github.com/dgp-proxy/dgp/internal/sigv4"
	"github.com/dgp-proxy/dgp/internal/storage"
	"github.com/dgp-proxy/dgp/internal/storage/s3backend"
)

// discardWriter is a ResponseWriter that drops the body, so benchmarks
// measure the handler, not a recorder's growing buffer.
type discardWriter struct{ h http.Header }

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (d *discardWriter) WriteHeader(int)             {}

func benchServer(b *testing.B) (*Server, *testEnv) {
	b.Helper()
	fs, router := dirRouter(b)
	srv, err := New(Options{
		Buckets: router,
		Principals: testPrincipals{rootAK: {name: "root", secret: rootSK,
			allow: func(iam.Action, string, string) bool { return true }}},
		Verifier: sigv4.NewVerifier(time.Now),
		Logger:   zerolog.Nop(),
	})
	if err != nil {
		b.Fatal(err)
	}
	if err := fs.CreateBucket(context.Background(), "bench", storage.CreateBucketOptions{}); err != nil {
		b.Fatal(err)
	}
	return srv, &testEnv{t: &testing.T{}, srv: &httptest.Server{URL: "http://127.0.0.1:9000"}}
}

// BenchmarkGetObject serves GETs in-process from the directory backend;
// allocs/op must not grow with the object size (compare the sizes).
func BenchmarkGetObject(b *testing.B) {
	for _, size := range []int{4 << 10, 1 << 20, 32 << 20} {
		b.Run(fmt.Sprintf("%dKiB", size>>10), func(b *testing.B) {
			srv, e := benchServer(b)
			data := pattern(size)
			put := e.signedRequest("PUT", "/bench/obj", data, nil, rootAK, rootSK)
			srv.ServeHTTP(&discardWriter{h: http.Header{}}, put)
			get := e.signedRequest("GET", "/bench/obj", nil, nil, rootAK, rootSK)
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				w := &discardWriter{h: http.Header{}}
				srv.ServeHTTP(w, get.Clone(context.Background()))
				if w.h.Get("Content-Length") != fmt.Sprint(size) {
					b.Fatalf("GET failed: %v", w.h)
				}
			}
		})
	}
}

// BenchmarkPutObject serves PUTs in-process (UNSIGNED-PAYLOAD).
func BenchmarkPutObject(b *testing.B) {
	for _, size := range []int{1 << 20, 32 << 20} {
		b.Run(fmt.Sprintf("%dMiB", size>>20), func(b *testing.B) {
			srv, e := benchServer(b)
			data := pattern(size)
			req := e.signedRequest("PUT", "/bench/obj", nil, http.Header{"X-Amz-Content-Sha256": {"UNSIGNED-PAYLOAD"}}, rootAK, rootSK)
			req.ContentLength = int64(size)
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				r := req.Clone(context.Background())
				r.Body = io.NopCloser(bytes.NewReader(data))
				w := &discardWriter{h: http.Header{}}
				srv.ServeHTTP(w, r)
				if w.h.Get("ETag") == "" {
					b.Fatalf("PUT failed: %v", w.h)
				}
			}
		})
	}
}

// BenchmarkVsReverseProxy compares GET and PUT throughput over TCP of
// dgp (with the S3 backend) against a bare httputil.ReverseProxy, both in
// front of the same S3 origin (a dgp on a directory). Compare the MB/s of
// the two sub-benchmarks of one run: dgp should reach >= 95% of the proxy.
func BenchmarkVsReverseProxy(b *testing.B) {
	const size = 16 << 20
	originSrv, _ := benchServer(b)
	origin := httptest.NewServer(originSrv)
	defer origin.Close()
	u, _ := url.Parse(origin.URL)
	rp := httptest.NewServer(httputil.NewSingleHostReverseProxy(u))
	defer rp.Close()

	be, err := s3backend.New(context.Background(), s3backend.Options{Name: "origin", Endpoint: origin.URL,
		AccessKeyID: rootAK, SecretAccessKey: rootSK, ForcePathStyle: true})
	if err != nil {
		b.Fatal(err)
	}
	router, err := storage.NewRouter([]storage.Backend{be}, "origin", nil)
	if err != nil {
		b.Fatal(err)
	}
	dgpSrv, err := New(Options{Buckets: router, Verifier: sigv4.NewVerifier(time.Now), Logger: zerolog.Nop(),
		Principals: testPrincipals{rootAK: {name: "root", secret: rootSK, allow: func(iam.Action, string, string) bool { return true }}}})
	if err != nil {
		b.Fatal(err)
	}
	dgp := httptest.NewServer(dgpSrv)
	defer dgp.Close()

	data := pattern(size)
	for _, tc := range []struct{ name, base string }{{"reverseproxy", rp.URL}, {"dgp", dgp.URL}} {
		c := s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String(tc.base), UsePathStyle: true,
			Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
				return aws.Credentials{AccessKeyID: rootAK, SecretAccessKey: rootSK}, nil
			})})
		key := aws.String("obj-" + tc.name)
		if _, err := c.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String("bench"), Key: key, Body: bytes.NewReader(data)}); err != nil {
			b.Fatal(err)
		}
		b.Run("GET/"+tc.name, func(b *testing.B) {
			b.SetBytes(size)
			for b.Loop() {
				out, err := c.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String("bench"), Key: key})
				if err != nil {
					b.Fatal(err)
				}
				n, _ := io.Copy(io.Discard, out.Body)
				out.Body.Close()
				if n != size {
					b.Fatalf("read %d bytes", n)
				}
			}
		})
		b.Run("PUT/"+tc.name, func(b *testing.B) {
			b.SetBytes(size)
			for b.Loop() {
				if _, err := c.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String("bench"), Key: key, Body: bytes.NewReader(data)}); err != nil {
					b.Fatal(err)
				}
			}
		})
		// UNSIGNED-PAYLOAD, as clients send over TLS: no payload hash to verify.
		b.Run("PUT-unsigned/"+tc.name, func(b *testing.B) {
			b.SetBytes(size)
			for b.Loop() {
				if _, err := c.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String("bench"), Key: key, Body: bytes.NewReader(data)},
					s3.WithAPIOptions(v4.SwapComputePayloadSHA256ForUnsignedPayloadMiddleware)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
