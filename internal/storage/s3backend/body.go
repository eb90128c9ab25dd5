package s3backend

import (
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"

	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/dgp-proxy/dgp/internal/s3err"
)

// errBodyFinished is returned to a transport that reads a request body after
// the operation that owned it has returned.
var errBodyFinished = errors.New("s3backend: request body read after the request finished")

// uploadBody is the request body of a streamed upload. It yields exactly
// size bytes of r, turns an early EOF into io.ErrUnexpectedEOF so the
// transport aborts the request (the upstream then stores nothing), and
// remembers the first read error so the operation can report it instead of
// the transport's symptom. It deliberately does not implement io.Seeker, so
// the SDK streams it as is; its Close does nothing.
type uploadBody struct {
	r         io.Reader
	remaining int64 // touched only by the (single) reading goroutine

	finished atomic.Bool
	mu       sync.Mutex
	err      error
}

func newUploadBody(r io.Reader, size int64) *uploadBody {
	return &uploadBody{r: r, remaining: size}
}

// Read implements io.Reader.
func (b *uploadBody) Read(p []byte) (int, error) {
	if b.finished.Load() {
		return 0, errBodyFinished
	}
	if b.remaining <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > b.remaining {
		p = p[:b.remaining]
	}
	n, err := b.r.Read(p)
	b.remaining -= int64(n)
	switch {
	case err == nil:
	case errors.Is(err, io.EOF) && b.remaining == 0:
		err = io.EOF
	case errors.Is(err, io.EOF):
		err = io.ErrUnexpectedEOF
		b.record(err)
	default:
		b.record(err)
	}
	return n, err
}

// Close implements io.Closer: it does nothing (the operation calls
// finish), so the transport may close the request body as it likes.
func (b *uploadBody) Close() error { return nil }

func (b *uploadBody) record(err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.err == nil {
		b.err = err
	}
}

// finish marks the operation over: the caller's reader is not read again
// (a transport still holding the body gets an error). It returns the first
// read error, if any.
func (b *uploadBody) finish() error {
	b.finished.Store(true)
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.err
}

// bodyError is the error an upload reports when its body failed: an
// *s3err.Error from the reader (e.g. a SigV4 chunk signature mismatch) as it
// is, a short body as IncompleteBody, anything else wrapped.
func bodyError(op string, err error) error {
	var se *s3err.Error
	if errors.As(err, &se) {
		return err
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return s3err.ErrIncompleteBody.WithCause(err)
	}
	return fmt.Errorf("s3backend: %s: read body: %w", op, err)
}

// noRetry stops the SDK retrying an operation whose body cannot be rewound.
func noRetry(o *s3.Options) { o.RetryMaxAttempts = 1 }
