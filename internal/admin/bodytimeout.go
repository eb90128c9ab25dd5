package admin

import (
	"net/http"
	"time"

	"github.com/dgp-proxy/dgp/internal/httpbody"
)

// errBodyTimeout answers a client that stopped sending its body.
func errBodyTimeout(d time.Duration) *apiError {
	return &apiError{Status: http.StatusBadRequest, Code: "request_timeout",
		Message: "no data of the request body arrived for " + d.String() + ": send the body without pausing"}
}

// deadlineBody is the request body guard of internal/httpbody: a body
// that sends nothing for the timeout fails with errBodyTimeout.
type deadlineBody = httpbody.Deadline

// bodyTimeout is the httpbody.TimeoutError of the admin API.
func bodyTimeout(d time.Duration, _ error) error { return errBodyTimeout(d) }

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
	if !c.wrote && code >= 400 && c.body.Unread() {
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
	body := new(deadlineBody)
	body.Init(r.Body, w, a.bodyWait, bodyTimeout)
	r = r.WithContext(r.Context())
	r.Body = body
	if r.ProtoMajor != 1 {
		return w, r, func() {}
	}
	cw := &closingWriter{ResponseWriter: w, body: body}
	return cw, r, func() {
		if cw.closing {
			body.Expire()
		}
	}
}
