package s3backend

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dgp-proxy/dgp/internal/s3err"
	"github.com/dgp-proxy/dgp/internal/storage"
)

// awkwardKeys are object keys whose escaping is easy to get wrong.
var awkwardKeys = []string{
	"plain.txt",
	"dir/sub dir/ob+ject ü.bin",
	"a%2Fb%25c%",
	"q?x=1&y=2#frag",
	"/lead//double//",
	"../up/./dot/..",
	"~tilde_-.",
	"日本語/ключ",
	"semi;colon,comma=eq@at:colon!$'()*[]",
	"tab\tand\x7fdel",
}

// stubConfigs are the ways a backend can be configured (path style,
// virtual-hosted, IP endpoints, AWS regional hosts), each with a bucket name
// that exercises it.
var stubConfigs = []struct {
	name   string
	opts   Options
	bucket string
}{
	{"custom endpoint, path style", Options{Endpoint: "http://minio.test:9000", ForcePathStyle: true}, "bkt"},
	{"custom endpoint with a path, path style", Options{Endpoint: "http://minio.test:9000/base", ForcePathStyle: true}, "bkt"},
	{"custom endpoint, virtual-hosted", Options{Endpoint: "http://minio.test:9000"}, "bkt"},
	{"custom IP endpoint, not forced path style", Options{Endpoint: "http://127.0.0.1:9000"}, "bkt"},
	{"https custom endpoint, other region", Options{Endpoint: "https://minio.test", Region: "eu-central-1", ForcePathStyle: true}, "bkt"},
	{"AWS, virtual-hosted", Options{Region: "eu-west-1"}, "bkt"},
	{"AWS, dotted bucket (path style)", Options{Region: "us-east-1"}, "dotted.bkt"},
	{"AWS, access point ARN", Options{Region: "us-west-2"}, "arn:aws:s3:us-west-2:123456789012:accesspoint:ap"},
}

// okAnswer answers like S3 for the stub: a GET/HEAD of a stored object
// (with every header the backend reads, an object stored gzip-encoded so
// that a transparent decompression would show) or a PUT's ETag.
func okAnswer(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("ETag", `"0123456789abcdef0123456789abcdef"`)
	if r.Method == http.MethodPut {
		h.Set("X-Amz-Version-Id", "put-version_1.x")
		w.WriteHeader(http.StatusOK)
		return
	}
	body := []byte("not really gzip data")
	h.Set("Last-Modified", "Wed, 21 Oct 2025 07:28:00 GMT")
	h.Set("Content-Type", "application/x-test")
	h.Set("Content-Encoding", "gzip")
	h.Set("Content-Disposition", `attachment; filename="x.bin"`)
	h.Set("Content-Language", "fr")
	h.Set("Cache-Control", "max-age=60")
	h.Set("Expires", "Thu, 01 Jan 2037 00:00:00 GMT")
	h.Set("X-Amz-Storage-Class", "STANDARD")
	h.Set("X-Amz-Meta-Owner", " alice ")
	h.Set("X-Amz-Meta-Mixed-Case", "Value With Spaces")
	h.Set("X-Amz-Version-Id", "3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY")
	h.Set("X-Amz-Object-Lock-Mode", "GOVERNANCE")
	h.Set("X-Amz-Object-Lock-Retain-Until-Date", "2037-01-02T03:04:05.678Z")
	h.Set("X-Amz-Object-Lock-Legal-Hold", "OFF")
	status := http.StatusOK
	if r.Header.Get("Range") != "" {
		h.Set("Content-Range", "bytes 0-19/1000")
		status = http.StatusPartialContent
	}
	h.Set("Content-Length", "20")
	w.WriteHeader(status)
	if r.Method == http.MethodGet {
		_, _ = w.Write(body)
	}
}

// ignoredHeaders differ between the two paths by design: the SDK's own
// bookkeeping, the signing time and the signature.
var ignoredHeaders = []string{"Authorization", "X-Amz-Date", "Amz-Sdk-Invocation-Id", "Amz-Sdk-Request", "User-Agent", "X-Amz-User-Agent"}

// compareRequests fails unless the fast path sent what the SDK sent, but
// for ignoredHeaders, the signature itself and the SDK's x-id query hint.
func compareRequests(t *testing.T, what string, sdk, fast recordedRequest) {
	t.Helper()
	if sdk.Method != fast.Method || sdk.Host != fast.Host {
		t.Errorf("%s: SDK sent %s to %s, fast path %s to %s", what, sdk.Method, sdk.Host, fast.Method, fast.Host)
	}
	sdkPath, sdkQuery, _ := strings.Cut(sdk.RequestURI, "?")
	fastPath, fastQuery, _ := strings.Cut(fast.RequestURI, "?")
	if sdkPath != fastPath {
		t.Errorf("%s: path: SDK %q, fast path %q", what, sdkPath, fastPath)
	}
	sq, _ := url.ParseQuery(sdkQuery)
	fq, _ := url.ParseQuery(fastQuery)
	sq.Del("x-id")
	if !reflect.DeepEqual(sq, fq) {
		t.Errorf("%s: query: SDK %v, fast path %v", what, sq, fq)
	}
	sh, fh := sdk.Header.Clone(), fast.Header.Clone()
	for _, k := range ignoredHeaders {
		sh.Del(k)
		fh.Del(k)
	}
	if !reflect.DeepEqual(sh, fh) {
		t.Errorf("%s: headers:\n SDK  %v\n fast %v", what, sh, fh)
	}
	if sdk.ContentLength != fast.ContentLength || !bytes.Equal(sdk.Body, fast.Body) {
		t.Errorf("%s: body: SDK %d bytes (Content-Length %d), fast path %d (%d)", what, len(sdk.Body), sdk.ContentLength, len(fast.Body), fast.ContentLength)
	}
	sdkSigned, sdkScope := authParts(sdk.Header.Get("Authorization"))
	fastSigned, fastScope := authParts(fast.Header.Get("Authorization"))
	sdkSigned = slices.DeleteFunc(sdkSigned, func(h string) bool { return strings.HasPrefix(h, "amz-sdk-") })
	if !slices.Equal(sdkSigned, fastSigned) || sdkScope != fastScope {
		t.Errorf("%s: signed headers / scope: SDK %v %s, fast path %v %s", what, sdkSigned, sdkScope, fastSigned, fastScope)
	}
}

// authParts returns the signed header names and the credential scope
// without its date ("AK/region/s3/aws4_request") of a SigV4 Authorization.
func authParts(auth string) (signed []string, scope string) {
	for _, part := range strings.Split(strings.TrimPrefix(auth, "AWS4-HMAC-SHA256 "), ", ") {
		switch {
		case strings.HasPrefix(part, "SignedHeaders="):
			signed = strings.Split(strings.TrimPrefix(part, "SignedHeaders="), ";")
		case strings.HasPrefix(part, "Credential="):
			f := strings.Split(strings.TrimPrefix(part, "Credential="), "/")
			if len(f) == 5 {
				scope = f[0] + "/" + f[2] + "/" + f[3] + "/" + f[4]
			}
		}
	}
	return signed, scope
}

// stubOp is one backend call made on both paths; it returns a comparable
// result (with any body read) or an error.
type stubOp struct {
	name string
	call func(ctx context.Context, b *Backend, bucket, key string) (any, error)
}

func stubOps() []stubOp {
	since := time.Date(2025, 1, 2, 3, 4, 5, 0, time.FixedZone("x", 3600))
	getResult := func(obj *storage.Object, err error) (any, error) {
		if err != nil {
			return nil, err
		}
		data, err := io.ReadAll(obj.Body)
		obj.Body.Close()
		obj.Body = nil // the two paths' bodies are different streams
		return struct {
			Obj  storage.Object
			Data string
		}{*obj, string(data)}, err
	}
	return []stubOp{
		{"get", func(ctx context.Context, b *Backend, bucket, key string) (any, error) {
			return getResult(b.GetObject(ctx, bucket, key, storage.GetOptions{}))
		}},
		{"get range conditions part", func(ctx context.Context, b *Backend, bucket, key string) (any, error) {
			return getResult(b.GetObject(ctx, bucket, key, storage.GetOptions{
				Range: &storage.Range{Start: 0, End: 19},
				Conditions: storage.Conditions{IfMatch: `"0123"`, IfNoneMatch: `"4567"`,
					IfModifiedSince: since, IfUnmodifiedSince: since.Add(time.Hour)},
				PartNumber: 2,
			}))
		}},
		{"head suffix range", func(ctx context.Context, b *Backend, bucket, key string) (any, error) {
			return b.HeadObject(ctx, bucket, key, storage.GetOptions{Range: &storage.Range{Start: -1, End: 20},
				Conditions: storage.Conditions{IfNoneMatch: "*"}})
		}},
		{"put everything", func(ctx context.Context, b *Backend, bucket, key string) (any, error) {
			return b.PutObject(ctx, bucket, key, onlyReaderStub{strings.NewReader("hello world")}, 11, storage.PutOptions{
				ContentType:  "text/plain; charset=utf-8",
				UserMetadata: map[string]string{"owner": "alice", "Mixed-Case": "Value With Spaces", " padded ": "x", "empty": ""},
				Headers: map[string]string{"content-encoding": "gzip", "Content-Disposition": "inline", "Content-Language": "de",
					"cache-control": "no-cache", "Expires": "Thu, 01 Jan 2037 00:00:00 GMT"},
				ContentMD5:  "XrY7u+Ae7tCTyyK7j1rNww==",
				IfMatch:     `"0123"`,
				IfNoneMatch: "*",
			})
		}},
		{"get version", func(ctx context.Context, b *Backend, bucket, key string) (any, error) {
			return getResult(b.GetObject(ctx, bucket, key, storage.GetOptions{VersionID: "3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY/=&x y"}))
		}},
		{"head version part", func(ctx context.Context, b *Backend, bucket, key string) (any, error) {
			return b.HeadObject(ctx, bucket, key, storage.GetOptions{VersionID: "null", PartNumber: 3})
		}},
		{"put lock", func(ctx context.Context, b *Backend, bucket, key string) (any, error) {
			return b.PutObject(ctx, bucket, key, strings.NewReader("locked"), 6, storage.PutOptions{
				ContentMD5: "XrY7u+Ae7tCTyyK7j1rNww==",
				Lock: storage.LockState{
					Retention: storage.Retention{Mode: storage.LockCompliance, RetainUntil: since.Add(123456789 * time.Millisecond)},
					LegalHold: true, LegalHoldSet: true,
				},
			})
		}},
		{"put legal hold off", func(ctx context.Context, b *Backend, bucket, key string) (any, error) {
			return b.PutObject(ctx, bucket, key, strings.NewReader("x"), 1, storage.PutOptions{Lock: storage.LockState{LegalHoldSet: true}})
		}},
		{"put empty", func(ctx context.Context, b *Backend, bucket, key string) (any, error) {
			return b.PutObject(ctx, bucket, key, strings.NewReader(""), 0, storage.PutOptions{})
		}},
		{"put 3 MiB (Expect: 100-continue)", func(ctx context.Context, b *Backend, bucket, key string) (any, error) {
			data := bytes.Repeat([]byte("0123456789abcdef"), 3<<16)
			return b.PutObject(ctx, bucket, key, onlyReaderStub{bytes.NewReader(data)}, int64(len(data)), storage.PutOptions{})
		}},
		{"upload part", func(ctx context.Context, b *Backend, bucket, key string) (any, error) {
			return b.UploadPart(ctx, bucket, key, "upload+id/with=odd chars", 7, strings.NewReader("part"), 4,
				storage.PartOptions{ContentMD5: "XrY7u+Ae7tCTyyK7j1rNww=="})
		}},
	}
}

// onlyReaderStub hides every method but Read.
type onlyReaderStub struct{ r io.Reader }

func (o onlyReaderStub) Read(p []byte) (int, error) { return o.r.Read(p) }

// TestFastPathSendsWhatTheSDKSends runs every fast-path operation on both
// paths, for every configuration and awkward key, against the recording
// stub: the requests must match (URL, escaping, headers, body, signed
// header list and scope) and so must the results read from the answers.
func TestFastPathSendsWhatTheSDKSends(t *testing.T) {
	compareFastWithSDK(t, func(_ *testing.T, _ *s3Stub, _ Options, fast *Backend) *Backend { return fast })
}

// compareFastWithSDK runs every fast-path operation on every awkward key,
// for every stub configuration, through the SDK path and through the
// backend fastOf picks (given the stub backend's fast path), and compares
// the requests sent and the results read.
func compareFastWithSDK(t *testing.T, fastOf func(t *testing.T, stub *s3Stub, o Options, fast *Backend) *Backend) {
	stub := newS3Stub(t)
	stub.setAnswer(okAnswer)
	ctx := context.Background()
	for _, cfg := range stubConfigs {
		t.Run(cfg.name, func(t *testing.T) {
			o := cfg.opts
			o.AccessKeyID, o.SecretAccessKey = "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
			stubFast, sdk := stubBackends(t, stub, o)
			fast := fastOf(t, stub, o, stubFast)
			for _, op := range stubOps() {
				for _, key := range awkwardKeys {
					what := op.name + " " + key
					stub.take()
					sdkRes, sdkErr := op.call(ctx, sdk, cfg.bucket, key)
					sdkReqs := stub.take()
					fastRes, fastErr := op.call(ctx, fast, cfg.bucket, key)
					fastReqs := stub.take()
					if sdkErr != nil || fastErr != nil {
						t.Fatalf("%s: SDK error %v, fast path error %v", what, sdkErr, fastErr)
					}
					if len(sdkReqs) != 1 || len(fastReqs) != 1 {
						t.Fatalf("%s: SDK sent %d requests, fast path %d", what, len(sdkReqs), len(fastReqs))
					}
					compareRequests(t, what, sdkReqs[0], fastReqs[0])
					if !reflect.DeepEqual(sdkRes, fastRes) {
						t.Errorf("%s: results differ:\n SDK  %+v\n fast %+v", what, sdkRes, fastRes)
					}
				}
			}
		})
	}
}

// TestFastPathSessionToken: credentials from the default chain (here the
// environment, with a session token) sign fast-path requests as they sign
// the SDK's, X-Amz-Security-Token included.
func TestFastPathSessionToken(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "ASIAEXAMPLE")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	t.Setenv("AWS_SESSION_TOKEN", "the-session-token")
	t.Setenv("AWS_CONFIG_FILE", "/nonexistent")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
	stub := newS3Stub(t)
	stub.setAnswer(okAnswer)
	fast, sdk := stubBackends(t, stub, Options{Endpoint: "http://minio.test:9000", ForcePathStyle: true})
	ctx := context.Background()
	if _, err := sdk.HeadObject(ctx, "bkt", "k", storage.GetOptions{}); err != nil {
		t.Fatalf("SDK HeadObject: %v", err)
	}
	sdkReqs := stub.take()
	if _, err := fast.HeadObject(ctx, "bkt", "k", storage.GetOptions{}); err != nil {
		t.Fatalf("fast HeadObject: %v", err)
	}
	fastReqs := stub.take()
	compareRequests(t, "head with session token", sdkReqs[0], fastReqs[0])
	if got := fastReqs[0].Header.Get("X-Amz-Security-Token"); got != "the-session-token" {
		t.Fatalf("X-Amz-Security-Token = %q", got)
	}
}

// TestFastPathFallsBackToSDK: buckets the fast path does not reproduce (S3
// Express directory buckets, which sign with session credentials; ARNs the
// endpoint rules refuse) and empty keys take the SDK path.
func TestFastPathFallsBackToSDK(t *testing.T) {
	stub := newS3Stub(t)
	fast, _ := stubBackends(t, stub, Options{Region: "us-west-2", AccessKeyID: "a", SecretAccessKey: "b"})
	ctx := context.Background()
	for _, bucket := range []string{"mybucket--usw2-az1--x-s3", "arn:aws:s3:eu-west-1:123456789012:accesspoint:other-region"} {
		if tg := fast.fastTarget(ctx, bucket, "k"); tg != nil {
			t.Errorf("fastTarget(%q) = %+v, want the SDK path", bucket, tg)
		}
	}
	if tg := fast.fastTarget(ctx, "bkt", ""); tg != nil {
		t.Errorf("fastTarget(empty key) = %+v, want the SDK path", tg)
	}
	if tg := fast.fastTarget(ctx, "bkt", "k"); tg == nil || tg.base != "https://bkt.s3.us-west-2.amazonaws.com" || tg.prefix != "/" {
		t.Errorf("fastTarget(bkt) = %+v", tg)
	}
	fips, err := New(ctx, Options{Region: "fips-us-east-1", AccessKeyID: "a", SecretAccessKey: "b"})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if fips.fast != nil {
		t.Errorf("a FIPS pseudo-region has a fast path")
	}
}

func TestPathPrefix(t *testing.T) {
	for in, want := range map[string]string{"": "/", "/": "/", "/bkt": "/bkt/", "bkt": "/bkt/", "/base/bkt/": "/base/bkt/"} {
		if got := pathPrefix(in); got != want {
			t.Errorf("pathPrefix(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestFastPathNetworkFailure: no answer at all is ServiceUnavailable
// wrapping the cause, on both paths; a cancelled context too.
func TestFastPathNetworkFailure(t *testing.T) {
	stub := newS3Stub(t)
	addr := stub.plain.Listener.Addr().String()
	stub.plain.Close()
	b, err := New(context.Background(), Options{Endpoint: "http://" + addr, AccessKeyID: "a", SecretAccessKey: "b", ForcePathStyle: true})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	_, err = b.GetObject(ctx, "bkt", "k", storage.GetOptions{})
	assertS3Err(t, "GetObject(dead)", err, s3err.ErrServiceUnavailable)
	var ue *url.Error
	if !errors.As(err, &ue) {
		t.Errorf("GetObject(dead) does not wrap the transport error: %v", err)
	}
	_, err = b.HeadObject(ctx, "bkt", "k", storage.GetOptions{})
	assertS3Err(t, "HeadObject(dead)", err, s3err.ErrServiceUnavailable)
	_, err = b.PutObject(ctx, "bkt", "k", strings.NewReader("abc"), 3, storage.PutOptions{})
	assertS3Err(t, "PutObject(dead)", err, s3err.ErrServiceUnavailable)
	_, err = b.UploadPart(ctx, "bkt", "k", "u", 1, strings.NewReader("abc"), 3, storage.PartOptions{})
	assertS3Err(t, "UploadPart(dead)", err, s3err.ErrServiceUnavailable)

	cctx, cancel := context.WithCancel(ctx)
	cancel()
	_, err = b.GetObject(cctx, "bkt", "k", storage.GetOptions{})
	assertS3Err(t, "GetObject(cancelled)", err, s3err.ErrServiceUnavailable)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("GetObject(cancelled) does not wrap context.Canceled: %v", err)
	}
}

// assertS3Err fails unless err is the S3 error want (code and status).
func assertS3Err(t *testing.T, what string, err error, want *s3err.Error) {
	t.Helper()
	var se *s3err.Error
	if !errors.As(err, &se) || se.Code != want.Code || se.Status != want.Status {
		t.Fatalf("%s: error = %v, want %s/%d", what, err, want.Code, want.Status)
	}
}

// TestFastPathTargetCache: concurrent first requests for the same buckets
// agree, and the per-bucket cache stops growing at maxCachedTargets while
// buckets beyond it still take the fast path.
func TestFastPathTargetCache(t *testing.T) {
	stub := newS3Stub(t)
	fast, _ := stubBackends(t, stub, Options{Endpoint: "http://minio.test:9000", ForcePathStyle: true, AccessKeyID: "a", SecretAccessKey: "b"})
	ctx := context.Background()
	var wg sync.WaitGroup
	got := make([]*target, 8)
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[i] = fast.fast.targetFor(ctx, "shared")
		}()
	}
	wg.Wait()
	for _, tg := range got {
		if tg == nil || *tg != *got[0] || tg.prefix != "/shared/" {
			t.Fatalf("concurrent targetFor(shared) = %+v, want all equal to %+v", tg, got[0])
		}
	}
	for i := range maxCachedTargets + 10 {
		bucket := "bkt-" + strconv.Itoa(i)
		if tg := fast.fast.targetFor(ctx, bucket); tg == nil || tg.prefix != "/"+bucket+"/" {
			t.Fatalf("targetFor(%s) = %+v", bucket, tg)
		}
	}
	if n := fast.fast.targetCount.Load(); n != maxCachedTargets {
		t.Fatalf("%d cached targets, want the bound %d", n, maxCachedTargets)
	}
}
