package chaos

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"time"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// The S3 workload: one worker per instance PUTs objects through dgp with
// a user's key and GETs back ones acknowledged earlier. An acknowledged
// PUT must read back intact at the end; a GET of an acknowledged object
// must never return other bytes.

type s3Traffic struct {
	mu      sync.Mutex
	objects map[string][32]byte // acknowledged key -> sha256
	puts    int                 // acknowledged PUTs
	putErrs int
	gets    int // successful GETs
	getErrs int
	corrupt []string // GETs that answered other bytes
	errKind map[string]int
}

func newS3Traffic() *s3Traffic {
	return &s3Traffic{objects: map[string][32]byte{}, errKind: map[string]int{}}
}

// errClass is a short class of an S3 error, for the report.
func errClass(err error) string {
	var ae smithy.APIError
	var re *awshttp.ResponseError
	msg := err.Error()
	switch {
	case strings.Contains(msg, "connection refused"):
		return "connection refused"
	case strings.Contains(msg, "EOF") || strings.Contains(msg, "connection reset"):
		return "connection closed"
	case strings.Contains(msg, "Timeout") || strings.Contains(msg, "deadline"):
		return "timeout"
	case errors.As(err, &ae):
		return ae.ErrorCode()
	case errors.As(err, &re) && re.HTTPStatusCode() != 0:
		return fmt.Sprintf("HTTP %d", re.HTTPStatusCode())
	}
	return "other"
}

func s3Client(ak, sk string) *s3.Client {
	return s3.New(s3.Options{
		Region:           "us-east-1",
		Credentials:      credentials.NewStaticCredentialsProvider(ak, sk, ""),
		UsePathStyle:     true,
		RetryMaxAttempts: 1,
		HTTPClient:       &http.Client{Timeout: 10 * time.Second},
	})
}

func at(url string) func(*s3.Options) {
	return func(o *s3.Options) { o.BaseEndpoint = aws.String(url) }
}

func (t *s3Traffic) run(ctx context.Context, c *s3.Client, in *Instance, worker int, rng *rand.Rand) {
	for n := 0; ctx.Err() == nil; n++ {
		if n%2 == 0 {
			body := make([]byte, 512+rng.IntN(16<<10))
			for i := range body {
				body[i] = byte(rng.Uint32())
			}
			key := fmt.Sprintf("s%d/%d", worker, n)
			_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(dataBucket), Key: aws.String(key),
				Body: bytes.NewReader(body)}, at(in.URL()))
			t.mu.Lock()
			if err == nil {
				t.objects[key] = sha256.Sum256(body)
				t.puts++
			} else {
				t.putErrs++
				t.errKind["PUT "+errClass(err)]++
			}
			t.mu.Unlock()
		} else {
			t.mu.Lock()
			var key string
			for k := range t.objects { // any acknowledged one
				key = k
				break
			}
			t.mu.Unlock()
			if key != "" {
				_ = t.check(ctx, c, in, key)
			}
		}
		sleep(ctx, 50*time.Millisecond)
	}
}

// check GETs key through in and compares it with what was acknowledged.
func (t *s3Traffic) check(ctx context.Context, c *s3.Client, in *Instance, key string) error {
	out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(dataBucket), Key: aws.String(key)}, at(in.URL()))
	var b []byte
	if err == nil {
		b, err = io.ReadAll(out.Body)
		out.Body.Close()
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if err != nil {
		t.getErrs++
		t.errKind["GET "+errClass(err)]++
		return err
	}
	t.gets++
	if sha256.Sum256(b) != t.objects[key] {
		t.corrupt = append(t.corrupt, key)
		return fmt.Errorf("%s: other bytes", key)
	}
	return nil
}

// verifyAll reads back every acknowledged object; it returns the keys
// that are missing or differ.
func (t *s3Traffic) verifyAll(ctx context.Context, c *s3.Client, in *Instance) []string {
	t.mu.Lock()
	keys := make([]string, 0, len(t.objects))
	for k := range t.objects {
		keys = append(keys, k)
	}
	t.mu.Unlock()
	var bad []string
	for _, k := range keys {
		err := retry(ctx, 10*time.Second, 200*time.Millisecond, func() error { return t.check(ctx, c, in, k) })
		if err != nil {
			bad = append(bad, k+": "+err.Error())
		}
	}
	return bad
}
