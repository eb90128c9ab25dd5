package lifecycle

import (
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/dgp-proxy/dgp/internal/s3err"
	"github.com/dgp-proxy/dgp/internal/storage"
)

// Reasons an action is skipped (Event.Err with Outcome Skipped).
var (
	// ErrGone: the object was no longer there (deleted since listed,
	// perhaps by a concurrent run): the action is done.
	ErrGone = errors.New("lifecycle: object gone since listed")
	// ErrChanged: the object was rewritten since listed; this run leaves
	// it (the next run judges the new object).
	ErrChanged = errors.New("lifecycle: object changed since listed")
	// ErrAlreadyThere: the destination already held the same bytes.
	ErrAlreadyThere = errors.New("lifecycle: already at destination")
	// ErrVerify: a copy did not read back as the source's bytes; the
	// source is kept.
	ErrVerify = errors.New("lifecycle: copy not verified")
)

// stopError is an error that ends the run (fence refused, ctx done).
type stopError struct{ err error }

func (e *stopError) Error() string { return e.err.Error() }
func (e *stopError) Unwrap() error { return e.err }

// runner executes a scan's actions as they are decided.
type runner struct {
	ctx     context.Context
	resolve Resolver
	fence   Fence
	obs     Observer

	// mu guards the fields below and serialises the Observer's calls;
	// res.Stats is the scanner's alone.
	mu          sync.Mutex
	res         *Result
	consecutive int
	stopErr     error // the first error that stopped a worker
}

// stop records why the run stopped (the first reason wins).
func (r *runner) stop(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stopErr == nil {
		r.stopErr = err
	}
}

func (r *runner) stopped() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.stopErr
}

// check is the fence check before a write or delete.
func (r *runner) check() error {
	if err := r.fence.Check(); err != nil {
		return &stopError{fmt.Errorf("lifecycle rule %s: stopped before a write: %w", r.res.Rule, err)}
	}
	if err := r.ctx.Err(); err != nil {
		return &stopError{err}
	}
	return nil
}

func (r *runner) event(a Action, o Outcome, bytes int64, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch o {
	case Deleted:
		r.res.Deleted++
		r.res.BytesDeleted += bytes
	case Copied:
		r.res.Copied++
		r.res.BytesCopied += bytes
	case Skipped:
		r.res.Skipped++
	case Failed:
		r.res.Failed++
		if len(r.res.Failures) < MaxActions {
			r.res.Failures = append(r.res.Failures, Failure{Action: a, Err: err.Error()})
		} else {
			r.res.Truncated = true
		}
	}
	if r.obs != nil {
		r.obs.Observe(Event{Action: a, Outcome: o, Bytes: bytes, Err: err})
	}
}

// do is the scan's visitFn in Apply. It returns only what stops the run.
func (r *runner) do(a Action, decideErr error) error {
	err := decideErr
	if err == nil {
		switch a.Op {
		case OpDelete:
			err = r.deleteListed(a, a.Bucket, a.Key)
		case OpTransition:
			err = r.transition(a)
		default:
			err = fmt.Errorf("unknown op %q", a.Op)
		}
	}
	if err != nil && r.ctx.Err() != nil {
		return r.ctx.Err() // cancelled: the run stops, the object did not fail
	}
	if errors.Is(err, errSkipDone) {
		err = nil
	}
	var stop *stopError
	switch {
	case errors.Is(err, errNotDone):
		r.mu.Lock()
		r.consecutive = 0
		r.mu.Unlock()
		return nil
	case errors.As(err, &stop):
		return stop.err
	case err != nil:
		r.event(a, Failed, 0, err)
		r.mu.Lock()
		defer r.mu.Unlock()
		r.consecutive++
		if r.consecutive >= maxConsecutiveFailures {
			return fmt.Errorf("%w (%d in a row), last: %s %s/%s: %w", ErrTooManyFailures, r.consecutive, a.Op, a.Bucket, a.Key, err)
		}
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.consecutive = 0
	if len(r.res.Done) < MaxActions {
		r.res.Done = append(r.res.Done, a)
	} else {
		r.res.Truncated = true
	}
	return nil
}

// deleteListed deletes bucket/key if it still has the listed ETag. A
// change or absence is a skip (reported), not an error; a nil return
// means the object is gone. (The HEAD and the DELETE are two requests:
// an object rewritten between them is deleted; a versioned bucket keeps
// it as a noncurrent version.)
func (r *runner) deleteListed(a Action, bucket, key string) error {
	st, b := r.resolve(bucket)
	info, err := st.HeadObject(r.ctx, b, key, storage.GetOptions{})
	switch {
	case errors.Is(err, s3err.ErrNoSuchKey):
		r.event(a, Skipped, 0, ErrGone)
		return nil
	case err != nil:
		return fmt.Errorf("head %s/%s: %w", bucket, key, err)
	case !sameETag(info.ETag, a.ETag):
		r.event(a, Skipped, 0, ErrChanged)
		return errNotDone
	}
	if err := r.check(); err != nil {
		return err
	}
	if _, err := st.DeleteObject(r.ctx, b, key, storage.DeleteOptions{}); err != nil {
		return fmt.Errorf("delete %s/%s: %w", bucket, key, err)
	}
	r.event(a, Deleted, info.Size, nil)
	return nil
}

// errNotDone ends an action skipped because its object changed (or went
// away before an archive copy): reported already, neither a failure nor
// done.
var errNotDone = errors.New("not done")

// transition copies (unless already there), verifies, then deletes the
// source when asked.
func (r *runner) transition(a Action) error {
	if a.AlreadyAtDestination {
		r.event(a, Skipped, 0, ErrAlreadyThere)
	} else if err := r.copyVerified(a); err != nil {
		return err
	}
	if !a.DeleteSource {
		return nil
	}
	return r.deleteListed(a, a.Bucket, a.Key)
}

// copyVerified streams the listed version of the source to the
// destination with its content type, user metadata and stored headers,
// then checks the destination holds the same bytes.
func (r *runner) copyVerified(a Action) error {
	src, sb := r.resolve(a.Bucket)
	dst, db := r.resolve(a.DestinationBucket)
	obj, err := src.GetObject(r.ctx, sb, a.Key, storage.GetOptions{Conditions: storage.Conditions{IfMatch: a.ETag}})
	switch {
	case errors.Is(err, s3err.ErrNoSuchKey):
		// Gone: moved by a concurrent run (verified there before its
		// delete) or deleted by someone; either way nothing to copy.
		r.event(a, Skipped, 0, ErrGone)
		return errGoneDone(a)
	case errors.Is(err, s3err.ErrPreconditionFailed):
		r.event(a, Skipped, 0, ErrChanged)
		return errNotDone
	case err != nil:
		return fmt.Errorf("get %s/%s: %w", a.Bucket, a.Key, err)
	}
	defer obj.Body.Close()
	if err := r.check(); err != nil {
		return err
	}
	h := md5.New()
	body := &fencedReader{r: io.TeeReader(obj.Body, h), check: r.check}
	opts := storage.PutOptions{ContentType: obj.Info.ContentType, UserMetadata: obj.Info.UserMetadata, Headers: obj.Info.Headers}
	srcSum, plain := plainMD5(a.ETag)
	if plain {
		opts.ContentMD5 = base64.StdEncoding.EncodeToString(srcSum)
	}
	_, err = dst.PutObject(r.ctx, db, a.DestinationKey, body, obj.ContentLength, opts)
	if body.stop != nil {
		return body.stop
	}
	if err != nil {
		return fmt.Errorf("put %s/%s: %w", a.DestinationBucket, a.DestinationKey, err)
	}
	sum := h.Sum(nil)
	if plain && string(sum) != string(srcSum) {
		return fmt.Errorf("%w: source %s/%s read as md5 %x, its ETag is %s", ErrVerify, a.Bucket, a.Key, sum, a.ETag)
	}
	if err := verifyCopy(r.ctx, dst, db, a, sum); err != nil {
		return err
	}
	r.event(a, Copied, a.Size, nil)
	return nil
}

// errGoneDone: the source went away before the copy. With DeleteSource
// that is the end state of a move done by another run (done); without,
// the archive copy cannot be made (not done, nothing to fail either).
func errGoneDone(a Action) error {
	if a.DeleteSource {
		return errSkipDone
	}
	return errNotDone
}

// errSkipDone ends an action found complete (done by another run).
var errSkipDone = errors.New("done elsewhere")

// verifyCopy checks the destination: same size, and its MD5 (its plain
// ETag, or else its bytes read back) equal to the bytes copied.
func verifyCopy(ctx context.Context, dst Store, db string, a Action, sum []byte) error {
	info, err := dst.HeadObject(ctx, db, a.DestinationKey, storage.GetOptions{})
	if err != nil {
		return fmt.Errorf("%w: head %s/%s: %w", ErrVerify, a.DestinationBucket, a.DestinationKey, err)
	}
	if info.Size != a.Size {
		return fmt.Errorf("%w: %s/%s has %d bytes, source %d", ErrVerify, a.DestinationBucket, a.DestinationKey, info.Size, a.Size)
	}
	got, ok := plainMD5(info.ETag)
	if !ok {
		if got, err = readMD5(ctx, dst, db, a.DestinationKey, info.ETag); err != nil {
			return fmt.Errorf("%w: read back %s/%s: %w", ErrVerify, a.DestinationBucket, a.DestinationKey, err)
		}
	}
	if string(got) != string(sum) {
		return fmt.Errorf("%w: %s/%s has md5 %x, copied %x", ErrVerify, a.DestinationBucket, a.DestinationKey, got, sum)
	}
	return nil
}

// readMD5 streams an object (the version with etag) through MD5.
func readMD5(ctx context.Context, st Store, bucket, key, etag string) ([]byte, error) {
	obj, err := st.GetObject(ctx, bucket, key, storage.GetOptions{Conditions: storage.Conditions{IfMatch: etag}})
	if err != nil {
		return nil, err
	}
	defer obj.Body.Close()
	h := md5.New()
	if _, err := io.Copy(h, obj.Body); err != nil {
		return nil, err
	}
	return h.Sum(nil), nil
}

// fencedReader checks the fence before every read, so a copy whose lease
// is lost mid-body fails and stores nothing.
type fencedReader struct {
	r     io.Reader
	check func() error
	stop  error
}

func (f *fencedReader) Read(p []byte) (int, error) {
	if err := f.check(); err != nil {
		f.stop = err
		return 0, err
	}
	return f.r.Read(p)
}

// plainMD5 returns the MD5 an ETag is, when it is one (not a multipart
// "<md5>-<n>" ETag).
func plainMD5(etag string) ([]byte, bool) {
	s := strings.Trim(strings.TrimPrefix(etag, "W/"), `"`)
	if len(s) != 32 {
		return nil, false
	}
	b, err := hex.DecodeString(s)
	return b, err == nil
}

// sameETag compares ETags quoted or not, case-insensitively.
func sameETag(a, b string) bool {
	return strings.EqualFold(strings.Trim(a, `"`), strings.Trim(b, `"`))
}
