package s3api

import (
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"sync/atomic"
	"time"

	"github.com/dgp-proxy/dgp/internal/s3err"
)

// DefaultBodyReadTimeout is how long a request body may go without
// sending a byte before the request is answered 400 RequestTimeout.
const DefaultBodyReadTimeout = 20 * time.Second

// errRequestTimeout is S3's answer to a client that stopped sending its
// body.
var errRequestTimeout = s3err.ErrRequestTimeout

// deadlineBody is a request body whose every Read must receive data within
// timeout: the connection's read deadline is moved to now+timeout before
// each Read, so a client sending steadily, however slowly, is never cut,
// and one that stalls gets errRequestTimeout (sticky). It remembers
// whether the body was read to its end, so the answer can close a
// connection that still has unread body bytes.
type deadlineBody struct {
	src     io.ReadCloser
	rc      http.ResponseController
	timeout time.Duration
	eof     atomic.Bool
	failed  atomic.Bool
}

// init sets up d (not yet in use), a deadlineBody allocated along with
// other per-request state. The first deadline is set at once, so that even
// a body no handler reads bounds the server's own wait for it.
func (d *deadlineBody) init(src io.ReadCloser, w http.ResponseWriter, timeout time.Duration) {
	d.src, d.rc, d.timeout = src, *http.NewResponseController(w), timeout
	if timeout > 0 && d.rc.SetReadDeadline(time.Now().Add(timeout)) != nil {
		d.timeout = 0 // a writer without a connection: no deadline to move
	}
}

// Read implements io.Reader.
func (d *deadlineBody) Read(p []byte) (int, error) {
	if d.failed.Load() {
		return 0, errRequestTimeout
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
		return n, errRequestTimeout.WithCause(err)
	}
	return n, err
}

// Close implements io.Closer.
func (d *deadlineBody) Close() error { return d.src.Close() }

// expire ends the wait for the rest of an unread body after an answer
// that said Connection: close: net/http still reads what is left of a
// small body after the handler returns, which would hold the connection
// for as long as the client sends nothing.
func (d *deadlineBody) expire() {
	_ = d.rc.SetReadDeadline(time.Now())
}

// unread reports whether the body was not read to its end.
func (d *deadlineBody) unread() bool { return !d.eof.Load() }

// isTimeout reports whether err is a read deadline passing.
func isTimeout(err error) bool {
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// hasBody reports whether r carries a request body.
func hasBody(r *http.Request) bool {
	return r.Body != nil && r.Body != http.NoBody && r.ContentLength != 0
}
