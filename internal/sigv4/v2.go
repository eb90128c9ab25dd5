package sigv4

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/dgp-proxy/dgp/internal/s3err"
)

// The SigV2 query-string parameters.
const (
	qV2AccessKeyID = "AWSAccessKeyId"
	qV2Expires     = "Expires"
	qV2Signature   = "Signature"
)

// errSigV2Disabled is S3's answer to SigV2 where only SigV4 is accepted.
var errSigV2Disabled = s3err.ErrInvalidRequest.WithMessage("The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.")

// v2SignatureSize is the length of a base64 HMAC-SHA1 (20 bytes).
const v2SignatureSize = (sha1.Size + 2) / 3 * 4

// verifyV2Header authenticates "Authorization: AWS <AKID>:<signature>";
// cred is what follows "AWS ".
func (v *Verifier) verifyV2Header(r *http.Request, cred string, query []queryPair, lookup SecretLookup, into *Verification) (*Result, error) {
	if !v.sigV2 {
		return nil, errSigV2Disabled
	}
	accessKeyID, signature, msg := parseV2Authorization(cred)
	if msg != "" {
		return nil, s3err.ErrInvalidArgument.WithMessage("%s", msg)
	}
	// With x-amz-date the Date line of the string to sign is empty: the
	// date is signed among the x-amz-* headers.
	var dateValue, dateLine string
	if vals := r.Header["X-Amz-Date"]; len(vals) > 0 {
		dateValue = vals[0]
	} else {
		dateValue = headerGet(r.Header, "Date")
		dateLine = dateValue
	}
	t, ok := parseV2Date(dateValue)
	if !ok {
		return nil, s3err.ErrAccessDenied.WithMessage("AWS authentication requires a valid Date or x-amz-date header")
	}
	if skew := v.now().Sub(t); skew > MaxClockSkew || skew < -MaxClockSkew {
		return nil, s3err.ErrRequestTimeTooSkewed
	}
	secret, ok := lookup(accessKeyID)
	if !ok {
		return nil, s3err.ErrInvalidAccessKeyID
	}
	in := v2Input{
		method:   r.Method,
		dateLine: dateLine,
		bucket:   v.domains.Bucket(r.Host),
		path:     wirePath(r),
		query:    query,
	}
	if err := checkV2Signature(r, in, secret, signature); err != nil {
		return nil, err
	}
	return v.v2Result(r, accessKeyID, false, into)
}

// verifyV2Query authenticates a SigV2 presigned URL
// (?AWSAccessKeyId=...&Expires=...&Signature=...).
func (v *Verifier) verifyV2Query(r *http.Request, query []queryPair, lookup SecretLookup, into *Verification) (*Result, error) {
	if !v.sigV2 {
		return nil, errSigV2Disabled
	}
	accessKeyID, hasKey := queryValue(query, qV2AccessKeyID)
	expires, hasExpires := queryValue(query, qV2Expires)
	signature, _ := queryValue(query, qV2Signature)
	if !hasKey || !hasExpires {
		return nil, s3err.ErrAccessDenied.WithMessage("Query-string authentication requires the Signature, Expires and AWSAccessKeyId parameters")
	}
	at, ok := parseV2Expires(expires)
	if !ok {
		return nil, s3err.ErrAccessDenied.WithMessage("Invalid date (should be seconds since epoch): %s", truncate(expires))
	}
	// A presigned URL has no skew window: only its expiry counts.
	if v.now().Unix() > at {
		return nil, s3err.ErrAccessDeniedExpired
	}
	secret, ok := lookup(accessKeyID)
	if !ok {
		return nil, s3err.ErrInvalidAccessKeyID
	}
	in := v2Input{
		method:    r.Method,
		dateLine:  expires,
		bucket:    v.domains.Bucket(r.Host),
		path:      wirePath(r),
		query:     query,
		presigned: true,
	}
	if err := checkV2Signature(r, in, secret, signature); err != nil {
		return nil, err
	}
	return v.v2Result(r, accessKeyID, true, into)
}

// v2Result builds the Result of a verified SigV2 request. SigV2 signs no
// payload hash; Content-MD5, x-amz-checksum-* and a hex
// x-amz-content-sha256 (a signed x-amz-* header) are still enforced, as is
// the declared length.
func (v *Verifier) v2Result(r *http.Request, accessKeyID string, presigned bool, into *Verification) (*Result, error) {
	mode, sum := payloadUnsigned, [sha256.Size]byte{}
	if h := headerGet(r.Header, headerContentSHA256); h != "" {
		var perr *s3err.Error
		if mode, sum, perr = parsePayloadMode(h); perr != nil {
			return nil, perr
		}
		if mode.streaming() {
			return nil, s3err.ErrInvalidRequest.WithMessage("aws-chunked payloads (%s) require Signature Version 4.", h)
		}
	}
	checksum, err := scanAmzHeaders(r, "", false)
	if err != nil {
		return nil, err
	}
	vr := into.result()
	length, err := v.newBody(r, bodyInput{mode: mode, payloadHash: sum, checksum: checksum}, &vr.body)
	if err != nil {
		return nil, err
	}
	vr.res = Result{
		AccessKeyID:     accessKeyID,
		Presigned:       presigned,
		Body:            &vr.body,
		ContentLength:   length,
		ContentEncoding: headerGet(r.Header, "Content-Encoding"),
	}
	return &vr.res, nil
}

// checkV2Signature computes the SigV2 signature of r and compares it with
// the one provided.
func checkV2Signature(r *http.Request, in v2Input, secret, provided string) error {
	var stack [512]byte
	sts := appendV2StringToSign(stack[:0], r.Header, in)
	want := signV2(secret, sts)
	if !hmac.Equal(want, []byte(provided)) {
		return s3err.ErrSignatureDoesNotMatch.WithCause(fmt.Errorf("string to sign %q", string(sts)))
	}
	return nil
}

// signV2 returns the base64 HMAC-SHA1 of stringToSign under secret.
func signV2(secret string, stringToSign []byte) []byte {
	m := hmac.New(sha1.New, []byte(secret))
	m.Write(stringToSign)
	var sum [sha1.Size]byte
	out := make([]byte, v2SignatureSize)
	base64.StdEncoding.Encode(out, m.Sum(sum[:0]))
	return out
}

// parseV2Authorization splits "<AKID>:<signature>" (what follows "AWS ").
// The error is a message for InvalidArgument.
func parseV2Authorization(cred string) (accessKeyID, signature, msg string) {
	if strings.HasPrefix(cred, " ") {
		return "", "", "Authorization header is invalid -- one and only one ' ' (space) required"
	}
	accessKeyID, signature, ok := strings.Cut(cred, ":")
	if !ok || signature == "" || strings.IndexByte(signature, ':') >= 0 {
		return "", "", "AWS authorization header is invalid.  Expected AwsAccessKeyId:signature"
	}
	return accessKeyID, signature, ""
}

// v2DateLayouts are the forms a SigV2 Date or x-amz-date may take: the
// HTTP date forms (RFC 1123 with GMT or a numeric zone, RFC 850, ANSI C)
// and the ISO 8601 basic form SigV4 uses.
var v2DateLayouts = [...]string{
	http.TimeFormat,
	time.RFC1123Z,
	time.RFC1123,
	time.RFC850,
	time.ANSIC,
	amzDateFormat,
}

// parseV2Date parses a SigV2 request date.
func parseV2Date(s string) (time.Time, bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, false
	}
	for _, layout := range v2DateLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// parseV2Expires parses the Expires of a SigV2 presigned URL: decimal
// seconds since the epoch that fit a signed 32-bit integer, as S3 reads it
// (leading zeros and a minus sign allowed, nothing else).
func parseV2Expires(s string) (int64, bool) {
	digits := strings.TrimPrefix(s, "-")
	if digits == "" {
		return 0, false
	}
	for i := 0; i < len(digits); i++ {
		if digits[i] < '0' || digits[i] > '9' {
			return 0, false
		}
	}
	digits = strings.TrimLeft(digits, "0")
	if digits == "" {
		return 0, true
	}
	n, err := strconv.ParseInt(digits, 10, 32)
	if err != nil {
		return 0, false
	}
	if len(s) > 0 && s[0] == '-' {
		n = -n
	}
	return n, true
}

// wirePath is the request path as the client sent it (SigV2 signs it
// verbatim), falling back to the escaped URL path when the request line
// is unavailable or was rewritten.
func wirePath(r *http.Request) string {
	if u := r.RequestURI; u != "" && u[0] == '/' {
		if i := strings.IndexByte(u, '?'); i >= 0 {
			u = u[:i]
		}
		if u == r.URL.EscapedPath() || unescapesTo(u, r.URL.Path) {
			return u
		}
	}
	return r.URL.EscapedPath()
}
