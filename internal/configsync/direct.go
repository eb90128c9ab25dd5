package configsync

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/dgp-proxy/dgp/internal/rawio"
)

// DirectTransport is an http.RoundTripper for the pull's conditional GET
// that sends a request and reads its answer on the calling goroutine, over
// one kept-alive plain-HTTP connection. http.Transport hands every request
// to a connection's writer goroutine and its answer back from a reader
// goroutine, and the reader is told when the body is done: three goroutine
// wake-ups per request, which on every reader and every IAM change cost
// more scheduler work (and runtime monitor wake-ups) than the GET itself.
// Its connections read and write through internal/rawio, whose system
// calls do not wake the runtime's monitor either.
//
// It speaks plain http:// only (no TLS, no proxy, no HTTP/2: see
// DirectTransportFits) and is meant for a client that sends one request at
// a time; a request made while the connection is in use gets a connection
// of its own, closed after it. A request failing on a kept-alive connection
// before any answer arrived (the server closed it while idle) is sent once
// more on a new connection when it has no body. Its methods are safe for
// concurrent use.
type DirectTransport struct {
	dialer net.Dialer

	mu   sync.Mutex
	idle *directConn // the kept-alive connection, nil when none is idle
}

// directConn is one connection and its buffers.
type directConn struct {
	addr string
	c    net.Conn
	br   *bufio.Reader
	bw   *bufio.Writer
}

// NewDirectTransport returns a DirectTransport dialing with a 10 s timeout
// and TCP keep-alives every 30 s (as the sync bucket's SDK client).
func NewDirectTransport() *DirectTransport {
	return &DirectTransport{dialer: net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}}
}

// DirectTransportFits reports whether requests to endpoint can take a
// DirectTransport: a plain http:// URL that no proxy of the environment
// (HTTP_PROXY, NO_PROXY) applies to.
func DirectTransportFits(endpoint string) bool {
	u, err := url.Parse(endpoint)
	if err != nil || u.Scheme != "http" || u.Host == "" {
		return false
	}
	p, err := http.ProxyFromEnvironment(&http.Request{URL: u})
	return err == nil && p == nil
}

// errNotPlainHTTP refuses a request DirectTransport does not speak.
var errNotPlainHTTP = errors.New("direct transport: only plain http:// requests")

// aLongTimeAgo is a deadline in the past: it aborts a blocked read or
// write at once.
var aLongTimeAgo = time.Unix(1, 0)

// RoundTrip implements http.RoundTripper.
func (t *DirectTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL == nil || req.URL.Scheme != "http" || req.URL.Host == "" {
		closeBody(req)
		return nil, errNotPlainHTTP
	}
	addr := req.URL.Host
	if req.URL.Port() == "" {
		addr = net.JoinHostPort(req.URL.Hostname(), "80")
	}
	replayable := req.Body == nil || req.Body == http.NoBody
	for {
		dc, reused, err := t.conn(req.Context(), addr)
		if err != nil {
			closeBody(req)
			return nil, err
		}
		resp, answered, err := t.send(dc, req)
		if err == nil {
			return resp, nil
		}
		dc.c.Close()
		if !reused || answered || !replayable || req.Context().Err() != nil {
			return nil, err
		}
		// The kept-alive connection was closed by the server while idle:
		// once more on a new one (it is not reused: the loop ends).
	}
}

// conn returns the idle connection to addr, or a new one.
func (t *DirectTransport) conn(ctx context.Context, addr string) (*directConn, bool, error) {
	t.mu.Lock()
	dc := t.idle
	t.idle = nil
	t.mu.Unlock()
	if dc != nil && dc.addr == addr {
		return dc, true, nil
	}
	if dc != nil {
		dc.c.Close()
	}
	c, err := t.dialer.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, false, err
	}
	c = rawio.Wrap(c)
	return &directConn{addr: addr, c: c, br: bufio.NewReaderSize(c, 16<<10), bw: bufio.NewWriterSize(c, 4<<10)}, false, nil
}

// release keeps dc as the idle connection, or closes it when one is kept.
func (t *DirectTransport) release(dc *directConn) {
	t.mu.Lock()
	if t.idle == nil {
		t.idle, dc = dc, nil
	}
	t.mu.Unlock()
	if dc != nil {
		dc.c.Close()
	}
}

// CloseIdleConnections closes the kept-alive connection, if idle
// (http.Client.CloseIdleConnections calls it).
func (t *DirectTransport) CloseIdleConnections() {
	t.mu.Lock()
	dc := t.idle
	t.idle = nil
	t.mu.Unlock()
	if dc != nil {
		dc.c.Close()
	}
}

// send writes req on dc and reads the answer's header. answered reports
// whether any of the answer arrived (then it is not sent again). The
// request's context bounds everything until the body is closed.
func (t *DirectTransport) send(dc *directConn, req *http.Request) (resp *http.Response, answered bool, err error) {
	ctx := req.Context()
	deadline, _ := ctx.Deadline()
	if err := dc.c.SetDeadline(deadline); err != nil {
		return nil, false, err
	}
	stop := context.AfterFunc(ctx, func() { _ = dc.c.SetDeadline(aLongTimeAgo) })
	fail := func(err error) (*http.Response, bool, error) {
		stop()
		if ctx.Err() != nil {
			err = fmt.Errorf("%w (%w)", ctx.Err(), err)
		}
		return nil, answered, err
	}
	if err := req.Write(dc.bw); err != nil {
		return fail(err)
	}
	if err := dc.bw.Flush(); err != nil {
		return fail(err)
	}
	if _, err := dc.br.Peek(1); err != nil {
		return fail(err)
	}
	answered = true
	resp, err = http.ReadResponse(dc.br, req)
	if err != nil {
		return fail(err)
	}
	keep := !resp.Close && !req.Close && resp.ProtoAtLeast(1, 1)
	if resp.Body == http.NoBody {
		t.done(dc, stop, keep)
		return resp, true, nil
	}
	resp.Body = &directBody{body: resp.Body, done: func(eof bool) { t.done(dc, stop, keep && eof) }}
	return resp, true, nil
}

// done ends a request on dc: the connection is kept when keep and the
// context did not cut it, closed otherwise.
func (t *DirectTransport) done(dc *directConn, stop func() bool, keep bool) {
	if !stop() || !keep || dc.br.Buffered() > 0 {
		dc.c.Close()
		return
	}
	t.release(dc)
}

// directBody ends its request once: at EOF (the connection may be kept),
// or when closed before it (the connection is closed).
type directBody struct {
	body   io.ReadCloser
	done   func(eof bool)
	ended  bool
	sawEOF bool
}

func (b *directBody) Read(p []byte) (int, error) {
	if b.ended {
		return 0, errBodyClosed
	}
	n, err := b.body.Read(p)
	if err == io.EOF {
		b.sawEOF = true
	}
	return n, err
}

func (b *directBody) Close() error {
	if b.ended {
		return nil
	}
	b.ended = true
	if !b.sawEOF {
		// Closed before its end: the connection goes (closing the body
		// first would read the rest of it).
		b.done(false)
		_ = b.body.Close()
		return nil
	}
	err := b.body.Close() // reads the trailer, if any
	b.done(err == nil)
	return err
}

var errBodyClosed = errors.New("direct transport: read on a closed body")

func closeBody(req *http.Request) {
	if req.Body != nil {
		_ = req.Body.Close()
	}
}
