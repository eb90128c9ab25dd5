//go:build integration

package conformance

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"mime/multipart"
	"net/http"
	"time"
)

// postForm describes a browser-based upload (POST Object) with a SigV4 POST
// policy, as an HTML form built by AWS's documented rules
// (https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-HTTPPOSTConstructPolicy.html).
type postForm struct {
	Bucket string // bucket placeholder
	// Fields are form fields before the signing fields ({placeholders}
	// expanded), in order; "key" among them.
	Fields [][2]string
	// Conditions are extra policy conditions besides bucket and the
	// x-amz-* signing fields (placeholders expanded in strings).
	Conditions []any
	// Expires is the policy's expiry relative to now (negative: expired).
	Expires  time.Duration
	Filename string
	File     string
	// SkipSigning leaves the signing fields out (an anonymous form);
	// WrongSecret signs with a secret key that is not the target's.
	SkipSigning, WrongSecret bool
}

// build renders the form for rc's target, signed with its root keys.
func (f postForm) build(rc *runCtx) (*http.Request, []byte, error) {
	now := time.Now().UTC()
	date := now.Format("20060102")
	amzDate := now.Format("20060102T150405Z")
	cred := rc.tg.AccessKey + "/" + date + "/" + region + "/s3/aws4_request"
	bucket := rc.buckets[f.Bucket]
	conds := []any{map[string]string{"bucket": bucket}}
	for _, c := range f.Conditions {
		conds = append(conds, expandAny(rc, c))
	}
	conds = append(conds,
		map[string]string{"x-amz-algorithm": "AWS4-HMAC-SHA256"},
		map[string]string{"x-amz-credential": cred},
		map[string]string{"x-amz-date": amzDate})
	policy, err := json.Marshal(map[string]any{"expiration": now.Add(f.Expires).Format("2006-01-02T15:04:05.000Z"), "conditions": conds})
	if err != nil {
		return nil, nil, err
	}
	p64 := base64.StdEncoding.EncodeToString(policy)
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	for _, kv := range f.Fields {
		_ = w.WriteField(kv[0], rc.expand(kv[1]))
	}
	if !f.SkipSigning {
		_ = w.WriteField("x-amz-algorithm", "AWS4-HMAC-SHA256")
		_ = w.WriteField("x-amz-credential", cred)
		_ = w.WriteField("x-amz-date", amzDate)
		_ = w.WriteField("policy", p64)
		secret := rc.tg.SecretKey
		if f.WrongSecret {
			secret = "not-" + secret
		}
		_ = w.WriteField("x-amz-signature", hex.EncodeToString(hmacSHA256(signingKey(secret, date), p64)))
	}
	fw, err := w.CreateFormFile("file", f.Filename)
	if err != nil {
		return nil, nil, err
	}
	_, _ = fw.Write([]byte(f.File))
	if err := w.Close(); err != nil {
		return nil, nil, err
	}
	body := buf.Bytes()
	req, err := http.NewRequest(http.MethodPost, rc.tg.URL+"/"+bucket, bytes.NewReader(body))
	if err != nil {
		return nil, nil, err
	}
	req.Header.Set("Content-Type", w.FormDataContentType())
	return req, body, nil
}

func expandAny(rc *runCtx, c any) any {
	switch v := c.(type) {
	case string:
		return rc.expand(v)
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = expandAny(rc, x)
		}
		return out
	case map[string]string:
		out := map[string]string{}
		for k, x := range v {
			out[k] = rc.expand(x)
		}
		return out
	}
	return c
}

func signingKey(secret, date string) []byte {
	k := hmacSHA256([]byte("AWS4"+secret), date)
	k = hmacSHA256(k, region)
	k = hmacSHA256(k, "s3")
	return hmacSHA256(k, "aws4_request")
}

func hmacSHA256(key []byte, data string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(data))
	return h.Sum(nil)
}
