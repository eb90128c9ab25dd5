package sigv4

import (
	"crypto/subtle"
	"errors"
	"hash"
	"io"

	"github.com/dgp-proxy/dgp/internal/s3err"
)

// maxEmptyReads bounds how often a source may answer (0, nil) in a row.
const maxEmptyReads = 100

// digestCheck is one digest of the decoded payload compared at the end.
type digestCheck struct {
	h    hash.Hash
	want []byte
	fail *s3err.Error
}

// bodyReader hands out the decoded payload and checks it as it goes: the
// byte count against the declared length and every digestCheck. It never
// reports io.EOF before all checks passed; when the length is known it
// holds back the final bytes until the source has been confirmed to end
// and the checks passed, so a consumer that stops after the declared
// number of bytes never sees an unverified body as complete.
type bodyReader struct {
	src      io.Reader
	closer   io.Closer
	declared int64 // -1 when unknown
	n        int64
	checks   []digestCheck
	checkBuf [2]digestCheck // checks' usual backing array
	err      error
	eof      bool
	probe    [1]byte
	// sum[:32] receives the digests verify computes; sum[32:] holds the
	// signed payload hash of a payload check.
	sum [64]byte
	// pool, when set, takes back checks[0]'s digest once verified.
	pool *hashes
}

var _ io.ReadCloser = (*bodyReader)(nil)

// Read implements io.Reader.
func (b *bodyReader) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	if b.eof {
		return 0, io.EOF
	}
	if len(p) == 0 {
		return 0, nil
	}
	if b.declared >= 0 {
		rem := b.declared - b.n
		if rem == 0 {
			return 0, b.finish()
		}
		if int64(len(p)) > rem {
			p = p[:rem]
		}
	}
	n, err := b.src.Read(p)
	if n > 0 {
		b.n += int64(n)
		for i := range b.checks {
			b.checks[i].h.Write(p[:n])
		}
	}
	switch {
	case err == io.EOF:
		if b.declared >= 0 && b.n < b.declared {
			return 0, b.fail(s3err.ErrIncompleteBody)
		}
		if e := b.verify(); e != nil {
			return 0, b.fail(e)
		}
		b.eof = true
		if n == 0 {
			return 0, io.EOF
		}
		return n, nil
	case err != nil:
		return 0, b.fail(readError(err))
	}
	if b.declared >= 0 && b.n == b.declared {
		if e := b.finish(); e != io.EOF {
			return 0, e
		}
	}
	return n, nil
}

// finish confirms the source is exhausted, runs the checks and returns
// io.EOF, or the sticky error that ends the body.
func (b *bodyReader) finish() error {
	for i := 0; ; i++ {
		if i == maxEmptyReads {
			return b.fail(readError(io.ErrNoProgress))
		}
		m, err := b.src.Read(b.probe[:])
		if m > 0 {
			return b.fail(s3err.ErrInvalidRequest.WithMessage("The request body is longer than the declared length of %d bytes.", b.declared))
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return b.fail(readError(err))
		}
	}
	if e := b.verify(); e != nil {
		return b.fail(e)
	}
	b.eof = true
	return io.EOF
}

// verify compares every digest with its expected value. It is called
// once: the body has ended (eof or err is set after it), so its digests
// are not used again, and a pooled one goes back to its pool.
func (b *bodyReader) verify() *s3err.Error {
	var failed *s3err.Error
	for _, c := range b.checks {
		got := c.h.Sum(b.sum[:0])
		if subtle.ConstantTimeCompare(got, c.want) != 1 {
			failed = c.fail
			break
		}
	}
	if b.pool != nil {
		b.pool.putPayloadSHA256(b.checks[0].h)
		b.checks[0].h = nil
		b.pool = nil
	}
	return failed
}

func (b *bodyReader) fail(err error) error {
	b.err = err
	return err
}

// Close closes the request body.
func (b *bodyReader) Close() error {
	if b.closer == nil {
		return nil
	}
	return b.closer.Close()
}

// readError turns an error from the request body into an S3 error: S3
// errors pass through, anything else means the body ended early (the cause
// is kept for logs and errors.As).
func readError(err error) error {
	var se *s3err.Error
	if errors.As(err, &se) {
		return err
	}
	return s3err.ErrIncompleteBody.WithCause(err)
}
