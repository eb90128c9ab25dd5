package sigv4

import (
	"crypto/hmac"

	"github.com/dgp-proxy/dgp/internal/s3err"
)

// Algorithm is the only SigV4 algorithm S3 accepts (the x-amz-algorithm
// form field of a browser-based upload).
const Algorithm = algorithm

// PostIdentity is a browser-based upload (POST Object) whose policy
// signature checked out.
type PostIdentity struct {
	// AccessKeyID is the access key that signed the policy.
	AccessKeyID string
	// Region is the region named in the credential scope.
	Region string
}

// VerifyPostPolicy authenticates the policy of a browser-based upload signed
// with SigV4: signature (the x-amz-signature form field) must be the
// lower-case hex HMAC-SHA256 of policy (the base64 policy field, exactly as
// sent) under the signing key of credential's scope (the x-amz-credential
// field, "<access key>/<yyyymmdd>/<region>/s3/aws4_request"). lookup is
// called at most once. Errors are *s3err.Error values: InvalidArgument for a
// malformed credential, InvalidAccessKeyId, SignatureDoesNotMatch.
func (v *Verifier) VerifyPostPolicy(policy, credential, signature string, lookup SecretLookup) (PostIdentity, error) {
	c, msg := parseCredential(credential)
	if msg != "" {
		return PostIdentity{}, s3err.ErrInvalidArgument.WithMessage("Error parsing the X-Amz-Credential parameter; %s", msg)
	}
	secret, ok := lookup(c.accessKeyID)
	if !ok {
		return PostIdentity{}, s3err.ErrInvalidAccessKeyID
	}
	key := v.keys.get(secret, c.date, c.region, c.service)
	want := signHex(key, []byte(policy))
	if !hmac.Equal(want[:], []byte(signature)) {
		return PostIdentity{}, s3err.ErrSignatureDoesNotMatch
	}
	return PostIdentity{AccessKeyID: c.accessKeyID, Region: c.region}, nil
}
