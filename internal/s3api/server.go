// Package s3api serves the S3 API over net/http: it routes path-style and
// virtual-host-style requests, authenticates them with SigV4, authorises each
// operation with one IAM action, and forwards it to the storage backend the
// bucket is routed to, streaming bodies end to end. Errors are rendered in one
// place as S3 XML (see internal/s3err).
package s3api

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"runtime/debug"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/dgp-proxy/dgp/internal/bufpool"
	"github.com/dgp-proxy/dgp/internal/iam"
	"github.com/dgp-proxy/dgp/internal/s3err"
	"github.com/dgp-proxy/dgp/internal/sigv4"
	"github.com/dgp-proxy/dgp/internal/storage"
	"github.com/dgp-proxy/dgp/internal/vhost"
)

// Principal is an authenticated identity.
type Principal interface {
	Name() string
	SecretAccessKey() string
	Allowed(action iam.Action, bucket, key string) bool
}

// BucketVisibility is optionally implemented by a Principal to decide which
// buckets ListBuckets shows (a bucket can be visible to a user who may only
// list a prefix of it). Without it, a bucket is shown when the principal may
// list it whole: Allowed(list, bucket, "").
type BucketVisibility interface {
	BucketVisible(bucket string) bool
}

// Principals finds the principal that owns an access key (root credentials and IAM users; the IAM snapshot
// can change between requests, so look up once per request and use that value throughout).
type Principals interface {
	Lookup(accessKeyID string) (Principal, bool)
}

// Buckets routes client-facing bucket names to storage backends.
type Buckets interface {
	// Resolve returns the backend serving bucket and the backend's own name
	// for it; a nil Backend means the bucket is routed nowhere.
	Resolve(bucket string) (storage.Backend, string)
	// ListBuckets lists every bucket under its client-facing name.
	ListBuckets(ctx context.Context) ([]storage.BucketInfo, error)
}

// Options configure a Server. Buckets, Principals and Verifier are required.
type Options struct {
	Buckets    Buckets
	Principals Principals
	Verifier   *sigv4.Verifier
	// Logger receives one access line per request (component=s3api).
	Logger zerolog.Logger
	// Registerer receives the dgp_s3_* metrics; nil registers nothing.
	Registerer prometheus.Registerer
	// VirtualHostDomains enable virtual-host-style requests: Host
	// "<bucket>.<domain>[:port]" addresses bucket for each listed domain.
	VirtualHostDomains []string
	// Region is what GetBucketLocation and HeadBucket report ("" = us-east-1).
	Region string
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// BodyReadTimeout is how long a request body may send nothing before
	// the request is answered 400 RequestTimeout (0 means
	// DefaultBodyReadTimeout; negative, never). The deadline moves with
	// every read, so a slow but steady client is never cut.
	BodyReadTimeout time.Duration
}

// Server is the S3 API handler. It serves everything the application does
// not mount under "/_/".
type Server struct {
	buckets    Buckets
	principals Principals
	verifier   *sigv4.Verifier
	log        zerolog.Logger
	metrics    *metrics
	domains    vhost.Domains
	region     string
	now        func() time.Time
	bufs       *bufPool
	listBufs   bufpool.Pool // listing answers being rendered
	bodyWait   time.Duration
}

var _ http.Handler = (*Server)(nil)

// New builds a Server and registers its metrics.
func New(o Options) (*Server, error) {
	if o.Buckets == nil || o.Principals == nil || o.Verifier == nil {
		return nil, errors.New("s3api: Buckets, Principals and Verifier are required")
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	switch {
	case o.BodyReadTimeout == 0:
		o.BodyReadTimeout = DefaultBodyReadTimeout
	case o.BodyReadTimeout < 0:
		o.BodyReadTimeout = 0
	}
	m, err := newMetrics(o.Registerer)
	if err != nil {
		return nil, fmt.Errorf("register s3 metrics: %w", err)
	}
	return &Server{
		buckets:    o.Buckets,
		principals: o.Principals,
		verifier:   o.Verifier,
		log:        o.Logger.With().Str("component", "s3api").Logger(),
		metrics:    m,
		domains:    vhost.Normalise(o.VirtualHostDomains),
		region:     o.Region,
		now:        o.Now,
		bufs:       newBufPool(),
		listBufs:   bufpool.Pool{Max: maxPooledListBuf, Keep: keptListBufs},
		bodyWait:   o.BodyReadTimeout,
	}, nil
}

// request is the state of one S3 request.
type request struct {
	w         *respWriter
	r         *http.Request
	ctx       context.Context
	q         url.Values
	id        string
	t         target
	op        op
	principal Principal
	accessKey string
	res       *sigv4.Result
	bytesIn   int64
	err       *s3err.Error
	// streamErr is a failure after the response status was sent.
	streamErr error
	// upload is the request's one upload body reader (see uploadBody).
	upload *bodyReader
	// verified is where the verification's result is kept.
	verified *sigv4.Verification
}

// uploadBody returns the reader of the request's verified body, size bytes
// counted into bytesIn, as newBodyReader would, without an allocation
// (the request's state holds it). It is called at most once per request.
func (rq *request) uploadBody(size int64, pool *bufPool) *bodyReader {
	if rq.upload == nil {
		return newBodyReader(rq.res.Body, size, &rq.bytesIn, pool)
	}
	b := rq.upload
	rq.upload = nil
	*b = bodyReader{src: rq.res.Body, remain: size, count: &rq.bytesIn, pool: pool}
	return b
}

// requestState is what one request needs, allocated together.
type requestState struct {
	rw    respWriter
	rq    request
	body  deadlineBody
	idVal [1]string // the x-amz-request-id header's value
	// upload is the reader of an upload's verified body (PutObject,
	// UploadPart), handed out by request.uploadBody.
	upload bodyReader
	// verified holds the request's sigv4 Result and its body.
	verified sigv4.Verification
	// req is the request as handlers see it when its body is replaced
	// (a shallow copy, as r.WithContext makes).
	req http.Request
}

// ServeHTTP serves one S3 request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := s.now()
	// One allocation for the per-request state.
	st := &requestState{rw: respWriter{ResponseWriter: w}}
	rw := &st.rw
	if hasBody(r) {
		// Every handler reads the body through this one, so a client
		// that stops sending is answered RequestTimeout, and an answer
		// given before the body was read closes the connection.
		body := &st.body
		body.Init(r.Body, w, s.bodyWait, requestTimeout)
		st.req = *r
		r = &st.req
		r.Body = body
		if r.ProtoMajor == 1 {
			rw.body = body
		}
	}
	rq := &st.rq
	*rq = request{w: rw, r: r, ctx: r.Context(), id: newRequestID(), upload: &st.upload, verified: &st.verified}
	// Set's canonical form of x-amz-request-id, without canonicalising.
	st.idVal[0] = rq.id
	rw.Header()["X-Amz-Request-Id"] = st.idVal[:1:1]
	defer func() {
		if p := recover(); p != nil {
			s.log.Error().Str("request_id", rq.id).Str("op", rq.op.Name).
				Str("panic", fmt.Sprint(p)).Bytes("stack", debug.Stack()).Msg("panic serving s3 request")
			rq.err = s3err.ErrInternalError
			if rw.status == 0 {
				s3err.Write(rw, r, rq.err, rq.id)
			}
		}
		s.finish(rq, start)
		if rw.closing {
			rw.body.Expire()
		}
	}()
	if err := s.serve(rq); err != nil {
		e := s3err.From(err)
		if e.Code == s3err.ErrNotImplemented.Code && !rq.op.notImpl && rq.op.Name != "" {
			e = nameNotImplemented(e, rq.op.Name)
		}
		rq.err = e
		if rw.status == 0 {
			s3err.Write(rw, r, e, rq.id)
		}
	}
}

func (s *Server) serve(rq *request) error {
	r := rq.r
	rq.t = parseTarget(r.Host, r.URL.Path, s.domains)
	if r.URL.RawQuery != "" {
		// Without a query, rq.q stays nil: handlers only read it.
		rq.q = r.URL.Query()
	}
	rq.op = classify(r.Method, rq.t, rq.q, r.Header)
	if rq.op.formAuth {
		if err := checkBucket(rq.t.Bucket); err != nil {
			return err
		}
		return rq.op.handle(s, rq)
	}

	res, err := s.verifier.VerifyInto(r, func(accessKeyID string) (string, bool) {
		rq.accessKey = accessKeyID
		p, ok := s.principals.Lookup(accessKeyID)
		if !ok || p == nil {
			return "", false
		}
		rq.principal = p
		return p.SecretAccessKey(), true
	}, rq.verified)
	if err != nil {
		return err
	}
	if rq.principal == nil {
		return s3err.ErrAccessDenied
	}
	rq.res = res
	if res.AccessKeyID != "" {
		rq.accessKey = res.AccessKeyID
	}
	if rq.t.Bucket != "" || rq.t.HasKey {
		if err := checkBucket(rq.t.Bucket); err != nil {
			return err
		}
	}
	if rq.t.HasKey {
		if err := checkKey(rq.t.Key); err != nil {
			return err
		}
	}
	if rq.op.Action != "" && !rq.op.selfAuth {
		key := rq.t.Key
		if !rq.t.HasKey {
			// Listings are authorised on the prefix they list.
			key = rq.q.Get("prefix")
		}
		if !rq.principal.Allowed(rq.op.Action, rq.t.Bucket, key) {
			return s3err.ErrAccessDenied
		}
	}
	return rq.op.handle(s, rq)
}

// nameNotImplemented makes a NotImplemented error of operation op name it:
// a backend that lacks the operation says nothing more than the code, and
// a refused feature (SSE-C) is named with its operation.
func nameNotImplemented(e *s3err.Error, op string) *s3err.Error {
	switch {
	case e.Message == s3err.ErrNotImplemented.Message || e.Message == "":
		return e.WithMessage("%s is not implemented by dgp.", op)
	case !strings.Contains(e.Message, op):
		return e.WithMessage("%s: %s", op, e.Message)
	}
	return e
}

// finish writes the access log line and updates the metrics.
func (s *Server) finish(rq *request, start time.Time) {
	d := s.now().Sub(start)
	status := rq.w.status
	if status == 0 {
		status = http.StatusOK
	}
	name := rq.op.Name
	if name == "" {
		name = "Unknown"
	}
	s.metrics.observe(name, status, d, rq.bytesIn, rq.w.written)
	// 5xx answers are the server's failures: error, or warn for what
	// the server refuses on purpose (501 NotImplemented, 503 SlowDown);
	// every other answer is info.
	ev := s.log.Info()
	switch {
	case status >= 500 && status != http.StatusNotImplemented && status != http.StatusServiceUnavailable:
		ev = s.log.Error()
	case status >= 500 || rq.op.notImpl || rq.err != nil && rq.err.Code == s3err.ErrNotImplemented.Code:
		ev = s.log.Warn()
	}
	if !ev.Enabled() {
		return
	}
	ev.Str("method", rq.r.Method).
		Str("bucket", rq.t.Bucket).
		Str("key", rq.t.Key).
		Str("op", name).
		Int("status", status).
		Int64("bytes_in", rq.bytesIn).
		Int64("bytes_out", rq.w.written).
		Float64("duration_ms", float64(d.Microseconds())/1000).
		Str("request_id", rq.id).
		Str("access_key_id", rq.accessKey)
	if rq.err != nil {
		ev.Str("error_code", rq.err.Code)
		if rq.err.Status >= 500 && rq.err.Err != nil {
			ev.Str("error", rq.err.Err.Error())
		}
	}
	if rq.streamErr != nil {
		ev.Str("stream_error", rq.streamErr.Error())
	}
	ev.Msg("s3 request")
}

// newRequestID returns 16 random upper-case hex digits, as S3 request ids
// look. The bits come from the runtime's ChaCha8 generator (seeded by the
// system's entropy): unique enough for ids, without a getrandom system
// call per request as crypto/rand makes.
func newRequestID() string {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], rand.Uint64())
	var out [16]byte
	hex.Encode(out[:], b[:])
	for i, c := range out {
		if c >= 'a' {
			out[i] = c - 'a' + 'A'
		}
	}
	return string(out[:])
}

// backend resolves a client-facing bucket.
func (s *Server) backend(bucket string) (storage.Backend, string, error) {
	b, name := s.buckets.Resolve(bucket)
	if b == nil {
		return nil, "", s3err.ErrNoSuchBucket.WithResource(bucket)
	}
	return b, name, nil
}

// allowed reports whether the request's principal may do action on bucket/key.
func (rq *request) allowed(action iam.Action, bucket, key string) bool {
	return rq.principal != nil && rq.principal.Allowed(action, bucket, key)
}
