package sigv4

import (
	"bytes"
	"net/http"
	"slices"
	"strings"
	"testing"
)

func FuzzParseV2Authorization(f *testing.F) {
	f.Add("AKIAIOSFODNN7EXAMPLE:bWq2s1WEIj+Ydj0vQ697zp+IXMU=")
	f.Add(" AKID:sig")
	f.Add("AKID:")
	f.Add(":sig")
	f.Add("a:b:c")
	f.Add("")
	f.Fuzz(func(t *testing.T, in string) {
		ak, sig, msg := parseV2Authorization(in)
		if msg != "" {
			if ak != "" || sig != "" {
				t.Fatalf("failed parse returned %q, %q", ak, sig)
			}
			return
		}
		if sig == "" || strings.Contains(sig, ":") || strings.HasPrefix(in, " ") || ak+":"+sig != in {
			t.Fatalf("accepted %q as %q : %q", in, ak, sig)
		}
	})
}

// FuzzV2StringToSign checks the SigV2 string to sign for any method, path,
// query, header and host: its fixed lines, that it ends with the
// canonical resource, and that neither an unsigned query parameter nor the
// order of distinct parameters changes it.
func FuzzV2StringToSign(f *testing.F) {
	f.Add("GET", "/bucket/key", "acl&versionId=3&max-keys=2", "X-Amz-Meta-A", " v ", "bucket.s3.dgp.test:9000", false)
	f.Add("PUT", "/b/k%20x", "partNumber=2&uploadId=a%2Bb", "Content-Type", "text/plain", "dgp.test", true)
	f.Add("POST", "", "delete=&uploads", "x-amz-date", "Tue, 27 Mar 2007 19:36:42 +0000", "", false)
	f.Add("GET", "/", "response-content-type=a%26b&x-amz-acl=private&content-md5=x", "Content-Md5", "abc", "s3.dgp.test", true)
	f.Fuzz(func(t *testing.T, method, path, rawQuery, hName, hValue, host string, presigned bool) {
		query, ok := parseQuery(rawQuery)
		if !ok || strings.ContainsAny(method+hValue, "\r\n") || !validHeaderName(hName) {
			return
		}
		h := http.Header{}
		h.Add(hName, hValue)
		v := New(Options{VirtualHostDomains: []string{"s3.dgp.test"}})
		in := v2Input{method: method, dateLine: "1175139620", bucket: v.domains.Bucket(host), path: path, query: query, presigned: presigned}
		sts := appendV2StringToSign(nil, h, in)
		if !bytes.Equal(sts, appendV2StringToSign(nil, h, in)) {
			t.Fatal("not deterministic")
		}
		lines := strings.SplitN(string(sts), "\n", 5)
		if len(lines) != 5 || lines[0] != method || lines[3] != "1175139620" {
			t.Fatalf("fixed lines of %q", sts)
		}
		resource := appendV2Resource(nil, in)
		if !bytes.HasSuffix(sts, resource) {
			t.Fatalf("%q does not end with the resource %q", sts, resource)
		}
		wantPrefix := path
		if path == "" {
			wantPrefix = "/"
		}
		if in.bucket != "" {
			wantPrefix = "/" + in.bucket + wantPrefix
		}
		if !bytes.HasPrefix(resource, []byte(wantPrefix)) {
			t.Fatalf("resource %q does not start with %q", resource, wantPrefix)
		}
		extra := in
		extra.query = append(slices.Clone(query), queryPair{key: "max-keys", value: "5"}, queryPair{key: "X-Id", value: "x"})
		if !bytes.Equal(sts, appendV2StringToSign(nil, h, extra)) {
			t.Fatalf("an unsigned parameter changed %q", sts)
		}
		if distinctKeys(query) {
			rev := in
			rev.query = slices.Clone(query)
			slices.Reverse(rev.query)
			if !bytes.Equal(sts, appendV2StringToSign(nil, h, rev)) {
				t.Fatalf("parameter order changed %q", sts)
			}
		}
	})
}

func distinctKeys(q []queryPair) bool {
	seen := map[string]bool{}
	for _, kv := range q {
		if seen[kv.key] {
			return false
		}
		seen[kv.key] = true
	}
	return true
}

// validHeaderName reports whether s is a non-empty HTTP token.
func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !isLowerTokenByte(c) && (c < 'A' || c > 'Z') {
			return false
		}
	}
	return true
}
