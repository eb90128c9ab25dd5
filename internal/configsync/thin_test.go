package configsync_test

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/dgp-proxy/dgp/internal/configsync"
	"github.com/dgp-proxy/dgp/internal/s3err"
)

// TestS3BucketThinGetFallback: a conditional GET goes to the thin getter
// first; only a GET it could not answer (network failure, 5xx, throttling)
// goes again through the store, and every outcome is translated as the
// store's would be.
func TestS3BucketThinGetFallback(t *testing.T) {
	netErr := errors.New("dial tcp 127.0.0.1:1: connection refused")
	cases := []struct {
		name      string
		thinErr   error
		storeErr  error
		wantStore bool  // the store was asked
		want      error // nil: the body
	}{
		{name: "answered", wantStore: false},
		{name: "not modified", thinErr: s3err.ErrNotModified, wantStore: false, want: configsync.ErrNotModified},
		{name: "no such key", thinErr: s3err.ErrNoSuchKey, wantStore: false, want: configsync.ErrNotFound},
		{name: "access denied", thinErr: s3err.ErrAccessDenied, wantStore: false, want: s3err.ErrAccessDenied},
		{name: "network failure", thinErr: netErr, wantStore: true},
		{name: "5xx", thinErr: s3err.ErrInternalError, wantStore: true},
		{name: "throttled", thinErr: s3err.ErrSlowDown, wantStore: true},
		{name: "5xx then not modified", thinErr: s3err.ErrInternalError, storeErr: s3err.ErrNotModified, wantStore: true, want: configsync.ErrNotModified},
		{name: "5xx twice", thinErr: s3err.ErrInternalError, storeErr: s3err.ErrInternalError, wantStore: true, want: s3err.ErrInternalError},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			thin := &errStore{err: tc.thinErr, body: []byte("thin"), size: 4}
			store := &errStore{err: tc.storeErr, body: []byte("sdk!"), size: 4}
			b := configsync.NewS3BucketThinGet(store, thin, "bucket")
			body, etag, err := b.Get(context.Background(), "key", "abc")
			if thin.getOpts.Conditions.IfNoneMatch != `"abc"` {
				t.Fatalf("thin getter got If-None-Match %q", thin.getOpts.Conditions.IfNoneMatch)
			}
			asked := store.getOpts.Conditions.IfNoneMatch != ""
			if asked != tc.wantStore {
				t.Fatalf("store asked: %v, want %v", asked, tc.wantStore)
			}
			if tc.want != nil {
				if !errors.Is(err, tc.want) {
					t.Fatalf("error %v, want %v", err, tc.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := "thin"
			if tc.wantStore {
				want = "sdk!"
			}
			if string(body) != want || etag != "abc" {
				t.Fatalf("got %q %q, want %q", body, etag, want)
			}
		})
	}
	var be *configsync.BucketError
	_, _, err := configsync.NewS3BucketThinGet(&errStore{err: s3err.ErrInternalError}, &errStore{err: netErr}, "b").
		Get(context.Background(), "key", "")
	if !errors.As(err, &be) || be.Status != http.StatusInternalServerError {
		t.Fatalf("error %v, want a BucketError with the store's 500", err)
	}
}
