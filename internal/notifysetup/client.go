package notifysetup

import (
	"context"
	"errors"
	"fmt"
	"net/url"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/dgp-proxy/dgp/internal/config"
)

// defaultRegion signs requests when neither the settings nor the AWS
// configuration name a region (as dgp's S3 backends do).
const defaultRegion = "us-east-1"

// NewClient builds an S3 client that reaches the sync bucket with the
// settings dgp uses for it (config.Config.SyncS3): static keys when given,
// else the AWS default credential chain; the region of the settings, else
// of the AWS configuration, else us-east-1.
func NewClient(ctx context.Context, s config.S3Settings) (*s3.Client, error) {
	if (s.AccessKeyID == "") != (s.SecretAccessKey == "") {
		return nil, errors.New("sync bucket client: access key id and secret access key go together")
	}
	if s.Endpoint != "" {
		u, err := url.Parse(s.Endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("sync bucket client: endpoint %q is not an http(s) URL", s.Endpoint)
		}
	}
	var opts []func(*awsconfig.LoadOptions) error
	if s.Region != "" {
		opts = append(opts, awsconfig.WithRegion(s.Region))
	}
	if s.AccessKeyID != "" {
		opts = append(opts, awsconfig.WithCredentialsProvider(
			credentials.NewStaticCredentialsProvider(s.AccessKeyID, s.SecretAccessKey, "")))
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("sync bucket client: load aws config: %w", err)
	}
	if cfg.Region == "" {
		cfg.Region = defaultRegion
	}
	return s3.NewFromConfig(cfg, func(o *s3.Options) {
		if s.Endpoint != "" {
			o.BaseEndpoint = aws.String(s.Endpoint)
		}
		o.UsePathStyle = s.ForcePathStyle
		o.DisableLogOutputChecksumValidationSkipped = true
	}), nil
}
