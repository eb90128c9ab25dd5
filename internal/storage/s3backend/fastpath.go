package s3backend

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
	smithyauth "github.com/aws/smithy-go/auth"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/dgp-proxy/dgp/internal/sigv4"
)

// The fast path sends the hot object operations (GetObject, HeadObject,
// PutObject, UploadPart) as plain net/http requests signed as the SDK's
// own SigV4 signer signs them (sigv4.Signer, checked against it), instead
// of going through the SDK's per-call middleware stack, which costs several
// times more CPU and allocations than the request itself. It reuses what
// the SDK client was configured with: its HTTP client's settings (the
// client itself when it was given in Options.HTTPClient; otherwise a clone
// of the built client's transport, used by RoundTrip: see
// fastPath.roundTrip), the same cached credentials, and the SDK's own
// endpoint rules (resolved once per bucket), so it sends what the SDK would
// send. Whatever it cannot reproduce exactly goes through the SDK path
// instead (see fastPath.targetFor).

const (
	// emptyPayloadHash is the SHA-256 of an empty body, the payload hash
	// the SDK signs bodyless requests with.
	emptyPayloadHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
	// unsignedPayload is the payload hash of a streamed upload.
	unsignedPayload = "UNSIGNED-PAYLOAD"
	// defaultContentType is the Content-Type the SDK sends with a PUT body
	// when none is given.
	defaultContentType = "application/octet-stream"
	// continueThreshold is the body size from which a PUT asks for
	// "Expect: 100-continue", as the SDK does (2 MiB).
	continueThreshold = 2 << 20
	// maxErrorBody bounds how much of an error answer is read and parsed.
	maxErrorBody = 64 << 10
	// maxBufferedUpload is the largest upload body read whole before it
	// is sent (see fastUpload).
	maxBufferedUpload = 12 << 10
	// fastWriteBufferSize is the fast path's transport's write and read
	// buffer size: a buffered upload and its headers fit, and so do a
	// small object's answer headers and body (net/http's default is
	// 4 KiB).
	fastWriteBufferSize = 16 << 10
	// maxCachedTargets bounds the per-bucket endpoint cache; beyond it,
	// buckets are resolved on every request (still on the fast path).
	maxCachedTargets = 4096
)

// httpDoer is what the fast path needs of the SDK's HTTP client.
type httpDoer interface {
	Do(*http.Request) (*http.Response, error)
}

// fastPath holds what the fast path shares across requests. It is safe for
// concurrent use.
type fastPath struct {
	http httpDoer
	// rt, when set, sends requests without http.Client's per-request
	// work (see send): a transport configured as the SDK client's own
	// (a clone of it, so a pool of its own).
	rt       http.RoundTripper
	creds    aws.CredentialsProvider
	signer   *sigv4.Signer
	resolver s3.EndpointResolverV2
	// params are the endpoint parameters of every request but Bucket,
	// bound from the client's options as the SDK binds them.
	params s3.EndpointParameters
	now    func() time.Time

	targets     sync.Map // bucket -> *target; a nil *target means "use the SDK"
	targetCount atomic.Int64
}

// target is where and how requests for one bucket are sent.
type target struct {
	// base is "scheme://host" of the resolved endpoint.
	base string
	// scheme and host are base's parts (host without an empty port, as
	// http.NewRequest sets it).
	scheme, host string
	// plainPrefix: prefix needs no escaping (rawPrefix is the same).
	plainPrefix bool
	// prefix and rawPrefix are the URL path before the key (decoded and
	// escaped), e.g. "/bucket/" (path style) or "/" (virtual-hosted style).
	prefix, rawPrefix string
	// region is the SigV4 signing region.
	region string
}

// newFastPath returns the fast path for requests made like client's, or nil
// when the client is configured in a way the fast path does not reproduce
// (legacy endpoint resolver, FIPS pseudo-regions, no credentials).
func newFastPath(client *s3.Client, now func() time.Time) *fastPath {
	o := client.Options()
	//lint:ignore SA1019 the deprecated field is read only to detect a client that uses it, which the fast path does not reproduce
	legacyResolver := o.EndpointResolver != nil
	if o.Credentials == nil || o.HTTPClient == nil || o.EndpointResolverV2 == nil ||
		legacyResolver || o.Region == "" || strings.Contains(o.Region, "fips") {
		return nil
	}
	var rt http.RoundTripper
	if bc, ok := o.HTTPClient.(*awshttp.BuildableClient); ok && bc.GetTimeout() == 0 {
		if _, set := bc.GetReadTimeout(); !set {
			// The client New built: its transport, dialer and TLS
			// settings (AWS_CA_BUNDLE included) are all in this clone.
			tr := bc.GetTransport()
			if tr.WriteBufferSize < fastWriteBufferSize {
				// Room for a small upload's headers and body
				// together: one write (see fastUpload).
				tr.WriteBufferSize = fastWriteBufferSize
			}
			if tr.ReadBufferSize < fastWriteBufferSize {
				// And for a small object's answer headers and
				// body together: one read.
				tr.ReadBufferSize = fastWriteBufferSize
			}
			rt = tr
		}
	}
	return &fastPath{
		http:  o.HTTPClient,
		rt:    rt,
		creds: o.Credentials,
		// S3 signs the path as sent: escaped exactly once.
		signer:   sigv4.NewSigner(),
		resolver: o.EndpointResolverV2,
		params: s3.EndpointParameters{
			Region:                         aws.String(o.Region),
			UseFIPS:                        aws.Bool(o.EndpointOptions.UseFIPSEndpoint == aws.FIPSEndpointStateEnabled),
			UseDualStack:                   aws.Bool(o.EndpointOptions.UseDualStackEndpoint == aws.DualStackEndpointStateEnabled),
			Endpoint:                       o.BaseEndpoint,
			ForcePathStyle:                 aws.Bool(o.UsePathStyle),
			Accelerate:                     aws.Bool(o.UseAccelerate),
			DisableMultiRegionAccessPoints: aws.Bool(o.DisableMultiRegionAccessPoints),
			UseArnRegion:                   aws.Bool(o.UseARNRegion),
			DisableS3ExpressSessionAuth:    o.DisableS3ExpressSessionAuth,
		},
		now: now,
	}
}

// targetFor returns where requests for bucket go, or nil when they must
// take the SDK path: the endpoint rules fail for it (the SDK path then
// reports the error), or they ask for something other than plain SigV4 for
// "s3" (S3 Express sessions, SigV4a multi-region access points) or for
// extra headers. Results are cached per bucket.
func (f *fastPath) targetFor(ctx context.Context, bucket string) *target {
	if v, ok := f.targets.Load(bucket); ok {
		return v.(*target)
	}
	t := f.resolve(ctx, bucket)
	if f.targetCount.Load() < maxCachedTargets {
		if _, loaded := f.targets.LoadOrStore(bucket, t); !loaded {
			f.targetCount.Add(1)
		}
	}
	return t
}

func (f *fastPath) resolve(ctx context.Context, bucket string) *target {
	p := f.params
	p.Bucket = aws.String(bucket)
	e, err := f.resolver.ResolveEndpoint(ctx, p)
	if err != nil || len(e.Headers) != 0 {
		return nil
	}
	u := e.URI
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil
	}
	opts, ok := smithyauth.GetAuthOptions(&e.Properties)
	if !ok || len(opts) == 0 || opts[0].SchemeID != "sigv4" {
		return nil
	}
	props := &opts[0].SignerProperties
	if name, _ := smithyhttp.GetSigV4SigningName(props); name != "s3" {
		return nil
	}
	if noDouble, ok := smithyhttp.GetDisableDoubleEncoding(props); ok && !noDouble {
		return nil
	}
	region, _ := smithyhttp.GetSigV4SigningRegion(props)
	if region == "" {
		region = aws.ToString(f.params.Region)
	}
	raw := u.RawPath
	if raw == "" {
		raw = u.Path
	}
	prefix, rawPrefix := pathPrefix(u.Path), pathPrefix(raw)
	return &target{
		plainPrefix: prefix == rawPrefix && escapePath(prefix) == prefix,
		base:        u.Scheme + "://" + u.Host,
		scheme:      u.Scheme,
		host:        strings.TrimSuffix(u.Host, ":"),
		prefix:      prefix,
		rawPrefix:   rawPrefix,
		region:      region,
	}
}

// pathPrefix is the endpoint path the key is appended to, joined as the SDK
// joins an endpoint path and an operation path "/{Key+}": a leading '/',
// and a trailing one unless the path is the root.
func pathPrefix(p string) string {
	if p == "" || p[0] != '/' {
		p = "/" + p
	}
	if len(p) > 1 && p[len(p)-1] != '/' {
		p += "/"
	}
	return p
}

// outgoing is what newRequest allocates for one request, together.
type outgoing struct {
	req  http.Request
	url  url.URL
	vals [3]string // Accept-Encoding, X-Amz-Content-Sha256, Content-Type
}

// newRequest builds a request for key (not empty) in t, with rawQuery
// already encoded, and a Content-Type header unless contentType is empty. It is what http.NewRequestWithContext(ctx, method,
// t.base+path, nil) builds, without parsing the URL again: its URL and
// its first header values are one allocation (with the request itself).
func (f *fastPath) newRequest(ctx context.Context, method string, t *target, key, rawQuery, contentType string) (*http.Request, error) {
	if ctx == nil {
		return nil, errors.New("s3backend: build request: nil context")
	}
	o := &outgoing{}
	o.url = url.URL{Scheme: t.scheme, Host: t.host, Path: t.prefix + key, RawQuery: rawQuery}
	if raw := escapePath(key); raw != key || !t.plainPrefix {
		// Without RawPath the URL escapes Path itself, which gives
		// the same when the key needs no escaping.
		o.url.RawPath = t.rawPrefix + raw
	}
	// Ask for the stored bytes as they are: without it net/http would ask
	// for gzip and transparently decompress objects stored gzip-encoded.
	o.vals[0] = "identity"
	r := http.Request{
		Method:     method,
		URL:        &o.url,
		Proto:      "HTTP/1.1",
		ProtoMajor: 1,
		ProtoMinor: 1,
		Header: http.Header{
			"Accept-Encoding":      o.vals[0:1:1],
			"X-Amz-Content-Sha256": o.vals[1:2:2],
		},
		Host: t.host,
	}
	if contentType != "" {
		o.vals[2] = contentType
		r.Header["Content-Type"] = o.vals[2:3:3]
	}
	// WithContext's copy is inlined and does not escape: only o.req
	// is on the heap.
	o.req = *r.WithContext(ctx)
	return &o.req, nil
}

// send signs req with the current credentials and sends it. Its error is
// the request's failure to get any answer (to be translated as such).
func (f *fastPath) send(req *http.Request, t *target, payloadHash string) (*http.Response, error) {
	ctx := req.Context()
	creds, err := f.creds.Retrieve(ctx)
	if err != nil {
		return nil, fmt.Errorf("s3backend: retrieve credentials: %w", err)
	}
	if v := req.Header["X-Amz-Content-Sha256"]; len(v) == 1 && v[0] == "" {
		v[0] = payloadHash // the slot newRequest made
	} else {
		req.Header["X-Amz-Content-Sha256"] = []string{payloadHash}
	}
	f.signer.SignHTTP(req, sigv4.Credentials{
		AccessKeyID: creds.AccessKeyID, SecretAccessKey: creds.SecretAccessKey, SessionToken: creds.SessionToken,
	}, payloadHash, "s3", t.region, f.now())
	if f.rt == nil {
		return f.http.Do(req)
	}
	return f.roundTrip(req)
}

// roundTrip sends req through f.rt as f.http.Do would: the same answer,
// and the same *url.Error around a failure. The SDK's client follows
// only 307 and 308 redirects (with a Location, for a request without a
// body: a streamed body cannot be sent again); such an answer is left
// and the request sent again through the client, which follows it. Every
// other answer is returned as it is, as the client returns it.
func (f *fastPath) roundTrip(req *http.Request) (*http.Response, error) {
	resp, err := f.rt.RoundTrip(req)
	if err != nil {
		var tlsErr tls.RecordHeaderError
		if errors.As(err, &tlsErr) && string(tlsErr.RecordHeader[:]) == "HTTP/" {
			err = http.ErrSchemeMismatch
		}
		// (The URL has no user information to hide: see resolve.)
		return nil, &url.Error{Op: urlErrorOp(req.Method), URL: req.URL.String(), Err: err}
	}
	if (resp.StatusCode == http.StatusTemporaryRedirect || resp.StatusCode == http.StatusPermanentRedirect) &&
		req.Body == nil && resp.Header.Get("Location") != "" {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorBody))
		resp.Body.Close()
		return f.http.Do(req)
	}
	return resp, nil
}

// urlErrorOp is the Op of the *url.Error http.Client returns: "Get",
// "Put", "Head".
func urlErrorOp(method string) string {
	if method == "" {
		return "Get"
	}
	return method[:1] + strings.ToLower(method[1:])
}

// errorComponents are the fields of an S3 XML error body
// (<Error><Code>..</Code><Message>..</Message>...</Error>).
type errorComponents struct {
	Code      string `xml:"Code"`
	Message   string `xml:"Message"`
	RequestID string `xml:"RequestId"`
}

// responseError translates a non-2xx answer: the S3 code and message of its
// XML body when it has one (GET, PUT), its status alone otherwise (HEAD, 304,
// or a body that is not an S3 error), through the same translation as the
// SDK path, keeping the same answer headers (withAnswerHeaders). It
// consumes and closes the body.
func responseError(resp *http.Response, kind resourceKind) error {
	defer resp.Body.Close()
	ue := &upstreamError{Status: resp.StatusCode, RequestID: strings.TrimSpace(resp.Header.Get("X-Amz-Request-Id"))}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	if err == nil && len(body) > 0 {
		var c errorComponents
		if derr := xml.NewDecoder(bytes.NewReader(body)).Decode(&c); derr == nil || derr == io.EOF {
			ue.Code, ue.Message = c.Code, c.Message
			if c.RequestID != "" {
				ue.RequestID = c.RequestID
			}
		}
	}
	return withAnswerHeaders(translateAnswer(ue.Status, ue.Code, ue.Message, kind, ue), ue.Status, resp.Header)
}

// upstreamError is an error answer received on the fast path, the cause
// wrapped by the *s3err.Error it translates to. It reads like the SDK's
// errors (HTTPStatusCode, smithy.APIError), so translate accepts it too.
type upstreamError struct {
	Status    int
	Code      string // empty when the answer had no S3 error body
	Message   string
	RequestID string
}

var _ smithy.APIError = (*upstreamError)(nil)

// Error implements error.
func (e *upstreamError) Error() string {
	code := e.Code
	if code == "" {
		code = "(no code)"
	}
	return fmt.Sprintf("s3 answer: status %d, code %s, request id %q: %s", e.Status, code, e.RequestID, e.Message)
}

// HTTPStatusCode is the answer's HTTP status.
func (e *upstreamError) HTTPStatusCode() int { return e.Status }

// ErrorCode is the S3 error code ("" without one).
func (e *upstreamError) ErrorCode() string { return e.Code }

// ErrorMessage is the S3 error message.
func (e *upstreamError) ErrorMessage() string { return e.Message }

// ErrorFault says whether the client or the service was at fault.
func (e *upstreamError) ErrorFault() smithy.ErrorFault {
	switch {
	case e.Status >= 500:
		return smithy.FaultServer
	case e.Status >= 400:
		return smithy.FaultClient
	}
	return smithy.FaultUnknown
}
