package s3api

import (
	"errors"
	"io"
	"net/http"
	"sync"

	"github.com/dgp-proxy/dgp/internal/s3err"
)

// copyBufSize is the size of the pooled buffers that bodies stream through.
const copyBufSize = 256 << 10

// bufPool hands out copyBufSize buffers; one per Server.
type bufPool struct{ p sync.Pool }

func newBufPool() *bufPool {
	bp := &bufPool{}
	bp.p.New = func() any {
		b := make([]byte, copyBufSize)
		return &b
	}
	return bp
}

func (p *bufPool) get() *[]byte  { return p.p.Get().(*[]byte) }
func (p *bufPool) put(b *[]byte) { p.p.Put(b) }

// copyBuffer copies src to dst through a pooled buffer, without letting
// either side substitute its own (smaller) buffer.
func (p *bufPool) copy(dst io.Writer, src io.Reader) (int64, error) {
	bp := p.get()
	defer p.put(bp)
	buf := *bp
	var total int64
	for {
		n, rerr := src.Read(buf)
		if n > 0 {
			m, werr := dst.Write(buf[:n])
			total += int64(m)
			if werr != nil {
				return total, werr
			}
			if m != n {
				return total, io.ErrShortWrite
			}
		}
		if rerr == io.EOF {
			return total, nil
		}
		if rerr != nil {
			return total, rerr
		}
	}
}

// respWriter records the status and the number of body bytes written.
type respWriter struct {
	http.ResponseWriter
	status  int
	written int64
	// body is the HTTP/1 request body, if any: an error answered before
	// it was read to its end says Connection: close (closing is set), so
	// the connection is not reused with unread body bytes and the server
	// does not wait for them.
	body    *deadlineBody
	closing bool
}

// closeIfUnread adds Connection: close to an error answer when the body
// was not read whole.
func (w *respWriter) closeIfUnread(code int) {
	if w.status == 0 && code >= 400 && w.body != nil && w.body.Unread() {
		w.ResponseWriter.Header().Set("Connection", "close")
		w.closing = true
	}
}

// WriteHeader implements http.ResponseWriter.
func (w *respWriter) WriteHeader(code int) {
	w.closeIfUnread(code)
	if w.status == 0 && code >= 200 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

// Write implements http.ResponseWriter.
func (w *respWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(p)
	w.written += int64(n)
	return n, err
}

// Flush sends buffered data to the client.
func (w *respWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *respWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// bodyReader yields exactly size bytes of a verified request body, then
// reads the source to its end (where SigV4 verifies the payload hash and the
// trailing checksums). A body shorter or longer than declared, or one that
// fails verification, makes Read return an *s3err.Error, so a backend given
// this reader stores nothing. The first error sticks.
type bodyReader struct {
	src    io.Reader
	remain int64
	count  *int64
	err    error
	pool   *bufPool
	one    [1]byte
}

func newBodyReader(src io.Reader, size int64, count *int64, pool *bufPool) *bodyReader {
	return &bodyReader{src: src, remain: size, count: count, pool: pool}
}

// Read implements io.Reader.
func (b *bodyReader) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	if len(p) == 0 {
		return 0, nil
	}
	if b.remain <= 0 {
		// All declared bytes were read: the source must end here.
		var n int
		var err error
		for i := 0; i < 100 && n == 0 && err == nil; i++ {
			n, err = b.src.Read(b.one[:])
		}
		switch {
		case n > 0:
			b.err = s3err.ErrIncompleteBody.WithMessage("The request body is longer than the declared length.")
		case err == io.EOF:
			return 0, io.EOF
		case err == nil:
			b.err = s3err.ErrIncompleteBody.WithCause(io.ErrNoProgress)
		default:
			b.err = bodyError(err)
		}
		return 0, b.err
	}
	if int64(len(p)) > b.remain {
		p = p[:b.remain]
	}
	n, err := b.src.Read(p)
	b.remain -= int64(n)
	*b.count += int64(n)
	switch {
	case err == io.EOF && b.remain > 0:
		b.err = s3err.ErrIncompleteBody
		return n, b.err
	case err == io.EOF:
		return n, io.EOF
	case err != nil:
		b.err = bodyError(err)
		return n, b.err
	}
	return n, nil
}

// WriteTo copies the body to w through a pooled buffer.
func (b *bodyReader) WriteTo(w io.Writer) (int64, error) {
	return b.pool.copy(w, readOnly{b})
}

// readOnly hides every method but Read.
type readOnly struct{ r io.Reader }

func (r readOnly) Read(p []byte) (int, error) { return r.r.Read(p) }

// failure is the error Read returned, if any: it explains a backend failure
// better than the backend's own wrapping of it.
func (b *bodyReader) failure() error { return b.err }

// bodyError turns a read error from the client's body into an S3 error.
func bodyError(err error) error {
	var e *s3err.Error
	if errors.As(err, &e) {
		return e
	}
	return s3err.ErrIncompleteBody.WithCause(err)
}

// readSmallBody reads a whole small (XML) request body, at most limit bytes.
func readSmallBody(rq *request, limit int64) ([]byte, error) {
	src := rq.res.Body
	if src == nil {
		return nil, nil
	}
	var buf []byte
	if n := rq.res.ContentLength; n > limit {
		return nil, s3err.ErrMaxMessageLengthExceeded
	} else if n > 0 {
		buf = make([]byte, 0, n)
	}
	lr := &io.LimitedReader{R: src, N: limit + 1}
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := lr.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		rq.bytesIn += int64(n)
		if int64(len(buf)) > limit {
			return nil, s3err.ErrMaxMessageLengthExceeded
		}
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return nil, bodyError(err)
		}
	}
}
