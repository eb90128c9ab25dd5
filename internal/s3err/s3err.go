// Package s3err is the one table of S3 errors dgp speaks on the wire.
//
// Every layer (SigV4, storage backends, the S3 API) returns *Error values from
// this table, so the HTTP status and the S3 code are decided in exactly one
// place, and s3api renders them in one place.
package s3err

import (
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
)

// Error is an S3 error: a code, an HTTP status and a human message.
// It is comparable by Code via errors.Is (see Is).
type Error struct {
	Code    string
	Status  int
	Message string
	// Resource is optional context (bucket or key) rendered in the XML.
	Resource string
	// Err is an optional wrapped cause; it is never rendered to clients.
	Err error
	// Region, when set, is rendered as the <Region> element (S3 names the
	// expected region in AuthorizationHeaderMalformed).
	Region string
	// Headers are response headers that go with the error (ETag and
	// Last-Modified on 304/412, x-amz-delete-marker and x-amz-version-id on
	// a delete marker's 404/405). Never mutated: WithHeader copies.
	Headers [][2]string
}

// Error implements error.
func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return e.Code + ": " + e.Message
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Is reports whether target is an *Error with the same Code, so
// errors.Is(err, s3err.ErrNoSuchKey) works on wrapped or customised copies.
func (e *Error) Is(target error) bool {
	var t *Error
	if errors.As(target, &t) {
		return t.Code == e.Code
	}
	return false
}

// WithMessage returns a copy of e with another message.
func (e *Error) WithMessage(format string, args ...any) *Error {
	c := *e
	c.Message = fmt.Sprintf(format, args...)
	return &c
}

// WithResource returns a copy of e naming the resource it is about.
func (e *Error) WithResource(res string) *Error {
	c := *e
	c.Resource = res
	return &c
}

// WithCause returns a copy of e wrapping cause (for logs only).
func (e *Error) WithCause(cause error) *Error {
	c := *e
	c.Err = cause
	return &c
}

// WithHeader returns a copy of e that also sets response header name.
func (e *Error) WithHeader(name, value string) *Error {
	c := *e
	c.Headers = append(append([][2]string(nil), e.Headers...), [2]string{name, value})
	return &c
}

// WithRegion returns a copy of e naming a region in its XML body.
func (e *Error) WithRegion(region string) *Error {
	c := *e
	c.Region = region
	return &c
}

func def(code string, status int, msg string) *Error {
	return &Error{Code: code, Status: status, Message: msg}
}

// The table. Use the values (or copies made with With*) everywhere; never
// build an *Error with a code that is not listed here.
var (
	ErrAccessDenied                      = def("AccessDenied", http.StatusForbidden, "Access Denied")
	ErrAuthorizationHeaderMalformed      = def("AuthorizationHeaderMalformed", http.StatusBadRequest, "The authorization header is malformed.")
	ErrAuthorizationQueryParametersError = def("AuthorizationQueryParametersError", http.StatusBadRequest, "Error parsing the X-Amz-Credential parameter.")
	ErrBadDigest                         = def("BadDigest", http.StatusBadRequest, "The Content-MD5 or checksum you specified did not match what we received.")
	ErrBucketAlreadyExists               = def("BucketAlreadyExists", http.StatusConflict, "The requested bucket name is not available.")
	ErrBucketAlreadyOwnedByYou           = def("BucketAlreadyOwnedByYou", http.StatusConflict, "Your previous request to create the named bucket succeeded and you already own it.")
	ErrBucketNotEmpty                    = def("BucketNotEmpty", http.StatusConflict, "The bucket you tried to delete is not empty.")
	ErrEntityTooLarge                    = def("EntityTooLarge", http.StatusBadRequest, "Your proposed upload exceeds the maximum allowed object size.")
	ErrEntityTooSmall                    = def("EntityTooSmall", http.StatusBadRequest, "Your proposed upload is smaller than the minimum allowed object size.")
	ErrExpiredToken                      = def("ExpiredToken", http.StatusBadRequest, "The provided token has expired.")
	ErrIncompleteBody                    = def("IncompleteBody", http.StatusBadRequest, "You did not provide the number of bytes specified by the Content-Length HTTP header.")
	ErrInternalError                     = def("InternalError", http.StatusInternalServerError, "We encountered an internal error. Please try again.")
	ErrInvalidAccessKeyID                = def("InvalidAccessKeyId", http.StatusForbidden, "The AWS access key Id you provided does not exist in our records.")
	ErrInvalidArgument                   = def("InvalidArgument", http.StatusBadRequest, "Invalid Argument")
	ErrInvalidBucketName                 = def("InvalidBucketName", http.StatusBadRequest, "The specified bucket is not valid.")
	ErrInvalidDigest                     = def("InvalidDigest", http.StatusBadRequest, "The Content-MD5 you specified is not valid.")
	ErrInvalidObjectName                 = def("InvalidObjectName", http.StatusBadRequest, "The specified object name is not valid.")
	ErrInvalidPart                       = def("InvalidPart", http.StatusBadRequest, "One or more of the specified parts could not be found.")
	ErrInvalidPartNumber                 = def("InvalidPartNumber", http.StatusRequestedRangeNotSatisfiable, "The requested partnumber is not satisfiable")
	ErrInvalidPartOrder                  = def("InvalidPartOrder", http.StatusBadRequest, "The list of parts was not in ascending order.")
	ErrInvalidRange                      = def("InvalidRange", http.StatusRequestedRangeNotSatisfiable, "The requested range is not satisfiable.")
	ErrInvalidRequest                    = def("InvalidRequest", http.StatusBadRequest, "Invalid Request")
	ErrKeyTooLong                        = def("KeyTooLongError", http.StatusBadRequest, "Your key is too long.")
	ErrMalformedXML                      = def("MalformedXML", http.StatusBadRequest, "The XML you provided was not well-formed or did not validate against our published schema.")
	ErrMethodNotAllowed                  = def("MethodNotAllowed", http.StatusMethodNotAllowed, "The specified method is not allowed against this resource.")
	ErrMissingContentLength              = def("MissingContentLength", http.StatusLengthRequired, "You must provide the Content-Length HTTP header.")
	ErrMissingSecurityHeader             = def("MissingSecurityHeader", http.StatusBadRequest, "Your request is missing a required header.")
	ErrNoSuchBucket                      = def("NoSuchBucket", http.StatusNotFound, "The specified bucket does not exist.")
	ErrNoSuchKey                         = def("NoSuchKey", http.StatusNotFound, "The specified key does not exist.")
	ErrNoSuchUpload                      = def("NoSuchUpload", http.StatusNotFound, "The specified multipart upload does not exist.")
	ErrNotImplemented                    = def("NotImplemented", http.StatusNotImplemented, "A header you provided implies functionality that is not implemented.")
	ErrNotModified                       = def("NotModified", http.StatusNotModified, "Not Modified")
	ErrPreconditionFailed                = def("PreconditionFailed", http.StatusPreconditionFailed, "At least one of the pre-conditions you specified did not hold.")
	ErrRequestHeaderSectionTooLarge      = def("RequestHeaderSectionTooLarge", http.StatusBadRequest, "Your request header section exceeds the maximum allowed size.")
	ErrRequestTimeout                    = def("RequestTimeout", http.StatusBadRequest, "Your socket connection to the server was not read from or written to within the timeout period.")
	ErrRequestTimeTooSkewed              = def("RequestTimeTooSkewed", http.StatusForbidden, "The difference between the request time and the server's time is too large.")
	ErrServiceUnavailable                = def("ServiceUnavailable", http.StatusServiceUnavailable, "Please reduce your request rate.")
	ErrSignatureDoesNotMatch             = def("SignatureDoesNotMatch", http.StatusForbidden, "The request signature we calculated does not match the signature you provided. Check your key and signing method.")
	ErrXAmzContentSHA256Mismatch         = def("XAmzContentSHA256Mismatch", http.StatusBadRequest, "The provided 'x-amz-content-sha256' header does not match what was computed.")
	ErrAccessDeniedExpired               = def("AccessDenied", http.StatusForbidden, "Request has expired")
	ErrInvalidChunkSizeError             = def("InvalidChunkSizeError", http.StatusBadRequest, "Only the last chunk is allowed to have a size less than 8192 bytes")
	ErrMalformedPOSTRequest              = def("MalformedPOSTRequest", http.StatusBadRequest, "The body of your POST request is not well-formed multipart/form-data.")
	ErrInvalidStorageClass               = def("InvalidStorageClass", http.StatusBadRequest, "The storage class you specified is not valid.")
	ErrMaxMessageLengthExceeded          = def("MaxMessageLengthExceeded", http.StatusBadRequest, "Your request was too big.")
	ErrSlowDown                          = def("SlowDown", http.StatusServiceUnavailable, "Please reduce your request rate.")

	// Versioning, object lock, ACLs, POST object.
	ErrNoSuchVersion                       = def("NoSuchVersion", http.StatusNotFound, "The specified version does not exist.")
	ErrInvalidBucketState                  = def("InvalidBucketState", http.StatusConflict, "The request is not valid with the current state of the bucket.")
	ErrIllegalVersioningConfiguration      = def("IllegalVersioningConfigurationException", http.StatusBadRequest, "The versioning configuration specified in the request is invalid.")
	ErrObjectLockConfigurationNotFound     = def("ObjectLockConfigurationNotFoundError", http.StatusNotFound, "Object Lock configuration does not exist for this bucket")
	ErrNoSuchObjectLockConfiguration       = def("NoSuchObjectLockConfiguration", http.StatusNotFound, "The specified object does not have a ObjectLock configuration")
	ErrInvalidRetentionPeriod              = def("InvalidRetentionPeriod", http.StatusBadRequest, "The retention period specified is invalid.")
	ErrAccessControlListNotSupported       = def("AccessControlListNotSupported", http.StatusBadRequest, "The bucket does not allow ACLs")
	ErrInvalidBucketAclWithObjectOwnership = def("InvalidBucketAclWithObjectOwnership", http.StatusBadRequest, "Bucket cannot have ACLs set with ObjectOwnership's BucketOwnerEnforced setting")
	ErrInvalidPolicyDocument               = def("InvalidPolicyDocument", http.StatusBadRequest, "The content of the form does not meet the conditions specified in the policy document.")
	ErrIncorrectNumberOfFilesInPostRequest = def("IncorrectNumberOfFilesInPostRequest", http.StatusBadRequest, "POST requires exactly one file upload per request.")
	ErrMissingFields                       = def("MissingFields", http.StatusBadRequest, "Missing fields in request.")
	ErrMaxPostPreDataLengthExceeded        = def("MaxPostPreDataLengthExceeded", http.StatusBadRequest, "Your POST request fields preceeding the upload file was too large.")
	ErrInvalidEncodingMethod               = def("InvalidEncodingMethod", http.StatusBadRequest, "The encoding method specified is not supported.")
	ErrObjectLockedAccessDenied            = def("AccessDenied", http.StatusForbidden, "Access Denied because object protected by object lock.")
)

// From converts any error to an *Error: *Error values (possibly wrapped) are
// returned as they are; anything else becomes InternalError wrapping it.
func From(err error) *Error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return ErrInternalError.WithCause(err)
}

// Response is the XML body of an S3 error.
type Response struct {
	XMLName   xml.Name `xml:"Error"`
	Code      string   `xml:"Code"`
	Message   string   `xml:"Message"`
	Resource  string   `xml:"Resource,omitempty"`
	Region    string   `xml:"Region,omitempty"`
	RequestID string   `xml:"RequestId"`
}

// Write renders e as the S3 XML error body with its status. HEAD requests
// (and 304) get the status only, as S3 does.
func Write(w http.ResponseWriter, r *http.Request, e *Error, requestID string) {
	h := w.Header()
	h.Set("x-amz-request-id", requestID)
	for _, kv := range e.Headers {
		h.Set(kv[0], kv[1])
	}
	if e.Status == http.StatusNotModified || r.Method == http.MethodHead {
		w.WriteHeader(e.Status)
		return
	}
	body, _ := xml.Marshal(Response{Code: e.Code, Message: e.Message, Resource: e.Resource, Region: e.Region, RequestID: requestID})
	h.Set("Content-Type", "application/xml")
	w.WriteHeader(e.Status)
	_, _ = w.Write([]byte(xml.Header))
	_, _ = w.Write(body)
}
