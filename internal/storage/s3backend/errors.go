package s3backend

import (
	"errors"
	"net/http"
	"strings"

	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/dgp-proxy/dgp/internal/s3err"
)

// resourceKind says what a request was about, which decides what a bare 404
// (a HEAD answer has no body, hence no S3 code) means.
type resourceKind int

const (
	kindBucket resourceKind = iota
	kindObject
	kindUpload
	// kindVersion is an object request naming a version: a bare 404 is
	// NoSuchVersion.
	kindVersion
)

// objectKind is the kind of an object request for versionID.
func objectKind(versionID string) resourceKind {
	if versionID != "" {
		return kindVersion
	}
	return kindObject
}

// translate turns an SDK error into an *s3err.Error, keeping the upstream S3
// code and HTTP status:
//
//   - a code from the s3err table becomes that entry (upstream message
//     kept, the SDK error wrapped as the cause);
//   - a code the SDK derived from the status because the answer had no body
//     (HEAD requests: "NotFound", "Forbidden", ...) falls back to the status;
//   - any other code is passed through with the upstream status;
//   - no answer at all (dial, TLS, reset, timeout, cancel) is
//     ServiceUnavailable wrapping the cause; SDK input validation failures
//     are InvalidArgument.
//
// Codes from the table get the table's (AWS's) status. Message text is
// inspected once, for MinIO's object lock refusal (see translateAnswer).
// translate(nil, _) is nil.
func translate(err error, kind resourceKind) error {
	if err == nil {
		return nil
	}
	var se *s3err.Error
	if errors.As(err, &se) {
		return se
	}

	status := 0
	var withStatus interface{ HTTPStatusCode() int }
	if errors.As(err, &withStatus) {
		status = withStatus.HTTPStatusCode()
	}
	var code, msg string
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		code, msg = apiErr.ErrorCode(), apiErr.ErrorMessage()
	}

	if status == 0 && code == "" {
		if isInvalidParams(err) {
			return s3err.ErrInvalidArgument.WithMessage("%s", "invalid request parameters").WithCause(err)
		}
		return unreachable(err)
	}
	var withResponse interface{ HTTPResponse() *smithyhttp.Response }
	var header http.Header
	if errors.As(err, &withResponse) {
		if r := withResponse.HTTPResponse(); r != nil && r.Response != nil {
			header = r.Header
		}
	}
	return withAnswerHeaders(translateAnswer(status, code, msg, kind, err), status, header)
}

// withAnswerHeaders adds to e the headers of the upstream error answer that
// S3 sends with it and a client may read: x-amz-delete-marker and
// x-amz-version-id (a delete marker's 404 or 405), and ETag and
// Last-Modified on 304 and 412. Both paths use it.
func withAnswerHeaders(e *s3err.Error, status int, h http.Header) *s3err.Error {
	if len(h) == 0 {
		return e
	}
	if v := headerValue(h, "X-Amz-Delete-Marker"); v != "" {
		e = e.WithHeader("x-amz-delete-marker", v)
	}
	if v := headerValue(h, "X-Amz-Version-Id"); v != "" {
		e = e.WithHeader("x-amz-version-id", v)
	}
	if status == http.StatusNotModified || status == http.StatusPreconditionFailed {
		if v := headerValue(h, "Etag"); v != "" {
			e = e.WithHeader("ETag", quoteETag(v))
		}
		if v := headerValue(h, "Last-Modified"); v != "" {
			e = e.WithHeader("Last-Modified", v)
		}
	}
	return e
}

// unreachable is the error of a request that got no answer at all (dial,
// TLS, reset, timeout, cancel, or no credentials to sign it with).
func unreachable(cause error) error {
	return s3err.ErrServiceUnavailable.WithMessage("%s", "The storage backend is unreachable.").WithCause(cause)
}

// minioWORMMessage is in MinIO's answer to a delete or retention change
// that object lock refuses ("Object is WORM protected and cannot be
// overwritten").
const minioWORMMessage = "WORM protected"

// translateAnswer maps an upstream error answer (HTTP status, S3 error code
// and message as the service sent them, code and message empty when the
// answer had no usable body) to an *s3err.Error wrapping cause. Both the SDK
// path (translate) and the fast path (responseError) use it, so an upstream
// answer means the same whichever path carried it.
func translateAnswer(status int, code, msg string, kind resourceKind, cause error) *s3err.Error {
	derived := code == "" || code == "UnknownError" ||
		(status != 0 && code == strings.ReplaceAll(http.StatusText(status), " ", ""))
	if derived {
		return fromStatus(status, code, kind, cause)
	}

	if code == "InvalidRequest" && strings.Contains(msg, minioWORMMessage) {
		// MinIO refuses to delete or shorten a locked version with 400
		// InvalidRequest; AWS S3, which dgp follows, answers 403
		// AccessDenied. The message is the only mark of it.
		out := *s3err.ErrObjectLockedAccessDenied
		out.Err = cause
		return &out
	}
	if e := tableError(code); e != nil {
		// The table's status is AWS S3's for the code; where an upstream
		// sends another (MinIO: 400 for InvalidBucketState and
		// NoSuchObjectLockConfiguration), dgp answers as AWS does.
		out := *e
		if msg != "" {
			out.Message = msg
		}
		out.Err = cause
		return &out
	}
	if status == 0 {
		status = http.StatusInternalServerError
	}
	if msg == "" {
		msg = http.StatusText(status)
	}
	return &s3err.Error{Code: code, Status: status, Message: msg, Err: cause}
}

// fromStatus maps an answer without a usable S3 code to the table by status.
func fromStatus(status int, code string, kind resourceKind, cause error) *s3err.Error {
	var e *s3err.Error
	switch {
	case status == http.StatusNotModified:
		e = s3err.ErrNotModified
	case status == http.StatusBadRequest:
		e = s3err.ErrInvalidRequest
	case status == http.StatusForbidden || status == http.StatusUnauthorized:
		e = s3err.ErrAccessDenied
	case status == http.StatusNotFound:
		switch kind {
		case kindObject:
			e = s3err.ErrNoSuchKey
		case kindUpload:
			e = s3err.ErrNoSuchUpload
		case kindVersion:
			e = s3err.ErrNoSuchVersion
		default:
			e = s3err.ErrNoSuchBucket
		}
	case status == http.StatusMethodNotAllowed:
		e = s3err.ErrMethodNotAllowed
	case status == http.StatusLengthRequired:
		e = s3err.ErrMissingContentLength
	case status == http.StatusPreconditionFailed:
		e = s3err.ErrPreconditionFailed
	case status == http.StatusRequestedRangeNotSatisfiable:
		e = s3err.ErrInvalidRange
	case status == http.StatusNotImplemented:
		e = s3err.ErrNotImplemented
	case status == http.StatusServiceUnavailable:
		e = s3err.ErrServiceUnavailable
	case status >= 500:
		e = s3err.ErrInternalError
	case status < 400:
		// A non-error status that still failed (unreadable answer).
		return s3err.ErrInternalError.WithMessage("%s", "The storage backend sent an unreadable response.").WithCause(cause)
	default:
		if code == "" || code == "UnknownError" {
			code = strings.ReplaceAll(http.StatusText(status), " ", "")
		}
		return &s3err.Error{Code: code, Status: status, Message: http.StatusText(status), Err: cause}
	}
	out := *e
	out.Status = status
	out.Err = cause
	return &out
}

// isInvalidParams reports whether err is the SDK's client-side validation
// failure (no request was sent).
func isInvalidParams(err error) bool {
	var v smithy.InvalidParamsError
	if errors.As(err, &v) {
		return true
	}
	var p *smithy.InvalidParamsError
	return errors.As(err, &p)
}

// tableError returns the s3err table entry for an S3 error code, or nil.
func tableError(code string) *s3err.Error {
	switch code {
	case "AccessDenied":
		return s3err.ErrAccessDenied
	case "AuthorizationHeaderMalformed":
		return s3err.ErrAuthorizationHeaderMalformed
	case "AuthorizationQueryParametersError":
		return s3err.ErrAuthorizationQueryParametersError
	case "BadDigest":
		return s3err.ErrBadDigest
	case "BucketAlreadyExists":
		return s3err.ErrBucketAlreadyExists
	case "BucketAlreadyOwnedByYou":
		return s3err.ErrBucketAlreadyOwnedByYou
	case "BucketNotEmpty":
		return s3err.ErrBucketNotEmpty
	case "EntityTooLarge":
		return s3err.ErrEntityTooLarge
	case "EntityTooSmall":
		return s3err.ErrEntityTooSmall
	case "ExpiredToken":
		return s3err.ErrExpiredToken
	case "IncompleteBody":
		return s3err.ErrIncompleteBody
	case "InternalError":
		return s3err.ErrInternalError
	case "InvalidAccessKeyId":
		return s3err.ErrInvalidAccessKeyID
	case "InvalidArgument":
		return s3err.ErrInvalidArgument
	case "InvalidBucketName":
		return s3err.ErrInvalidBucketName
	case "InvalidDigest":
		return s3err.ErrInvalidDigest
	case "InvalidObjectName":
		return s3err.ErrInvalidObjectName
	case "InvalidPart":
		return s3err.ErrInvalidPart
	case "InvalidPartOrder":
		return s3err.ErrInvalidPartOrder
	case "InvalidRange":
		return s3err.ErrInvalidRange
	case "InvalidRequest":
		return s3err.ErrInvalidRequest
	case "KeyTooLongError":
		return s3err.ErrKeyTooLong
	case "MalformedXML":
		return s3err.ErrMalformedXML
	case "MethodNotAllowed":
		return s3err.ErrMethodNotAllowed
	case "MissingContentLength":
		return s3err.ErrMissingContentLength
	case "MissingSecurityHeader":
		return s3err.ErrMissingSecurityHeader
	case "NoSuchBucket":
		return s3err.ErrNoSuchBucket
	case "NoSuchKey":
		return s3err.ErrNoSuchKey
	case "NoSuchUpload":
		return s3err.ErrNoSuchUpload
	case "NotImplemented":
		return s3err.ErrNotImplemented
	case "NotModified":
		return s3err.ErrNotModified
	case "PreconditionFailed":
		return s3err.ErrPreconditionFailed
	case "RequestHeaderSectionTooLarge":
		return s3err.ErrRequestHeaderSectionTooLarge
	case "RequestTimeTooSkewed":
		return s3err.ErrRequestTimeTooSkewed
	case "ServiceUnavailable":
		return s3err.ErrServiceUnavailable
	case "SignatureDoesNotMatch":
		return s3err.ErrSignatureDoesNotMatch
	case "XAmzContentSHA256Mismatch":
		return s3err.ErrXAmzContentSHA256Mismatch
	case "InvalidChunkSizeError":
		return s3err.ErrInvalidChunkSizeError
	case "MalformedPOSTRequest":
		return s3err.ErrMalformedPOSTRequest
	case "InvalidStorageClass":
		return s3err.ErrInvalidStorageClass
	case "MaxMessageLengthExceeded":
		return s3err.ErrMaxMessageLengthExceeded
	case "SlowDown":
		return s3err.ErrSlowDown
	case "InvalidPartNumber":
		return s3err.ErrInvalidPartNumber
	case "NoSuchVersion":
		return s3err.ErrNoSuchVersion
	case "InvalidBucketState":
		return s3err.ErrInvalidBucketState
	case "IllegalVersioningConfigurationException":
		return s3err.ErrIllegalVersioningConfiguration
	case "ObjectLockConfigurationNotFoundError":
		return s3err.ErrObjectLockConfigurationNotFound
	case "NoSuchObjectLockConfiguration":
		return s3err.ErrNoSuchObjectLockConfiguration
	case "InvalidRetentionPeriod":
		return s3err.ErrInvalidRetentionPeriod
	case "AccessControlListNotSupported":
		return s3err.ErrAccessControlListNotSupported
	}
	return nil
}
