package app

import (
	"context"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/dgp-proxy/dgp/internal/config"
	"github.com/dgp-proxy/dgp/internal/testutil"
)

// instance is an in-process dgp bound to 127.0.0.1:0.
type instance struct {
	app    *App
	cfg    *config.Config
	ca     *testutil.TestCA // nil over plain HTTP
	logs   *syncBuffer
	cancel context.CancelFunc
	done   chan error
}

// syncBuffer collects log output safely from many goroutines.
type syncBuffer = testutil.LogBuffer

func (in *instance) stop() {
	in.cancel()
	select {
	case <-in.done:
	case <-time.After(30 * time.Second):
	}
}

func (in *instance) httpClient() *http.Client {
	if in.ca != nil {
		return in.ca.Client()
	}
	return &http.Client{}
}

// s3Client returns an aws-sdk-go-v2 client for the instance with the given keys.
func (in *instance) s3Client(accessKey, secretKey string) *s3.Client {
	return s3.New(s3.Options{
		Region:                     "us-east-1",
		BaseEndpoint:               aws.String(in.app.URL()),
		UsePathStyle:               true,
		Credentials:                credentials.NewStaticCredentialsProvider(accessKey, secretKey, ""),
		HTTPClient:                 in.httpClient(),
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
	})
}

func (in *instance) rootClient() *s3.Client {
	rc := in.app.RootCredentials()
	return in.s3Client(rc.AccessKeyID, rc.SecretAccessKey)
}
