package configsync_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"

	"github.com/dgp-proxy/dgp/internal/configsync"
	"github.com/dgp-proxy/dgp/internal/s3err"
	"github.com/dgp-proxy/dgp/internal/storage"
)

// errStore answers every call with err, or with body when err is nil, and
// records the conditions it was given. It only checks the adapter's
// translation; the integration tests run the adapter against MinIO.
type errStore struct {
	err     error
	body    []byte
	size    int64
	getOpts storage.GetOptions
	putOpts storage.PutOptions
}

func (s *errStore) GetObject(_ context.Context, _, _ string, o storage.GetOptions) (*storage.Object, error) {
	s.getOpts = o
	if s.err != nil {
		return nil, s.err
	}
	return &storage.Object{Info: storage.ObjectInfo{ETag: `"abc"`}, Body: io.NopCloser(bytes.NewReader(s.body)), ContentLength: s.size}, nil
}

func (s *errStore) HeadObject(context.Context, string, string, storage.GetOptions) (*storage.ObjectInfo, error) {
	if s.err != nil {
		return nil, s.err
	}
	return &storage.ObjectInfo{ETag: `"abc"`}, nil
}

func (s *errStore) PutObject(_ context.Context, _, _ string, body io.Reader, _ int64, o storage.PutOptions) (*storage.PutResult, error) {
	s.putOpts = o
	_, _ = io.Copy(io.Discard, body)
	if s.err != nil {
		return nil, s.err
	}
	return &storage.PutResult{ETag: `"def"`}, nil
}

func (s *errStore) DeleteObject(context.Context, string, string, storage.DeleteOptions) (*storage.DeleteResult, error) {
	return nil, s.err
}

func TestS3BucketTranslation(t *testing.T) {
	cases := []struct {
		name       string
		err        error
		want       error
		wantStatus int
	}{
		{"not modified", s3err.ErrNotModified, configsync.ErrNotModified, 0},
		{"no such key", s3err.ErrNoSuchKey.WithResource("k"), configsync.ErrNotFound, 0},
		{"precondition", s3err.ErrPreconditionFailed, configsync.ErrPreconditionFailed, 0},
		{"no such bucket", s3err.ErrNoSuchBucket, nil, 404},
		{"access denied", s3err.ErrAccessDenied, nil, 403},
		{"unreachable", s3err.ErrServiceUnavailable.WithCause(errors.New("dial")), nil, 503},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := configsync.NewS3Bucket(&errStore{err: tc.err}, "bkt")
			_, _, err := b.Get(context.Background(), "k", "")
			if tc.want != nil {
				wantErrIs(t, err, tc.want)
				return
			}
			var be *configsync.BucketError
			if !errors.As(err, &be) || be.Status != tc.wantStatus || be.Op != "get" {
				t.Fatalf("error = %v, want a BucketError with status %d", err, tc.wantStatus)
			}
			if errors.Is(err, configsync.ErrNotFound) {
				t.Fatal("a missing bucket must not read as a missing object")
			}
		})
	}
}

func TestS3BucketConditionsAndETags(t *testing.T) {
	st := &errStore{body: []byte("db"), size: 2}
	b := configsync.NewS3Bucket(st, "bkt")
	body, etag, err := b.Get(context.Background(), "k", "abc")
	if err != nil || string(body) != "db" || etag != "abc" {
		t.Fatalf("get = %q %q %v", body, etag, err)
	}
	if st.getOpts.Conditions.IfNoneMatch != `"abc"` {
		t.Fatalf("If-None-Match sent as %q", st.getOpts.Conditions.IfNoneMatch)
	}
	etag, err = b.Put(context.Background(), "k", []byte("x"), "abc", "")
	if err != nil || etag != "def" || st.putOpts.IfMatch != `"abc"` || st.putOpts.IfNoneMatch != "" {
		t.Fatalf("put = %q %v, opts %+v", etag, err, st.putOpts)
	}
	if _, err = b.Put(context.Background(), "k", []byte("x"), "", "*"); err != nil || st.putOpts.IfNoneMatch != "*" || st.putOpts.IfMatch != "" {
		t.Fatalf("create-only put: %v, opts %+v", err, st.putOpts)
	}
	if etag, err := b.Head(context.Background(), "k"); err != nil || etag != "abc" {
		t.Fatalf("head = %q %v", etag, err)
	}
}

func TestS3BucketBoundsTheBody(t *testing.T) {
	b := configsync.NewS3Bucket(&errStore{body: []byte("x"), size: configsync.MaxObjectSize + 1}, "bkt")
	_, _, err := b.Get(context.Background(), "k", "")
	var be *configsync.BucketError
	if !errors.As(err, &be) || be.Code != "EntityTooLarge" {
		t.Fatalf("oversized object: %v", err)
	}
}

// GetInto reads into the buffer given when it has room for the body and
// the read that finds its end, and into a new one otherwise; the body is
// the object's either way.
func TestS3BucketGetIntoReusesTheBuffer(t *testing.T) {
	body := bytes.Repeat([]byte("db"), 500)
	store := &errStore{body: body, size: int64(len(body))}
	b := configsync.NewS3Bucket(store, "bucket").(configsync.BucketGetInto)
	for _, c := range []struct {
		name   string
		buf    []byte
		shared bool
	}{
		{"nil", nil, false},
		{"too small", make([]byte, 10, len(body)), false},
		{"large enough", make([]byte, 3, 2*len(body)), true},
	} {
		got, etag, err := b.GetInto(context.Background(), "k", "", c.buf)
		if err != nil || etag != "abc" || !bytes.Equal(got, body) {
			t.Fatalf("%s: %d bytes, etag %q, %v", c.name, len(got), etag, err)
		}
		if shared := cap(c.buf) > 0 && &c.buf[:1][0] == &got[:1][0]; shared != c.shared {
			t.Errorf("%s: body in the buffer given %v, want %v", c.name, shared, c.shared)
		}
	}
	store.size = -1 // length unknown: read whole all the same
	if got, _, err := b.GetInto(context.Background(), "k", "", make([]byte, 0, 7)); err != nil || !bytes.Equal(got, body) {
		t.Fatalf("unknown length: %d bytes, %v", len(got), err)
	}
}
