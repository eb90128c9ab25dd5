package fsbackend

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dgp-proxy/dgp/internal/storage"
	"github.com/dgp-proxy/dgp/internal/testutil"
)

var testEpoch = time.Date(2024, 3, 1, 10, 0, 0, 0, time.UTC)

// mustNew returns a backend on a fresh directory with an adjustable clock.
func mustNew(tb testing.TB) (*Backend, *testutil.Clock) {
	tb.Helper()
	clk := testutil.NewClock(testEpoch)
	b, err := New("fs", tb.TempDir(), clk.Now)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = b.Close() })
	return b, clk
}

// mustBucket creates a bucket.
func mustBucket(tb testing.TB, b *Backend, bucket string) {
	tb.Helper()
	if err := b.CreateBucket(context.Background(), bucket, storage.CreateBucketOptions{}); err != nil {
		tb.Fatalf("CreateBucket(%q): %v", bucket, err)
	}
}

// mustPut stores data as key.
func mustPut(tb testing.TB, b *Backend, bucket, key, data string) *storage.PutResult {
	tb.Helper()
	res, err := b.PutObject(context.Background(), bucket, key, strings.NewReader(data), int64(len(data)), storage.PutOptions{})
	if err != nil {
		tb.Fatalf("PutObject(%q): %v", key, err)
	}
	return res
}

// mustGet reads a whole object.
func mustGet(tb testing.TB, b *Backend, bucket, key string) string {
	tb.Helper()
	obj, err := b.GetObject(context.Background(), bucket, key, storage.GetOptions{})
	if err != nil {
		tb.Fatalf("GetObject(%q): %v", key, err)
	}
	defer obj.Body.Close()
	data, err := io.ReadAll(obj.Body)
	if err != nil {
		tb.Fatalf("read %q: %v", key, err)
	}
	if int64(len(data)) != obj.ContentLength {
		tb.Fatalf("read %d bytes of %q, ContentLength %d", len(data), key, obj.ContentLength)
	}
	return string(data)
}

// wantErr fails unless err is (or wraps) want; want nil means no error.
func wantErr(tb testing.TB, err, want error) {
	tb.Helper()
	if want == nil {
		if err != nil {
			tb.Fatalf("unexpected error: %v", err)
		}
		return
	}
	if !errors.Is(err, want) {
		tb.Fatalf("error = %v, want %v", err, want)
	}
}

// failingReader yields data, then fails with err.
type failingReader struct {
	r   io.Reader
	err error
}

func (f *failingReader) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if err == io.EOF {
		return n, f.err
	}
	return n, err
}

func failAfter(data []byte, err error) io.Reader {
	return &failingReader{r: bytes.NewReader(data), err: err}
}

// untilDone runs step again and again until done is closed, or until step
// fails: its error goes to errs (the loop of a concurrent test's lister).
func untilDone(done <-chan struct{}, errs chan<- error, step func() error) {
	for {
		select {
		case <-done:
			return
		default:
		}
		if err := step(); err != nil {
			errs <- err
			return
		}
	}
}

// raceListers runs each writer once, to its end, while listers
// goroutines call list again and again, and returns every error once the
// writers are done and the listers have stopped.
func raceListers(listers int, list func() error, writers ...func() error) []error {
	errs := make(chan error, listers+len(writers))
	done := make(chan struct{})
	var ws, ls sync.WaitGroup
	for _, w := range writers {
		ws.Go(func() {
			if err := w(); err != nil {
				errs <- err
			}
		})
	}
	for range listers {
		ls.Go(func() { untilDone(done, errs, list) })
	}
	ws.Wait()
	close(done)
	ls.Wait()
	close(errs)
	var out []error
	for err := range errs {
		out = append(out, err)
	}
	return out
}

// inOrder reports the first object listed out of key order.
func inOrder(objs []storage.ObjectInfo) error {
	for i := 1; i < len(objs); i++ {
		if objs[i-1].Key >= objs[i].Key {
			return fmt.Errorf("listing out of order at %q", objs[i].Key)
		}
	}
	return nil
}
