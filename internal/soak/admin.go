package soak

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
)

// admin talks to an instance's admin API with a session cookie.
type admin struct {
	base string
	hc   *http.Client
}

func newAdmin(ctx context.Context, p *proc) (*admin, error) {
	jar, _ := cookiejar.New(nil)
	a := &admin{base: p.url + "/_/api/admin", hc: &http.Client{Transport: p.hc.Transport, Jar: jar}}
	if err := a.do(ctx, http.MethodPost, "/login", map[string]string{"password": bootstrapPassword}, http.StatusOK, nil); err != nil {
		return nil, err
	}
	return a, nil
}

// user is a user as the admin API returns it.
type user struct {
	ID              string `json:"id"`
	Name            string `json:"name"`
	AccessKeyID     string `json:"access_key_id"`
	SecretAccessKey string `json:"secret_access_key"`
}

// rule is a permission rule.
type rule struct {
	Effect    string   `json:"effect"`
	Actions   []string `json:"actions"`
	Resources []string `json:"resources"`
}

func allow(resource string, actions ...string) rule {
	return rule{Effect: "Allow", Actions: actions, Resources: []string{resource}}
}

// do sends a request and decodes the answer into out (when not nil); any
// status other than want is an error.
func (a *admin) do(ctx context.Context, method, path string, body any, want int, out any) error {
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, a.base+path, r)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := a.hc.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		return fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, raw)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			return fmt.Errorf("%s %s: decode: %w", method, path, err)
		}
	}
	return nil
}

// s3Client is a client of instance p with the given keys. It never
// retries: a refused key is an answer, a failure is a failure.
func s3Client(p *proc, accessKey, secretKey string) *s3.Client {
	return s3.New(s3.Options{
		Region:                     region,
		BaseEndpoint:               aws.String(p.url),
		UsePathStyle:               true,
		Credentials:                credentials.NewStaticCredentialsProvider(accessKey, secretKey, ""),
		HTTPClient:                 p.hc,
		RetryMaxAttempts:           1,
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
	})
}

// refused reports whether err is the answer of an instance refusing the
// credentials or the request (403: unknown or disabled key, access denied).
func refused(err error) bool {
	var re interface{ HTTPStatusCode() int }
	if errors.As(err, &re) && re.HTTPStatusCode() == http.StatusForbidden {
		return true
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "InvalidAccessKeyId", "AccessDenied", "SignatureDoesNotMatch":
			return true
		}
	}
	return false
}
