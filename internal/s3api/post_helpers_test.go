package s3api

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"testing"
	"time"
)

// formKV is one form field.
type formKV struct{ name, value string }

// postReq is a POST Object form: fields, the file, fields after it.
type postReq struct {
	fields    []formKV
	fileField string // "file" when empty
	filename  string
	content   []byte
	noFile    bool
	after     []formKV
}

// encode renders the form as multipart/form-data.
func (p postReq) encode(t testing.TB) (string, []byte) {
	t.Helper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	for _, f := range p.fields {
		if err := w.WriteField(f.name, f.value); err != nil {
			t.Fatal(err)
		}
	}
	if !p.noFile {
		name := p.fileField
		if name == "" {
			name = "file"
		}
		h := textproto.MIMEHeader{}
		h.Set("Content-Disposition", fmt.Sprintf(`form-data; name=%q; filename=%q`, name, p.filename))
		h.Set("Content-Type", "application/octet-stream")
		fw, err := w.CreatePart(h)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = fw.Write(p.content)
	}
	for _, f := range p.after {
		if err := w.WriteField(f.name, f.value); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return w.FormDataContentType(), buf.Bytes()
}

// hmacSHA256 is computed here independently of internal/sigv4.
func testHMAC(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}

// policyV4 builds the SigV4 fields of a form (policy, x-amz-algorithm,
// x-amz-credential, x-amz-date, x-amz-signature) for a policy expiring at
// exp with conds, plus the conditions naming the three x-amz-* fields.
func policyV4(ak, sk string, at, exp time.Time, conds ...any) []formKV {
	return policyV4In("us-east-1", ak, sk, at, exp, conds...)
}

// policyV4In is policyV4 with a credential scope naming region.
func policyV4In(region, ak, sk string, at, exp time.Time, conds ...any) []formKV {
	date := at.UTC().Format("20060102")
	amzDate := at.UTC().Format("20060102T150405Z")
	cred := ak + "/" + date + "/" + region + "/s3/aws4_request"
	all := append([]any{
		map[string]string{"x-amz-algorithm": "AWS4-HMAC-SHA256"},
		map[string]string{"x-amz-credential": cred},
		map[string]string{"x-amz-date": amzDate},
	}, conds...)
	policy := encodePolicy(exp, all)
	k := testHMAC([]byte("AWS4"+sk), date)
	k = testHMAC(k, region)
	k = testHMAC(k, "s3")
	k = testHMAC(k, "aws4_request")
	sig := hex.EncodeToString(testHMAC(k, policy))
	return []formKV{
		{"policy", policy},
		{"x-amz-algorithm", "AWS4-HMAC-SHA256"},
		{"x-amz-credential", cred},
		{"x-amz-date", amzDate},
		{"x-amz-signature", sig},
	}
}

// policyV2 builds the SigV2 fields of a form (AWSAccessKeyId, policy, signature).
func policyV2(ak, sk string, exp time.Time, conds ...any) []formKV {
	policy := encodePolicy(exp, conds)
	return []formKV{
		{"AWSAccessKeyId", ak},
		{"policy", policy},
		{"signature", signV2ForTest(sk, policy)},
	}
}

// signV2ForTest is the SigV2 POST signature, computed independently.
func signV2ForTest(sk, policy string) string {
	m := hmac.New(sha1.New, []byte(sk))
	m.Write([]byte(policy))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

func encodePolicy(exp time.Time, conds []any) string {
	doc, err := json.Marshal(map[string]any{
		"expiration": exp.UTC().Format("2006-01-02T15:04:05.000Z"),
		"conditions": conds,
	})
	if err != nil {
		panic(err)
	}
	return base64.StdEncoding.EncodeToString(doc)
}

// postResp is what the server answered.
type postResp struct {
	status  int
	code    string
	message string
	header  http.Header
	body    []byte
}

// sendPost posts the form to url.
func sendPost(t testing.TB, c *http.Client, url string, p postReq) postResp {
	t.Helper()
	ct, body := p.encode(t)
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", ct)
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	r := postResp{status: resp.StatusCode, header: resp.Header, body: b}
	if resp.StatusCode >= 300 && resp.StatusCode != http.StatusSeeOther {
		var e struct {
			Code    string `xml:"Code"`
			Message string `xml:"Message"`
		}
		if err := xml.Unmarshal(b, &e); err == nil {
			r.code, r.message = e.Code, e.Message
		}
	}
	return r
}
