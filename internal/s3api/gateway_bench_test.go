package s3api

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/dgp-proxy/dgp/internal/iam"
	"github.com/dgp-proxy/dgp/internal/sigv4"
	"github.com/dgp-proxy/dgp/internal/storage"
	"github.com/dgp-proxy/dgp/internal/storage/s3backend"
)

// minioLikeOrigin answers every GET with a 4 KiB object and every PUT with
// an ETag, with the headers MinIO sends, over loopback TCP.
func minioLikeOrigin(b *testing.B, body []byte) *httptest.Server {
	b.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h["Accept-Ranges"] = []string{"bytes"}
		h["Server"] = []string{"MinIO"}
		h["Strict-Transport-Security"] = []string{"max-age=31536000; includeSubDomains"}
		h["Vary"] = []string{"Origin", "Accept-Encoding"}
		h["X-Amz-Id-2"] = []string{"dd9025bab4ad464b049177c95eb6ebf374d3b3fd1af9251148b658df7ac2e3e8"}
		h["X-Amz-Request-Id"] = []string{"187E4C5D6F2A9B10"}
		h["X-Content-Type-Options"] = []string{"nosniff"}
		h["X-Ratelimit-Limit"] = []string{"2147"}
		h["X-Ratelimit-Remaining"] = []string{"2147"}
		h["X-Xss-Protection"] = []string{"1; mode=block"}
		h["Etag"] = []string{`"0123456789abcdef0123456789abcdef"`}
		switch r.Method {
		case http.MethodPut:
			_, _ = io.Copy(io.Discard, r.Body)
			h["Content-Length"] = []string{"0"}
		default:
			h["Last-Modified"] = []string{"Wed, 21 Oct 2025 07:28:00 GMT"}
			h["Content-Type"] = []string{"application/octet-stream"}
			h["Content-Length"] = []string{strconv.Itoa(len(body))}
			_, _ = w.Write(body)
		}
	}))
	b.Cleanup(srv.Close)
	return srv
}

// proxyBuffers lends the proxy the pooled copy buffers dgp uses.
type proxyBuffers struct{ p *bufPool }

func (p proxyBuffers) Get() []byte  { return *p.p.get() }
func (p proxyBuffers) Put(b []byte) { p.p.put(&b) }

// streamedBody is a request body net/http does not know to be in memory,
// as a server's request body is: a transport sends it after the headers
// rather than with them.
type streamedBody struct{ io.Reader }

func (streamedBody) Close() error { return nil }

// connWriter is a discardWriter that, like a server's writer, lets
// http.ResponseController set deadlines.
type connWriter struct{ discardWriter }

func (*connWriter) SetReadDeadline(time.Time) error  { return nil }
func (*connWriter) SetWriteDeadline(time.Time) error { return nil }

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkGatewayOverhead serves 4 KiB GETs and signed-payload PUTs in
// process (no client connection) through dgp (SigV4, the S3 backend's fast
// path) and through a bare httputil.ReverseProxy, both to the same origin
// over loopback TCP: a MinIO-like test server in process, or, with
// DGP_TEST_MINIO (and its _ACCESS_KEY and _SECRET_KEY) set, that MinIO,
// whose CPU then does not count. Besides ns/op it reports cpu-ns/op, the
// process's CPU time per request (the in-process origin's included, the
// same for both), which a busy machine disturbs much less than wall time:
// compare the two targets of one run. GETconn serves the GET over a
// loopback client connection (benchOverConn).
func BenchmarkGatewayOverhead(b *testing.B) {
	const size = 4 << 10
	data := pattern(size)
	originURL, ak, sk, bucket := os.Getenv("DGP_TEST_MINIO"), rootAK, rootSK, "bench"
	if originURL != "" {
		ak, sk = os.Getenv("DGP_TEST_MINIO_ACCESS_KEY"), os.Getenv("DGP_TEST_MINIO_SECRET_KEY")
		bucket = fmt.Sprintf("dgp-gw-bench-%d", time.Now().UnixNano())
	} else {
		originURL = minioLikeOrigin(b, data).URL
	}
	ou, err := url.Parse(originURL)
	if err != nil {
		b.Fatal(err)
	}
	tr := &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		DialContext:         (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        1024,
		MaxIdleConnsPerHost: 256,
		IdleConnTimeout:     90 * time.Second,
	}
	b.Cleanup(tr.CloseIdleConnections)
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(ou)
			pr.Out.Host = pr.In.Host
		},
		Transport:  tr,
		BufferPool: proxyBuffers{newBufPool()},
	}

	be, err := s3backend.New(context.Background(), s3backend.Options{Name: "origin", Endpoint: originURL,
		AccessKeyID: ak, SecretAccessKey: sk, ForcePathStyle: true})
	if err != nil {
		b.Fatal(err)
	}
	if bucket != "bench" {
		ctx := context.Background()
		if err := be.CreateBucket(ctx, bucket, storage.CreateBucketOptions{}); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() {
			_, _ = be.DeleteObject(ctx, bucket, "dir/object.bin", storage.DeleteOptions{})
			_ = be.DeleteBucket(ctx, bucket)
		})
		if _, err := be.PutObject(ctx, bucket, "dir/object.bin", bytes.NewReader(data), size, storage.PutOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	router, err := storage.NewRouter([]storage.Backend{be}, "origin", nil)
	if err != nil {
		b.Fatal(err)
	}
	dgp, err := New(Options{Buckets: router, Verifier: sigv4.NewVerifier(time.Now), Logger: zerolog.Nop(),
		Principals: testPrincipals{ak: {name: "root", secret: sk, allow: func(iam.Action, string, string) bool { return true }}}})
	if err != nil {
		b.Fatal(err)
	}
	// Signed for the origin's host, which the proxy passes on.
	e := &testEnv{t: &testing.T{}, srv: &httptest.Server{URL: originURL}}
	get := e.signedRequest(http.MethodGet, "/"+bucket+"/dir/object.bin", nil, nil, ak, sk)
	put := e.signedRequest(http.MethodPut, "/"+bucket+"/dir/object.bin", data, nil, ak, sk)

	for _, tc := range []struct {
		name string
		h    http.Handler
	}{{"proxy", rp}, {"dgp", dgp}} {
		b.Run("GET/"+tc.name, func(b *testing.B) {
			b.ReportAllocs()
			start := cpuTime()
			for b.Loop() {
				w := &connWriter{discardWriter{h: http.Header{}}}
				tc.h.ServeHTTP(w, get.Clone(context.Background()))
				if w.h.Get("Content-Length") != strconv.Itoa(size) {
					b.Fatalf("GET failed: %v", w.h)
				}
			}
			b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "cpu-ns/op")
		})
		b.Run("GETconn/"+tc.name, func(b *testing.B) { benchOverConn(b, tc.h, get, size) })
		b.Run("PUT/"+tc.name, func(b *testing.B) {
			b.ReportAllocs()
			start := cpuTime()
			for b.Loop() {
				r := put.Clone(context.Background())
				r.Body = streamedBody{bytes.NewReader(data)}
				w := &connWriter{discardWriter{h: http.Header{}}}
				tc.h.ServeHTTP(w, r)
				if w.h.Get("ETag") == "" {
					b.Fatalf("PUT failed: %v", w.h)
				}
			}
			b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "cpu-ns/op")
		})
	}
}
