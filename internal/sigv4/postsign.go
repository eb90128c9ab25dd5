package sigv4

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"

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
	// Region is the region named in the credential scope ("" for SigV2).
	Region string
}

// VerifyPostPolicy authenticates the policy of a browser-based upload signed
// with SigV4: signature (the x-amz-signature form field) must be the
// lower-case hex HMAC-SHA256 of policy (the base64 policy field, exactly as
// sent) under the signing key of credential's scope (the x-amz-credential
// field, "<access key>/<yyyymmdd>/<region>/s3/aws4_request"), whose region
// must be one the Verifier accepts. lookup is called at most once. Errors
// are *s3err.Error values: AuthorizationQueryParametersError for a
// malformed credential or a wrong region, InvalidAccessKeyId,
// SignatureDoesNotMatch.
func (v *Verifier) VerifyPostPolicy(policy, credential, signature string, lookup SecretLookup) (PostIdentity, error) {
	c, msg := parseCredential(credential)
	if msg != "" {
		return PostIdentity{}, s3err.ErrAuthorizationQueryParametersError.WithMessage("Error parsing the X-Amz-Credential parameter; %s", msg)
	}
	if want, ok := v.regionAccepted(c.region); !ok {
		return PostIdentity{}, s3err.ErrAuthorizationQueryParametersError.
			WithMessage("Error parsing the X-Amz-Credential parameter; the region '%s' is wrong; expecting '%s'", truncate(c.region), want).
			WithRegion(want)
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

// VerifyPostPolicyV2 authenticates the policy of a browser-based upload
// signed with SigV2 (legacy clients): signature (the signature form field)
// must be the base64 HMAC-SHA1 of policy under the secret of accessKeyID
// (the AWSAccessKeyId field). Refused with InvalidRequest when the
// Verifier does not accept SigV2; otherwise errors are InvalidAccessKeyId
// and SignatureDoesNotMatch.
func (v *Verifier) VerifyPostPolicyV2(policy, accessKeyID, signature string, lookup SecretLookup) (PostIdentity, error) {
	if !v.sigV2 {
		return PostIdentity{}, errSigV2Disabled
	}
	secret, ok := lookup(accessKeyID)
	if !ok {
		return PostIdentity{}, s3err.ErrInvalidAccessKeyID
	}
	m := hmac.New(sha1.New, []byte(secret))
	m.Write([]byte(policy))
	var sum [sha1.Size]byte
	want := base64.StdEncoding.AppendEncode(nil, m.Sum(sum[:0]))
	if !hmac.Equal(want, []byte(signature)) {
		return PostIdentity{}, s3err.ErrSignatureDoesNotMatch
	}
	return PostIdentity{AccessKeyID: accessKeyID}, nil
}
