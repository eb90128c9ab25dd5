package s3backend

import (
	"context"
	"errors"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/dgp-proxy/dgp/internal/s3err"
)

// ownTransport points the fast path of b (built without Options.HTTPClient,
// so sending through its own transport) at the stub: its transport dials
// the stub whatever the host, and redirects go through the stub's client.
func ownTransport(t *testing.T, s *s3Stub, o Options) *Backend {
	t.Helper()
	b, err := New(context.Background(), o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if b.fast == nil || b.fast.rt == nil {
		t.Fatalf("New(%+v): the fast path does not send through its own transport", o)
	}
	b.fast.rt = s.client.Transport
	b.fast.http = s.client
	return b
}

// TestFastPathTransport: a Backend that builds its own HTTP client sends
// fast-path requests through a transport configured as that client's,
// not through http.Client; one given an HTTP client uses it as it is.
func TestFastPathTransport(t *testing.T) {
	b, err := New(context.Background(), Options{Endpoint: "http://127.0.0.1:9000", ForcePathStyle: true, AccessKeyID: "a", SecretAccessKey: "b"})
	if err != nil {
		t.Fatal(err)
	}
	tr, ok := b.fast.rt.(*http.Transport)
	if !ok {
		t.Fatalf("fast path transport = %T, want *http.Transport", b.fast.rt)
	}
	if tr.MaxIdleConnsPerHost != 256 || tr.MaxIdleConns != 1024 || tr.ExpectContinueTimeout != time.Second ||
		tr.TLSHandshakeTimeout != 10*time.Second || tr.Proxy == nil || tr.DialContext == nil || tr.ResponseHeaderTimeout != 0 {
		t.Errorf("fast path transport is not configured as the backend's client: %+v", tr)
	}
	given, err := New(context.Background(), Options{Endpoint: "http://127.0.0.1:9000", ForcePathStyle: true, AccessKeyID: "a", SecretAccessKey: "b",
		HTTPClient: &http.Client{Timeout: time.Minute}})
	if err != nil {
		t.Fatal(err)
	}
	if given.fast.rt != nil {
		t.Errorf("a Backend given an HTTP client bypasses it (transport %T)", given.fast.rt)
	}
}

// TestFastPathOwnTransportSendsWhatTheSDKSends is
// TestFastPathSendsWhatTheSDKSends through the fast path's own transport.
func TestFastPathOwnTransportSendsWhatTheSDKSends(t *testing.T) {
	compareFastWithSDK(t, func(t *testing.T, stub *s3Stub, o Options, _ *Backend) *Backend { return ownTransport(t, stub, o) })
}

// TestFastPathRedirects: through its own transport, the fast path answers
// redirects as the SDK's client does: 307 and 308 followed for a request
// without a body (GET, HEAD, an empty PUT), not for a streamed body, and
// any other 3xx answer returned as it is.
func TestFastPathRedirects(t *testing.T) {
	stub := newS3Stub(t)
	stub.setAnswer(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasSuffix(r.URL.Path, "/temp"):
			w.Header().Set("Location", "/bkt/target")
			w.WriteHeader(http.StatusTemporaryRedirect)
		case strings.HasSuffix(r.URL.Path, "/perm"):
			w.Header().Set("Location", "/bkt/target")
			w.WriteHeader(http.StatusPermanentRedirect)
		case strings.HasSuffix(r.URL.Path, "/moved"):
			w.Header().Set("Location", "/bkt/target")
			w.Header().Set("Content-Type", "application/xml")
			w.WriteHeader(http.StatusMovedPermanently)
			_, _ = w.Write([]byte(`<Error><Code>PermanentRedirect</Code><Message>elsewhere</Message></Error>`))
		case strings.HasSuffix(r.URL.Path, "/target"):
			okAnswer(w, r)
		default:
			w.WriteHeader(http.StatusTeapot)
		}
	})
	// Both with the HTTP client New builds, whose redirect policy is the
	// SDK's own.
	o := Options{Endpoint: stub.plain.URL, ForcePathStyle: true, AccessKeyID: "a", SecretAccessKey: "b"}
	fast, err := New(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if fast.fast == nil || fast.fast.rt == nil {
		t.Fatal("the fast path does not send through its own transport")
	}
	sdk, err := New(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	sdkOnly(sdk)
	ctx := context.Background()
	ops := map[string]stubOp{}
	for _, op := range stubOps() {
		ops[op.name] = op
	}
	cases := []struct {
		op, key string
		// wantErr is the error both paths return ("" for success).
		wantErr *s3err.Error
	}{
		{"get", "temp", nil},
		{"get", "perm", nil},
		{"head suffix range", "temp", nil},
		{"put empty", "temp", nil},
		// Not followed: the answer, without an S3 error body, is
		// unreadable on both paths.
		{"put everything", "temp", s3err.ErrInternalError},
		{"put everything", "perm", s3err.ErrInternalError},
		{"get", "moved", &s3err.Error{Code: "PermanentRedirect", Status: http.StatusMovedPermanently}},
	}
	for _, c := range cases {
		what := c.op + " " + c.key
		sdkRes, sdkErr := ops[c.op].call(ctx, sdk, "bkt", c.key)
		fastRes, fastErr := ops[c.op].call(ctx, fast, "bkt", c.key)
		if c.wantErr == nil {
			if sdkErr != nil || fastErr != nil {
				t.Errorf("%s: SDK error %v, fast path error %v", what, sdkErr, fastErr)
				continue
			}
			if !reflect.DeepEqual(sdkRes, fastRes) {
				t.Errorf("%s: results differ:\n SDK  %+v\n fast %+v", what, sdkRes, fastRes)
			}
			continue
		}
		var se, fe *s3err.Error
		if !errors.As(sdkErr, &se) || !errors.As(fastErr, &fe) {
			t.Errorf("%s: SDK error %v, fast path error %v, want S3 errors", what, sdkErr, fastErr)
			continue
		}
		if fe.Status != se.Status || fe.Code != se.Code || fe.Status != c.wantErr.Status || fe.Code != c.wantErr.Code {
			t.Errorf("%s: fast path %s/%d, SDK %s/%d, want %s/%d", what, fe.Code, fe.Status, se.Code, se.Status, c.wantErr.Code, c.wantErr.Status)
		}
	}
}
