package s3api

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"github.com/dgp-proxy/dgp/internal/testutil"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/rs/zerolog"

	"github.com/dgp-proxy/dgp/internal/iam"
	"github.com/dgp-proxy/dgp/internal/sigv4"
	"github.com/dgp-proxy/dgp/internal/storage"
	"github.com/dgp-proxy/dgp/internal/storage/fsbackend"
)

// Credentials of the test principals.
const (
	rootAK   = "AKIAROOTTEST0000"
	rootSK   = "root-secret-key-0123456789abcdefghij"
	readerAK = "AKIAREADERTEST00"
	readerSK = "reader-secret-key-0123456789abcdefgh"
	docsAK   = "AKIADOCSTEST0000"
	docsSK   = "docs-secret-key-0123456789abcdefghij"
	// writer may do everything but admin.
	writerAK = "AKIAWRITERTEST00"
	writerSK = "writer-secret-key-0123456789abcdefgh"
	// sharedBucket is the one bucket the reader may read and list.
	sharedBucket = "shared"
	// remoteBucket is routed to the second backend.
	remoteBucket = "remote-bkt"
	// panicBucket makes the fault-injecting router panic.
	panicBucket = "panic-bucket"
)

// testPrincipal is a test double of the Principal interface.
type testPrincipal struct {
	name, secret string
	allow        func(a iam.Action, bucket, key string) bool
}

func (p *testPrincipal) Name() string            { return p.name }
func (p *testPrincipal) SecretAccessKey() string { return p.secret }
func (p *testPrincipal) Allowed(a iam.Action, bucket, key string) bool {
	return p.allow(a, bucket, key)
}

// testPrincipals is a test double of the Principals interface.
type testPrincipals map[string]*testPrincipal

func (m testPrincipals) Lookup(ak string) (Principal, bool) {
	if ak == docsAK {
		return docsReader(), true
	}
	p, ok := m[ak]
	if !ok {
		return nil, false
	}
	return p, true
}

// visiblePrincipal also implements BucketVisibility.
type visiblePrincipal struct {
	*testPrincipal
	visible func(bucket string) bool
}

func (p visiblePrincipal) BucketVisible(bucket string) bool { return p.visible(bucket) }

// docsReader may read and list only sharedBucket/docs/, and sees sharedBucket.
func docsReader() Principal {
	return visiblePrincipal{
		testPrincipal: &testPrincipal{name: "docs", secret: docsSK, allow: func(a iam.Action, bucket, key string) bool {
			switch {
			case bucket == "":
				return a == iam.ActionList
			case bucket != sharedBucket:
				return false
			}
			return (a == iam.ActionRead || a == iam.ActionList) && strings.HasPrefix(key, "docs/")
		}},
		visible: func(bucket string) bool { return bucket == sharedBucket },
	}
}

// panicky wraps the real router and panics for panicBucket, to inject a
// fault no real backend produces on demand.
type panicky struct{ Buckets }

func (p panicky) Resolve(bucket string) (storage.Backend, string) {
	if bucket == panicBucket {
		panic("injected fault")
	}
	b, name := p.Buckets.Resolve(bucket)
	if bucket == boomBucket {
		return boomBackend{b}, name
	}
	return b, name
}

// boomBucket's backend panics when deleting the key "boom".
const boomBucket = "boom-bkt"

type boomBackend struct{ storage.Backend }

func (b boomBackend) DeleteObject(ctx context.Context, bucket, key string, opts storage.DeleteOptions) (*storage.DeleteResult, error) {
	if key == "boom" {
		panic("injected delete fault")
	}
	return b.Backend.DeleteObject(ctx, bucket, key, opts)
}

// syncBuffer is a concurrency-safe log sink.
type syncBuffer struct{ testutil.LogBuffer }

// lines returns the JSON log lines.
func (b *syncBuffer) lines(t *testing.T) []map[string]any {
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(b.String()))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("log line is not JSON: %q", sc.Text())
		}
		out = append(out, m)
	}
	return out
}

// seenRequests records what reached the server: hosts and payload modes.
type seenRequests struct {
	mu     sync.Mutex
	hosts  map[string]bool
	hashes map[string]bool
}

func (s *seenRequests) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.hosts[r.Host] = true
		s.hashes[r.Header.Get("X-Amz-Content-Sha256")] = true
		s.mu.Unlock()
		h.ServeHTTP(w, r)
	})
}

func (s *seenRequests) host(prefix string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for h := range s.hosts {
		if strings.HasPrefix(h, prefix) {
			return true
		}
	}
	return false
}

func (s *seenRequests) hash(v string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hashes[v]
}

type testEnv struct {
	t        *testing.T
	srv      *httptest.Server
	seen     *seenRequests
	tls      bool
	logs     *syncBuffer
	reg      *prometheus.Registry
	fs1, fs2 *fsbackend.Backend
	// dir holds the backends' roots: dir/local and dir/other.
	dir string
}

// newTestEnv serves the S3 API over two directory backends; mod adjusts
// the server's options.
func newTestEnv(t *testing.T, useTLS bool, mod ...func(*Options)) *testEnv {
	t.Helper()
	dir := t.TempDir()
	fs1, err := fsbackend.New("local", dir+"/local", time.Now)
	if err != nil {
		t.Fatal(err)
	}
	fs2, err := fsbackend.New("other", dir+"/other", time.Now)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fs1.Close(); fs2.Close() })
	router, err := storage.NewRouter([]storage.Backend{fs1, fs2}, "local", map[string]storage.Route{
		remoteBucket: {Backend: "other"},
	})
	if err != nil {
		t.Fatal(err)
	}
	e := newTestEnvWith(t, useTLS, router, mod...)
	e.fs1, e.fs2, e.dir = fs1, fs2, dir
	return e
}

// dirRouter is a router over one directory backend, "local", in a
// temporary directory, closed when the test ends.
func dirRouter(t testing.TB) (*fsbackend.Backend, *storage.Router) {
	t.Helper()
	fs, err := fsbackend.New("local", t.TempDir(), time.Now)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fs.Close() })
	router, err := storage.NewRouter([]storage.Backend{fs}, "local", nil)
	if err != nil {
		t.Fatal(err)
	}
	return fs, router
}

// newTestEnvWith serves the S3 API over router with the test principals;
// mod adjusts the server's options.
func newTestEnvWith(t *testing.T, useTLS bool, router Buckets, mod ...func(*Options)) *testEnv {
	t.Helper()
	e := &testEnv{t: t, tls: useTLS, logs: &syncBuffer{}, reg: prometheus.NewRegistry()}
	principals := testPrincipals{
		rootAK: {name: "root", secret: rootSK, allow: func(iam.Action, string, string) bool { return true }},
		readerAK: {name: "reader", secret: readerSK, allow: func(a iam.Action, bucket, _ string) bool {
			if bucket == "" {
				return a == iam.ActionList // the bucket list
			}
			return bucket == sharedBucket && (a == iam.ActionRead || a == iam.ActionList)
		}},
		writerAK: {name: "writer", secret: writerSK, allow: func(a iam.Action, _, _ string) bool { return a != iam.ActionAdmin }},
	}
	o := Options{
		Buckets:            panicky{router},
		Principals:         principals,
		Verifier:           sigv4.NewVerifier(time.Now),
		Logger:             zerolog.New(e.logs),
		Registerer:         e.reg,
		VirtualHostDomains: []string{"localhost", "example.com"},
		Now:                time.Now,
	}
	for _, m := range mod {
		m(&o)
	}
	srv, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	e.seen = &seenRequests{hosts: map[string]bool{}, hashes: map[string]bool{}}
	if useTLS {
		e.srv = httptest.NewTLSServer(e.seen.wrap(srv))
	} else {
		e.srv = httptest.NewServer(e.seen.wrap(srv))
	}
	t.Cleanup(e.srv.Close)
	return e
}

// httpClient dials the test server whatever host a URL names, so that
// "<bucket>.localhost" and "<bucket>.example.com" reach it.
func (e *testEnv) httpClient() *http.Client {
	addr := e.srv.Listener.Addr().String()
	var tr *http.Transport
	if e.tls {
		tr = e.srv.Client().Transport.(*http.Transport).Clone()
	} else {
		tr = &http.Transport{}
	}
	var d net.Dialer
	tr.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
		return d.DialContext(ctx, network, addr)
	}
	t := e.t
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

// baseURL is the endpoint for path-style (IP) or virtual-host-style (domain) clients.
func (e *testEnv) baseURL(vhost bool) string {
	_, port, _ := net.SplitHostPort(e.srv.Listener.Addr().String())
	scheme, host := "http", "127.0.0.1"
	if e.tls {
		scheme = "https"
	}
	if vhost {
		host = "localhost"
		if e.tls {
			host = "example.com" // the httptest certificate covers *.example.com
		}
	}
	return scheme + "://" + host + ":" + port
}

func (e *testEnv) client(ak, sk string, vhost bool) *s3.Client {
	return s3.New(s3.Options{
		Region:                     "us-east-1",
		Credentials:                credentials.NewStaticCredentialsProvider(ak, sk, ""),
		BaseEndpoint:               aws.String(e.baseURL(vhost)),
		UsePathStyle:               !vhost,
		HTTPClient:                 e.httpClient(),
		Retryer:                    aws.NopRetryer{},
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenSupported,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenSupported,
	})
}

func (e *testEnv) root() *s3.Client { return e.client(rootAK, rootSK, false) }

// signedRequest builds a request for path (path style, may hold a query)
// signed by ak/sk over body with a signed payload hash.
func (e *testEnv) signedRequest(method, path string, body []byte, hdr http.Header, ak, sk string) *http.Request {
	e.t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, bytes.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	sum := sha256.Sum256(body)
	ph := hex.EncodeToString(sum[:])
	if req.Header.Get("X-Amz-Content-Sha256") == "UNSIGNED-PAYLOAD" {
		ph = "UNSIGNED-PAYLOAD"
	}
	req.Header.Set("X-Amz-Content-Sha256", ph)
	signer := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
	err = signer.SignHTTP(context.Background(), aws.Credentials{AccessKeyID: ak, SecretAccessKey: sk}, req, ph, "s3", "us-east-1", time.Now())
	if err != nil {
		e.t.Fatal(err)
	}
	return req
}

// do sends a signed root request and returns status, body and headers.
func (e *testEnv) do(method, path string, body []byte, hdr http.Header) (int, string, http.Header) {
	e.t.Helper()
	resp, err := e.httpClient().Do(e.signedRequest(method, path, body, hdr, rootAK, rootSK))
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

// errCode returns the S3 error code of an SDK error ("" for nil).
func errCode(err error) string {
	if err == nil {
		return ""
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return err.Error()
}

// errStatus returns the HTTP status of an SDK error (0 for nil).
func errStatus(err error) int {
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

func must(t *testing.T, err error, what string) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func wantCode(t *testing.T, err error, code string, what string) {
	t.Helper()
	if got := errCode(err); got != code {
		t.Fatalf("%s: error code %q (%v), want %q", what, got, err, code)
	}
}

// metric returns the value of a counter (or a histogram's count) with labels.
func (e *testEnv) metric(name string, labels map[string]string) float64 {
	e.t.Helper()
	fams, err := e.reg.Gather()
	if err != nil {
		e.t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
	next:
		for _, m := range f.GetMetric() {
			for k, v := range labels {
				if !hasLabel(m, k, v) {
					continue next
				}
			}
			if m.Counter != nil {
				return m.Counter.GetValue()
			}
			if m.Histogram != nil {
				return float64(m.Histogram.GetSampleCount())
			}
		}
	}
	return 0
}

func hasLabel(m *dto.Metric, k, v string) bool {
	for _, l := range m.GetLabel() {
		if l.GetName() == k && l.GetValue() == v {
			return true
		}
	}
	return false
}

func readAll(t *testing.T, r io.ReadCloser) []byte {
	t.Helper()
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	return b
}

func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i/251)
	}
	return b
}
