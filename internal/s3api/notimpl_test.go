package s3api

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/dgp-proxy/dgp/internal/s3err"
)

// TestNotImplementedNamed sends every unsupported subresource with every
// method S3 has an operation for, and checks the answer names it, the
// metrics count it under its name and the log line is a warning.
func TestNotImplementedNamed(t *testing.T) {
	e := newTestEnv(t, false)
	setupBucket(t, e.root(), "nimp")
	putString(t, e.root(), "nimp", "k", "x")

	type call struct{ method, path, op string }
	var calls []call
	subs := unsupportedSubresources()
	names := make([]string, 0, len(subs))
	for k := range subs {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, k := range names {
		if !isUnsupportedSubresource(k) {
			t.Fatalf("isUnsupportedSubresource(%q) = false; it must list every key of unsupportedSubresources", k)
		}
	}
	if isUnsupportedSubresource("x-id") || isUnsupportedSubresource("versioning") {
		t.Fatal("isUnsupportedSubresource accepts a served or unknown parameter")
	}
	if n := 25; len(names) != n {
		t.Fatalf("unsupportedSubresources has %d entries; isUnsupportedSubresource lists %d", len(names), n)
	}
	objectLevel := map[string]bool{"attributes": true, "restore": true, "select": true, "torrent": true, "renameObject": true}
	for _, sub := range names {
		u := subs[sub]
		path := "/nimp?" + sub
		if objectLevel[sub] {
			path = "/nimp/k?" + sub
		}
		for _, m := range []struct{ method, op string }{
			{http.MethodGet, u.get}, {http.MethodPut, u.put}, {http.MethodDelete, u.del}, {http.MethodPost, u.post},
		} {
			if m.op == "" {
				continue
			}
			p := path
			if u.list != "" && m.method == http.MethodGet {
				calls = append(calls, call{m.method, path, u.list})
				p += "&id=x"
			}
			calls = append(calls, call{m.method, p, m.op})
		}
	}
	calls = append(calls,
		call{http.MethodPut, "/nimp/k?tagging", "PutObjectTagging"},
		call{http.MethodDelete, "/nimp/k?tagging", "DeleteObjectTagging"},
	)
	if len(calls) < 60 {
		t.Fatalf("only %d calls", len(calls))
	}
	for _, c := range calls {
		status, body, _ := e.do(c.method, c.path, []byte("<x/>"), md5Header([]byte("<x/>")))
		if status != 501 || !strings.Contains(body, "<Code>NotImplemented</Code>") ||
			!strings.Contains(body, "<Message>"+c.op+" is not implemented by dgp.</Message>") {
			t.Errorf("%s %s: %d %s, want NotImplemented naming %s", c.method, c.path, status, body, c.op)
			continue
		}
		if v := e.metric("dgp_s3_requests_total", map[string]string{"op": c.op, "status": "501"}); v < 1 {
			t.Errorf("%s %s: no metric for op %s", c.method, c.path, c.op)
		}
	}
	// The object is untouched by the refused calls.
	if got, _ := getString(t, e.root(), "nimp", "k", ""); got != "x" {
		t.Fatalf("object changed: %q", got)
	}

	// Served subresources with a method that has no operation never fall
	// through to the plain operation (DELETE ?versioning is not DeleteBucket).
	for _, c := range []struct{ method, path string }{
		{http.MethodDelete, "/nimp?versioning"}, {http.MethodDelete, "/nimp?acl"}, {http.MethodPut, "/nimp?versions"},
		{http.MethodDelete, "/nimp/k?retention"}, {http.MethodPost, "/nimp/k?acl"}, {http.MethodPost, "/nimp?foo"},
	} {
		status, body, _ := e.do(c.method, c.path, nil, nil)
		if status != 501 || !strings.Contains(body, "is not implemented by dgp.") {
			t.Errorf("%s %s: %d %s", c.method, c.path, status, body)
		}
	}
	if _, err := e.root().HeadBucket(context.Background(), &s3.HeadBucketInput{Bucket: aws.String("nimp")}); err != nil {
		t.Fatalf("bucket gone: %v", err)
	}

	// A refused feature of an implemented operation names the operation.
	status, body, _ := e.do(http.MethodPut, "/nimp/sse", []byte("x"), http.Header{"X-Amz-Server-Side-Encryption-Customer-Algorithm": {"AES256"}})
	if status != 501 || !strings.Contains(body, "<Message>PutObject: Server-side encryption with customer-provided keys (SSE-C) is not implemented by dgp.</Message>") {
		t.Fatalf("SSE-C: %d %s", status, body)
	}

	// Warn-level log lines with the operation name.
	var warned bool
	for _, l := range e.logs.lines(t) {
		if l["op"] == "GetBucketLifecycleConfiguration" {
			warned = l["level"] == "warn" && l["component"] == "s3api" && l["error_code"] == "NotImplemented"
		}
		if l["op"] == "GetObject" && l["level"] != "info" {
			t.Errorf("GetObject logged at %v", l["level"])
		}
	}
	if !warned {
		t.Fatalf("no warn line for GetBucketLifecycleConfiguration:\n%s", e.logs.String())
	}
}

func TestNameNotImplemented(t *testing.T) {
	for _, tc := range []struct {
		in   *s3err.Error
		want string
	}{
		{s3err.ErrNotImplemented, "GetObject is not implemented by dgp."},
		{s3err.ErrNotImplemented.WithMessage("MFA delete is off."), "GetObject: MFA delete is off."},
		{s3err.ErrNotImplemented.WithMessage("GetObject of x is off."), "GetObject of x is off."},
	} {
		if got := nameNotImplemented(tc.in, "GetObject"); got.Message != tc.want || got.Code != "NotImplemented" {
			t.Errorf("nameNotImplemented(%q) = %q", tc.in.Message, got.Message)
		}
	}
}

func TestUnsupportedOp(t *testing.T) {
	for _, tc := range []struct {
		method string
		key    bool
		query  string
		want   string
		ok     bool
	}{
		{"GET", false, "lifecycle", "GetBucketLifecycleConfiguration", true},
		{"DELETE", false, "lifecycle", "DeleteBucketLifecycle", true},
		{"GET", false, "metrics", "ListBucketMetricsConfigurations", true},
		{"GET", false, "metrics&id=a", "GetBucketMetricsConfiguration", true},
		{"GET", true, "tagging", "", false},
		{"PUT", true, "tagging", "PutObjectTagging", true},
		{"GET", false, "tagging", "GetBucketTagging", true},
		{"POST", false, "cors", "NotImplemented", true},
		{"GET", false, "versions", "", false},
		{"GET", true, "cors&website", "GetBucketCors", true},
	} {
		q, _ := url.ParseQuery(tc.query)
		o, ok := unsupportedOp(tc.method, tc.key, q)
		if ok != tc.ok || o.Name != tc.want {
			t.Errorf("%s %v ?%s = %q %v, want %q %v", tc.method, tc.key, tc.query, o.Name, ok, tc.want, tc.ok)
		}
	}
}
