package sqsnotify

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

// DefaultHTTPTimeout bounds one SQS HTTP call. It is above the 20 s long
// poll, so a waiting receive is never cut short.
const DefaultHTTPTimeout = 30 * time.Second

// ErrNoRegion is returned by NewClient when no region is given, none can be
// read from the queue URL and the AWS configuration has none.
var ErrNoRegion = errors.New("sqs region unknown")

// ClientOption adjusts the client NewClient builds.
type ClientOption func(*clientConfig)

type clientConfig struct {
	creds       aws.CredentialsProvider
	httpTimeout time.Duration
	sqsOpts     []func(*sqs.Options)
}

// WithStaticCredentials uses fixed keys instead of the AWS default
// credential chain (for emulators and tests).
func WithStaticCredentials(accessKeyID, secretAccessKey, sessionToken string) ClientOption {
	return func(c *clientConfig) {
		c.creds = credentials.NewStaticCredentialsProvider(accessKeyID, secretAccessKey, sessionToken)
	}
}

// WithHTTPTimeout sets the timeout of one HTTP call (DefaultHTTPTimeout when
// not set). Keep it above the long-poll wait.
func WithHTTPTimeout(d time.Duration) ClientOption {
	return func(c *clientConfig) { c.httpTimeout = d }
}

// WithSQSOptions applies fn to the sqs client options (retries, logging).
func WithSQSOptions(fn func(*sqs.Options)) ClientOption {
	return func(c *clientConfig) { c.sqsOpts = append(c.sqsOpts, fn) }
}

// NewClient builds an SQS client for queueURL with the AWS default
// configuration (environment, shared config, IRSA or instance role).
// region, when empty, is read from the queue URL
// (https://sqs.<region>.amazonaws.com/...) or the AWS configuration.
// endpoint, when empty and the queue URL is not an AWS one (an emulator),
// becomes the queue URL's scheme and host.
func NewClient(ctx context.Context, queueURL, region, endpoint string, opts ...ClientOption) (*sqs.Client, error) {
	cc := clientConfig{httpTimeout: DefaultHTTPTimeout}
	for _, o := range opts {
		o(&cc)
	}
	u, err := url.Parse(queueURL)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, fmt.Errorf("%w: queue url %q is not an http(s) URL", ErrInvalidOptions, queueURL)
	}
	if region == "" {
		region = regionFromHost(u.Hostname())
	}
	if endpoint == "" && !isAWSHost(u.Hostname()) {
		endpoint = u.Scheme + "://" + u.Host
	}

	loadOpts := []func(*config.LoadOptions) error{
		config.WithHTTPClient(awshttp.NewBuildableClient().WithTimeout(cc.httpTimeout)),
	}
	if region != "" {
		loadOpts = append(loadOpts, config.WithRegion(region))
	}
	if cc.creds != nil {
		loadOpts = append(loadOpts, config.WithCredentialsProvider(cc.creds))
	}
	cfg, err := config.LoadDefaultConfig(ctx, loadOpts...)
	if err != nil {
		return nil, fmt.Errorf("load aws config: %w", err)
	}
	if cfg.Region == "" {
		if endpoint == "" {
			return nil, ErrNoRegion
		}
		// Emulators ignore the region, but signing needs one.
		cfg.Region = "us-east-1"
	}
	return sqs.NewFromConfig(cfg, func(o *sqs.Options) {
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
		}
		for _, fn := range cc.sqsOpts {
			fn(o)
		}
	}), nil
}

func isAWSHost(host string) bool {
	return strings.HasSuffix(host, ".amazonaws.com") || strings.HasSuffix(host, ".amazonaws.com.cn")
}

// regionFromHost reads the region from sqs.<region>.amazonaws.com (and the
// legacy <region>.queue.amazonaws.com); "" for anything else.
func regionFromHost(host string) string {
	if !isAWSHost(host) {
		return ""
	}
	labels := strings.Split(host, ".")
	switch {
	case len(labels) >= 4 && labels[0] == "sqs":
		return labels[1]
	case len(labels) >= 4 && labels[1] == "queue":
		return labels[0]
	}
	return ""
}
