package admin

import (
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"sync/atomic"
	"time"
)

// errBodyTimeout answers a client that stopped sending its body.
func errBodyTimeout(d time.Duration) *apiError {
	return &apiError{Status: http.StatusBadRequest, Code: "request_timeout",
		Message: "no data of the request body arrived for " + d.String() + ": send the body without pausing"}
}

// deadlineBody is a request body whose every Read must receive data
// within timeout: the connection's read deadline moves to now+timeout
// before each Read (a slow but steady client is never cut), and a stall
// makes Read fail with errBodyTimeout. It remembers whether the body was
// read to its end. (s3api has the same guard, answering in S3's words.)
type deadlineBody struct {
	src     io.ReadCloser
	rc      *http.ResponseController
	timeout time.Duration
	eof     atomic.Bool
	failed  atomic.Bool
}

// newDeadlineBody wraps src; the first deadline is set at once, so even a
// body no handler reads bounds the server's own wait for it.
func newDeadlineBody(src io.ReadCloser, w http.ResponseWriter, timeout time.Duration) *deadlineBody {
	d := &deadlineBody{src: src, rc: http.NewResponseController(w), timeout: timeout}
	if timeout > 0 && d.rc.SetReadDeadline(time.Now().Add(timeout)) != nil {
		d.timeout = 0 // a writer without a connection: no deadline to move
	}
	return d
}

// Read implements io.Reader.
func (d *deadlineBody) Read(p []byte) (int, error) {
	if d.failed.Load() {
		return 0, errBodyTimeout(d.timeout)
	}
	if d.eof.Load() {
		// Past the end the server reads the connection in the
		// background; a deadline set now would cut that read.
		return 0, io.EOF
	}
	if d.timeout > 0 {
		_ = d.rc.SetReadDeadline(time.Now().Add(d.timeout))
	}
	n, err := d.src.Read(p)
	switch {
	case err == io.EOF:
		d.eof.Store(true)
	case err != nil && isTimeout(err):
		d.failed.Store(true)
		return n, errBodyTimeout(d.timeout)
	}
	return n, err
}

// Close implements io.Closer.
func (d *deadlineBody) Close() error { return d.src.Close() }

// unread reports whether the body was not read to its end.
func (d *deadlineBody) unread() bool { return !d.eof.Load() }

// expire ends the server's wait for the rest of an unread body after an
// answer that said Connection: close.
func (d *deadlineBody) expire() { _ = d.rc.SetReadDeadline(time.Now()) }

func isTimeout(err error) bool {
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// closingWriter adds Connection: close to an error answered before the
// HTTP/1 request body was read to its end, so the connection is not
// reused with unread body bytes and the server does not wait for them.
type closingWriter struct {
	http.ResponseWriter
	body    *deadlineBody
	wrote   bool
	closing bool
}

func (c *closingWriter) WriteHeader(code int) {
	if !c.wrote && code >= 400 && c.body.unread() {
		c.Header().Set("Connection", "close")
		c.closing = true
	}
	if code >= 200 {
		c.wrote = true
	}
	c.ResponseWriter.WriteHeader(code)
}

func (c *closingWriter) Write(b []byte) (int, error) {
	c.wrote = true
	return c.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (c *closingWriter) Unwrap() http.ResponseWriter { return c.ResponseWriter }

// guardBody wraps the body of r (when it has one) in a deadlineBody and,
// for HTTP/1, w in a closingWriter; done must run after the handler.
func (a *API) guardBody(w http.ResponseWriter, r *http.Request) (http.ResponseWriter, *http.Request, func()) {
	if r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 {
		return w, r, func() {}
	}
	body := newDeadlineBody(r.Body, w, a.bodyWait)
	r = r.WithContext(r.Context())
	r.Body = body
	if r.ProtoMajor != 1 {
		return w, r, func() {}
	}
	cw := &closingWriter{ResponseWriter: w, body: body}
	return cw, r, func() {
		if cw.closing {
			body.expire()
		}
	}
}
