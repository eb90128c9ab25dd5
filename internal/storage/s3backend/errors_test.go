package s3backend

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/dgp-proxy/dgp/internal/s3err"
)

// sdkError builds the error chain the SDK returns for an upstream answer:
// OperationError -> awshttp.ResponseError -> smithyhttp.ResponseError -> api.
func sdkError(op string, status int, api error) error {
	return &smithy.OperationError{
		ServiceID:     "S3",
		OperationName: op,
		Err: &awshttp.ResponseError{
			ResponseError: &smithyhttp.ResponseError{
				Response: &smithyhttp.Response{Response: &http.Response{StatusCode: status, Header: http.Header{}}},
				Err:      api,
			},
			RequestID: "req-1",
		},
	}
}

func generic(code, msg string) error {
	return &smithy.GenericAPIError{Code: code, Message: msg, Fault: smithy.FaultClient}
}

// derived is what the SDK makes of a body-less answer (HEAD): the code and
// message come from the status text.
func derived(status int) error {
	text := http.StatusText(status)
	code := ""
	for _, r := range text {
		if r != ' ' {
			code += string(r)
		}
	}
	return generic(code, text)
}

func TestTranslate(t *testing.T) {
	tests := []struct {
		name       string
		err        error
		kind       resourceKind
		wantCode   string
		wantStatus int
		wantIs     error
	}{
		{"modeled NoSuchKey", sdkError("GetObject", 404, &types.NoSuchKey{Message: aws.String("The specified key does not exist.")}), kindObject, "NoSuchKey", 404, s3err.ErrNoSuchKey},
		{"modeled NoSuchBucket", sdkError("ListObjectsV2", 404, &types.NoSuchBucket{}), kindBucket, "NoSuchBucket", 404, s3err.ErrNoSuchBucket},
		{"modeled NoSuchUpload", sdkError("UploadPart", 404, &types.NoSuchUpload{}), kindUpload, "NoSuchUpload", 404, s3err.ErrNoSuchUpload},
		{"NoSuchBucket on object op keeps its code", sdkError("GetObject", 404, generic("NoSuchBucket", "gone")), kindObject, "NoSuchBucket", 404, s3err.ErrNoSuchBucket},
		{"generic BucketNotEmpty", sdkError("DeleteBucket", 409, generic("BucketNotEmpty", "not empty")), kindBucket, "BucketNotEmpty", 409, s3err.ErrBucketNotEmpty},
		{"PreconditionFailed code", sdkError("PutObject", 412, generic("PreconditionFailed", "nope")), kindObject, "PreconditionFailed", 412, s3err.ErrPreconditionFailed},
		{"InvalidRange code", sdkError("GetObject", 416, generic("InvalidRange", "bad range")), kindObject, "InvalidRange", 416, s3err.ErrInvalidRange},
		{"SlowDown keeps 503", sdkError("PutObject", 503, generic("SlowDown", "slow")), kindObject, "SlowDown", 503, s3err.ErrSlowDown},
		{"HEAD object 404", sdkError("HeadObject", 404, &types.NotFound{}), kindObject, "NoSuchKey", 404, s3err.ErrNoSuchKey},
		{"HEAD bucket 404", sdkError("HeadBucket", 404, &types.NotFound{}), kindBucket, "NoSuchBucket", 404, s3err.ErrNoSuchBucket},
		{"bare 404 on upload op", sdkError("ListParts", 404, derived(404)), kindUpload, "NoSuchUpload", 404, s3err.ErrNoSuchUpload},
		{"HEAD 304", sdkError("HeadObject", 304, derived(304)), kindObject, "NotModified", 304, s3err.ErrNotModified},
		{"HEAD 412", sdkError("HeadObject", 412, derived(412)), kindObject, "PreconditionFailed", 412, s3err.ErrPreconditionFailed},
		{"HEAD 416", sdkError("HeadObject", 416, derived(416)), kindObject, "InvalidRange", 416, s3err.ErrInvalidRange},
		{"HEAD 403", sdkError("HeadObject", 403, derived(403)), kindObject, "AccessDenied", 403, s3err.ErrAccessDenied},
		{"HEAD 400", sdkError("HeadObject", 400, derived(400)), kindObject, "InvalidRequest", 400, s3err.ErrInvalidRequest},
		{"HEAD 500", sdkError("HeadObject", 500, derived(500)), kindObject, "InternalError", 500, s3err.ErrInternalError},
		{"HEAD 503", sdkError("HeadObject", 503, derived(503)), kindObject, "ServiceUnavailable", 503, s3err.ErrServiceUnavailable},
		{"502 without body keeps status", sdkError("GetObject", 502, derived(502)), kindObject, "InternalError", 502, s3err.ErrInternalError},
		{"UnknownError code falls back to status", sdkError("GetObject", 403, generic("UnknownError", "UnknownError")), kindObject, "AccessDenied", 403, s3err.ErrAccessDenied},
		{"unlisted code passes through", sdkError("GetObject", 400, generic("RequestTimeout", "Your socket connection timed out")), kindObject, "RequestTimeout", 400, nil},
		{"unlisted code keeps 3xx status", sdkError("GetObject", 301, generic("PermanentRedirect", "use the other endpoint")), kindObject, "PermanentRedirect", 301, nil},
		{"bare 409 keeps status", sdkError("HeadBucket", 409, derived(409)), kindBucket, "Conflict", 409, nil},
		{"dial failure", &smithy.OperationError{ServiceID: "S3", OperationName: "GetObject", Err: &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}}, kindObject, "ServiceUnavailable", 503, s3err.ErrServiceUnavailable},
		{"canceled", &smithy.OperationError{ServiceID: "S3", OperationName: "GetObject", Err: &smithy.CanceledError{Err: context.Canceled}}, kindObject, "ServiceUnavailable", 503, context.Canceled},
		{"invalid params", &smithy.OperationError{ServiceID: "S3", OperationName: "GetObject", Err: smithy.InvalidParamsError{Context: "GetObjectInput"}}, kindObject, "InvalidArgument", 400, s3err.ErrInvalidArgument},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := translate(tt.err, tt.kind)
			var se *s3err.Error
			if !errors.As(got, &se) {
				t.Fatalf("translate() = %T %v, want *s3err.Error", got, got)
			}
			if se.Code != tt.wantCode || se.Status != tt.wantStatus {
				t.Errorf("translate() = %s/%d, want %s/%d", se.Code, se.Status, tt.wantCode, tt.wantStatus)
			}
			if se.Message == "" {
				t.Errorf("translate() has an empty message")
			}
			if tt.wantIs != nil && !errors.Is(got, tt.wantIs) {
				t.Errorf("errors.Is(%v, %v) = false", got, tt.wantIs)
			}
			if !errors.Is(got, tt.err) {
				t.Errorf("translate() does not wrap the SDK error")
			}
		})
	}
}

func TestTranslateKeepsUpstreamMessage(t *testing.T) {
	got := translate(sdkError("UploadPart", 400, generic("InvalidArgument", "Part number must be an integer")), kindUpload)
	var se *s3err.Error
	if !errors.As(got, &se) || se.Message != "Part number must be an integer" {
		t.Fatalf("translate() = %v, want upstream message kept", got)
	}
	// The table value itself is never modified.
	if s3err.ErrInvalidArgument.Message != "Invalid Argument" || s3err.ErrInvalidArgument.Err != nil {
		t.Fatalf("table entry modified: %+v", s3err.ErrInvalidArgument)
	}
}

func TestTranslatePassesThroughOwnErrors(t *testing.T) {
	if got := translate(nil, kindObject); got != nil {
		t.Fatalf("translate(nil) = %v", got)
	}
	in := s3err.ErrSignatureDoesNotMatch.WithCause(errors.New("chunk 3"))
	if got := translate(fmt.Errorf("wrapped: %w", in), kindObject); got != in {
		t.Fatalf("translate() = %v, want the *s3err.Error unchanged", got)
	}
}

func TestTableErrorCoversTable(t *testing.T) {
	table := []*s3err.Error{
		s3err.ErrAccessDenied, s3err.ErrAuthorizationHeaderMalformed, s3err.ErrAuthorizationQueryParametersError,
		s3err.ErrBadDigest, s3err.ErrBucketAlreadyExists, s3err.ErrBucketAlreadyOwnedByYou, s3err.ErrBucketNotEmpty,
		s3err.ErrEntityTooLarge, s3err.ErrEntityTooSmall, s3err.ErrExpiredToken, s3err.ErrIncompleteBody,
		s3err.ErrInternalError, s3err.ErrInvalidAccessKeyID, s3err.ErrInvalidArgument, s3err.ErrInvalidBucketName,
		s3err.ErrInvalidDigest, s3err.ErrInvalidObjectName, s3err.ErrInvalidPart, s3err.ErrInvalidPartOrder,
		s3err.ErrInvalidRange, s3err.ErrInvalidRequest, s3err.ErrKeyTooLong, s3err.ErrMalformedXML,
		s3err.ErrMethodNotAllowed, s3err.ErrMissingContentLength, s3err.ErrMissingSecurityHeader,
		s3err.ErrNoSuchBucket, s3err.ErrNoSuchKey, s3err.ErrNoSuchUpload, s3err.ErrNotImplemented,
		s3err.ErrNotModified, s3err.ErrPreconditionFailed, s3err.ErrRequestHeaderSectionTooLarge,
		s3err.ErrRequestTimeTooSkewed, s3err.ErrServiceUnavailable, s3err.ErrSignatureDoesNotMatch,
		s3err.ErrXAmzContentSHA256Mismatch, s3err.ErrInvalidChunkSizeError, s3err.ErrMalformedPOSTRequest,
		s3err.ErrInvalidStorageClass, s3err.ErrMaxMessageLengthExceeded, s3err.ErrSlowDown,
	}
	for _, e := range table {
		got := tableError(e.Code)
		if got == nil || got.Code != e.Code {
			t.Errorf("tableError(%q) = %v", e.Code, got)
		}
	}
	if got := tableError("NoSuchThing"); got != nil {
		t.Errorf("tableError(unknown) = %v, want nil", got)
	}
}
