package s3api

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/dgp-proxy/dgp/internal/testutil"
)

// testBodyTimeout is the short body read timeout of these tests.
const testBodyTimeout = 400 * time.Millisecond

// answerWait bounds how long a test waits for an answer it expects: far
// longer than testBodyTimeout, so only a server that never answers fails it.
const answerWait = 15 * time.Second

func withBodyTimeout(d time.Duration) func(*Options) {
	return func(o *Options) { o.BodyReadTimeout = d }
}

// rawHead signs a request (payload hash as given, Content-Length length)
// and renders its head as HTTP/1.1 text, for a client that then sends its
// body as slowly as it likes.
func (e *testEnv) rawHead(method, path string, hdr http.Header, payloadHash string, length int64, ak, sk string) []byte {
	e.t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	req.ContentLength = length
	req.Header.Set("X-Amz-Content-Sha256", payloadHash)
	signer := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
	if err := signer.SignHTTP(context.Background(), aws.Credentials{AccessKeyID: ak, SecretAccessKey: sk},
		req, payloadHash, "s3", "us-east-1", time.Now()); err != nil {
		e.t.Fatal(err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\n", method, req.URL.RequestURI(), req.URL.Host)
	for k, vs := range req.Header {
		for _, v := range vs {
			fmt.Fprintf(&b, "%s: %s\r\n", k, v)
		}
	}
	fmt.Fprintf(&b, "Content-Length: %d\r\n\r\n", length)
	return []byte(b.String())
}

// rawConn is a client on its own TCP connection.
type rawConn struct {
	t  *testing.T
	c  net.Conn
	br *bufio.Reader
}

func (e *testEnv) dialRaw(t *testing.T) *rawConn {
	t.Helper()
	var c net.Conn
	var err error
	if e.tls {
		cfg := e.srv.Client().Transport.(*http.Transport).TLSClientConfig.Clone()
		cfg.NextProtos = []string{"http/1.1"}
		c, err = tls.Dial("tcp", e.srv.Listener.Addr().String(), cfg)
	} else {
		c, err = net.Dial("tcp", e.srv.Listener.Addr().String())
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &rawConn{t: t, c: c, br: bufio.NewReader(c)}
}

func (rc *rawConn) send(b []byte) {
	rc.t.Helper()
	if _, err := rc.c.Write(b); err != nil {
		rc.t.Fatalf("send: %v", err)
	}
}

// answer reads the server's answer (failing when none comes within
// answerWait) and its body.
func (rc *rawConn) answer() (*http.Response, string) {
	rc.t.Helper()
	_ = rc.c.SetReadDeadline(time.Now().Add(answerWait))
	resp, err := http.ReadResponse(rc.br, nil)
	if err != nil {
		rc.t.Fatalf("no answer: %v", err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		rc.t.Fatalf("answer body: %v", err)
	}
	return resp, string(body)
}

// wantClosed fails unless the server closes the connection.
func (rc *rawConn) wantClosed() {
	rc.t.Helper()
	_ = rc.c.SetReadDeadline(time.Now().Add(answerWait))
	if n, err := rc.br.Read(make([]byte, 1)); err != io.EOF {
		rc.t.Fatalf("connection still open after the answer: read %d, %v", n, err)
	}
}

// wantRequestTimeout checks a 400 RequestTimeout answer that closes the
// connection.
func (rc *rawConn) wantRequestTimeout() {
	rc.t.Helper()
	resp, body := rc.answer()
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "<Code>RequestTimeout</Code>") ||
		!strings.Contains(body, "not read from or written to within the timeout period") {
		rc.t.Fatalf("answer %d %s, want 400 RequestTimeout", resp.StatusCode, body)
	}
	if !resp.Close { // ReadResponse turns Connection: close into Close
		rc.t.Fatalf("RequestTimeout without Connection: close (headers %v)", resp.Header)
	}
	rc.wantClosed()
}

// stagingEmpty waits until the directory backend's staging area holds no
// file (a failed write removes its staging file before answering, but
// the check does not depend on that order).
func (e *testEnv) stagingEmpty(t *testing.T) {
	t.Helper()
	dir := filepath.Join(e.dir, "local", ".staging")
	testutil.RetryUntil(t, 5*time.Second, func() error {
		ents, err := os.ReadDir(dir)
		if err != nil {
			return err
		}
		if len(ents) > 0 {
			return fmt.Errorf("staging files left: %v", ents)
		}
		return nil
	})
}

func TestBodyTimeoutStalledBodies(t *testing.T) {
	e := newTestEnv(t, false, withBodyTimeout(testBodyTimeout))
	ctx := context.Background()
	cl := e.root()
	_, err := cl.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("stall")})
	must(t, err, "CreateBucket")
	up, err := cl.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("stall"), Key: aws.String("mp")})
	must(t, err, "CreateMultipartUpload")
	exp := time.Now().Add(time.Hour)
	ctype, form := v4Form(exp, []any{map[string]string{"bucket": "stall"}, []any{"starts-with", "$key", ""}},
		[]formKV{{"key", "posted"}}, pattern(10_000)).encode(t)

	cases := []struct {
		name   string
		method string
		path   string
		hdr    http.Header
		hash   string
		length int64
		sent   []byte
	}{
		{"PutObject", "PUT", "/stall/obj", nil, "UNSIGNED-PAYLOAD", 1000, []byte("0123456789")},
		{"UploadPart", "PUT", "/stall/mp?partNumber=1&uploadId=" + *up.UploadId, nil, "UNSIGNED-PAYLOAD", 1000, []byte("0123456789")},
		{"aws-chunked PutObject", "PUT", "/stall/chunked",
			http.Header{"Content-Encoding": {"aws-chunked"}, "X-Amz-Decoded-Content-Length": {"1000"}, "X-Amz-Trailer": {"x-amz-checksum-crc32"}},
			"STREAMING-UNSIGNED-PAYLOAD-TRAILER", 1100, []byte("3e8\r\n0123456789")},
		{"DeleteObjects", "POST", "/stall?delete", http.Header{"Content-Md5": {"1B2M2Y8AsgTpgAmY7PhCfg=="}}, "UNSIGNED-PAYLOAD", 500, []byte("<Delete><Object>")},
		{"POST Object", "POST", "/stall", http.Header{"Content-Type": {ctype}}, "UNSIGNED-PAYLOAD", int64(len(form)), form[:len(form)/2]},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rc := e.dialRaw(t)
			if c.method == "POST" && c.name == "POST Object" {
				// A browser form is not signed in its headers.
				head := fmt.Sprintf("POST /stall HTTP/1.1\r\nHost: %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n",
					e.srv.Listener.Addr(), ctype, c.length)
				rc.send([]byte(head))
			} else {
				rc.send(e.rawHead(c.method, c.path, c.hdr, c.hash, c.length, rootAK, rootSK))
			}
			rc.send(c.sent)
			rc.wantRequestTimeout()
			e.stagingEmpty(t)
		})
	}
	for _, key := range []string{"obj", "chunked", "posted"} {
		if objectExists(t, cl, "stall", key) {
			t.Errorf("%s was stored from a stalled body", key)
		}
	}
}

// The same over TLS: a read deadline passing does not break the
// connection's writing side, so the answer still reaches the client.
func TestBodyTimeoutOverTLS(t *testing.T) {
	e := newTestEnv(t, true, withBodyTimeout(testBodyTimeout))
	_, err := e.root().CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String("tls")})
	must(t, err, "CreateBucket")
	rc := e.dialRaw(t)
	rc.send(e.rawHead("PUT", "/tls/obj", nil, "UNSIGNED-PAYLOAD", 1000, rootAK, rootSK))
	rc.send([]byte("0123456789"))
	rc.wantRequestTimeout()
	e.stagingEmpty(t)
}

func TestBodyTimeoutSteadyClientNotCut(t *testing.T) {
	// A longer timeout than the other tests': the gaps must stay far
	// below it even on a loaded machine under the race detector (at 400
	// ms a stalled scheduler cut it now and then).
	const timeout = 1500 * time.Millisecond
	e := newTestEnv(t, false, withBodyTimeout(timeout))
	_, err := e.root().CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String("slow")})
	must(t, err, "CreateBucket")
	body := pattern(90)
	rc := e.dialRaw(t)
	rc.send(e.rawHead("PUT", "/slow/trickle", nil, "UNSIGNED-PAYLOAD", int64(len(body)), rootAK, rootSK))
	// One byte every timeout/30: the whole body takes three timeouts, no
	// gap comes near one.
	tick := time.NewTicker(timeout / 30)
	defer tick.Stop()
	for i := range body {
		<-tick.C
		rc.send(body[i : i+1])
	}
	resp, msg := rc.answer()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("steady slow upload answered %d %s", resp.StatusCode, msg)
	}
	got, err := e.root().GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String("slow"), Key: aws.String("trickle")})
	must(t, err, "GetObject")
	if b := readAll(t, got.Body); string(b) != string(body) {
		t.Fatalf("stored %q, want %q", b, body)
	}
}

// An answer given before the body is read (here a wrong signature) comes
// at once, says Connection: close and closes: the server neither waits for
// the body nor reuses a connection with unread bytes.
func TestUnreadBodyClosesConnection(t *testing.T) {
	e := newTestEnv(t, false) // the default timeout: it must not be what answers
	rc := e.dialRaw(t)
	rc.send(e.rawHead("PUT", "/any/key", nil, "UNSIGNED-PAYLOAD", 100, rootAK, "wrong-secret"))
	resp, body := rc.answer()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("answer %d %s, want 403", resp.StatusCode, body)
	}
	if !resp.Close {
		t.Fatalf("no Connection: close on an answer before the body (headers %v)", resp.Header)
	}
	rc.wantClosed()
}

// A request whose body was read whole keeps its connection.
func TestReadBodyKeepsConnection(t *testing.T) {
	e := newTestEnv(t, false, withBodyTimeout(testBodyTimeout))
	_, err := e.root().CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String("keep")})
	must(t, err, "CreateBucket")
	rc := e.dialRaw(t)
	for i := range 2 {
		rc.send(e.rawHead("PUT", fmt.Sprintf("/keep/k%d", i), nil, "UNSIGNED-PAYLOAD", 5, rootAK, rootSK))
		rc.send([]byte("hello"))
		resp, body := rc.answer()
		if resp.StatusCode != http.StatusOK || resp.Close {
			t.Fatalf("request %d: %d close=%v %s", i, resp.StatusCode, resp.Close, body)
		}
	}
}
