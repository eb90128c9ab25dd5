//go:build integration

package app

import (
	"bufio"
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"net/textproto"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/rs/zerolog"

	"github.com/dgp-proxy/dgp/internal/config"
	"github.com/dgp-proxy/dgp/internal/testutil"
)

// holesBodyTimeout is the short body read timeout of these tests.
const holesBodyTimeout = 500 * time.Millisecond

// startS3Gateway starts one instance storing on MinIO, with bodies timing
// out after holesBodyTimeout.
func startS3Gateway(t *testing.T, minio testutil.MinIO) *instance {
	t.Helper()
	cfg := config.Default()
	cfg.Advanced.DataDir = t.TempDir()
	cfg.Advanced.ListenAddr = "127.0.0.1:0"
	cfg.Access.AccessKeyID = "TESTROOTACCESSKEY000"
	cfg.Access.SecretAccessKey = "testRootSecretKey0000000000000000000000000"
	cfg.Access.BootstrapPassword = "test-bootstrap-password"
	cfg.Storage.S3 = minio.Endpoint
	cfg.Storage.Region = "us-east-1"
	cfg.Storage.AccessKeyID = minio.AccessKey
	cfg.Storage.SecretAccessKey = minio.SecretKey
	cfg.Storage.ForcePathStyle = true
	if err := cfg.Validate(); err != nil {
		t.Fatalf("test config invalid: %v", err)
	}
	logs := &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	a, err := New(ctx, Options{Config: cfg, Logger: zerolog.New(logs), Stderr: io.Discard, BodyReadTimeout: holesBodyTimeout})
	if err != nil {
		cancel()
		t.Fatalf("start dgp: %v", err)
	}
	in := &instance{app: a, cfg: cfg, logs: logs, cancel: cancel, done: make(chan error, 1)}
	go func() { in.done <- a.Run(ctx) }()
	t.Cleanup(in.stop)
	return in
}

// holesConn is a raw HTTP/1.1 client connection.
type holesConn struct {
	t  *testing.T
	c  net.Conn
	br *bufio.Reader
}

func dialHoles(t *testing.T, in *instance) *holesConn {
	t.Helper()
	c, err := net.Dial("tcp", in.app.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &holesConn{t: t, c: c, br: bufio.NewReader(c)}
}

func (h *holesConn) send(b []byte) error {
	_, err := h.c.Write(b)
	return err
}

// requestTimeout fails unless the answer is 400 RequestTimeout closing
// the connection; none within 15 s (30 timeouts) fails too.
func (h *holesConn) requestTimeout() {
	h.t.Helper()
	_ = h.c.SetReadDeadline(time.Now().Add(15 * time.Second))
	resp, err := http.ReadResponse(h.br, nil)
	if err != nil {
		h.t.Fatalf("no answer: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || !bytes.Contains(body, []byte("<Code>RequestTimeout</Code>")) || !resp.Close {
		h.t.Fatalf("answer %d close=%v %s, want 400 RequestTimeout closing", resp.StatusCode, resp.Close, body)
	}
	if n, err := h.br.Read(make([]byte, 1)); err != io.EOF {
		h.t.Fatalf("connection open after RequestTimeout: read %d, %v", n, err)
	}
}

// signedHead is a SigV4-signed PUT head with an unsigned payload.
func signedHead(t *testing.T, in *instance, path string, length int) []byte {
	t.Helper()
	req, err := http.NewRequest(http.MethodPut, in.app.URL()+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = int64(length)
	req.Header.Set("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD")
	rc := in.app.RootCredentials()
	err = v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: rc.AccessKeyID, SecretAccessKey: rc.SecretAccessKey},
		req, "UNSIGNED-PAYLOAD", "s3", "us-east-1", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "PUT %s HTTP/1.1\r\nHost: %s\r\n", req.URL.RequestURI(), req.URL.Host)
	for k, vs := range req.Header {
		for _, v := range vs {
			fmt.Fprintf(&b, "%s: %s\r\n", k, v)
		}
	}
	fmt.Fprintf(&b, "Content-Length: %d\r\n\r\n", length)
	return []byte(b.String())
}

// postForm is a browser upload form to bucket (any key), signed with the
// root credentials, whose file is content.
func postForm(t *testing.T, in *instance, bucket string, content []byte) (string, []byte) {
	t.Helper()
	rc := in.app.RootCredentials()
	now := time.Now().UTC()
	date := now.Format("20060102")
	cred := rc.AccessKeyID + "/" + date + "/us-east-1/s3/aws4_request"
	pol, err := json.Marshal(map[string]any{
		"expiration": now.Add(time.Hour).Format("2006-01-02T15:04:05.000Z"),
		"conditions": []any{
			map[string]string{"bucket": bucket}, []any{"starts-with", "$key", ""},
			map[string]string{"x-amz-algorithm": "AWS4-HMAC-SHA256"},
			map[string]string{"x-amz-credential": cred},
			map[string]string{"x-amz-date": now.Format("20060102T150405Z")},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	policy := base64.StdEncoding.EncodeToString(pol)
	mac := func(key []byte, s string) []byte {
		h := hmac.New(sha256.New, key)
		h.Write([]byte(s))
		return h.Sum(nil)
	}
	k := mac(mac(mac(mac([]byte("AWS4"+rc.SecretAccessKey), date), "us-east-1"), "s3"), "aws4_request")
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	for _, kv := range [][2]string{
		{"key", "posted"}, {"policy", policy}, {"x-amz-algorithm", "AWS4-HMAC-SHA256"},
		{"x-amz-credential", cred}, {"x-amz-date", now.Format("20060102T150405Z")},
		{"x-amz-signature", hex.EncodeToString(mac(k, policy))},
	} {
		testutil.Must(t, w.WriteField(kv[0], kv[1]), "form field")
	}
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", `form-data; name="file"; filename="f.bin"`)
	fw, err := w.CreatePart(h)
	testutil.Must(t, err, "form file")
	_, _ = fw.Write(content)
	testutil.Must(t, w.Close(), "form close")
	return w.FormDataContentType(), buf.Bytes()
}

// spooled lists POST Object's spool files in dir.
func spooled(dir string) []string {
	m, _ := filepath.Glob(filepath.Join(dir, "dgp-post-*"))
	return m
}

// Over the S3 backend: a stalled PutObject is answered RequestTimeout and
// nothing is stored; a stalled POST Object (spooled to a temporary file,
// as S3 needs the length) is answered RequestTimeout and its spool file is
// removed; a steady slow PutObject is stored.
func TestHolesStalledBodiesOverS3Backend(t *testing.T) {
	minio := testutil.RequireMinIO(t)
	in := startS3Gateway(t, minio)
	bucket := testutil.UniqueName("stall")
	root := in.rootClient()
	ctx := context.Background()
	_, err := root.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)})
	testutil.Must(t, err, "create bucket")
	t.Cleanup(func() {
		for _, k := range []string{"slow"} {
			_, _ = root.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String(k)})
		}
		_, _ = root.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String(bucket)})
	})
	absent := func(key string) {
		t.Helper()
		_, err := root.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
		if err == nil {
			t.Fatalf("%s was stored from a stalled body", key)
		}
	}

	t.Run("PutObject", func(t *testing.T) {
		c := dialHoles(t, in)
		testutil.Must(t, c.send(signedHead(t, in, "/"+bucket+"/put", 100_000)), "send head")
		testutil.Must(t, c.send(testutil.Pattern(1000)), "send")
		c.requestTimeout()
		absent("put")
	})

	t.Run("POST Object spool", func(t *testing.T) {
		tmp := t.TempDir()
		t.Setenv("TMPDIR", tmp) // where the spool file goes
		ctype, form := postForm(t, in, bucket, testutil.Pattern(1<<20))
		cut := bytes.Index(form, []byte(`filename="f.bin"`)) + 200
		c := dialHoles(t, in)
		head := fmt.Sprintf("POST /%s HTTP/1.1\r\nHost: %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n", bucket, in.app.Addr(), ctype, len(form))
		testutil.Must(t, c.send(append([]byte(head), form[:cut]...)), "send")
		// Trickle steadily until the spool file is seen, then stall.
		stop, done := make(chan struct{}), make(chan error, 1)
		go func() {
			tick := time.NewTicker(holesBodyTimeout / 8)
			defer tick.Stop()
			for i := cut; ; i++ {
				select {
				case <-stop:
					done <- nil
					return
				case <-tick.C:
				}
				if err := c.send(form[i : i+1]); err != nil {
					done <- err
					return
				}
			}
		}()
		testutil.RetryUntil(t, 10*time.Second, func() error {
			if len(spooled(tmp)) == 0 {
				return errors.New("no spool file yet")
			}
			return nil
		})
		close(stop)
		testutil.Must(t, <-done, "trickle")
		c.requestTimeout()
		testutil.RetryUntil(t, 5*time.Second, func() error {
			if left := spooled(tmp); len(left) > 0 {
				return fmt.Errorf("spool files left: %v", left)
			}
			return nil
		})
		absent("posted")
	})

	t.Run("steady slow PutObject", func(t *testing.T) {
		body := testutil.Pattern(40)
		c := dialHoles(t, in)
		testutil.Must(t, c.send(signedHead(t, in, "/"+bucket+"/slow", len(body))), "send head")
		tick := time.NewTicker(holesBodyTimeout / 8) // five timeouts in all, no gap near one
		defer tick.Stop()
		for i := range body {
			<-tick.C
			testutil.Must(t, c.send(body[i:i+1]), "send")
		}
		_ = c.c.SetReadDeadline(time.Now().Add(15 * time.Second))
		resp, err := http.ReadResponse(c.br, nil)
		testutil.Must(t, err, "answer")
		msg, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("steady slow upload answered %d %s", resp.StatusCode, msg)
		}
		got, err := root.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String("slow")})
		testutil.Must(t, err, "get")
		b, _ := io.ReadAll(got.Body)
		got.Body.Close()
		if !bytes.Equal(b, body) {
			t.Fatalf("stored %q, want %q", b, body)
		}
	})
}
