package app

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/rs/zerolog"

	"github.com/dgp-proxy/dgp/internal/config"
	"github.com/dgp-proxy/dgp/internal/s3api"
	"github.com/dgp-proxy/dgp/internal/s3err"
	"github.com/dgp-proxy/dgp/internal/storage"
	"github.com/dgp-proxy/dgp/internal/storage/fsbackend"
	"github.com/dgp-proxy/dgp/internal/testutil"
)

// TestRouterObjects: the object browser sees buckets under their
// client-facing names, routed and aliased as the S3 API routes them, and
// reports writes under those names.
func TestRouterObjects(t *testing.T) {
	ctx := context.Background()
	def, err := fsbackend.New("local", t.TempDir(), nil)
	testutil.Must(t, err, "fs backend")
	other, err := fsbackend.New("archive", t.TempDir(), nil)
	testutil.Must(t, err, "fs backend")
	testutil.Must(t, def.CreateBucket(ctx, "plain", storage.CreateBucketOptions{}), "create plain")
	testutil.Must(t, other.CreateBucket(ctx, "media-store", storage.CreateBucketOptions{}), "create media-store")
	router, err := storage.NewRouter([]storage.Backend{def, other}, "local",
		map[string]storage.Route{"media": {Backend: "archive", Alias: "media-store"}})
	testutil.Must(t, err, "router")

	var mu sync.Mutex
	var writes []string
	o := &routerObjects{router: router, onWrite: func(_ context.Context, bucket, key, op string) {
		mu.Lock()
		defer mu.Unlock()
		writes = append(writes, op+" "+bucket+"/"+key)
	}}

	bs, err := o.ListBuckets(ctx)
	testutil.Must(t, err, "list buckets")
	var names []string
	for _, b := range bs {
		names = append(names, b.Name)
	}
	if strings.Join(names, ",") != "media,plain" {
		t.Fatalf("buckets %v", names)
	}

	res, err := o.PutObject(ctx, "media", "a/b.txt", strings.NewReader("hello"), 5, storage.PutOptions{ContentType: "text/plain"})
	testutil.Must(t, err, "put")
	if res.ETag == "" {
		t.Fatal("no etag")
	}
	// Stored on the routed backend under its own bucket name.
	if _, err := other.HeadObject(ctx, "media-store", "a/b.txt", storage.GetOptions{}); err != nil {
		t.Fatalf("not on the archive backend: %v", err)
	}
	page, err := o.ListObjects(ctx, "media", storage.ListOptions{Prefix: "a/", MaxKeys: 10})
	testutil.Must(t, err, "list")
	if len(page.Objects) != 1 || page.Objects[0].Key != "a/b.txt" {
		t.Fatalf("listing %+v", page)
	}
	obj, err := o.GetObject(ctx, "media", "a/b.txt", storage.GetOptions{})
	testutil.Must(t, err, "get")
	data, _ := io.ReadAll(obj.Body)
	obj.Body.Close()
	if string(data) != "hello" || obj.Info.ContentType != "text/plain" {
		t.Fatalf("get: %q %q", data, obj.Info.ContentType)
	}
	// A range reaches the bucket's backend.
	obj, err = o.GetObject(ctx, "media", "a/b.txt", storage.GetOptions{Range: &storage.Range{Start: 1, End: 3}})
	testutil.Must(t, err, "get a range")
	data, _ = io.ReadAll(obj.Body)
	obj.Body.Close()
	if string(data) != "ell" || obj.ContentRange != "bytes 1-3/5" {
		t.Fatalf("get a range: %q, Content-Range %q", data, obj.ContentRange)
	}
	testutil.Must(t, o.DeleteObject(ctx, "media", "a/b.txt"), "delete")
	if _, err := o.GetObject(ctx, "media", "a/b.txt", storage.GetOptions{}); !errors.Is(err, s3err.ErrNoSuchKey) {
		t.Fatalf("after delete: %v", err)
	}
	if _, err := o.ListObjects(ctx, "nosuch", storage.ListOptions{MaxKeys: 1}); !errors.Is(err, s3err.ErrNoSuchBucket) {
		t.Fatalf("unknown bucket: %v", err)
	}
	// A failed put is not reported.
	if _, err := o.PutObject(ctx, "nosuch", "k", strings.NewReader("x"), 1, storage.PutOptions{}); err == nil {
		t.Fatal("put into a missing bucket succeeded")
	}
	mu.Lock()
	defer mu.Unlock()
	if want := []string{s3api.WritePut + " media/a/b.txt", s3api.WriteDelete + " media/a/b.txt"}; !slices.Equal(writes, want) {
		t.Fatalf("writes reported %v, want %v", writes, want)
	}
}

// TestObjectBrowserOnInstance: on a real instance, what the object browser
// uploads the S3 API serves, and what S3 clients write it downloads.
func TestObjectBrowserOnInstance(t *testing.T) {
	cfg := config.Default()
	cfg.Advanced.DataDir = t.TempDir()
	cfg.Advanced.ListenAddr = "127.0.0.1:0"
	cfg.Access.AccessKeyID = "TESTROOTACCESSKEY000"
	cfg.Access.SecretAccessKey = "testRootSecretKey0000000000000000000000000"
	cfg.Access.BootstrapPassword = "test-bootstrap-password"
	testutil.Must(t, cfg.Validate(), "config")
	ctx, cancel := context.WithCancel(context.Background())
	a, err := New(ctx, Options{Config: cfg, Logger: zerolog.New(io.Discard), Stderr: io.Discard})
	if err != nil {
		cancel()
		t.Fatalf("start dgp: %v", err)
	}
	in := &instance{app: a, cfg: cfg, logs: &syncBuffer{}, cancel: cancel, done: make(chan error, 1)}
	go func() { in.done <- a.Run(ctx) }()
	t.Cleanup(in.stop)

	s3c := in.rootClient()
	bucket := "browser-e2e"
	var cerr error
	deadline := time.Now().Add(time.Minute) // the instance starts serving after Run loads its state
	for time.Now().Before(deadline) {
		if _, cerr = s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); cerr == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	testutil.Must(t, cerr, "create bucket")

	adm := in.admin(t)
	adm.login(cfg.Access.BootstrapPassword)
	body := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	req, _ := http.NewRequest(http.MethodPut, adm.base+"/objects/"+bucket+"/dir/from-gui.bin", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/x-test")
	resp, err := adm.http.Do(req)
	testutil.Must(t, err, "upload")
	msg, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("upload: %d %s", resp.StatusCode, msg)
	}
	out, err := s3c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String("dir/from-gui.bin")})
	testutil.Must(t, err, "s3 get")
	got, _ := io.ReadAll(out.Body)
	out.Body.Close()
	if !bytes.Equal(got, body) || aws.ToString(out.ContentType) != "application/x-test" {
		t.Fatalf("S3 sees %d bytes, type %q", len(got), aws.ToString(out.ContentType))
	}

	_, err = s3c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("from-s3.txt"),
		Body: strings.NewReader("via s3"), ContentType: aws.String("text/plain")})
	testutil.Must(t, err, "s3 put")
	var list struct {
		Objects []struct {
			Key string `json:"key"`
		} `json:"objects"`
		CommonPrefixes []string `json:"common_prefixes"`
	}
	adm.must(http.StatusOK, http.MethodGet, "/objects/"+bucket+"?delimiter=/", nil, &list)
	if len(list.Objects) != 1 || list.Objects[0].Key != "from-s3.txt" || strings.Join(list.CommonPrefixes, ",") != "dir/" {
		t.Fatalf("listing %+v", list)
	}
	resp, err = adm.http.Get(adm.base + "/objects/" + bucket + "/from-s3.txt")
	testutil.Must(t, err, "download")
	got, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(got) != "via s3" || resp.Header.Get("Content-Type") != "text/plain" ||
		!strings.HasPrefix(resp.Header.Get("Content-Disposition"), "attachment;") {
		t.Fatalf("download %q %v", got, resp.Header)
	}
	adm.must(http.StatusOK, http.MethodDelete, "/objects/"+bucket+"/from-s3.txt", nil, nil)
	if _, err := s3c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String("from-s3.txt")}); err == nil {
		t.Fatal("the object deleted in the browser is still served by S3")
	}
}
