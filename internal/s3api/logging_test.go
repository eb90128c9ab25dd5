package s3api

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// A 5xx answer is logged at error with its request id and operation; a
// 4xx answer stays at info.
func TestServerErrorsLoggedAtError(t *testing.T) {
	e := newTestEnv(t, false)
	ctx := context.Background()
	c := e.root()
	_, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(panicBucket), Key: aws.String("k")})
	wantCode(t, err, "InternalError", "GetObject on the faulty bucket")
	_, err = c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("no-such-bucket"), Key: aws.String("k")})
	wantCode(t, err, "NoSuchBucket", "GetObject on a missing bucket")

	var got500, got404 bool
	for _, l := range e.logs.lines(t) {
		if l["message"] != "s3 request" {
			continue
		}
		switch l["status"] {
		case float64(500):
			got500 = true
			if l["level"] != "error" || l["op"] != "GetObject" || l["request_id"] == "" || l["error_code"] != "InternalError" {
				t.Errorf("500 logged as %v", l)
			}
		case float64(404):
			got404 = true
			if l["level"] != "info" {
				t.Errorf("404 logged as %v", l)
			}
		}
	}
	if !got500 || !got404 {
		t.Fatalf("access lines missing (500 %v, 404 %v): %s", got500, got404, e.logs.String())
	}
}
