// Package httpbody guards request bodies of dgp's HTTP servers: a body
// that stops sending data fails its Read after a timeout instead of holding
// a connection (and whatever the handler stages) forever. The S3 API and
// the admin API answer the failure in their own words.
package httpbody

import (
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"sync/atomic"
	"time"
)

// TimeoutError builds the error a Read returns once the body stalled for
// timeout; cause is the deadline error (nil on the Reads after the first).
// It must not allocate per call where the caller cares (a package-level
// func is fine).
type TimeoutError func(timeout time.Duration, cause error) error

// Deadline is a request body whose every Read must receive data within
// timeout: the connection's read deadline is moved to now+timeout before
// each Read (unless it was moved less than timeout/MoveSlack ago, so that
// Reads in quick succession do not each reset a timer), so a client
// sending steadily, however slowly, is never cut, and one that stalls gets
// the TimeoutError (sticky) after timeout at most and timeout less
// timeout/MoveSlack at least. It remembers whether the body was read to
// its end, so the answer can close a connection that still has unread body
// bytes. The zero value is not usable: Init it.
type Deadline struct {
	src     io.ReadCloser
	rc      http.ResponseController
	timeout time.Duration
	errFn   TimeoutError
	// moved is when the read deadline was last moved (by the reading
	// goroutine only).
	moved  time.Time
	eof    atomic.Bool
	failed atomic.Bool
}

// MoveSlack bounds how early a stalled body may be cut: by timeout/MoveSlack
// (1.25 s of a 20 s timeout).
const MoveSlack = 16

// Init sets up d (not yet in use), so that it can be allocated along with
// other per-request state. The first deadline is set at once, so that even
// a body no handler reads bounds the server's own wait for it. A timeout of
// 0 or less, or a writer without a connection, sets no deadline.
func (d *Deadline) Init(src io.ReadCloser, w http.ResponseWriter, timeout time.Duration, errFn TimeoutError) {
	d.src, d.rc, d.timeout, d.errFn = src, *http.NewResponseController(w), timeout, errFn
	if timeout <= 0 {
		return
	}
	d.moved = time.Now()
	if d.rc.SetReadDeadline(d.moved.Add(timeout)) != nil {
		d.timeout = 0 // a writer without a connection: no deadline to move
	}
}

// Read implements io.Reader.
func (d *Deadline) Read(p []byte) (int, error) {
	if d.failed.Load() {
		return 0, d.errFn(d.timeout, nil)
	}
	if d.eof.Load() {
		// Past the end the server reads the connection in the
		// background; a deadline set now would cut that read.
		return 0, io.EOF
	}
	if d.timeout > 0 {
		if now := time.Now(); now.Sub(d.moved) >= d.timeout/MoveSlack {
			d.moved = now
			_ = d.rc.SetReadDeadline(now.Add(d.timeout))
		}
	}
	n, err := d.src.Read(p)
	switch {
	case err == io.EOF:
		d.eof.Store(true)
	case err != nil && IsTimeout(err):
		d.failed.Store(true)
		return n, d.errFn(d.timeout, err)
	}
	return n, err
}

// Close implements io.Closer.
func (d *Deadline) Close() error { return d.src.Close() }

// DrainGrace is how long net/http may still read the rest of a body after
// an answer that said Connection: close (see Expire).
const DrainGrace = time.Second

// Expire bounds the wait for the rest of an unread body after an answer
// that said Connection: close. net/http still reads what is left of a
// small body (up to 256 KiB) after the handler returns; that read must end
// soon for a client that sends nothing, but not at once: a connection
// closed with body bytes unread is reset, and a client still sending then
// loses the answer it was sent (a refused POST form of 200 KB did, now and
// then). Bodies too large to drain are left to net/http, which closes its
// side for writing and waits before closing.
func (d *Deadline) Expire() { _ = d.rc.SetReadDeadline(time.Now().Add(DrainGrace)) }

// Unread reports whether the body was not read to its end.
func (d *Deadline) Unread() bool { return !d.eof.Load() }

// IsTimeout reports whether err is a read deadline passing.
func IsTimeout(err error) bool {
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
