package s3api

import (
	"encoding/base64"
	"strings"

	"github.com/dgp-proxy/dgp/internal/s3err"
	"github.com/dgp-proxy/dgp/internal/sigv4"
)

// postAuth is an authenticated POST Object form.
type postAuth struct {
	// policy is the base64 policy field, as signed.
	policy string
	// exempt reports whether a form field needs no policy condition.
	exempt func(name string) bool
}

// postV4Fields are the SigV4 form fields, lower-case, with the names S3
// uses for them in its messages.
func postV4Fields() [4][2]string {
	return [4][2]string{
		{"x-amz-algorithm", "X-Amz-Algorithm"},
		{"x-amz-credential", "X-Amz-Credential"},
		{"x-amz-date", "X-Amz-Date"},
		{"x-amz-signature", "X-Amz-Signature"},
	}
}

// postV2Fields are the SigV2 form fields, as postV4Fields.
func postV2Fields() [2][2]string {
	return [2][2]string{{"awsaccesskeyid", "AWSAccessKeyId"}, {"signature", "Signature"}}
}

// hasAny reports whether the form has one of fields; then it must have all
// of them (else InvalidArgument naming the first missing).
func hasAny(form *postForm, fields [][2]string) (bool, error) {
	found := false
	for _, f := range fields {
		if _, ok := form.get(f[0]); ok {
			found = true
		}
	}
	if !found {
		return false, nil
	}
	for _, f := range fields {
		if _, ok := form.get(f[0]); !ok {
			return true, missingPostField(f[1])
		}
	}
	return true, nil
}

// authenticatePost checks the form's signature over its policy (SigV4:
// x-amz-algorithm, x-amz-credential, x-amz-date, x-amz-signature; or SigV2:
// AWSAccessKeyId, signature) and sets the request's principal. A form
// without a policy and signature is anonymous, which dgp refuses.
func (s *Server) authenticatePost(rq *request, form *postForm) (postAuth, error) {
	v4f, v2f := postV4Fields(), postV2Fields()
	v4, err := hasAny(form, v4f[:])
	if err != nil {
		return postAuth{}, err
	}
	v2 := false
	if !v4 {
		if v2, err = hasAny(form, v2f[:]); err != nil {
			return postAuth{}, err
		}
	}
	policy, hasPolicy := form.get("policy")
	switch {
	case !v4 && !v2:
		return postAuth{}, s3err.ErrAccessDenied
	case !hasPolicy:
		return postAuth{}, missingPostField("Policy")
	}
	lookup := func(ak string) (string, bool) {
		rq.accessKey = ak
		p, ok := s.principals.Lookup(ak)
		if !ok || p == nil {
			return "", false
		}
		rq.principal = p
		return p.SecretAccessKey(), true
	}
	if v4 {
		alg, _ := form.get("x-amz-algorithm")
		if alg == "AWS4-ECDSA-P256-SHA256" {
			return postAuth{}, s3err.ErrNotImplemented.WithMessage("AWS Signature Version 4A is not supported; use Signature Version 4.")
		}
		if alg != sigv4.Algorithm {
			return postAuth{}, s3err.ErrInvalidArgument.WithMessage("X-Amz-Algorithm only supports \"%s\"", sigv4.Algorithm)
		}
		cred, _ := form.get("x-amz-credential")
		sig, _ := form.get("x-amz-signature")
		id, err := s.verifier.VerifyPostPolicy(policy, cred, sig, lookup)
		if err != nil {
			rq.principal = nil
			return postAuth{}, err
		}
		rq.accessKey = id.AccessKeyID
		return postAuth{policy: policy, exempt: exemptV4}, nil
	}
	ak, _ := form.get("awsaccesskeyid")
	sig, _ := form.get("signature")
	if _, err := s.verifier.VerifyPostPolicyV2(policy, ak, sig, lookup); err != nil {
		rq.principal = nil
		return postAuth{}, err
	}
	return postAuth{policy: policy, exempt: exemptV2}, nil
}

// exemptV4 reports whether a SigV4 form field needs no policy condition:
// x-amz-signature, file, policy and x-ignore-* (as S3 documents).
func exemptV4(name string) bool {
	switch name {
	case "x-amz-signature", "file", "policy":
		return true
	}
	return strings.HasPrefix(name, "x-ignore-")
}

// exemptV2 adds the SigV2 fields AWSAccessKeyId and signature to exemptV4.
func exemptV2(name string) bool {
	return name == "awsaccesskeyid" || name == "signature" || exemptV4(name)
}

// decodePostPolicy decodes the base64 policy field (whitespace, which some
// encoders insert every 60 characters, is ignored) and parses it.
func decodePostPolicy(policy string) (*postPolicy, error) {
	clean := strings.Map(func(r rune) rune {
		switch r {
		case ' ', '\t', '\r', '\n':
			return -1
		}
		return r
	}, policy)
	doc, err := base64.StdEncoding.DecodeString(clean)
	if err != nil {
		return nil, policyError("Policy is not base64 encoded.")
	}
	return parsePostPolicy(doc)
}
