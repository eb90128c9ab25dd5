package main

import (
	"context"
	"crypto/md5"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"golang.org/x/sync/errgroup"

	"github.com/dgp-proxy/dgp/internal/app"
	"github.com/dgp-proxy/dgp/internal/config"
	"github.com/dgp-proxy/dgp/internal/obs"
)

// Layouts of the listing bench: the same N keys, either all in one
// directory ("flat/k0000042") or spread over three levels of 100
// directories ("deep/00/00/00/k0000042"). Both sort like their index.
const (
	layoutFlat = "flat"
	layoutDeep = "deep"
)

// listingKey is the i-th key (in byte order) of a layout.
func listingKey(layout string, i int) string {
	s := fmt.Sprintf("%07d", i)
	if layout == layoutDeep {
		return "deep/" + s[0:2] + "/" + s[2:4] + "/" + s[4:6] + "/k" + s
	}
	return "flat/k" + s
}

// fillMarker is the object whose presence says a bucket holds the n keys
// of a layout; it is outside the listed prefixes.
func fillMarker(n int, layout string) string { return fmt.Sprintf("meta/filled-%d-%s", n, layout) }

const fillBody = "x"

// The object file format of the directory backend (internal/storage/
// fsbackend objfile.go): data || metadata JSON || uint32 length (big
// endian) || trailer magic.
const fsTrailerMagic = "DGPOBJ\x00\x01"

// fsObjectFile renders an object file of the directory backend holding
// fillBody as key.
func fsObjectFile(key string, modified time.Time) ([]byte, error) {
	sum := md5.Sum([]byte(fillBody))
	js, err := json.Marshal(struct {
		Key      string    `json:"key"`
		Size     int64     `json:"size"`
		ETag     string    `json:"etag"`
		Modified time.Time `json:"modified"`
	}{key, int64(len(fillBody)), `"` + hex.EncodeToString(sum[:]) + `"`, modified})
	if err != nil {
		return nil, err
	}
	out := make([]byte, 0, len(fillBody)+len(js)+4+len(fsTrailerMagic))
	out = append(out, fillBody...)
	out = append(out, js...)
	out = binary.BigEndian.AppendUint32(out, uint32(len(js)))
	return append(out, fsTrailerMagic...), nil
}

// fillDirectory writes the keys of the layouts straight into the bucket
// directory of a directory backend (keys need no escaping: [a-z0-9/]), as
// the backend itself lays them out, unless a previous run did.
func fillDirectory(ctx context.Context, bucketDir string, n int, layouts []string, stderr io.Writer) error {
	for _, layout := range layouts {
		if err := fillDirectoryLayout(ctx, bucketDir, n, layout, stderr); err != nil {
			return err
		}
	}
	return nil
}

func fillDirectoryLayout(ctx context.Context, bucketDir string, n int, layout string, stderr io.Writer) error {
	marker := fillMarker(n, layout)
	done := filepath.Join(bucketDir, filepath.FromSlash(marker)+"%o")
	if _, err := os.Stat(done); err == nil {
		fmt.Fprintf(stderr, "dgp-bench: %s already holds %d %s keys\n", bucketDir, n, layout)
		return nil
	}
	start := time.Now()
	now := time.Now().UTC().Truncate(time.Millisecond)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	const chunk = 1000
	for lo := 0; lo < n; lo += chunk {
		g.Go(func() error {
			made := map[string]bool{}
			for i := lo; i < min(lo+chunk, n); i++ {
				if err := gctx.Err(); err != nil {
					return err
				}
				key := listingKey(layout, i)
				p := filepath.Join(bucketDir, filepath.FromSlash(key)+"%o")
				if d := filepath.Dir(p); !made[d] {
					if err := os.MkdirAll(d, 0o755); err != nil {
						return err
					}
					made[d] = true
				}
				data, err := fsObjectFile(key, now)
				if err != nil {
					return err
				}
				if err := os.WriteFile(p, data, 0o644); err != nil {
					return err
				}
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return fmt.Errorf("fill %s: %w", bucketDir, err)
	}
	if err := os.MkdirAll(filepath.Dir(done), 0o755); err != nil {
		return err
	}
	data, err := fsObjectFile(marker, now)
	if err != nil {
		return err
	}
	if err := os.WriteFile(done, data, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "dgp-bench: wrote %d %s keys into %s in %s\n", n, layout, bucketDir, time.Since(start).Round(time.Millisecond))
	return nil
}

// fillBucket puts the keys of the layouts into a bucket through S3,
// unless the bucket already holds them (a layout's fill marker exists).
func fillBucket(ctx context.Context, c *s3.Client, bucket string, n int, layouts []string, workers int, stderr io.Writer) error {
	var todo []string
	for _, layout := range layouts {
		if _, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(fillMarker(n, layout))}); err == nil {
			fmt.Fprintf(stderr, "dgp-bench: bucket %s already holds %d %s keys\n", bucket, n, layout)
			continue
		}
		todo = append(todo, layout)
	}
	if len(todo) == 0 {
		return nil
	}
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil &&
		!strings.Contains(err.Error(), "BucketAlreadyOwnedByYou") {
		return fmt.Errorf("create bucket %s: %w", bucket, err)
	}
	start := time.Now()
	var done atomic.Int64
	put := func(ctx context.Context, key string) error {
		_, err := c.PutObject(ctx, &s3.PutObjectInput{
			Bucket: aws.String(bucket), Key: aws.String(key),
			Body: strings.NewReader(fillBody), ContentLength: aws.Int64(int64(len(fillBody))),
		})
		if err != nil {
			return fmt.Errorf("put %s: %w", key, err)
		}
		if d := done.Add(1); d%20000 == 0 {
			fmt.Fprintf(stderr, "dgp-bench: %d of %d keys put (%s)\n", d, len(todo)*n, time.Since(start).Round(time.Second))
		}
		return nil
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(workers)
	for _, layout := range todo {
		for i := range n {
			g.Go(func() error { return put(gctx, listingKey(layout, i)) })
		}
	}
	if err := g.Wait(); err != nil {
		return err
	}
	for _, layout := range todo {
		if err := put(ctx, fillMarker(n, layout)); err != nil {
			return err
		}
	}
	fmt.Fprintf(stderr, "dgp-bench: put %d keys into %s in %s\n", len(todo)*n, bucket, time.Since(start).Round(time.Second))
	return nil
}

// dirDGP is an in-process dgp on its directory backend.
type dirDGP struct {
	app    *app.App
	cancel context.CancelFunc
	done   chan error
}

// startDirDGP starts dgp with the directory backend under dataDir.
func startDirDGP(ctx context.Context, dataDir string) (*dirDGP, error) {
	cfg := config.Default()
	cfg.Advanced.ListenAddr = "127.0.0.1:0"
	cfg.Advanced.DataDir = dataDir
	cfg.Advanced.LogLevel = config.LogLevelWarn
	cfg.Advanced.LogFormat = config.LogFormatJSON
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("dgp config: %w", err)
	}
	logger, err := obs.NewLogger(io.Discard, obs.LogOptions{Level: cfg.Advanced.LogLevel, Format: cfg.Advanced.LogFormat})
	if err != nil {
		return nil, fmt.Errorf("dgp logger: %w", err)
	}
	a, err := app.New(ctx, app.Options{Config: cfg, Logger: logger, Stderr: io.Discard})
	if err != nil {
		return nil, fmt.Errorf("start dgp: %w", err)
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	d := &dirDGP{app: a, cancel: cancel, done: make(chan error, 1)}
	go func() { d.done <- a.Run(runCtx) }()
	return d, nil
}

// Close stops dgp and waits for it.
func (d *dirDGP) Close() error {
	d.cancel()
	err := <-d.done
	if errors.Is(err, context.Canceled) || errors.Is(err, http.ErrServerClosed) || errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}
