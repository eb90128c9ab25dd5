package sigv4_test

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"testing"

	"github.com/dgp-proxy/dgp/internal/s3err"
	"github.com/dgp-proxy/dgp/internal/sigv4"
)

// The worked example of AWS's "Example: Browser-Based Upload using HTTP
// POST (Using AWS Signature Version 4)": its base64 policy, credentials
// and signature.
const (
	postExampleAK     = "AKIAIOSFODNN7EXAMPLE"
	postExampleSecret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
	postExampleCred   = "AKIAIOSFODNN7EXAMPLE/20151229/us-east-1/s3/aws4_request"
	postExampleSig    = "8afdbf4008c03f22c2cd3cdb72e4afbb1f6a588f3255ac628749a66d7f09699e"
	postExamplePolicy = "eyAiZXhwaXJhdGlvbiI6ICIyMDE1LTEyLTMwVDEyOjAwOjAwLjAwMFoiLA0KICAiY29uZGl0aW9ucyI6IFsNCiAgICB7ImJ1Y2tldCI6ICJzaWd2NGV4YW1wbGVidWNrZXQifSwNCiAgICBbInN0YXJ0cy13aXRoIiwgIiRrZXkiLCAidXNlci91c2VyMS8iXSwNCiAgICB7ImFjbCI6ICJwdWJsaWMtcmVhZCJ9LA0KICAgIHsic3VjY2Vzc19hY3Rpb25fcmVkaXJlY3QiOiAiaHR0cDovL3NpZ3Y0ZXhhbXBsZWJ1Y2tldC5zMy5hbWF6b25hd3MuY29tL3N1Y2Nlc3NmdWxfdXBsb2FkLmh0bWwifSwNCiAgICBbInN0YXJ0cy13aXRoIiwgIiRDb250ZW50LVR5cGUiLCAiaW1hZ2UvIl0sDQogICAgeyJ4LWFtei1tZXRhLXV1aWQiOiAiMTQzNjUxMjM2NTEyNzQifSwNCiAgICB7IngtYW16LXNlcnZlci1zaWRlLWVuY3J5cHRpb24iOiAiQUVTMjU2In0sDQogICAgWyJzdGFydHMtd2l0aCIsICIkeC1hbXotbWV0YS10YWciLCAiIl0sDQoNCiAgICB7IngtYW16LWNyZWRlbnRpYWwiOiAiQUtJQUlPU0ZPRE5ON0VYQU1QTEUvMjAxNTEyMjkvdXMtZWFzdC0xL3MzL2F3czRfcmVxdWVzdCJ9LA0KICAgIHsieC1hbXotYWxnb3JpdGhtIjogIkFXUzQtSE1BQy1TSEEyNTYifSwNCiAgICB7IngtYW16LWRhdGUiOiAiMjAxNTEyMjlUMDAwMDAwWiIgfQ0KICBdDQp9"
)

func postLookup(ak string) (string, bool) {
	if ak == postExampleAK {
		return postExampleSecret, true
	}
	return "", false
}

func wantPostCode(t *testing.T, err error, code string) {
	t.Helper()
	var e *s3err.Error
	if !errors.As(err, &e) || e.Code != code {
		t.Fatalf("error %v, want %s", err, code)
	}
}

func TestVerifyPostPolicyAWSExample(t *testing.T) {
	v := sigv4.New(sigv4.Options{})
	id, err := v.VerifyPostPolicy(postExamplePolicy, postExampleCred, postExampleSig, postLookup)
	if err != nil {
		t.Fatal(err)
	}
	if id.AccessKeyID != postExampleAK || id.Region != "us-east-1" {
		t.Fatalf("identity %+v", id)
	}
	// Any change to the policy, the signature or the scope breaks it.
	_, err = v.VerifyPostPolicy(postExamplePolicy+"=", postExampleCred, postExampleSig, postLookup)
	wantPostCode(t, err, "SignatureDoesNotMatch")
	_, err = v.VerifyPostPolicy(postExamplePolicy, postExampleCred, postExampleSig[:63]+"f", postLookup)
	wantPostCode(t, err, "SignatureDoesNotMatch")
	_, err = v.VerifyPostPolicy(postExamplePolicy, "AKIAIOSFODNN7EXAMPLE/20151230/us-east-1/s3/aws4_request", postExampleSig, postLookup)
	wantPostCode(t, err, "SignatureDoesNotMatch")
	_, err = v.VerifyPostPolicy(postExamplePolicy, "AKIAOTHER/20151229/us-east-1/s3/aws4_request", postExampleSig, postLookup)
	wantPostCode(t, err, "InvalidAccessKeyId")
	_, err = v.VerifyPostPolicy(postExamplePolicy, "AKIAIOSFODNN7EXAMPLE/20151229/us-east-1/sqs/aws4_request", postExampleSig, postLookup)
	wantPostCode(t, err, "AuthorizationQueryParametersError")

	// A Verifier limited to other regions refuses the scope, naming its region.
	_, err = sigv4.New(sigv4.Options{Regions: []string{"eu-west-1"}}).VerifyPostPolicy(postExamplePolicy, postExampleCred, postExampleSig, postLookup)
	wantPostCode(t, err, "AuthorizationQueryParametersError")
	var e *s3err.Error
	if errors.As(err, &e) && e.Region != "eu-west-1" {
		t.Fatalf("region %q", e.Region)
	}
}

func TestVerifyPostPolicyV2(t *testing.T) {
	m := hmac.New(sha1.New, []byte(postExampleSecret))
	m.Write([]byte(postExamplePolicy))
	sig := base64.StdEncoding.EncodeToString(m.Sum(nil))

	_, err := sigv4.New(sigv4.Options{}).VerifyPostPolicyV2(postExamplePolicy, postExampleAK, sig, postLookup)
	wantPostCode(t, err, "InvalidRequest")

	v := sigv4.New(sigv4.Options{SigV2: true})
	id, err := v.VerifyPostPolicyV2(postExamplePolicy, postExampleAK, sig, postLookup)
	if err != nil || id.AccessKeyID != postExampleAK {
		t.Fatalf("%+v %v", id, err)
	}
	_, err = v.VerifyPostPolicyV2(postExamplePolicy[1:], postExampleAK, sig, postLookup)
	wantPostCode(t, err, "SignatureDoesNotMatch")
	_, err = v.VerifyPostPolicyV2(postExamplePolicy, "AKIAOTHER", sig, postLookup)
	wantPostCode(t, err, "InvalidAccessKeyId")
}
