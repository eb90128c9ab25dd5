//go:build integration

package s3backend

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"io"
	mrand "math/rand/v2"
	"sync"
	"testing"

	"github.com/dgp-proxy/dgp/internal/s3err"
	"github.com/dgp-proxy/dgp/internal/storage"
)

// pipeSource streams size pseudo-random bytes through an io.Pipe from a
// goroutine, so the reader is neither seekable nor sized. wait stops the
// writer (if the upload gave up early) and returns the MD5 ETag of what was
// generated.
func pipeSource(t *testing.T, seed uint64, size int64) (r io.Reader, wait func() string) {
	t.Helper()
	pr, pw := io.Pipe()
	h := md5.New()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		rng := mrand.New(mrand.NewPCG(seed, 1))
		buf := make([]byte, 256<<10)
		for left := size; left > 0; {
			n := min(int64(len(buf)), left)
			for i := int64(0); i < n; i++ {
				buf[i] = byte(rng.Uint32())
			}
			h.Write(buf[:n])
			if _, err := pw.Write(buf[:n]); err != nil {
				return
			}
			left -= n
		}
		pw.Close()
	}()
	return pr, func() string {
		pr.CloseWithError(errors.New("upload finished"))
		wg.Wait()
		return `"` + hex.EncodeToString(h.Sum(nil)) + `"`
	}
}

func TestStreamingPut50MiB(t *testing.T) {
	b := mustBackend(t)
	ctx := context.Background()
	bucket := mustBucket(t, b)
	const size = 50 << 20

	body, wait := pipeSource(t, 42, size)
	res, err := b.PutObject(ctx, bucket, "big", body, size, storage.PutOptions{ContentType: "application/octet-stream"})
	sent := wait()
	if err != nil {
		t.Fatalf("PutObject(50 MiB pipe): %v", err)
	}
	if res.ETag != sent {
		t.Fatalf("PutObject ETag = %s, want MD5 of the stream %s", res.ETag, sent)
	}

	obj, err := b.GetObject(ctx, bucket, "big", storage.GetOptions{})
	if err != nil {
		t.Fatalf("GetObject: %v", err)
	}
	defer obj.Body.Close()
	h := md5.New()
	n, err := io.Copy(h, obj.Body)
	if err != nil || n != size || obj.ContentLength != size {
		t.Fatalf("GetObject body: %d bytes (ContentLength %d), %v", n, obj.ContentLength, err)
	}
	if got := `"` + hex.EncodeToString(h.Sum(nil)) + `"`; got != sent {
		t.Fatalf("downloaded MD5 %s, want %s", got, sent)
	}
}

func TestPutBodyFailureStoresNothing(t *testing.T) {
	b := mustBackend(t)
	ctx := context.Background()
	bucket := mustBucket(t, b)
	boom := errors.New("client went away")
	sigErr := s3err.ErrSignatureDoesNotMatch.WithMessage("chunk signature mismatch")

	tests := []struct {
		name    string
		body    func() io.Reader
		size    int64
		wantErr func(t *testing.T, err error)
	}{
		{
			name: "large body fails midway",
			body: func() io.Reader { return &failingReader{data: randomBytes(2, 8<<20), err: boom} },
			size: 16 << 20,
			wantErr: func(t *testing.T, err error) {
				if !errors.Is(err, boom) {
					t.Fatalf("PutObject error = %v, want the reader's error", err)
				}
			},
		},
		{
			name: "small body fails midway",
			body: func() io.Reader { return &failingReader{data: randomBytes(3, 100<<10), err: boom} },
			size: 200 << 10,
			wantErr: func(t *testing.T, err error) {
				if !errors.Is(err, boom) {
					t.Fatalf("PutObject error = %v, want the reader's error", err)
				}
			},
		},
		{
			// Bodies up to maxBufferedUpload are read whole before
			// anything is sent.
			name: "buffered body fails midway",
			body: func() io.Reader { return &failingReader{data: randomBytes(7, 2<<10), err: boom} },
			size: 4 << 10,
			wantErr: func(t *testing.T, err error) {
				if !errors.Is(err, boom) {
					t.Fatalf("PutObject error = %v, want the reader's error", err)
				}
			},
		},
		{
			name: "buffered body s3 error passes through",
			body: func() io.Reader { return &failingReader{data: randomBytes(8, 1<<10), err: sigErr} },
			size: 4 << 10,
			wantErr: func(t *testing.T, err error) {
				wantS3Err(t, "PutObject", err, s3err.ErrSignatureDoesNotMatch)
			},
		},
		{
			name: "buffered body shorter than size",
			body: func() io.Reader { return onlyReader{&failingReader{data: randomBytes(9, 3<<10), err: io.EOF}} },
			size: 4 << 10,
			wantErr: func(t *testing.T, err error) {
				wantS3Err(t, "PutObject", err, s3err.ErrIncompleteBody)
			},
		},
		{
			name: "reader s3 error passes through",
			body: func() io.Reader { return &failingReader{data: randomBytes(4, 4<<20), err: sigErr} },
			size: 8 << 20,
			wantErr: func(t *testing.T, err error) {
				wantS3Err(t, "PutObject", err, s3err.ErrSignatureDoesNotMatch)
			},
		},
		{
			name: "body shorter than size",
			body: func() io.Reader { return onlyReader{&failingReader{data: randomBytes(5, 3<<20), err: io.EOF}} },
			size: 6 << 20,
			wantErr: func(t *testing.T, err error) {
				wantS3Err(t, "PutObject", err, s3err.ErrIncompleteBody)
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// A new key: nothing appears.
			_, err := b.PutObject(ctx, bucket, "new", tt.body(), tt.size, storage.PutOptions{})
			tt.wantErr(t, err)
			_, err = b.HeadObject(ctx, bucket, "new", storage.GetOptions{})
			wantS3Err(t, "HeadObject after failed put", err, s3err.ErrNoSuchKey)

			// An existing key: the old version stays intact.
			old := mustPut(t, b, bucket, "existing", []byte("old version"), storage.PutOptions{})
			_, err = b.PutObject(ctx, bucket, "existing", tt.body(), tt.size, storage.PutOptions{})
			tt.wantErr(t, err)
			obj, got := mustGetBytes(t, b, bucket, "existing", storage.GetOptions{})
			if string(got) != "old version" || obj.Info.ETag != old.ETag {
				t.Fatalf("existing object after failed put = %q %s", got, obj.Info.ETag)
			}
		})
	}

	// The same guarantee for a part.
	uploadID, err := b.CreateMultipartUpload(ctx, bucket, "mp", storage.PutOptions{})
	if err != nil {
		t.Fatalf("CreateMultipartUpload: %v", err)
	}
	_, err = b.UploadPart(ctx, bucket, "mp", uploadID, 1, &failingReader{data: randomBytes(6, 6<<20), err: boom}, 12<<20, storage.PartOptions{})
	if !errors.Is(err, boom) {
		t.Fatalf("UploadPart error = %v, want the reader's error", err)
	}
	parts, err := b.ListParts(ctx, bucket, "mp", uploadID, storage.ListPartsOptions{})
	if err != nil {
		t.Fatalf("ListParts: %v", err)
	}
	if len(parts.Parts) != 0 {
		t.Fatalf("failed part was stored: %+v", parts.Parts)
	}
}
