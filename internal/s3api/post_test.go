package s3api

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/xml"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/dgp-proxy/dgp/internal/iam"
	"github.com/dgp-proxy/dgp/internal/sigv4"
)

const postBucket = "post-bkt"

// postEnv is a test server with postBucket created.
type postEnv struct {
	*testEnv
	http *http.Client
	url  string
}

// newPostEnv serves the S3 API on a directory backend with the test
// principals, its verifier configured by vo (SigV2, regions).
func newPostEnv(t *testing.T, vo sigv4.Options) *postEnv {
	t.Helper()
	fs, router := dirRouter(t)
	e := &testEnv{t: t, logs: &syncBuffer{}, reg: prometheus.NewRegistry(), fs1: fs,
		seen: &seenRequests{hosts: map[string]bool{}, hashes: map[string]bool{}}}
	vo.Now = time.Now
	srv, err := New(Options{
		Buckets: router,
		Principals: testPrincipals{
			rootAK: {name: "root", secret: rootSK, allow: func(iam.Action, string, string) bool { return true }},
			// The reader may only read and list.
			readerAK: {name: "reader", secret: readerSK, allow: func(a iam.Action, _, _ string) bool {
				return a == iam.ActionRead || a == iam.ActionList
			}},
		},
		Verifier:   sigv4.New(vo),
		Logger:     zerolog.New(e.logs),
		Registerer: e.reg,
		Now:        time.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	e.srv = httptest.NewServer(srv)
	t.Cleanup(e.srv.Close)
	_, err = e.root().CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(postBucket)})
	must(t, err, "create bucket")
	return &postEnv{testEnv: e, http: e.httpClient(), url: e.srv.URL + "/" + postBucket}
}

// get reads an object back with the SDK.
func (e *postEnv) get(t *testing.T, key string) (*s3.GetObjectOutput, []byte) {
	t.Helper()
	out, err := e.root().GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(postBucket), Key: aws.String(key)})
	must(t, err, "get "+key)
	return out, readAll(t, out.Body)
}

func (e *postEnv) exists(t *testing.T, key string) bool {
	t.Helper()
	return objectExists(t, e.root(), postBucket, key)
}

func md5ETag(b []byte) string {
	s := md5.Sum(b)
	return `"` + hex.EncodeToString(s[:]) + `"`
}

// form builds a V4 form: the signed fields, then fields, then the file.
func v4Form(exp time.Time, conds []any, fields []formKV, content []byte) postReq {
	f := append(policyV4(rootAK, rootSK, time.Now(), exp, conds...), fields...)
	return postReq{fields: f, filename: "photo.jpg", content: content}
}

func TestPostObjectStoresAndAnswers(t *testing.T) {
	e := newPostEnv(t, sigv4.Options{SigV2: true})
	exp := time.Now().Add(time.Hour)
	content := pattern(100_000)

	t.Run("default 204 and metadata", func(t *testing.T) {
		conds := []any{
			map[string]string{"bucket": postBucket},
			[]any{"starts-with", "$key", "user/"},
			[]any{"starts-with", "$Content-Type", "image/"},
			map[string]string{"x-amz-meta-Color": "blue"},
			[]any{"eq", "$Cache-Control", "max-age=60"},
			[]any{"starts-with", "$Content-Disposition", ""},
			[]any{"content-length-range", 1, 1 << 20},
		}
		r := sendPost(t, e.http, e.url, v4Form(exp, conds, []formKV{
			{"bucket", postBucket}, {"key", "user/${filename}"}, {"Content-Type", "image/jpeg"},
			{"X-Amz-Meta-Color", "blue"}, {"Cache-Control", "max-age=60"},
			{"Content-Disposition", `attachment; filename="x.jpg"`},
			{"x-ignore-submit", "Upload"},
		}, content))
		if r.status != http.StatusNoContent || len(r.body) != 0 {
			t.Fatalf("status %d body %q", r.status, r.body)
		}
		if got := r.header.Get("ETag"); got != md5ETag(content) {
			t.Fatalf("ETag %q, want %q", got, md5ETag(content))
		}
		if loc, want := r.header.Get("Location"), e.url+"/user%2Fphoto.jpg"; loc != want {
			t.Fatalf("Location %q, want %q", loc, want)
		}
		out, got := e.get(t, "user/photo.jpg")
		if string(got) != string(content) {
			t.Fatal("bytes read back differ")
		}
		if aws.ToString(out.ContentType) != "image/jpeg" || aws.ToString(out.CacheControl) != "max-age=60" ||
			out.Metadata["color"] != "blue" || aws.ToString(out.ContentDisposition) != `attachment; filename="x.jpg"` {
			t.Fatalf("stored metadata: type %q cache %q disp %q meta %v", aws.ToString(out.ContentType),
				aws.ToString(out.CacheControl), aws.ToString(out.ContentDisposition), out.Metadata)
		}
	})

	t.Run("success_action_status", func(t *testing.T) {
		for _, tc := range []struct {
			status string
			want   int
		}{{"200", 200}, {"201", 201}, {"204", 204}, {"302", 204}, {"bogus", 204}} {
			key := "status-" + tc.status
			conds := []any{map[string]string{"key": key}, map[string]string{"success_action_status": tc.status}}
			r := sendPost(t, e.http, e.url, v4Form(exp, conds, []formKV{{"key", key}, {"success_action_status", tc.status}}, []byte("hi")))
			if r.status != tc.want {
				t.Fatalf("%s: status %d, want %d (%s)", tc.status, r.status, tc.want, r.body)
			}
			if r.header.Get("ETag") != md5ETag([]byte("hi")) {
				t.Fatalf("%s: ETag %q", tc.status, r.header.Get("ETag"))
			}
			if tc.want != 201 {
				if len(r.body) != 0 {
					t.Fatalf("%s: body %q", tc.status, r.body)
				}
				continue
			}
			var pr struct {
				XMLName  xml.Name `xml:"PostResponse"`
				Location string
				Bucket   string
				Key      string
				ETag     string
			}
			if err := xml.Unmarshal(r.body, &pr); err != nil {
				t.Fatalf("201 body %q: %v", r.body, err)
			}
			if pr.Bucket != postBucket || pr.Key != key || pr.ETag != md5ETag([]byte("hi")) || pr.Location != e.url+"/"+key {
				t.Fatalf("201 body %+v", pr)
			}
		}
	})

	t.Run("redirect", func(t *testing.T) {
		for _, field := range []string{"success_action_redirect", "redirect"} {
			key := "redir/" + field
			target := "https://example.org/done?x=1"
			conds := []any{map[string]string{"key": key}, []any{"starts-with", "$" + field, "https://example.org/"}}
			r := sendPost(t, e.http, e.url, v4Form(exp, conds, []formKV{{"key", key}, {field, target}}, []byte("r")))
			if r.status != http.StatusSeeOther {
				t.Fatalf("%s: status %d (%s)", field, r.status, r.body)
			}
			if !strings.HasPrefix(r.header.Get("Location"), target+"&bucket="+postBucket+"&key=") {
				t.Fatalf("%s: Location %q does not append to the URL's query", field, r.header.Get("Location"))
			}
			u, err := url.Parse(r.header.Get("Location"))
			if err != nil || u.Host != "example.org" || u.Path != "/done" {
				t.Fatalf("%s: Location %q", field, r.header.Get("Location"))
			}
			q := u.Query()
			if q.Get("x") != "1" || q.Get("bucket") != postBucket || q.Get("key") != key || q.Get("etag") != md5ETag([]byte("r")) {
				t.Fatalf("%s: redirect query %v", field, q)
			}
		}
		// A value that is not an http(s) URL is ignored.
		conds := []any{map[string]string{"key": "redir/bad"}, map[string]string{"success_action_redirect": "not a url"}}
		r := sendPost(t, e.http, e.url, v4Form(exp, conds, []formKV{{"key", "redir/bad"}, {"success_action_redirect", "not a url"}}, []byte("r")))
		if r.status != http.StatusNoContent {
			t.Fatalf("bad redirect: status %d", r.status)
		}
	})

	t.Run("field names are case-insensitive", func(t *testing.T) {
		signed := policyV4(rootAK, rootSK, time.Now(), exp, map[string]string{"KEY": "case/x"}, []any{"eq", "$content-type", "text/plain"})
		for i := range signed {
			signed[i].name = strings.ToUpper(signed[i].name)
		}
		p := postReq{fields: append(signed, formKV{"Key", "case/x"}, formKV{"CONTENT-TYPE", "text/plain"}), fileField: "File", content: []byte("case")}
		r := sendPost(t, e.http, e.url, p)
		if r.status != http.StatusNoContent {
			t.Fatalf("status %d %s %s", r.status, r.code, r.message)
		}
		out, got := e.get(t, "case/x")
		if string(got) != "case" || aws.ToString(out.ContentType) != "text/plain" {
			t.Fatalf("got %q type %q", got, aws.ToString(out.ContentType))
		}
	})

	t.Run("fields after the file are ignored", func(t *testing.T) {
		p := v4Form(exp, []any{map[string]string{"key": "after"}}, []formKV{{"key", "after"}}, []byte("a"))
		p.after = []formKV{{"x-amz-meta-late", "1"}, {"key", "other"}}
		r := sendPost(t, e.http, e.url, p)
		if r.status != http.StatusNoContent {
			t.Fatalf("status %d %s %s", r.status, r.code, r.message)
		}
		out, _ := e.get(t, "after")
		if len(out.Metadata) != 0 || e.exists(t, "other") {
			t.Fatalf("a field after the file was used: %v", out.Metadata)
		}
	})

	t.Run("empty file", func(t *testing.T) {
		r := sendPost(t, e.http, e.url, v4Form(exp, []any{map[string]string{"key": "empty"}}, []formKV{{"key", "empty"}}, nil))
		if r.status != http.StatusNoContent {
			t.Fatalf("status %d %s", r.status, r.body)
		}
		if _, got := e.get(t, "empty"); len(got) != 0 {
			t.Fatalf("got %d bytes", len(got))
		}
	})

	t.Run("SigV2 form", func(t *testing.T) {
		fields := append(policyV2(rootAK, rootSK, exp, map[string]string{"key": "v2/obj"}), formKV{"key", "v2/obj"})
		r := sendPost(t, e.http, e.url, postReq{fields: fields, content: []byte("v2")})
		if r.status != http.StatusNoContent {
			t.Fatalf("status %d %s %s", r.status, r.code, r.message)
		}
		if _, got := e.get(t, "v2/obj"); string(got) != "v2" {
			t.Fatalf("got %q", got)
		}
	})

	t.Run("access log", func(t *testing.T) {
		r := sendPost(t, e.http, e.url, v4Form(exp, []any{map[string]string{"key": "logged"}}, []formKV{{"key", "logged"}}, []byte("12345")))
		if r.status != http.StatusNoContent {
			t.Fatalf("status %d", r.status)
		}
		var line map[string]any
		for _, l := range e.logs.lines(t) {
			if l["key"] == "logged" {
				line = l
			}
		}
		if line == nil || line["op"] != "PostObject" || line["access_key_id"] != rootAK || line["bytes_in"].(float64) < 5 {
			t.Fatalf("access line %v", line)
		}
	})
}

func TestPostObjectRefusals(t *testing.T) {
	e := newPostEnv(t, sigv4.Options{SigV2: true, Regions: []string{"us-east-1"}})
	now := time.Now()
	exp := now.Add(time.Hour)
	key := map[string]string{"key": "k"}
	keyField := formKV{"key", "k"}
	withKey := func(extra ...formKV) []formKV { return append([]formKV{keyField}, extra...) }

	cases := []struct {
		name   string
		req    postReq
		status int
		code   string
		msg    string // substring of the message
	}{
		{"expired", v4Form(now.Add(-time.Minute), []any{key}, withKey(), []byte("x")),
			403, "AccessDenied", "Invalid according to Policy: Policy expired."},
		{"eq fails", v4Form(exp, []any{key, []any{"eq", "$Content-Type", "image/png"}}, withKey(formKV{"Content-Type", "image/gif"}), []byte("x")),
			403, "AccessDenied", `Invalid according to Policy: Policy Condition failed: ["eq", "$Content-Type", "image/png"]`},
		{"simple condition fails", v4Form(exp, []any{map[string]string{"key": "other"}}, withKey(), []byte("x")),
			403, "AccessDenied", `Policy Condition failed: ["eq", "$key", "other"]`},
		{"eq on a missing field", v4Form(exp, []any{key, map[string]string{"x-amz-meta-a": "1"}}, withKey(), []byte("x")),
			403, "AccessDenied", `Policy Condition failed: ["eq", "$x-amz-meta-a", "1"]`},
		{"starts-with fails", v4Form(exp, []any{[]any{"starts-with", "$key", "user/"}}, withKey(), []byte("x")),
			403, "AccessDenied", `Policy Condition failed: ["starts-with", "$key", "user/"]`},
		{"starts-with on content-type list", v4Form(exp, []any{key, []any{"starts-with", "$Content-Type", "image/"}}, withKey(formKV{"Content-Type", "image/png, text/plain"}), []byte("x")),
			403, "AccessDenied", `Policy Condition failed: ["starts-with", "$Content-Type", "image/"]`},
		{"starts-with on bucket is not allowed", v4Form(exp, []any{key, []any{"starts-with", "$bucket", "post"}}, withKey(), []byte("x")),
			403, "AccessDenied", `Policy Condition failed: ["starts-with", "$bucket", "post"]`},
		{"other bucket", v4Form(exp, []any{key, map[string]string{"bucket": "elsewhere"}}, withKey(), []byte("x")),
			403, "AccessDenied", `Policy Condition failed: ["eq", "$bucket", "elsewhere"]`},
		{"unknown operator", v4Form(exp, []any{key, []any{"ends-with", "$key", "k"}}, withKey(), []byte("x")),
			403, "AccessDenied", `Policy Condition failed: ["ends-with", "$key", "k"]`},
		{"extra field", v4Form(exp, []any{key}, withKey(formKV{"x-amz-meta-note", "hi"}), []byte("x")),
			403, "AccessDenied", "Invalid according to Policy: Extra input fields: x-amz-meta-note"},
		{"bucket field needs a condition", v4Form(exp, []any{key}, withKey(formKV{"bucket", postBucket}), []byte("x")),
			403, "AccessDenied", "Extra input fields: bucket"},
		{"too small", v4Form(exp, []any{key, []any{"content-length-range", 10, 100}}, withKey(), []byte("123")),
			400, "EntityTooSmall", "smaller than the minimum allowed size"},
		{"too large", v4Form(exp, []any{key, []any{"content-length-range", 0, 1000}}, withKey(), pattern(300_000)),
			400, "EntityTooLarge", "exceeds the maximum allowed size"},
		{"wrong signature", func() postReq {
			p := v4Form(exp, []any{key}, withKey(), []byte("x"))
			p.fields[4].value = strings.Repeat("0", 64)
			return p
		}(), 403, "SignatureDoesNotMatch", ""},
		{"tampered policy", func() postReq {
			p := v4Form(exp, []any{key}, withKey(), []byte("x"))
			p.fields[0].value = encodePolicy(exp, []any{map[string]string{"key": "k"}})
			return p
		}(), 403, "SignatureDoesNotMatch", ""},
		{"unknown access key", postReq{fields: append(policyV4("AKIANOBODY", "x", now, exp, key), keyField), content: []byte("x")},
			403, "InvalidAccessKeyId", ""},
		{"wrong region", postReq{fields: append(policyV4In("eu-west-1", rootAK, rootSK, now, exp, key), keyField), content: []byte("x")},
			400, "AuthorizationQueryParametersError", "the region 'eu-west-1' is wrong; expecting 'us-east-1'"},
		{"malformed credential", func() postReq {
			p := v4Form(exp, []any{key}, withKey(), []byte("x"))
			p.fields[2].value = "AKIA/2026/us-east-1/s3"
			return p
		}(), 400, "AuthorizationQueryParametersError", "Error parsing the X-Amz-Credential parameter"},
		{"wrong SigV2 signature", postReq{fields: append(policyV2(rootAK, "wrong", exp, key), keyField), content: []byte("x")},
			403, "SignatureDoesNotMatch", ""},
		{"anonymous", postReq{fields: []formKV{keyField}, content: []byte("x")},
			403, "AccessDenied", ""},
		{"policy without signature", postReq{fields: []formKV{keyField, {"policy", encodePolicy(exp, []any{key})}}, content: []byte("x")},
			403, "AccessDenied", ""},
		{"missing signature field", func() postReq {
			p := v4Form(exp, []any{key}, withKey(), []byte("x"))
			p.fields = append(p.fields[:4], p.fields[5:]...)
			return p
		}(), 400, "InvalidArgument", "Bucket POST must contain a field named 'X-Amz-Signature'."},
		{"missing policy", func() postReq {
			p := v4Form(exp, []any{key}, withKey(), []byte("x"))
			p.fields = p.fields[1:]
			return p
		}(), 400, "InvalidArgument", "field named 'Policy'"},
		{"missing key", v4Form(exp, []any{key}, nil, []byte("x")),
			400, "InvalidArgument", "Bucket POST must contain a field named 'key'."},
		{"key after the file", func() postReq {
			p := v4Form(exp, []any{key}, nil, []byte("x"))
			p.after = []formKV{keyField}
			return p
		}(), 400, "InvalidArgument", "please check the order of the fields"},
		{"no file", func() postReq {
			p := v4Form(exp, []any{key}, withKey(), nil)
			p.noFile = true
			return p
		}(), 400, "InvalidArgument", "POST requires exactly one file upload per request."},
		{"wrong algorithm", func() postReq {
			p := v4Form(exp, []any{key}, withKey(), []byte("x"))
			p.fields[1].value = "AWS4-HMAC-SHA1"
			return p
		}(), 400, "InvalidArgument", "AWS4-HMAC-SHA256"},
		{"SigV4A", func() postReq {
			p := v4Form(exp, []any{key}, withKey(), []byte("x"))
			p.fields[1].value = "AWS4-ECDSA-P256-SHA256"
			return p
		}(), 501, "NotImplemented", "Signature Version 4A"},
		{"policy not JSON", postReq{fields: []formKV{{"AWSAccessKeyId", rootAK}, {"policy", "bm90IGpzb24="},
			{"signature", signV2ForTest(rootSK, "bm90IGpzb24=")}, keyField}, content: []byte("x")},
			400, "InvalidPolicyDocument", "Invalid Policy: Invalid JSON."},
		{"duplicate field", v4Form(exp, []any{key}, withKey(keyField), []byte("x")),
			400, "InvalidArgument", "more than once"},
		{"fields too large", v4Form(exp, []any{key, []any{"starts-with", "$x-amz-meta-big", ""}}, withKey(formKV{"x-amz-meta-big", strings.Repeat("b", 21<<10)}), []byte("x")),
			400, "MaxPostPreDataLengthExceeded", ""},
		{"invalid key", v4Form(exp, []any{[]any{"starts-with", "$key", ""}}, []formKV{{"key", "a/../b"}}, []byte("x")),
			400, "InvalidObjectName", ""},
		{"refused ACL", v4Form(exp, []any{key, map[string]string{"acl": "public-read"}}, withKey(formKV{"acl", "public-read"}), []byte("x")),
			400, "AccessControlListNotSupported", ""},
		{"IAM denies the reader", postReq{fields: append(policyV4(readerAK, readerSK, now, exp, key), keyField), content: []byte("x")},
			403, "AccessDenied", "Access Denied"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := sendPost(t, e.http, e.url, tc.req)
			if r.status != tc.status || r.code != tc.code || !strings.Contains(r.message, tc.msg) {
				t.Fatalf("got %d %s %q, want %d %s %q", r.status, r.code, r.message, tc.status, tc.code, tc.msg)
			}
			if e.exists(t, "k") {
				t.Fatal("a refused upload was stored")
			}
		})
	}
}

func TestPostObjectV4Only(t *testing.T) {
	e := newPostEnv(t, sigv4.Options{})
	exp := time.Now().Add(time.Hour)
	p := v4Form(exp, []any{map[string]string{"key": "k"}}, []formKV{{"key", "k"}}, []byte("x"))
	if r := sendPost(t, e.http, e.srv.URL+"/no-such-bucket-here", p); r.status != http.StatusNotFound || r.code != "NoSuchBucket" {
		t.Fatalf("missing bucket: %d %s", r.status, r.code)
	}
	// SigV2 is refused where the verifier accepts SigV4 only.
	v2 := postReq{fields: append(policyV2(rootAK, rootSK, exp, map[string]string{"key": "k"}), formKV{"key", "k"}), content: []byte("x")}
	if r := sendPost(t, e.http, e.url, v2); r.status != http.StatusBadRequest || r.code != "InvalidRequest" {
		t.Fatalf("SigV2: %d %s %q", r.status, r.code, r.message)
	}
	if r := sendPost(t, e.http, e.url, p); r.status != http.StatusNoContent {
		t.Fatalf("SigV4: %d %s %q", r.status, r.code, r.message)
	}
}

func TestPostObjectTruncatedBody(t *testing.T) {
	e := newPostEnv(t, sigv4.Options{})
	p := v4Form(time.Now().Add(time.Hour), []any{map[string]string{"key": "cut"}}, []formKV{{"key", "cut"}}, pattern(200_000))
	ct, body := p.encode(t)
	body = body[:len(body)-100_000] // the file never reaches its boundary
	req, err := http.NewRequest(http.MethodPost, e.url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", ct)
	resp, err := e.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b := readAll(t, resp.Body)
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(b), "<Code>MalformedPOSTRequest</Code>") {
		t.Fatalf("got %d %s", resp.StatusCode, b)
	}
	if e.exists(t, "cut") {
		t.Fatal("a truncated upload was stored")
	}
}
