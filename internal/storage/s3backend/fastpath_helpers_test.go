package s3backend

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// recordedRequest is what an s3Stub received.
type recordedRequest struct {
	Method        string
	Host          string
	RequestURI    string
	Header        http.Header
	ContentLength int64
	Body          []byte
}

// s3Stub is an S3 stand-in over real HTTP and HTTPS that records every
// request and answers with answer. Its client dials the stub whatever host
// a URL names (plain HTTP for http URLs, TLS for https ones), so that
// endpoints such as bucket.s3.eu-west-1.amazonaws.com can be exercised
// without leaving the machine.
type s3Stub struct {
	plain, secure *httptest.Server
	client        *http.Client

	mu     sync.Mutex
	reqs   []recordedRequest
	answer func(w http.ResponseWriter, r *http.Request)
}

func newS3Stub(t testing.TB) *s3Stub {
	t.Helper()
	s := &s3Stub{}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		s.reqs = append(s.reqs, recordedRequest{
			Method: r.Method, Host: r.Host, RequestURI: r.RequestURI,
			Header: r.Header.Clone(), ContentLength: r.ContentLength, Body: body,
		})
		answer := s.answer
		s.mu.Unlock()
		if answer == nil {
			w.WriteHeader(http.StatusOK)
			return
		}
		answer(w, r)
	})
	s.plain = httptest.NewServer(h)
	s.secure = httptest.NewTLSServer(h)
	t.Cleanup(s.plain.Close)
	t.Cleanup(s.secure.Close)

	var d net.Dialer
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return d.DialContext(ctx, "tcp", s.plain.Listener.Addr().String())
		},
		DialTLSContext: func(ctx context.Context, _, addr string) (net.Conn, error) {
			c, err := d.DialContext(ctx, "tcp", s.secure.Listener.Addr().String())
			if err != nil {
				return nil, err
			}
			host, _, _ := net.SplitHostPort(addr)
			// The stub's certificate names example.com, not the AWS host
			// the request is for: this test client trusts it regardless.
			tc := tls.Client(c, &tls.Config{ServerName: host, InsecureSkipVerify: true})
			if err := tc.HandshakeContext(ctx); err != nil {
				c.Close()
				return nil, err
			}
			return tc, nil
		},
	}
	t.Cleanup(tr.CloseIdleConnections)
	s.client = &http.Client{Transport: tr}
	return s
}

// setAnswer replaces the answer function.
func (s *s3Stub) setAnswer(f func(w http.ResponseWriter, r *http.Request)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.answer = f
}

// take returns the requests received since the last call and forgets them.
func (s *s3Stub) take() []recordedRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.reqs
	s.reqs = nil
	return out
}

// stubBackends returns two Backends built from o (its HTTPClient set to the
// stub's): one with the fast path, one that always takes the SDK path, the
// latter without retries so that error answers come back at once.
func stubBackends(t testing.TB, s *s3Stub, o Options) (fast, sdk *Backend) {
	t.Helper()
	o.HTTPClient = s.client
	fast, err := New(context.Background(), o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if fast.fast == nil {
		t.Fatalf("New(%+v) built no fast path", o)
	}
	sdk, err = New(context.Background(), o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	sdkOnly(sdk)
	sdk.client = s3.New(sdk.client.Options(), func(so *s3.Options) { so.RetryMaxAttempts = 1 })
	return fast, sdk
}

// sdkOnly makes every request of b take the SDK path.
func sdkOnly(b *Backend) { b.fast = nil }
