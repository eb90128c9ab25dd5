package sigv4

import (
	"bytes"
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dgp-proxy/dgp/internal/s3err"
)

// refSignV2 is the SigV2 signature of a hand-written string to sign: the
// tests spell the string out, so they check the canonicalisation
// independently of appendV2StringToSign.
func refSignV2(secret, stringToSign string) string {
	m := hmac.New(sha1.New, []byte(secret))
	m.Write([]byte(stringToSign))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// v2Verifier accepts SigV2 with the clock at now and the given
// virtual-host domains.
func v2Verifier(now time.Time, domains ...string) *Verifier {
	return New(Options{Now: func() time.Time { return now }, SigV2: true, VirtualHostDomains: domains})
}

// docDate parses a date of the S3 documentation's SigV2 examples.
func docDate(t *testing.T, s string) time.Time {
	t.Helper()
	tm, err := time.Parse(time.RFC1123Z, s)
	if err != nil {
		t.Fatal(err)
	}
	return tm
}

// TestSigV2DocumentationExamples verifies the examples of the S3
// documentation's "Signing and authenticating REST requests" (Signature
// Version 2), whose signatures are published there.
func TestSigV2DocumentationExamples(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, method, url, date string
		headers                 [][2]string
		domains                 []string
		sts, signature          string
	}{
		{name: "object GET", method: "GET", url: "http://johnsmith.s3.amazonaws.com/photos/puppy.jpg",
			date: "Tue, 27 Mar 2007 19:36:42 +0000", domains: []string{"s3.amazonaws.com"},
			sts:       "GET\n\n\nTue, 27 Mar 2007 19:36:42 +0000\n/johnsmith/photos/puppy.jpg",
			signature: "bWq2s1WEIj+Ydj0vQ697zp+IXMU="},
		{name: "object GET path style", method: "GET", url: "http://s3.amazonaws.com/johnsmith/photos/puppy.jpg",
			date: "Tue, 27 Mar 2007 19:36:42 +0000", domains: []string{"s3.amazonaws.com"},
			sts:       "GET\n\n\nTue, 27 Mar 2007 19:36:42 +0000\n/johnsmith/photos/puppy.jpg",
			signature: "bWq2s1WEIj+Ydj0vQ697zp+IXMU="},
		{name: "object PUT", method: "PUT", url: "http://johnsmith.s3.amazonaws.com/photos/puppy.jpg",
			date: "Tue, 27 Mar 2007 21:15:45 +0000", domains: []string{"s3.amazonaws.com"},
			headers:   [][2]string{{"Content-Type", "image/jpeg"}},
			sts:       "PUT\n\nimage/jpeg\nTue, 27 Mar 2007 21:15:45 +0000\n/johnsmith/photos/puppy.jpg",
			signature: "MyyxeRY7whkBe+bq8fHCL/2kKUg="},
		{name: "list (query not signed)", method: "GET", url: "http://johnsmith.s3.amazonaws.com/?prefix=photos&max-keys=50&marker=puppy",
			date: "Tue, 27 Mar 2007 19:42:41 +0000", domains: []string{"s3.amazonaws.com"},
			headers:   [][2]string{{"User-Agent", "Mozilla/5.0"}},
			sts:       "GET\n\n\nTue, 27 Mar 2007 19:42:41 +0000\n/johnsmith/",
			signature: "htDYFYduRNen8P9ZfE/s9SuKy0U="},
		{name: "fetch acl (sub-resource)", method: "GET", url: "http://johnsmith.s3.amazonaws.com/?acl",
			date: "Tue, 27 Mar 2007 19:44:46 +0000", domains: []string{"s3.amazonaws.com"},
			sts:       "GET\n\n\nTue, 27 Mar 2007 19:44:46 +0000\n/johnsmith/?acl",
			signature: "c2WLPFtWHVgbEmeEG93a4cG37dM="},
		{name: "list all my buckets", method: "GET", url: "http://s3.amazonaws.com/",
			date: "Wed, 28 Mar 2007 01:29:59 +0000", domains: []string{"s3.amazonaws.com"},
			sts:       "GET\n\n\nWed, 28 Mar 2007 01:29:59 +0000\n/",
			signature: "qGdzdERIC03wnaRNKh6OqZehG9s="},
		{name: "unicode keys (path signed as sent)", method: "GET", url: "http://dictionary.s3.amazonaws.com/fran%C3%A7ais/pr%c3%a9f%c3%a8re",
			date: "Wed, 28 Mar 2007 01:49:49 +0000", domains: []string{"s3.amazonaws.com"},
			sts:       "GET\n\n\nWed, 28 Mar 2007 01:49:49 +0000\n/dictionary/fran%C3%A7ais/pr%c3%a9f%c3%a8re",
			signature: "DNEZGsoieTZ92F3bUfSPQcbGmlM="},
		{name: "upload with x-amz headers (path style for the CNAME bucket)", method: "PUT",
			url:  "http://s3.amazonaws.com/static.johnsmith.net/db-backup.dat.gz",
			date: "Tue, 27 Mar 2007 21:06:08 +0000",
			headers: [][2]string{
				{"User-Agent", "curl/7.15.5"},
				{"x-amz-acl", "public-read"},
				{"content-type", "application/x-download"},
				{"Content-MD5", "4gJE4saaMU4BqNR0kLY+lw=="},
				{"X-Amz-Meta-ReviewedBy", "joe@johnsmith.net"},
				{"X-Amz-Meta-ReviewedBy", "jane@johnsmith.net"},
				{"X-Amz-Meta-FileChecksum", "0x02661779"},
				{"X-Amz-Meta-ChecksumAlgorithm", "crc32"},
				{"Content-Disposition", "attachment; filename=database.dat"},
				{"Content-Encoding", "gzip"},
			},
			sts: "PUT\n4gJE4saaMU4BqNR0kLY+lw==\napplication/x-download\nTue, 27 Mar 2007 21:06:08 +0000\n" +
				"x-amz-acl:public-read\nx-amz-meta-checksumalgorithm:crc32\nx-amz-meta-filechecksum:0x02661779\n" +
				"x-amz-meta-reviewedby:joe@johnsmith.net,jane@johnsmith.net\n/static.johnsmith.net/db-backup.dat.gz",
			signature: "ilyl83RwaSoYIEdixDQcA4OnAnc="},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := refSignV2(s3DocSecret, tc.sts); got != tc.signature {
				t.Fatalf("reference signature of the documented string = %s, want %s", got, tc.signature)
			}
			build := func(signature string) *http.Request {
				r := httptest.NewRequest(tc.method, tc.url, nil)
				r.Header.Set("Date", tc.date)
				for _, h := range tc.headers {
					r.Header.Add(h[0], h[1])
				}
				r.Header.Set("Authorization", "AWS "+s3DocAccess+":"+signature)
				return r
			}
			v := v2Verifier(docDate(t, tc.date).Add(time.Minute), tc.domains...)
			r := build(tc.signature)
			in := v2Input{method: r.Method, dateLine: tc.date, bucket: v.domains.Bucket(r.Host), path: wirePath(r)}
			in.query, _ = parseQuery(r.URL.RawQuery)
			if got := string(appendV2StringToSign(nil, r.Header, in)); got != tc.sts {
				t.Fatalf("string to sign\n%q\nwant\n%q", got, tc.sts)
			}
			res, err := v.Verify(r, s3DocLookup)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if res.AccessKeyID != s3DocAccess || res.Presigned || res.Region != "" {
				t.Fatalf("result = %+v", res)
			}
			_, err = v.Verify(build(flipBase64(tc.signature)), s3DocLookup)
			wantCode(t, err, "SignatureDoesNotMatch")
		})
	}
}

// flipBase64 changes the first character of a base64 signature.
func flipBase64(sig string) string {
	c := byte('A')
	if sig[0] == 'A' {
		c = 'B'
	}
	return string(c) + sig[1:]
}

// TestSigV2DocumentationPresigned verifies the documentation's query-string
// example, then the same URL after its Expires.
func TestSigV2DocumentationPresigned(t *testing.T) {
	t.Parallel()
	const raw = "http://johnsmith.s3.amazonaws.com/photos/puppy.jpg?AWSAccessKeyId=AKIAIOSFODNN7EXAMPLE" +
		"&Signature=NpgCjnDzrM%2BWFzoENXmpNDUsSn8%3D&Expires=1175139620"
	if got := refSignV2(s3DocSecret, "GET\n\n\n1175139620\n/johnsmith/photos/puppy.jpg"); got != "NpgCjnDzrM+WFzoENXmpNDUsSn8=" {
		t.Fatalf("reference signature = %s", got)
	}
	expiry := time.Unix(1175139620, 0)
	res, err := v2Verifier(expiry, "s3.amazonaws.com").Verify(httptest.NewRequest("GET", raw, nil), s3DocLookup)
	if err != nil {
		t.Fatalf("Verify at the expiry: %v", err)
	}
	if !res.Presigned || res.AccessKeyID != s3DocAccess {
		t.Fatalf("result = %+v", res)
	}
	// A presigned URL has no skew window: a day early is fine.
	if _, err := v2Verifier(expiry.Add(-24*time.Hour), "s3.amazonaws.com").Verify(httptest.NewRequest("GET", raw, nil), s3DocLookup); err != nil {
		t.Fatalf("Verify a day early: %v", err)
	}
	_, err = v2Verifier(expiry.Add(time.Second), "s3.amazonaws.com").Verify(httptest.NewRequest("GET", raw, nil), s3DocLookup)
	wantCode(t, err, "AccessDenied")
	if !strings.Contains(err.Error(), "Request has expired") {
		t.Fatalf("err = %v, want Request has expired", err)
	}
}

// v2Header signs r with SigV2 over sts (written out by the caller) and
// sets the Authorization header.
func v2Header(r *http.Request, sts string) *http.Request {
	r.Header.Set("Authorization", "AWS "+testAccess+":"+refSignV2(testSecret, sts))
	return r
}

func TestSigV2SubResources(t *testing.T) {
	t.Parallel()
	date := testTime().Format(http.TimeFormat)
	cases := []struct {
		name, method, url, sts string
	}{
		{name: "multipart part", method: "PUT", url: "http://dgp.test:9000/bucket/key?uploadId=abc%2Bdef&partNumber=2",
			sts: "PUT\n\n\n" + date + "\n/bucket/key?partNumber=2&uploadId=abc+def"},
		{name: "uploads with empty value", method: "POST", url: "http://dgp.test:9000/bucket/key?uploads=",
			sts: "POST\n\n\n" + date + "\n/bucket/key?uploads"},
		{name: "delete and ordinary parameter", method: "POST", url: "http://dgp.test:9000/bucket?delete&x-id=DeleteObjects",
			sts: "POST\n\n\n" + date + "\n/bucket?delete"},
		{name: "response overrides decoded", method: "GET",
			url: "http://dgp.test:9000/bucket/a%20b.txt?response-content-disposition=attachment%3B%20filename%3D%22a%20b.txt%22&response-content-type=text%2Fplain&versionId=v1",
			sts: "GET\n\n\n" + date + "\n/bucket/a%20b.txt?response-content-disposition=attachment; filename=\"a b.txt\"&response-content-type=text/plain&versionId=v1"},
		{name: "versioning tagging lock", method: "GET", url: "http://dgp.test:9000/bucket?versioning&tagging&object-lock",
			sts: "GET\n\n\n" + date + "\n/bucket?object-lock&tagging&versioning"},
		{name: "list versions paging not signed", method: "GET", url: "http://dgp.test:9000/bucket?versions&key-marker=a&max-keys=2",
			sts: "GET\n\n\n" + date + "\n/bucket?versions"},
		{name: "virtual host", method: "GET", url: "http://bucket.s3.dgp.test:9000/dir/key?acl",
			sts: "GET\n\n\n" + date + "\n/bucket/dir/key?acl"},
		{name: "virtual host bucket root", method: "GET", url: "http://bucket.s3.dgp.test:9000/",
			sts: "GET\n\n\n" + date + "\n/bucket/"},
		{name: "reserved characters kept as sent", method: "GET", url: "http://dgp.test:9000/bucket/k%21%28x%29%2Fy",
			sts: "GET\n\n\n" + date + "\n/bucket/k%21%28x%29%2Fy"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := httptest.NewRequest(tc.method, tc.url, nil)
			r.Header.Set("Date", date)
			v2Header(r, tc.sts)
			if _, err := v2Verifier(testTime(), "s3.dgp.test").Verify(r, testLookup); err != nil {
				t.Fatalf("Verify: %v", err)
			}
		})
	}
	t.Run("tampered sub-resource", func(t *testing.T) {
		t.Parallel()
		r := httptest.NewRequest("PUT", "http://dgp.test:9000/bucket/key?uploadId=abc&partNumber=3", nil)
		r.Header.Set("Date", date)
		v2Header(r, "PUT\n\n\n"+date+"\n/bucket/key?partNumber=2&uploadId=abc")
		_, err := v2Verifier(testTime()).Verify(r, testLookup)
		wantCode(t, err, "SignatureDoesNotMatch")
	})
	t.Run("virtual host unknown to the verifier", func(t *testing.T) {
		t.Parallel()
		r := httptest.NewRequest("GET", "http://bucket.s3.dgp.test:9000/key", nil)
		r.Header.Set("Date", date)
		v2Header(r, "GET\n\n\n"+date+"\n/bucket/key")
		_, err := v2Verifier(testTime()).Verify(r, testLookup)
		wantCode(t, err, "SignatureDoesNotMatch")
	})
}

func TestSigV2AmzDate(t *testing.T) {
	t.Parallel()
	for _, layout := range []string{time.RFC1123Z, http.TimeFormat, amzDateFormat} {
		t.Run(layout, func(t *testing.T) {
			t.Parallel()
			amzDate := testTime().Format(layout)
			r := httptest.NewRequest("DELETE", "http://dgp.test:9000/bucket/key", nil)
			r.Header.Set("X-Amz-Date", amzDate)
			r.Header.Set("Date", "Mon, 01 Jan 2001 00:00:00 GMT") // ignored beside x-amz-date
			v2Header(r, "DELETE\n\n\n\nx-amz-date:"+amzDate+"\n/bucket/key")
			if _, err := v2Verifier(testTime()).Verify(r, testLookup); err != nil {
				t.Fatalf("Verify: %v", err)
			}
		})
	}
}

func TestSigV2Errors(t *testing.T) {
	t.Parallel()
	date := testTime().Format(http.TimeFormat)
	good := func() *http.Request {
		r := httptest.NewRequest("GET", "http://dgp.test:9000/bucket/key", nil)
		r.Header.Set("Date", date)
		return v2Header(r, "GET\n\n\n"+date+"\n/bucket/key")
	}
	query := func(raw string) *http.Request {
		return httptest.NewRequest("GET", "http://dgp.test:9000/bucket/key?"+raw, nil)
	}
	expires := strconv.FormatInt(testTime().Unix()+60, 10)
	presigned := func(exp string) string {
		return "AWSAccessKeyId=" + testAccess + "&Expires=" + exp +
			"&Signature=" + url.QueryEscape(refSignV2(testSecret, "GET\n\n\n"+exp+"\n/bucket/key"))
	}
	cases := []struct {
		name string
		r    *http.Request
		off  bool
		now  time.Time
		code string
		msg  string
	}{
		{name: "header, sigv2 off", r: good(), off: true, code: "InvalidRequest",
			msg: "The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256."},
		{name: "query, sigv2 off", r: query(presigned(expires)), off: true, code: "InvalidRequest",
			msg: "Please use AWS4-HMAC-SHA256."},
		{name: "no colon", r: edit(good(), func(r *http.Request) { r.Header.Set("Authorization", "AWS "+testAccess) }),
			code: "InvalidArgument", msg: "Expected AwsAccessKeyId:signature"},
		{name: "empty signature", r: edit(good(), func(r *http.Request) { r.Header.Set("Authorization", "AWS "+testAccess+":") }),
			code: "InvalidArgument"},
		{name: "two colons", r: edit(good(), func(r *http.Request) { r.Header.Set("Authorization", "AWS "+testAccess+":a:b") }),
			code: "InvalidArgument"},
		{name: "two spaces", r: edit(good(), func(r *http.Request) { r.Header.Set("Authorization", "AWS  "+testAccess+":a") }),
			code: "InvalidArgument", msg: "one and only one ' ' (space) required"},
		{name: "no date", r: edit(good(), func(r *http.Request) { r.Header.Del("Date") }), code: "AccessDenied",
			msg: "AWS authentication requires a valid Date or x-amz-date header"},
		{name: "bad date", r: edit(good(), func(r *http.Request) { r.Header.Set("Date", "yesterday") }), code: "AccessDenied"},
		{name: "bad x-amz-date beside a good date", r: edit(good(), func(r *http.Request) { r.Header.Set("X-Amz-Date", "x") }), code: "AccessDenied"},
		{name: "clock 16 min ahead", r: good(), now: testTime().Add(16 * time.Minute), code: "RequestTimeTooSkewed"},
		{name: "clock 16 min behind", r: good(), now: testTime().Add(-16 * time.Minute), code: "RequestTimeTooSkewed"},
		{name: "unknown key", r: edit(good(), func(r *http.Request) {
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), testAccess, "AKIDUNKNOWN", 1))
		}), code: "InvalidAccessKeyId"},
		{name: "wrong signature", r: edit(good(), func(r *http.Request) {
			r.Header.Set("Authorization", "AWS "+testAccess+":"+refSignV2("other", "GET\n\n\n"+date+"\n/bucket/key"))
		}), code: "SignatureDoesNotMatch"},
		{name: "added x-amz header", r: edit(good(), func(r *http.Request) { r.Header.Set("X-Amz-Meta-A", "1") }), code: "SignatureDoesNotMatch"},
		{name: "added content type", r: edit(good(), func(r *http.Request) { r.Header.Set("Content-Type", "text/html") }), code: "SignatureDoesNotMatch"},
		{name: "other method", r: edit(good(), func(r *http.Request) { r.Method = "DELETE" }), code: "SignatureDoesNotMatch"},
		{name: "other path", r: edit(good(), func(r *http.Request) { r.URL.Path, r.RequestURI = "/bucket/kez", "/bucket/kez" }), code: "SignatureDoesNotMatch"},
		{name: "streaming payload", r: edit(good(), func(r *http.Request) { r.Header.Set("X-Amz-Content-Sha256", StreamingSignedPayload) }), code: "SignatureDoesNotMatch"},
		{name: "query missing expires", r: query("AWSAccessKeyId=" + testAccess + "&Signature=abc"), code: "AccessDenied",
			msg: "Query-string authentication requires the Signature, Expires and AWSAccessKeyId parameters"},
		{name: "query missing key", r: query("Expires=" + expires + "&Signature=abc"), code: "AccessDenied"},
		{name: "query expires not a number", r: query("AWSAccessKeyId=" + testAccess + "&Expires=soon&Signature=abc"),
			code: "AccessDenied", msg: "Invalid date (should be seconds since epoch): soon"},
		{name: "query expires past int32", r: query("AWSAccessKeyId=" + testAccess + "&Expires=2147483648&Signature=abc"),
			code: "AccessDenied", msg: "Invalid date"},
		{name: "query expired", r: query(presigned(expires)), now: testTime().Add(61 * time.Second), code: "AccessDenied", msg: "Request has expired"},
		{name: "query negative expires", r: query(presigned("-1")), code: "AccessDenied", msg: "Request has expired"},
		{name: "query unknown key", r: query(strings.Replace(presigned(expires), testAccess, "AKIDUNKNOWN", 1)), code: "InvalidAccessKeyId"},
		{name: "query later expiry than signed", r: query(strings.Replace(presigned(expires), "Expires="+expires, "Expires="+strconv.FormatInt(testTime().Unix()+61, 10), 1)), code: "SignatureDoesNotMatch"},
		{name: "query with x-amz-algorithm too", r: query(presigned(expires) + "&X-Amz-Algorithm=AWS4-HMAC-SHA256"), code: "InvalidArgument"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			now := testTime()
			if !tc.now.IsZero() {
				now = tc.now
			}
			v := New(Options{Now: func() time.Time { return now }, SigV2: !tc.off})
			_, err := v.Verify(tc.r, testLookup)
			wantCode(t, err, tc.code)
			if tc.msg != "" && !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("err = %v, want message containing %q", err, tc.msg)
			}
		})
	}
}

// edit applies f to r and returns it.
func edit(r *http.Request, f func(r *http.Request)) *http.Request {
	f(r)
	return r
}

func TestSigV2Accepted(t *testing.T) {
	t.Parallel()
	date := testTime().Format(http.TimeFormat)
	t.Run("clock 14 min off", func(t *testing.T) {
		t.Parallel()
		for _, d := range []time.Duration{14 * time.Minute, -14 * time.Minute} {
			r := httptest.NewRequest("GET", "http://dgp.test:9000/bucket/key", nil)
			r.Header.Set("Date", date)
			v2Header(r, "GET\n\n\n"+date+"\n/bucket/key")
			if _, err := v2Verifier(testTime().Add(d)).Verify(r, testLookup); err != nil {
				t.Fatalf("skew %v: %v", d, err)
			}
		}
	})
	t.Run("lower-case scheme", func(t *testing.T) {
		t.Parallel()
		r := httptest.NewRequest("GET", "http://dgp.test:9000/bucket/key", nil)
		r.Header.Set("Date", date)
		r.Header.Set("Authorization", "aws "+testAccess+":"+refSignV2(testSecret, "GET\n\n\n"+date+"\n/bucket/key"))
		if _, err := v2Verifier(testTime()).Verify(r, testLookup); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("presigned with headers moved to the query (botocore)", func(t *testing.T) {
		t.Parallel()
		exp := strconv.FormatInt(testTime().Unix()+3600, 10)
		sts := "PUT\n\ntext/plain\n" + exp + "\nx-amz-acl:private\nx-amz-meta-a:b\n/bucket/key"
		raw := "http://dgp.test:9000/bucket/key?AWSAccessKeyId=" + testAccess + "&Expires=" + exp +
			"&Signature=" + url.QueryEscape(refSignV2(testSecret, sts)) + "&content-type=text%2Fplain&x-amz-acl=private"
		r := httptest.NewRequest("PUT", raw, strings.NewReader("hello"))
		r.Header.Set("X-Amz-Meta-A", "b")
		res, err := v2Verifier(testTime()).Verify(r, testLookup)
		if err != nil {
			t.Fatal(err)
		}
		if !res.Presigned || res.ContentLength != 5 {
			t.Fatalf("result = %+v", res)
		}
	})
	t.Run("request line rewritten: escaped URL path used", func(t *testing.T) {
		t.Parallel()
		r := httptest.NewRequest("GET", "http://dgp.test:9000/prefix/bucket/key", nil)
		r.URL.Path = "/bucket/key"
		r.Header.Set("Date", date)
		v2Header(r, "GET\n\n\n"+date+"\n/bucket/key")
		if _, err := v2Verifier(testTime()).Verify(r, testLookup); err != nil {
			t.Fatal(err)
		}
	})
}

// v2Put returns a SigV2-signed PUT of body with extra headers (signed
// with the standard lines when they are Content-MD5 or Content-Type).
func v2Put(t *testing.T, body []byte, headers map[string]string) *http.Request {
	t.Helper()
	date := testTime().Format(http.TimeFormat)
	r := httptest.NewRequest("PUT", "http://dgp.test:9000/bucket/object", bytes.NewReader(body))
	r.Header.Set("Date", date)
	amz := ""
	for k, v := range headers {
		r.Header.Set(k, v)
		if strings.HasPrefix(strings.ToLower(k), "x-amz-") {
			amz += strings.ToLower(k) + ":" + v + "\n"
		}
	}
	if strings.Count(amz, "\n") > 1 {
		t.Fatal("v2Put signs at most one x-amz-* header")
	}
	return v2Header(r, "PUT\n"+headers["Content-MD5"]+"\n"+headers["Content-Type"]+"\n"+date+"\n"+amz+"/bucket/object")
}

func TestSigV2Body(t *testing.T) {
	t.Parallel()
	body := pattern(100_000, 9)
	sum := md5.Sum(body)
	goodMD5 := base64.StdEncoding.EncodeToString(sum[:])
	t.Run("content-md5 matches", func(t *testing.T) {
		t.Parallel()
		res, err := v2Verifier(testTime()).Verify(v2Put(t, body, map[string]string{"Content-MD5": goodMD5, "Content-Type": "application/octet-stream"}), testLookup)
		if err != nil {
			t.Fatal(err)
		}
		if res.ContentLength != int64(len(body)) {
			t.Fatalf("ContentLength = %d", res.ContentLength)
		}
		got, err := readAllChecked(t, res.Body, 4096)
		if err != nil || !bytes.Equal(got, body) {
			t.Fatalf("body: %d bytes, err %v", len(got), err)
		}
	})
	t.Run("content-md5 differs", func(t *testing.T) {
		t.Parallel()
		other := md5.Sum([]byte("other"))
		res, err := v2Verifier(testTime()).Verify(v2Put(t, body, map[string]string{"Content-MD5": base64.StdEncoding.EncodeToString(other[:])}), testLookup)
		if err != nil {
			t.Fatal(err)
		}
		_, err = readAllChecked(t, res.Body, 4096)
		wantCode(t, err, "BadDigest")
	})
	t.Run("signed sha256 differs", func(t *testing.T) {
		t.Parallel()
		res, err := v2Verifier(testTime()).Verify(v2Put(t, body, map[string]string{"X-Amz-Content-Sha256": sha256Hex("other")}), testLookup)
		if err != nil {
			t.Fatal(err)
		}
		_, err = readAllChecked(t, res.Body, 4096)
		wantCode(t, err, "XAmzContentSHA256Mismatch")
	})
	t.Run("signed sha256 matches", func(t *testing.T) {
		t.Parallel()
		res, err := v2Verifier(testTime()).Verify(v2Put(t, body, map[string]string{"X-Amz-Content-Sha256": sha256Hex(string(body))}), testLookup)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := readAllChecked(t, res.Body, 4096); err != nil || !bytes.Equal(got, body) {
			t.Fatalf("body: %d bytes, err %v", len(got), err)
		}
	})
	t.Run("streaming payload refused", func(t *testing.T) {
		t.Parallel()
		_, err := v2Verifier(testTime()).Verify(v2Put(t, body, map[string]string{"X-Amz-Content-Sha256": StreamingSignedPayload}), testLookup)
		wantCode(t, err, "InvalidRequest")
	})
	t.Run("body shorter than declared", func(t *testing.T) {
		t.Parallel()
		r := v2Put(t, body, nil)
		r.Body = io.NopCloser(bytes.NewReader(body[:1000]))
		res, err := v2Verifier(testTime()).Verify(r, testLookup)
		if err != nil {
			t.Fatal(err)
		}
		_, err = readAllChecked(t, res.Body, 4096)
		wantCode(t, err, "IncompleteBody")
	})
	t.Run("malformed content-md5", func(t *testing.T) {
		t.Parallel()
		_, err := v2Verifier(testTime()).Verify(v2Put(t, body, map[string]string{"Content-MD5": "nope"}), testLookup)
		wantCode(t, err, "InvalidDigest")
	})
}

func TestParseV2Expires(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"1175139620", 1175139620, true},
		{"01790000000", 1790000000, true},
		{"2147483647", 2147483647, true},
		{"-1", -1, true},
		{"0", 0, true},
		{"000", 0, true},
		{"2147483648", 0, false},
		{"+1", 0, false},
		{" 1", 0, false},
		{"1e9", 0, false},
		{"", 0, false},
		{"-", 0, false},
		{strings.Repeat("0", 5000) + "7", 7, true},
	}
	for _, tc := range cases {
		got, ok := parseV2Expires(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("parseV2Expires(%.20q) = %d, %v; want %d, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestRegionCheck(t *testing.T) {
	t.Parallel()
	withRegions := func(regions ...string) *Verifier {
		return New(Options{Now: testTime, Regions: regions})
	}
	t.Run("default accepts any region", func(t *testing.T) {
		t.Parallel()
		r := httptest.NewRequest("GET", "http://dgp.test:9000/bucket/key", nil)
		sdkSign(t, r, emptySHA256Hex, testSecret, "some-custom-region-9", testTime())
		res, err := testVerifier().Verify(r, testLookup)
		if err != nil || res.Region != "some-custom-region-9" {
			t.Fatalf("res %+v, err %v", res, err)
		}
	})
	t.Run("listed region accepted", func(t *testing.T) {
		t.Parallel()
		r := httptest.NewRequest("GET", "http://dgp.test:9000/bucket/key", nil)
		sdkSign(t, r, emptySHA256Hex, testSecret, testRegion, testTime())
		if _, err := withRegions("us-east-1", testRegion).Verify(r, testLookup); err != nil {
			t.Fatal(err)
		}
		u := presign(t, "GET", "http://dgp.test:9000/bucket/key", "600", testTime())
		if _, err := withRegions("us-east-1", testRegion).Verify(httptest.NewRequest("GET", u, nil), testLookup); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("header with another region", func(t *testing.T) {
		t.Parallel()
		r := httptest.NewRequest("GET", "http://dgp.test:9000/bucket/key", nil)
		sdkSign(t, r, emptySHA256Hex, testSecret, testRegion, testTime())
		_, err := withRegions("us-west-2", "us-east-1").Verify(r, testLookup)
		wantS3Error(t, err, "AuthorizationHeaderMalformed",
			"The authorization header is malformed; the region '"+testRegion+"' is wrong; expecting 'us-west-2'", "us-west-2")
	})
	t.Run("presigned with another region", func(t *testing.T) {
		t.Parallel()
		u := presign(t, "GET", "http://dgp.test:9000/bucket/key", "600", testTime())
		_, err := withRegions("us-west-2").Verify(httptest.NewRequest("GET", u, nil), testLookup)
		wantS3Error(t, err, "AuthorizationQueryParametersError",
			"Error parsing the X-Amz-Credential parameter; the region '"+testRegion+"' is wrong; expecting 'us-west-2'", "us-west-2")
	})
	t.Run("region compared exactly", func(t *testing.T) {
		t.Parallel()
		r := httptest.NewRequest("GET", "http://dgp.test:9000/bucket/key", nil)
		sdkSign(t, r, emptySHA256Hex, testSecret, strings.ToUpper(testRegion), testTime())
		_, err := withRegions(testRegion).Verify(r, testLookup)
		wantCode(t, err, "AuthorizationHeaderMalformed")
	})
	t.Run("sigv2 has no region", func(t *testing.T) {
		t.Parallel()
		date := testTime().Format(http.TimeFormat)
		r := httptest.NewRequest("GET", "http://dgp.test:9000/bucket/key", nil)
		r.Header.Set("Date", date)
		v2Header(r, "GET\n\n\n"+date+"\n/bucket/key")
		v := New(Options{Now: testTime, SigV2: true, Regions: []string{"us-west-2"}})
		if _, err := v.Verify(r, testLookup); err != nil {
			t.Fatal(err)
		}
	})
}

// wantS3Error asserts the code, message and <Region> of an S3 error.
func wantS3Error(t *testing.T, err error, code, msg, region string) {
	t.Helper()
	var se *s3err.Error
	if !errors.As(err, &se) {
		t.Fatalf("err = %v, want S3 error %s", err, code)
	}
	if se.Code != code || se.Message != msg || se.Region != region {
		t.Fatalf("err = code %q message %q region %q; want %q %q %q", se.Code, se.Message, se.Region, code, msg, region)
	}
}
