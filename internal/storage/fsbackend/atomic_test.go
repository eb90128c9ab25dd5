package fsbackend

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"testing"

	"github.com/dgp-proxy/dgp/internal/s3err"
	"github.com/dgp-proxy/dgp/internal/storage"
)

var errBodyBroken = errors.New("body broken")

func TestFailedPutLeavesOldObject(t *testing.T) {
	b, parent := newInParent(t)
	ctx := context.Background()
	mustBucket(t, b, "bkt")
	old := bytes.Repeat([]byte("old!"), 1<<18) // 1 MiB
	if _, err := b.PutObject(ctx, "bkt", "k", bytes.NewReader(old), int64(len(old)), storage.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	oldInfo, err := b.HeadObject(ctx, "bkt", "k", storage.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	before := treeOf(t, parent)

	newData := bytes.Repeat([]byte("new!"), 1<<19) // 2 MiB, fails after all of it
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	tests := []struct {
		name string
		ctx  context.Context
		key  string
		body io.Reader
		size int64
		want error
	}{
		{"reader error, known size", ctx, "k", failAfter(newData, errBodyBroken), int64(len(newData)) + 10, errBodyBroken},
		{"reader error, unknown size", ctx, "k", failAfter(newData, errBodyBroken), -1, errBodyBroken},
		{"reader error mid-way", ctx, "k", failAfter(newData[:12345], errBodyBroken), int64(len(newData)), errBodyBroken},
		{"short body", ctx, "k", bytes.NewReader(newData[:100]), int64(len(newData)), s3err.ErrIncompleteBody},
		{"cancelled", cancelled, "k", bytes.NewReader(newData), int64(len(newData)), context.Canceled},
		{"new key in new directories", ctx, "new/deep/key", failAfter(newData, errBodyBroken), -1, errBodyBroken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := b.PutObject(tt.ctx, "bkt", tt.key, tt.body, tt.size, storage.PutOptions{ContentType: "new/type"})
			wantErr(t, err, tt.want)
			if got := mustGet(t, b, "bkt", "k"); got != string(old) {
				t.Fatalf("old object changed: %d bytes", len(got))
			}
			info, err := b.HeadObject(ctx, "bkt", "k", storage.GetOptions{})
			if err != nil || info.ETag != oldInfo.ETag || info.ContentType != oldInfo.ContentType {
				t.Fatalf("old metadata changed: %+v, %v", info, err)
			}
			if after := treeOf(t, parent); !slices.Equal(before, after) {
				t.Fatalf("failed put left files:\nbefore %q\nafter  %q", before, after)
			}
		})
	}
}

// TestConcurrentPutsOneKey races writers of distinct bodies against
// readers: every read, and the final object, is exactly one writer's body.
func TestConcurrentPutsOneKey(t *testing.T) {
	b, _ := mustNew(t)
	ctx := context.Background()
	mustBucket(t, b, "bkt")
	const writers, rounds, size = 6, 5, 256 << 10
	bodies := make(map[string]int) // md5 hex -> writer
	data := make([][]byte, writers)
	for i := range data {
		data[i] = bytes.Repeat([]byte{byte('A' + i)}, size)
		data[i][size/2] = byte('a' + i) // not a uniform byte, to catch interleaving
		sum := md5.Sum(data[i])
		bodies[hex.EncodeToString(sum[:])] = i
	}
	mustPut(t, b, "bkt", "k", string(data[0]))

	var wg sync.WaitGroup
	done := make(chan struct{})
	errs := make(chan error, writers+2)
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range rounds {
				if _, err := b.PutObject(ctx, "bkt", "k", bytes.NewReader(data[i]), size, storage.PutOptions{}); err != nil {
					errs <- fmt.Errorf("writer %d: %w", i, err)
					return
				}
			}
		}()
	}
	var readers sync.WaitGroup
	for range 2 {
		readers.Add(1)
		go func() {
			defer readers.Done()
			for {
				select {
				case <-done:
					return
				default:
				}
				if err := readWhole(ctx, b, bodies); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(done)
	readers.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if err := readWhole(ctx, b, bodies); err != nil {
		t.Fatal(err)
	}
	assertStagingEmpty(t, b)
}

// readWhole reads k and checks it is one known body with its own ETag.
func readWhole(ctx context.Context, b *Backend, bodies map[string]int) error {
	obj, err := b.GetObject(ctx, "bkt", "k", storage.GetOptions{})
	if err != nil {
		return fmt.Errorf("get: %w", err)
	}
	defer obj.Body.Close()
	h := md5.New()
	n, err := io.Copy(h, obj.Body)
	if err != nil {
		return fmt.Errorf("read: %w", err)
	}
	sum := hex.EncodeToString(h.Sum(nil))
	if _, ok := bodies[sum]; !ok || n != obj.ContentLength {
		return fmt.Errorf("torn object: %d bytes, md5 %s", n, sum)
	}
	if obj.Info.ETag != `"`+sum+`"` {
		return fmt.Errorf("ETag %s does not match data %s", obj.Info.ETag, sum)
	}
	return nil
}

func TestConcurrentConditionalPuts(t *testing.T) {
	b, _ := mustNew(t)
	ctx := context.Background()
	mustBucket(t, b, "bkt")
	base := mustPut(t, b, "bkt", "cas", "v0")
	const racers = 16
	race := func(key string, opts storage.PutOptions) (won int, failed int) {
		var wg sync.WaitGroup
		results := make(chan error, racers)
		for i := range racers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				data := fmt.Sprintf("racer %d", i)
				_, err := b.PutObject(ctx, "bkt", key, bytes.NewReader([]byte(data)), int64(len(data)), opts)
				results <- err
			}()
		}
		wg.Wait()
		close(results)
		for err := range results {
			switch {
			case err == nil:
				won++
			case errors.Is(err, s3err.ErrPreconditionFailed):
				failed++
			default:
				t.Fatalf("unexpected error: %v", err)
			}
		}
		return won, failed
	}
	if won, failed := race("cas", storage.PutOptions{IfMatch: base.ETag}); won != 1 || failed != racers-1 {
		t.Fatalf("If-Match race: %d won, %d failed", won, failed)
	}
	if won, failed := race("fresh", storage.PutOptions{IfNoneMatch: "*"}); won != 1 || failed != racers-1 {
		t.Fatalf("If-None-Match race: %d won, %d failed", won, failed)
	}
}

// TestPutRacesDirectoryCleanup puts keys into a directory that deletes
// keep emptying (and removing): every put must succeed and stay readable.
func TestPutRacesDirectoryCleanup(t *testing.T) {
	b, _ := mustNew(t)
	ctx := context.Background()
	mustBucket(t, b, "bkt")
	const rounds = 200
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	wg.Add(2)
	go func() {
		defer wg.Done()
		for range rounds {
			if _, err := b.PutObject(ctx, "bkt", "d/e/x", bytes.NewReader([]byte("x")), 1, storage.PutOptions{}); err != nil {
				errs <- fmt.Errorf("put x: %w", err)
				return
			}
			if _, err := b.DeleteObject(ctx, "bkt", "d/e/x", storage.DeleteOptions{}); err != nil {
				errs <- fmt.Errorf("delete x: %w", err)
				return
			}
		}
	}()
	go func() {
		defer wg.Done()
		for i := range rounds {
			key := fmt.Sprintf("d/e/y%d", i%2)
			if _, err := b.PutObject(ctx, "bkt", key, bytes.NewReader([]byte("y")), 1, storage.PutOptions{}); err != nil {
				errs <- fmt.Errorf("put y: %w", err)
				return
			}
			if _, err := b.DeleteObject(ctx, "bkt", key, storage.DeleteOptions{}); err != nil {
				errs <- fmt.Errorf("delete y: %w", err)
				return
			}
		}
	}()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	res, err := b.ListObjects(ctx, "bkt", storage.ListOptions{MaxKeys: 10})
	if err != nil || len(res.Objects) != 0 {
		t.Fatalf("listing after the race: %+v, %v", res, err)
	}
	if _, err := b.root.Stat("bkt/d"); err == nil {
		t.Fatal("empty directories were left behind")
	}
}

// TestDeleteBucketRacesPuts: a put never lands in (or re-creates) a bucket
// that DeleteBucket removed.
func TestDeleteBucketRacesPuts(t *testing.T) {
	b, _ := mustNew(t)
	ctx := context.Background()
	mustBucket(t, b, "gone")
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			_, err := b.PutObject(ctx, "gone", "a/b", bytes.NewReader([]byte("x")), 1, storage.PutOptions{})
			if err != nil && !errors.Is(err, s3err.ErrNoSuchBucket) {
				t.Errorf("put: %v", err)
				return
			}
		}
	}()
	for {
		if _, err := b.DeleteObject(ctx, "gone", "a/b", storage.DeleteOptions{}); err != nil && !errors.Is(err, s3err.ErrNoSuchBucket) {
			t.Fatal(err)
		}
		err := b.DeleteBucket(ctx, "gone")
		if err == nil {
			break
		}
		if !errors.Is(err, s3err.ErrBucketNotEmpty) {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
	wantErr(t, b.HeadBucket(ctx, "gone"), s3err.ErrNoSuchBucket)
	if _, err := b.root.Stat("gone"); err == nil {
		t.Fatal("the deleted bucket's directory exists again")
	}
}
