package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"runtime/pprof"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"golang.org/x/sync/errgroup"

	"github.com/dgp-proxy/dgp/internal/app"
	"github.com/dgp-proxy/dgp/internal/config"
	"github.com/dgp-proxy/dgp/internal/obs"
	"github.com/dgp-proxy/dgp/internal/procuse"
)

// benchRegion is the region every client signs for.
const benchRegion = "us-east-1"

// Profile label values of the "role" key: every goroutine of the bench
// carries one, so `go tool pprof -tagfocus role=dgp` shows dgp alone.
const (
	roleClient = "client"
	roleProxy  = "proxy"
	roleDGP    = "dgp"
)

// target is one way to reach MinIO.
type target struct {
	id     string // direct, proxy or dgp: the report's columns
	client *s3.Client
	// usage, in --processes mode, is what the target's server process
	// has used so far; nil otherwise.
	usage func() (procuse.Use, error)
}

// newClientTransport is the one tuned transport all three targets share.
func newClientTransport() *http.Transport {
	dialer := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	return &http.Transport{
		DialContext:           dialer.DialContext,
		MaxIdleConns:          1024,
		MaxIdleConnsPerHost:   256,
		IdleConnTimeout:       90 * time.Second,
		ExpectContinueTimeout: time.Second,
		DisableCompression:    true,
		WriteBufferSize:       64 << 10,
		ReadBufferSize:        64 << 10,
	}
}

// newS3Client is an SDK client for endpoint: path style, no retries (an
// error must surface), and no flexible checksums unless required.
func newS3Client(hc *http.Client, endpoint, accessKey, secretKey string) *s3.Client {
	return s3.New(s3.Options{
		Region:                     benchRegion,
		BaseEndpoint:               aws.String(endpoint),
		UsePathStyle:               true,
		Credentials:                credentials.NewStaticCredentialsProvider(accessKey, secretKey, ""),
		HTTPClient:                 hc,
		Retryer:                    aws.NopRetryer{},
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
		// Silence the SDK's "checksum validation skipped" warning.
		DisableLogOutputChecksumValidationSkipped: true,
	})
}

// newUpstreamTransport mirrors the transport dgp's S3 backend uses
// (internal/storage/s3backend newTransport), so the bare proxy is tuned
// the same way.
func newUpstreamTransport() *http.Transport {
	dialer := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	return &http.Transport{
		DialContext:           dialer.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          1024,
		MaxIdleConnsPerHost:   256,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
}

// proxyBufferSize matches the copy buffer dgp streams bodies through
// (internal/s3api copyBufSize), so buffer sizing is no difference between
// the bare proxy and dgp.
const proxyBufferSize = 256 << 10

// bufferPool hands the reverse proxy reusable copy buffers.
type bufferPool struct{ p sync.Pool }

func newBufferPool() *bufferPool {
	return &bufferPool{p: sync.Pool{New: func() any { b := make([]byte, proxyBufferSize); return &b }}}
}

func (b *bufferPool) Get() []byte  { return *(b.p.Get().(*[]byte)) }
func (b *bufferPool) Put(x []byte) { b.p.Put(&x) }

var _ httputil.BufferPool = (*bufferPool)(nil)

// newBareProxy is the cost of any proxy hop: a reverse proxy to upstream
// that keeps the client's Host header, so the client's signature still
// matches at MinIO.
func newBareProxy(upstream *url.URL, errLog io.Writer) *httputil.ReverseProxy {
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(upstream)
			pr.Out.Host = pr.In.Host
		},
		Transport:  newUpstreamTransport(),
		BufferPool: newBufferPool(),
		ErrorLog:   log.New(errLog, "dgp-bench: bare proxy: ", 0),
	}
}

// servers owns the in-process bare proxy and dgp (or one of them); Close
// stops them and waits for their goroutines.
type servers struct {
	proxyURL string          // "" when only dgp runs
	dgp      *app.App        // nil when only the proxy runs
	upstream *http.Transport // the bare proxy's
	cancel   context.CancelFunc
	g        *errgroup.Group
}

type serversOptions struct {
	minioURL, accessKey, secretKey string
	dataDir                        string
	stderr                         io.Writer
	// only is roleProxy or roleDGP to start that server alone; "" both.
	only string
}

// startServers starts the bare proxy and dgp, each on 127.0.0.1:0. Their
// goroutines carry the profile labels role=proxy and role=dgp.
func startServers(ctx context.Context, o serversOptions) (*servers, error) {
	upstream, err := url.Parse(o.minioURL)
	if err != nil || upstream.Host == "" {
		return nil, fmt.Errorf("minio url %q: not an http URL", o.minioURL)
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	g, gctx := errgroup.WithContext(runCtx)
	s := &servers{cancel: cancel, g: g}
	if o.only != roleProxy {
		if s.dgp, err = startDGP(ctx, o); err != nil {
			cancel()
			return nil, err
		}
		// Goroutines inherit profile labels from the goroutine that
		// starts them: the accept loops, the connection goroutines and
		// the upstream transports' goroutines all carry their server's
		// role.
		pprof.Do(runCtx, pprof.Labels("role", roleDGP), func(context.Context) {
			g.Go(func() error { return s.dgp.Run(gctx) })
		})
	}
	if o.only != roleDGP {
		if err := s.startProxy(runCtx, gctx, upstream, o.stderr); err != nil {
			_ = s.Close()
			return nil, err
		}
	}
	return s, nil
}

// startDGP builds the dgp instance: MinIO as its S3 backend, logs
// discarded.
func startDGP(ctx context.Context, o serversOptions) (*app.App, error) {
	cfg := config.Default()
	cfg.Advanced.ListenAddr = "127.0.0.1:0"
	cfg.Advanced.DataDir = o.dataDir
	cfg.Advanced.LogLevel = config.LogLevelWarn
	cfg.Advanced.LogFormat = config.LogFormatJSON
	cfg.Storage.S3 = o.minioURL
	cfg.Storage.Region = benchRegion
	cfg.Storage.AccessKeyID = o.accessKey
	cfg.Storage.SecretAccessKey = o.secretKey
	cfg.Storage.ForcePathStyle = true
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("dgp config: %w", err)
	}
	logger, err := obs.NewLogger(io.Discard, obs.LogOptions{Level: cfg.Advanced.LogLevel, Format: cfg.Advanced.LogFormat})
	if err != nil {
		return nil, fmt.Errorf("dgp logger: %w", err)
	}
	a, err := app.New(ctx, app.Options{Config: cfg, Logger: logger, Stderr: io.Discard})
	if err != nil {
		return nil, fmt.Errorf("start dgp: %w", err)
	}
	return a, nil
}

// startProxy starts the bare proxy under s's group.
func (s *servers) startProxy(runCtx, gctx context.Context, upstream *url.URL, stderr io.Writer) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("listen for the bare proxy: %w", err)
	}
	proxy := newBareProxy(upstream, stderr)
	srv := &http.Server{
		Handler:           proxy,
		ReadHeaderTimeout: 30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          log.New(stderr, "dgp-bench: bare proxy server: ", 0),
	}
	s.proxyURL, s.upstream = "http://"+ln.Addr().String(), proxy.Transport.(*http.Transport)
	pprof.Do(runCtx, pprof.Labels("role", roleProxy), func(context.Context) {
		s.g.Go(func() error {
			if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
				return fmt.Errorf("bare proxy: %w", err)
			}
			return nil
		})
		s.g.Go(func() error {
			<-gctx.Done()
			sctx, c := context.WithTimeout(context.Background(), 10*time.Second)
			defer c()
			return srv.Shutdown(sctx)
		})
	})
	return nil
}

// Close stops the servers and waits for them.
func (s *servers) Close() error {
	s.cancel()
	err := s.g.Wait()
	if s.upstream != nil {
		s.upstream.CloseIdleConnections()
	}
	return err
}
