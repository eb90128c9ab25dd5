package s3api

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/dgp-proxy/dgp/internal/s3err"
)

func TestParsePostPolicy(t *testing.T) {
	p, err := parsePostPolicy([]byte(`{ "expiration": "2007-12-01T12:00:00.000Z",
	  "conditions": [
	    {"acl": "public-read" },
	    {"Bucket": "johnsmith" },
	    ["starts-with", "$Key", "user/eric/"],
	    ["eq", "$success_action_status", "201"],
	    ["content-length-range", 1048576, "10485760"],
	    ["content-length-range", 1.5, 2],
	    ["eq", "$key"],
	    ["starts-with", "key", "x"]
	  ]}`))
	if err != nil {
		t.Fatal(err)
	}
	if want := time.Date(2007, 12, 1, 12, 0, 0, 0, time.UTC); !p.expiration.Equal(want) {
		t.Fatalf("expiration %v", p.expiration)
	}
	want := []postCondition{
		{op: condEq, field: "acl", value: "public-read", text: `["eq", "$acl", "public-read"]`},
		{op: condEq, field: "bucket", value: "johnsmith", text: `["eq", "$Bucket", "johnsmith"]`},
		{op: condStartsWith, field: "key", value: "user/eric/", text: `["starts-with", "$Key", "user/eric/"]`},
		{op: condEq, field: "success_action_status", value: "201", text: `["eq", "$success_action_status", "201"]`},
		{op: condLengthRange, min: 1048576, max: 10485760, text: `["content-length-range", 1048576, "10485760"]`},
		{op: condInvalid, text: `["content-length-range", 1.5, 2]`},
		{op: condInvalid, text: `["eq", "$key"]`},
		{op: condInvalid, text: `["starts-with", "key", "x"]`},
	}
	if len(p.conditions) != len(want) {
		t.Fatalf("%d conditions, want %d", len(p.conditions), len(want))
	}
	for i := range want {
		if p.conditions[i] != want[i] {
			t.Errorf("condition %d: %+v, want %+v", i, p.conditions[i], want[i])
		}
	}
	if lo, hi := p.lengthRange(); lo != 1048576 || hi != 10485760 {
		t.Errorf("length range %d..%d", lo, hi)
	}
}

func TestParsePostPolicyRefuses(t *testing.T) {
	for _, tc := range []struct{ doc, msg string }{
		{``, "Invalid JSON."},
		{`[]`, "Invalid JSON."},
		{`null`, "Invalid JSON."},
		{`{"expiration": "2007-12-01T12:00:00Z", "conditions": []} {}`, "Invalid JSON."},
		{`{"conditions": []}`, "Policy missing expiration."},
		{`{"expiration": "2007-12-01T12:00:00Z"}`, "Policy missing conditions."},
		{`{"expiration": 5, "conditions": []}`, "Invalid 'expiration' value"},
		{`{"expiration": "2007-12-01", "conditions": []}`, "Invalid 'expiration' value"},
		{`{"expiration": "2007-12-01T12:00:00+01:00", "conditions": []}`, "Invalid 'expiration' value"},
		{`{"expiration": "2007-12-01T12:00:00Z", "conditions": {}}`, "must be a list"},
		{`{"expiration": "2007-12-01T12:00:00Z", "conditions": null}`, "must be a list"},
		{`{"expiration": "2007-12-01T12:00:00Z", "conditions": [{"a": "1", "b": "2"}]}`, "Simple-Conditions must have exactly one property"},
		{`{"expiration": "2007-12-01T12:00:00Z", "conditions": [{}]}`, "Simple-Conditions must have exactly one property"},
		{`{"expiration": "2007-12-01T12:00:00Z", "conditions": ["key"]}`, "Invalid Condition"},
		{`{"expiration": "2007-12-01T12:00:00Z", "conditions": [], "x": 1}`, "Unexpected field"},
	} {
		_, err := parsePostPolicy([]byte(tc.doc))
		var e *s3err.Error
		if !errors.As(err, &e) || e.Code != "InvalidPolicyDocument" || !strings.Contains(e.Message, tc.msg) {
			t.Errorf("%s: %v, want InvalidPolicyDocument %q", tc.doc, err, tc.msg)
		}
	}
}

func TestPostConditionHolds(t *testing.T) {
	for _, tc := range []struct {
		c       postCondition
		value   string
		present bool
		want    bool
	}{
		{postCondition{op: condEq, field: "key", value: "a"}, "a", true, true},
		{postCondition{op: condEq, field: "key", value: "a"}, "A", true, false},
		{postCondition{op: condEq, field: "x", value: ""}, "", false, false},
		{postCondition{op: condEq, field: "x", value: ""}, "", true, true},
		{postCondition{op: condStartsWith, field: "key", value: "u/"}, "u/x", true, true},
		{postCondition{op: condStartsWith, field: "key", value: "u/"}, "v/x", true, false},
		{postCondition{op: condStartsWith, field: "key", value: ""}, "", false, true},
		{postCondition{op: condStartsWith, field: "content-type", value: "image/"}, "image/png, image/gif", true, true},
		{postCondition{op: condStartsWith, field: "content-type", value: "image/"}, "image/png,text/plain", true, false},
		{postCondition{op: condStartsWith, field: "x-amz-meta-a", value: "v"}, "vv", true, true},
		{postCondition{op: condStartsWith, field: "x-amz-date", value: "2"}, "2026", true, false},
		{postCondition{op: condStartsWith, field: "success_action_status", value: "2"}, "201", true, false},
		{postCondition{op: condStartsWith, field: "bucket", value: ""}, "b", true, false},
		{postCondition{op: condLengthRange, min: 2, max: 1}, "", false, false},
		{postCondition{op: condInvalid}, "", true, false},
	} {
		if got := tc.c.holds(tc.value, tc.present); got != tc.want {
			t.Errorf("%+v holds(%q, %v) = %v", tc.c, tc.value, tc.present, got)
		}
	}
}

// postPolicySeeds are documents for the policy fuzz target.
func postPolicySeeds() []string {
	return []string{
		`{"expiration": "2007-12-01T12:00:00.000Z", "conditions": [{"acl": "public-read"}, ["starts-with", "$key", "u/"], ["content-length-range", 1, 10]]}`,
		`{"expiration": "2007-12-01T12:00:00Z", "conditions": [["eq", "$x", 1], {"a": 2}, [], [1, 2, 3]]}`,
		`{"expiration": "2007-12-01T12:00:00Z", "conditions": [{"a": "1", "b": "2"}]}`,
		`{"expiration": "x", "conditions": []}`,
		`{"conditions": [["content-length-range", "-1", 99999999999999999999]]}`,
		`[`, `{}`, `{"expiration": "2007-12-01T12:00:00Z", "conditions": [], "expiration": "2008-12-01T12:00:00Z"}`,
	}
}

// FuzzParsePostPolicy checks that the parser never panics, that it accepts
// only valid JSON, and that what it accepts is well-formed.
func FuzzParsePostPolicy(f *testing.F) {
	for _, s := range postPolicySeeds() {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		p, err := parsePostPolicy(doc)
		if err != nil {
			var e *s3err.Error
			if !errors.As(err, &e) || e.Code != "InvalidPolicyDocument" {
				t.Fatalf("error %v is not InvalidPolicyDocument", err)
			}
			return
		}
		if !json.Valid(doc) {
			t.Fatalf("accepted invalid JSON %q", doc)
		}
		if p.expiration.IsZero() || p.expiration.Location() != time.UTC {
			t.Fatalf("expiration %v", p.expiration)
		}
		for _, c := range p.conditions {
			if c.text == "" || c.text[0] != '[' {
				t.Fatalf("condition text %q", c.text)
			}
			switch c.op {
			case condEq, condStartsWith:
				if c.field == "" || c.field != strings.ToLower(c.field) {
					t.Fatalf("condition field %q", c.field)
				}
			case condLengthRange:
				if c.min < 0 || c.max < 0 {
					t.Fatalf("negative range %d..%d", c.min, c.max)
				}
			}
		}
		if lo, hi := p.lengthRange(); lo < 0 || hi > MaxPutSize {
			t.Fatalf("length range %d..%d", lo, hi)
		}
	})
}

const fuzzBoundary = "XbOuNdArYx"

// FuzzReadPostForm feeds arbitrary multipart bodies to the form reader: it
// must not panic, must answer S3 errors only, and what it returns must
// respect its bounds.
func FuzzReadPostForm(f *testing.F) {
	part := func(name, value string) string {
		return "--" + fuzzBoundary + "\r\nContent-Disposition: form-data; name=\"" + name + "\"\r\n\r\n" + value + "\r\n"
	}
	f.Add([]byte(part("key", "a/${filename}") + part("Policy", "e30=") +
		"--" + fuzzBoundary + "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"x.txt\"\r\n\r\nDATA\r\n--" + fuzzBoundary + "--\r\n"))
	f.Add([]byte(part("key", "1") + part("KEY", "2") + "--" + fuzzBoundary + "--\r\n"))
	f.Add([]byte(part("x-ignore-a", "1") + part("X-Ignore-A", "2") + "--" + fuzzBoundary + "--\r\n"))
	f.Add([]byte("--" + fuzzBoundary + "\r\nContent-Disposition: attachment\r\n\r\nv\r\n--" + fuzzBoundary + "--\r\n"))
	f.Add([]byte(part("big", strings.Repeat("v", maxPostFields+1))))
	f.Add([]byte("garbage"))
	f.Fuzz(func(t *testing.T, body []byte) {
		var n int64
		mr, _ := newPostReader(bytes.NewReader(body), &n, fuzzBoundary)
		form, err := readPostForm(mr)
		if err != nil {
			var e *s3err.Error
			if !errors.As(err, &e) {
				t.Fatalf("error %v is not an S3 error", err)
			}
			return
		}
		size := 0
		seen := map[string]bool{}
		for _, fld := range form.fields {
			size += len(fld.name) + len(fld.value)
			if fld.name != strings.ToLower(fld.name) || fld.name == "" || fld.name == "file" {
				t.Fatalf("field name %q", fld.name)
			}
			if seen[fld.name] && !strings.HasPrefix(fld.name, "x-ignore-") {
				t.Fatalf("duplicate field %q", fld.name)
			}
			seen[fld.name] = true
		}
		if size > maxPostFields || n > int64(len(body)) {
			t.Fatalf("fields %d bytes, read %d of %d", size, n, len(body))
		}
		if form.file != nil {
			// The file streams through a postFile without a size limit.
			pf := &postFile{src: form.file, max: MaxPutSize}
			if m, _ := io.Copy(io.Discard, pf); m != pf.n {
				t.Fatalf("copied %d bytes, counted %d", m, pf.n)
			}
		}
	})
}

func TestPostPolicyCheck(t *testing.T) {
	exp := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	doc := `{"expiration": "2026-12-01T12:00:00.000Z", "conditions": [
		{"bucket": "b"}, ["starts-with", "$key", "u/"], ["eq", "$X-Amz-Meta-A", "1"], ["content-length-range", 0, 9]]}`
	p, err := parsePostPolicy([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	form := func(fields ...postField) *postForm { return &postForm{fields: fields} }
	base := []postField{{"key", "u/${filename}"}, {"x-amz-meta-a", "1"}, {"policy", "p"}, {"x-amz-signature", "s"}, {"x-ignore-b", "2"}}
	for _, tc := range []struct {
		name   string
		fields *policyFields
		now    time.Time
		msg    string // "" = holds
	}{
		{"holds", &policyFields{form: form(base...), bucket: "b", key: "u/x", exempt: exemptV4}, exp.Add(-time.Second), ""},
		{"expires at its instant", &policyFields{form: form(base...), bucket: "b", key: "u/x", exempt: exemptV4}, exp, "Policy expired."},
		{"bucket is the request's", &policyFields{form: form(base...), bucket: "c", key: "u/x", exempt: exemptV4}, exp.Add(-time.Hour),
			`Policy Condition failed: ["eq", "$bucket", "b"]`},
		{"key after ${filename}", &policyFields{form: form(base...), bucket: "b", key: "v/x", exempt: exemptV4}, exp.Add(-time.Hour),
			`Policy Condition failed: ["starts-with", "$key", "u/"]`},
		{"the first failing condition is named", &policyFields{form: form(postField{"key", "v"}), bucket: "c", key: "v", exempt: exemptV4}, exp.Add(-time.Hour),
			`Policy Condition failed: ["eq", "$bucket", "b"]`},
		{"SigV2 fields need a condition under SigV4", &policyFields{form: form(append(base, postField{"signature", "x"})...), bucket: "b", key: "u/x", exempt: exemptV4}, exp.Add(-time.Hour),
			"Extra input fields: signature"},
		{"SigV2 fields are exempt under SigV2", &policyFields{form: form(append(base, postField{"signature", "x"}, postField{"awsaccesskeyid", "a"})...), bucket: "b", key: "u/x", exempt: exemptV2}, exp.Add(-time.Hour), ""},
	} {
		err := p.check(tc.fields, tc.now)
		if tc.msg == "" {
			if err != nil {
				t.Errorf("%s: %v", tc.name, err)
			}
			continue
		}
		var e *s3err.Error
		if !errors.As(err, &e) || e.Code != "AccessDenied" || e.Message != "Invalid according to Policy: "+tc.msg {
			t.Errorf("%s: %v, want AccessDenied %q", tc.name, err, tc.msg)
		}
	}
}
