// Package sigv4 authenticates S3 requests signed with AWS Signature Version 4:
// the Authorization header, presigned URLs, and the aws-chunked streaming
// payloads (signed chunks, unsigned chunks with a trailing checksum); and,
// when Options.SigV2 is set, AWS Signature Version 2 (header and query
// string) for legacy clients.
//
// Verify checks everything that can be checked from the request line and
// headers, and returns a Result whose Body verifies the payload while it is
// read (payload hash, chunk and trailer signatures, checksums, Content-MD5,
// length). The body is never held in memory.
package sigv4

import (
	"crypto/hmac"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/dgp-proxy/dgp/internal/s3err"
	"github.com/dgp-proxy/dgp/internal/vhost"
)

// MaxClockSkew is how far the request time may be from the server's clock.
const MaxClockSkew = 15 * time.Minute

// SecretLookup returns the secret access key for an access key id.
type SecretLookup func(accessKeyID string) (secret string, ok bool)

// Verifier verifies signed S3 requests. It is safe for concurrent use.
type Verifier struct {
	now     func() time.Time
	keys    *keyCache
	macs    macPool
	hashes  *hashes
	sigV2   bool
	regions []string
	domains vhost.Domains
}

// Options configure a Verifier built by New.
type Options struct {
	// Now is the clock (time.Now when nil). Requests more than
	// MaxClockSkew away from it are refused.
	Now func() time.Time
	// SigV2 accepts AWS Signature Version 2 (the "AWS AKID:signature"
	// header and the AWSAccessKeyId/Expires/Signature query string). When
	// false such requests get InvalidRequest, as on V4-only S3 regions.
	SigV2 bool
	// Regions are the regions a SigV4 credential scope may name; the first
	// is the one error answers name. Empty accepts any region.
	Regions []string
	// VirtualHostDomains are the domains under which Host
	// "<bucket>.<domain>[:port]" addresses a bucket (as the S3 router is
	// configured): SigV2 signs such a request's resource as "/<bucket>/key".
	VirtualHostDomains []string
}

// NewVerifier returns a Verifier that reads the time from now (time.Now
// when nil), accepts SigV4 only and any region: New with only Now set.
func NewVerifier(now func() time.Time) *Verifier {
	return New(Options{Now: now})
}

// New returns a Verifier configured by o.
func New(o Options) *Verifier {
	now := o.Now
	if now == nil {
		now = time.Now
	}
	return &Verifier{
		now: now, keys: newKeyCache(), hashes: newHashes(),
		sigV2:   o.SigV2,
		regions: slices.Clone(o.Regions),
		domains: vhost.Normalise(o.VirtualHostDomains),
	}
}

// Result is an authenticated request.
type Result struct {
	// AccessKeyID is the access key that signed the request.
	AccessKeyID string
	// Presigned is true for query-string (presigned URL) authentication.
	Presigned bool
	// Region is the region named in the credential scope.
	Region string
	// Body is what to hand to the backend instead of r.Body: the decoded
	// payload (aws-chunked framing removed), verified while read. When a
	// check fails, Read returns an *s3err.Error (never io.EOF first), and
	// when the length is known the final bytes are held back until every
	// check passed. Close closes r.Body.
	Body io.ReadCloser
	// ContentLength is the decoded payload length (x-amz-decoded-content-length
	// for aws-chunked, else r.ContentLength), -1 if unknown.
	ContentLength int64
	// ContentEncoding is the request's Content-Encoding with the aws-chunked
	// transfer coding removed: what the stored object should carry.
	ContentEncoding string
}

// Verify authenticates r. Errors are *s3err.Error values. Verify does not
// read the body; Result.Body performs the payload checks as it is read.
func (v *Verifier) Verify(r *http.Request, lookup SecretLookup) (*Result, error) {
	return v.VerifyInto(r, lookup, nil)
}

// Verification holds a Result and its Body, so that a caller can allocate
// them along with its own per-request state (VerifyInto). The zero value is
// ready for use; it must not be copied.
type Verification struct{ v verified }

// result resets and returns the storage of one verification: vn's, or a
// new one when vn is nil.
func (vn *Verification) result() *verified {
	if vn == nil {
		return &verified{}
	}
	vn.v = verified{}
	return &vn.v
}

// VerifyInto is Verify keeping the Result and its Body in into (which
// must not be reused while they are in use); a nil into allocates them.
func (v *Verifier) VerifyInto(r *http.Request, lookup SecretLookup, into *Verification) (*Result, error) {
	var qbuf [8]queryPair // most requests have fewer parameters
	query, ok := appendQuery(qbuf[:0], r.URL.RawQuery)
	if !ok {
		return nil, s3err.ErrInvalidArgument.WithMessage("The query string is not correctly percent-encoded.")
	}
	authz := r.Header["Authorization"]
	queryAlg, hasQueryAlg := queryValue(query, qAlgorithm)
	hasQuerySig := hasQueryAlg || queryHas(query, qSignature) || queryHas(query, qCredential)
	hasV2QuerySig := queryHas(query, qV2Signature)
	switch {
	case len(authz) > 0 && (hasQuerySig || hasV2QuerySig), hasQuerySig && hasV2QuerySig:
		return nil, s3err.ErrInvalidArgument.WithMessage("Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified.")
	case len(authz) > 0:
		return v.verifyHeader(r, authz, query, lookup, into)
	case hasQuerySig:
		return v.verifyPresigned(r, queryAlg, query, lookup, into)
	case hasV2QuerySig:
		return v.verifyV2Query(r, query, lookup, into)
	}
	// Like S3, an AWSAccessKeyId without a Signature is an unsigned request.
	return nil, s3err.ErrAccessDenied.WithMessage("Anonymous access is not allowed; sign the request with AWS Signature Version 4.")
}

func (v *Verifier) verifyHeader(r *http.Request, authz []string, query []queryPair, lookup SecretLookup, into *Verification) (*Result, error) {
	if len(authz) > 1 {
		return nil, s3err.ErrAuthorizationHeaderMalformed.WithMessage("The request has more than one Authorization header.")
	}
	h := authz[0]
	switch {
	case len(h) > 4 && strings.EqualFold(h[:4], "AWS "):
		return v.verifyV2Header(r, h[4:], query, lookup, into)
	case strings.HasPrefix(h, "AWS4-ECDSA-P256-SHA256"):
		return nil, s3err.ErrNotImplemented.WithMessage("AWS Signature Version 4A is not supported; use Signature Version 4.")
	case !strings.HasPrefix(h, algorithm):
		return nil, s3err.ErrInvalidArgument.WithMessage("Unsupported Authorization Type")
	}
	a, msg := parseAuthorization(h)
	if msg != "" {
		return nil, s3err.ErrAuthorizationHeaderMalformed.WithMessage("%s", msg)
	}
	if want, ok := v.regionAccepted(a.cred.region); !ok {
		return nil, s3err.ErrAuthorizationHeaderMalformed.
			WithMessage("The authorization header is malformed; the region '%s' is wrong; expecting '%s'", truncate(a.cred.region), want).
			WithRegion(want)
	}

	payloadHash := headerGet(r.Header, headerContentSHA256)
	if payloadHash == "" {
		return nil, s3err.ErrInvalidRequest.WithMessage("Missing required header for this request: x-amz-content-sha256")
	}
	mode, sum, perr := parsePayloadMode(payloadHash)
	if perr != nil {
		return nil, perr
	}

	amzDate, dateHeader := headerGet(r.Header, "X-Amz-Date"), "x-amz-date"
	var t time.Time
	ok := false
	if amzDate != "" {
		t, ok = parseAmzDate(amzDate)
	} else if d := headerGet(r.Header, "Date"); d != "" {
		var err error
		t, err = http.ParseTime(d)
		ok = err == nil
		amzDate, dateHeader = t.UTC().Format(amzDateFormat), "date"
	}
	if !ok {
		return nil, s3err.ErrAccessDenied.WithMessage("AWS authentication requires a valid Date or x-amz-date header")
	}
	if amzDate[:8] != a.cred.date {
		return nil, s3err.ErrAuthorizationHeaderMalformed.WithMessage("The authorization header is malformed; Invalid credential date %q. Date is not the same as X-Amz-Date: %q.", a.cred.date, amzDate[:8])
	}

	secret, ok := lookup(a.cred.accessKeyID)
	if !ok {
		return nil, s3err.ErrInvalidAccessKeyID
	}
	if skew := v.now().Sub(t); skew > MaxClockSkew || skew < -MaxClockSkew {
		return nil, s3err.ErrRequestTimeTooSkewed
	}
	if !hasSignedHeader(a.signedHeaders, "host") || !hasSignedHeader(a.signedHeaders, dateHeader) {
		return nil, s3err.ErrAuthorizationHeaderMalformed.WithMessage("The authorization header is malformed; SignedHeaders must include host and %s.", dateHeader)
	}
	checksum, err := scanAmzHeaders(r, a.signedHeaders, true)
	if err != nil {
		return nil, err
	}

	key := v.keys.key(secret, a.cred.date, a.cred.region, a.cred.service)
	in := canonicalInput{
		method:        r.Method,
		escapedPath:   r.URL.EscapedPath(),
		query:         query,
		signedHeaders: a.signedHeaders,
		payloadHash:   payloadHash,
	}
	if err := v.checkSignature(r, in, key, amzDate, a.cred.scope, a.signature); err != nil {
		return nil, err
	}

	vr := into.result()
	length, err := v.newBody(r, bodyInput{
		mode: mode, payloadHash: sum, checksum: checksum,
		key: key.raw, amzDate: amzDate, scope: a.cred.scope, seed: a.signature,
	}, &vr.body)
	if err != nil {
		return nil, err
	}
	vr.res = Result{
		AccessKeyID:     a.cred.accessKeyID,
		Region:          a.cred.region,
		Body:            &vr.body,
		ContentLength:   length,
		ContentEncoding: stripAWSChunked(headerGet(r.Header, "Content-Encoding")),
	}
	return &vr.res, nil
}

func (v *Verifier) verifyPresigned(r *http.Request, alg string, query []queryPair, lookup SecretLookup, into *Verification) (*Result, error) {
	switch alg {
	case algorithm:
	case "AWS4-ECDSA-P256-SHA256":
		return nil, s3err.ErrNotImplemented.WithMessage("AWS Signature Version 4A is not supported; use Signature Version 4.")
	default:
		return nil, s3err.ErrAuthorizationQueryParametersError.WithMessage("X-Amz-Algorithm only supports \"AWS4-HMAC-SHA256\"")
	}
	p, msg := parsePresigned(query)
	if msg != "" {
		return nil, s3err.ErrAuthorizationQueryParametersError.WithMessage("%s", msg)
	}
	payloadHash := p.contentSHA256
	if payloadHash == "" {
		payloadHash = UnsignedPayload
	}
	mode, sum, perr := parsePayloadMode(payloadHash)
	if perr != nil {
		return nil, perr
	}
	if mode.streaming() {
		return nil, s3err.ErrInvalidRequest.WithMessage("Presigned URLs do not support aws-chunked payloads.")
	}

	now := v.now()
	if p.date.Sub(now) > MaxClockSkew {
		return nil, s3err.ErrAccessDenied.WithMessage("Request is not valid yet")
	}
	// X-Amz-Expires=0 parses, and is expired from the start (as on S3).
	if p.expires == 0 || now.After(p.date.Add(time.Duration(p.expires)*time.Second)) {
		return nil, s3err.ErrAccessDeniedExpired
	}
	if want, ok := v.regionAccepted(p.cred.region); !ok {
		return nil, s3err.ErrAuthorizationQueryParametersError.
			WithMessage("Error parsing the X-Amz-Credential parameter; the region '%s' is wrong; expecting '%s'", truncate(p.cred.region), want).
			WithRegion(want)
	}
	secret, ok := lookup(p.cred.accessKeyID)
	if !ok {
		return nil, s3err.ErrInvalidAccessKeyID
	}
	if !hasSignedHeader(p.signedHeaders, "host") {
		return nil, s3err.ErrAuthorizationQueryParametersError.WithMessage("X-Amz-SignedHeaders must include host.")
	}
	checksum, err := scanAmzHeaders(r, p.signedHeaders, true)
	if err != nil {
		return nil, err
	}

	key := v.keys.key(secret, p.cred.date, p.cred.region, p.cred.service)
	in := canonicalInput{
		method:        r.Method,
		escapedPath:   r.URL.EscapedPath(),
		query:         query,
		skipQuery:     qSignature,
		signedHeaders: p.signedHeaders,
		payloadHash:   payloadHash,
	}
	if err := v.checkSignature(r, in, key, p.amzDate, p.cred.scope, p.signature); err != nil {
		return nil, err
	}
	vr := into.result()
	length, err := v.newBody(r, bodyInput{mode: mode, payloadHash: sum, checksum: checksum}, &vr.body)
	if err != nil {
		return nil, err
	}
	vr.res = Result{
		AccessKeyID:     p.cred.accessKeyID,
		Presigned:       true,
		Region:          p.cred.region,
		Body:            &vr.body,
		ContentLength:   length,
		ContentEncoding: stripAWSChunked(headerGet(r.Header, "Content-Encoding")),
	}
	return &vr.res, nil
}

// checkSignature computes the request signature and compares it with the
// one provided.
func (v *Verifier) checkSignature(r *http.Request, in canonicalInput, key *signingKey, amzDate, scope, provided string) error {
	sc := v.macs.get()
	defer v.macs.put(sc)
	cr := appendCanonicalRequest(sc.buf[:0], r, in)
	sts := len(cr)
	buf := appendStringToSignPrefix(cr, amzDate, scope)
	buf = sc.appendSHA256Hex(buf, cr)
	sc.buf = buf
	want := sc.signature(key, buf[sts:])
	if len(provided) != len(want) || !hmac.Equal(want[:], []byte(provided)) {
		return s3err.ErrSignatureDoesNotMatch.WithCause(fmt.Errorf("string to sign %q", string(buf[sts:])))
	}
	return nil
}

// checksumHeaders is what scanAmzHeaders learns of the x-amz-checksum-*
// request headers: the algorithm and value of the one there should be.
type checksumHeaders struct {
	alg   checksumAlgorithm
	value string
	// several: more than one checksum header, or one with several values.
	several bool
}

// scanAmzHeaders looks at every x-amz-* request header once: when mustSign,
// it refuses those left out of the signature, as S3 does (they change what
// a request means); and it finds the x-amz-checksum-* header, checked once
// the signature is (newBody).
func scanAmzHeaders(r *http.Request, signedHeaders string, mustSign bool) (checksumHeaders, error) {
	var c checksumHeaders
	for name, vals := range r.Header {
		if len(name) < 6 || name[0]|0x20 != 'x' || !strings.EqualFold(name[:6], "x-amz-") {
			continue
		}
		if mustSign && !hasSignedHeaderFold(signedHeaders, name) {
			return checksumHeaders{}, s3err.ErrAccessDenied.WithMessage("There were headers present in the request which were not signed: %s", strings.ToLower(name))
		}
		a, ok := parseChecksumName(name)
		if !ok {
			continue
		}
		if c.alg != "" || len(vals) != 1 {
			c.several = true
		}
		c.alg = a
		if len(vals) > 0 {
			c.value = vals[0]
		}
	}
	return c, nil
}

// regionAccepted reports whether a credential scope may name region, and
// the region error answers expect when it may not.
func (v *Verifier) regionAccepted(region string) (string, bool) {
	if len(v.regions) == 0 || slices.Contains(v.regions, region) {
		return "", true
	}
	return v.regions[0], false
}

func queryValue(q []queryPair, key string) (string, bool) {
	for _, kv := range q {
		if kv.key == key {
			return kv.value, true
		}
	}
	return "", false
}

func queryHas(q []queryPair, key string) bool {
	_, ok := queryValue(q, key)
	return ok
}
