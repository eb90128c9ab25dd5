// Package s3backend is the storage.Backend for any S3-compatible service
// (AWS S3, MinIO, ...), built on aws-sdk-go-v2.
//
// # Credentials
//
// When Options.AccessKeyID and Options.SecretAccessKey are both set, they are
// used as static credentials and nothing else is consulted. When both are
// empty, New resolves credentials with the AWS SDK default chain
// (config.LoadDefaultConfig), in this order: the environment
// (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN), the shared
// config and credentials files (~/.aws, AWS_PROFILE, SSO and assume-role
// profiles), web identity tokens (IRSA on EKS: AWS_ROLE_ARN +
// AWS_WEB_IDENTITY_TOKEN_FILE), the ECS container endpoint, and finally the
// EC2 instance role (IMDS). Credentials from the chain are fetched lazily on
// the first request and refreshed by the SDK before they expire. Setting only
// one of the two static keys is an error.
//
// # Errors
//
// Every method returns *s3err.Error values for upstream failures: the
// upstream S3 error code and HTTP status are kept (see translate), and
// network failures become ServiceUnavailable (503) wrapping their cause.
//
// # Streaming
//
// Request bodies (PutObject, UploadPart) are streamed to the upstream with
// Content-Length set and an UNSIGNED-PAYLOAD signature, so they need not be
// seekable and are not buffered whole; such requests are never retried. The
// one exception: on the fast path a body of at most 12 KiB
// (maxBufferedUpload, less than one copy buffer) is read whole before it is
// sent, so that it goes out with its headers in one write.
// Response bodies (GetObject) are the HTTP response stream, handed through.
//
// # Versioning and object lock
//
// Both are passed through: version ids (including "null") and the object
// lock headers are sent upstream as the SDK sends them, and what the
// upstream answers comes back as it is, so that a client sees the
// upstream's own behaviour (no x-amz-version-id on a put to a suspended
// bucket, as on S3; MinIO's InvalidRequest where S3 says AccessDenied for
// a locked version). The headers S3 sends with some errors are kept on the
// returned *s3err.Error: x-amz-delete-marker and x-amz-version-id (a delete
// marker's 404 or 405), ETag and Last-Modified (304 and 412).
// ListObjectVersions keeps the upstream's interleaving of versions and
// delete markers, which the SDK's output loses (see orderCapture).
//
// # Fast path
//
// GetObject, HeadObject, PutObject and UploadPart, the operations on the
// data path (version ids and lock headers included), do not go through the SDK's per-call middleware stack (which
// costs several times the CPU and allocations of the request itself). They
// are sent as plain net/http requests through the SDK client's own HTTP
// client and connection pool, signed with the SDK's SigV4 signer and the
// SDK's cached credentials, to the URL the SDK's own endpoint rules give
// for the bucket (resolved once per bucket: path style, virtual-hosted
// style, AWS regional hosts, access point ARNs alike). They send the same
// method, URL, headers and body as the SDK would, read the same answer
// headers, and translate error answers with the same table (see
// translateAnswer). Buckets whose endpoint needs anything else (S3 Express
// session auth, SigV4a, endpoint headers, rules that fail) and empty keys
// take the SDK path, as do all other operations, and every request of a
// Backend built with Options.DisableFastPath (advanced.s3_fast_path: false
// for the data plane; always for the config sync bucket's client).
//
// When New builds the HTTP client itself (no Options.HTTPClient), the fast
// path sends through a transport configured as that client's (dialer, TLS
// and AWS_CA_BUNDLE, pool sizes: a clone, so a connection pool of its own)
// by RoundTrip, without http.Client's per-request work (a copy of the
// headers and URL, redirect bookkeeping); it answers as the client would:
// the same *url.Error around a failure, and a 307 or 308 answer to a
// request without a body sent again through the client, which follows it
// (the SDK's client follows no other redirect, and cannot resend a streamed
// body). A Backend given Options.HTTPClient sends through that client.
//
// Two differences from the SDK path, both deliberate: the fast path does
// not retry (net/http itself resends a GET or HEAD whose reused keep-alive
// connection turned out to be closed; any other failure goes back to the
// client, whose own SDK retries), and it signs with the local clock
// (Options.Now; the SDK corrects its clock after a RequestTimeTooSkewed
// answer, only on retry).
package s3backend

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/dgp-proxy/dgp/internal/bufpool"
	"github.com/dgp-proxy/dgp/internal/s3err"
	"github.com/dgp-proxy/dgp/internal/storage"
)

// DefaultRegion is used when Options.Region is empty.
const DefaultRegion = "us-east-1"

// DefaultPingTimeout bounds Ping when Options.PingTimeout is zero.
const DefaultPingTimeout = 5 * time.Second

// Options configure a Backend.
type Options struct {
	// Name is the configured backend name (for logs and metrics).
	Name string
	// Endpoint is the service URL (http or https); empty means AWS S3.
	Endpoint string
	// Region is the signing region; empty means DefaultRegion.
	Region string
	// AccessKeyID and SecretAccessKey are static credentials. Both empty
	// means the AWS default credential chain (see the package doc).
	AccessKeyID, SecretAccessKey string
	// ForcePathStyle addresses buckets as endpoint/bucket instead of
	// bucket.endpoint (needed for MinIO and most non-AWS services).
	ForcePathStyle bool
	// HTTPClient is used for every request when set (e.g. a test CA);
	// otherwise a transport tuned for many concurrent long streams is used.
	HTTPClient *http.Client
	// PingBucket, when set, makes Ping a HeadBucket of it instead of
	// ListBuckets (for credentials that may not list buckets).
	PingBucket string
	// PingTimeout bounds Ping; zero means DefaultPingTimeout.
	PingTimeout time.Duration
	// DisableFastPath sends every request through the SDK's middleware
	// stack (and its retryer) instead of the fast path (see the package
	// doc): for a client whose requests are few and must behave exactly
	// as the SDK intends, such as the config sync bucket's.
	DisableFastPath bool
	// Now is the clock the fast path signs with; nil: time.Now. (The SDK
	// path signs with the SDK's own clock.)
	Now func() time.Time
	// Retryer, when set, builds the SDK's retryer (see aws.Config.Retryer);
	// nil: the SDK's default standard retryer. Requests whose body is
	// streamed (PutObject, UploadPart) are never retried either way.
	Retryer func() aws.Retryer
}

// Backend is a storage.Backend talking to an S3-compatible service. It is
// safe for concurrent use.
type Backend struct {
	name        string
	region      string
	client      *s3.Client
	fast        *fastPath // nil: every request takes the SDK path
	pingBucket  string
	pingTimeout time.Duration
	listBufs    bufpool.Pool // ListObjectsV2 answers being scanned (fast path)
}

var _ storage.Backend = (*Backend)(nil)

// New builds a Backend. It does not contact the service (see Ping); it fails
// only on invalid options or an unusable shared AWS configuration.
func New(ctx context.Context, o Options) (*Backend, error) {
	if o.Region == "" {
		o.Region = DefaultRegion
	}
	if (o.AccessKeyID == "") != (o.SecretAccessKey == "") {
		return nil, errors.New("s3backend: access key id and secret access key must be set together")
	}
	if o.Endpoint != "" {
		u, err := url.Parse(o.Endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("s3backend: endpoint %q is not an http(s) URL", o.Endpoint)
		}
	}
	if o.PingTimeout <= 0 {
		o.PingTimeout = DefaultPingTimeout
	}
	loadOpts := []func(*config.LoadOptions) error{config.WithRegion(o.Region)}
	if o.HTTPClient == nil {
		// A buildable client, so that LoadDefaultConfig can still apply
		// AWS_CA_BUNDLE to it.
		loadOpts = append(loadOpts, config.WithHTTPClient(newHTTPClient()))
	}
	if o.AccessKeyID != "" {
		loadOpts = append(loadOpts, config.WithCredentialsProvider(
			credentials.NewStaticCredentialsProvider(o.AccessKeyID, o.SecretAccessKey, "")))
	}
	cfg, err := config.LoadDefaultConfig(ctx, loadOpts...)
	if err != nil {
		return nil, fmt.Errorf("s3backend: load aws config: %w", err)
	}

	client := s3.NewFromConfig(cfg, func(so *s3.Options) {
		if o.Endpoint != "" {
			so.BaseEndpoint = aws.String(o.Endpoint)
		}
		if o.HTTPClient != nil {
			// Given here rather than to LoadDefaultConfig, which would try
			// (and fail) to add AWS_CA_BUNDLE to a plain *http.Client.
			so.HTTPClient = o.HTTPClient
		}
		so.UsePathStyle = o.ForcePathStyle
		// No flexible checksums unless an operation requires one: they
		// would wrap streamed bodies in aws-chunked trailers (or read them
		// twice) and validate downloads we hand through untouched.
		so.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		so.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
		so.DisableLogOutputChecksumValidationSkipped = true
		if o.Retryer != nil {
			so.Retryer = o.Retryer()
		}
	})
	b := &Backend{
		name:        o.Name,
		region:      o.Region,
		client:      client,
		pingBucket:  o.PingBucket,
		pingTimeout: o.PingTimeout,
		listBufs:    bufpool.Pool{Max: maxPooledListBody, Keep: keptListBufs},
	}
	if !o.DisableFastPath {
		now := o.Now
		if now == nil {
			now = time.Now
		}
		b.fast = newFastPath(client, now)
	}
	return b, nil
}

// newHTTPClient is the HTTP client of a proxy: many idle connections per
// host, bounded dial and TLS handshake, and no overall or response timeout
// that would cut a long upload or download (callers' contexts govern).
func newHTTPClient() *awshttp.BuildableClient {
	return awshttp.NewBuildableClient().
		WithDialerOptions(func(d *net.Dialer) {
			d.Timeout = 10 * time.Second
			d.KeepAlive = 30 * time.Second
		}).
		WithTransportOptions(func(tr *http.Transport) {
			tr.Proxy = http.ProxyFromEnvironment
			tr.ForceAttemptHTTP2 = true
			tr.MaxIdleConns = 1024
			tr.MaxIdleConnsPerHost = 256
			tr.MaxConnsPerHost = 0
			tr.IdleConnTimeout = 90 * time.Second
			tr.TLSHandshakeTimeout = 10 * time.Second
			tr.ExpectContinueTimeout = 1 * time.Second
			tr.ResponseHeaderTimeout = 0
		})
}

// FastPath reports whether object requests may take the fast path (see
// the package doc): false for a Backend built with DisableFastPath.
func (b *Backend) FastPath() bool { return b.fast != nil }

// Name returns the configured backend name.
func (b *Backend) Name() string { return b.name }

// Ping checks that the service answers, within Options.PingTimeout. Without
// a PingBucket it lists buckets; an AccessDenied answer counts as reachable
// (the credentials are valid but may be scoped to some buckets).
func (b *Backend) Ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, b.pingTimeout)
	defer cancel()
	if b.pingBucket != "" {
		return b.HeadBucket(ctx, b.pingBucket)
	}
	_, err := b.client.ListBuckets(ctx, &s3.ListBucketsInput{MaxBuckets: aws.Int32(1)})
	if err == nil {
		return nil
	}
	terr := translate(err, kindBucket)
	if errors.Is(terr, s3err.ErrAccessDenied) {
		return nil
	}
	return terr
}

// ListBuckets lists every bucket the credentials own.
func (b *Backend) ListBuckets(ctx context.Context) ([]storage.BucketInfo, error) {
	var out []storage.BucketInfo
	in := &s3.ListBucketsInput{}
	for {
		page, err := b.client.ListBuckets(ctx, in)
		if err != nil {
			return nil, translate(err, kindBucket)
		}
		for _, bk := range page.Buckets {
			out = append(out, storage.BucketInfo{Name: aws.ToString(bk.Name), Created: aws.ToTime(bk.CreationDate)})
		}
		token := aws.ToString(page.ContinuationToken)
		if token == "" || len(page.Buckets) == 0 {
			return out, nil
		}
		in = &s3.ListBucketsInput{ContinuationToken: aws.String(token)}
	}
}

// CreateBucket creates bucket in the backend's region, with object lock
// (x-amz-bucket-object-lock-enabled) when opts ask for it.
func (b *Backend) CreateBucket(ctx context.Context, bucket string, opts storage.CreateBucketOptions) error {
	in := &s3.CreateBucketInput{Bucket: aws.String(bucket)}
	if opts.ObjectLockEnabled {
		in.ObjectLockEnabledForBucket = aws.Bool(true)
	}
	if b.region != DefaultRegion {
		in.CreateBucketConfiguration = &types.CreateBucketConfiguration{
			LocationConstraint: types.BucketLocationConstraint(b.region),
		}
	}
	_, err := b.client.CreateBucket(ctx, in)
	return translate(err, kindBucket)
}

// DeleteBucket deletes an empty bucket.
func (b *Backend) DeleteBucket(ctx context.Context, bucket string) error {
	_, err := b.client.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String(bucket)})
	return translate(err, kindBucket)
}

// HeadBucket reports whether bucket exists and is accessible.
func (b *Backend) HeadBucket(ctx context.Context, bucket string) error {
	_, err := b.client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(bucket)})
	return translate(err, kindBucket)
}
