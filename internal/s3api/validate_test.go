package s3api

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/dgp-proxy/dgp/internal/s3err"
	"github.com/dgp-proxy/dgp/internal/storage"
	"github.com/dgp-proxy/dgp/internal/vhost"
)

func TestValidBucketName(t *testing.T) {
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"abc", true},
		{"my-bucket.v2", true},
		{"0ab", true},
		{strings.Repeat("a", 63), true},
		{"ab", false},
		{strings.Repeat("a", 64), false},
		{"Upper", false},
		{"_hidden", false},
		{".dot", false},
		{"dot.", false},
		{"-dash", false},
		{"dash-", false},
		{"a..b", false},
		{"a.-b", false},
		{"a-.b", false},
		{"a_b", false},
		{"192.168.1.1", false},
		{"xn--abc", false},
		{"abc-s3alias", false},
		{"a b", false},
		{"", false},
	} {
		if got := validBucketName(tc.name); got != tc.ok {
			t.Errorf("validBucketName(%q) = %v, want %v", tc.name, got, tc.ok)
		}
	}
}

func TestCheckKey(t *testing.T) {
	for _, tc := range []struct {
		key  string
		want *s3err.Error
	}{
		{"a", nil},
		{"dir/sub/file.txt", nil},
		{"dir/", nil},
		{"a..b/c", nil},
		{"...", nil},
		{"ünïcode ✓", nil},
		{strings.Repeat("k", MaxKeyLength), nil},
		{strings.Repeat("k", MaxKeyLength+1), s3err.ErrKeyTooLong},
		{"", s3err.ErrInvalidObjectName},
		{"..", s3err.ErrInvalidObjectName},
		{"a/../b", s3err.ErrInvalidObjectName},
		{"a/..", s3err.ErrInvalidObjectName},
		{"./a", s3err.ErrInvalidObjectName},
		{"/abs", s3err.ErrInvalidObjectName},
		{"nul\x00byte", s3err.ErrInvalidObjectName},
		{"bad\xffutf8", s3err.ErrInvalidObjectName},
	} {
		err := checkKey(tc.key)
		if tc.want == nil {
			if err != nil {
				t.Errorf("checkKey(%q) = %v, want nil", tc.key, err)
			}
			continue
		}
		if !errors.Is(err, tc.want) {
			t.Errorf("checkKey(%q) = %v, want %s", tc.key, err, tc.want.Code)
		}
	}
}

func TestParseTarget(t *testing.T) {
	domains := vhost.Normalise([]string{"s3.local:9000", "LOCALHOST."})
	for _, tc := range []struct {
		host, path string
		want       target
	}{
		{"127.0.0.1:9000", "/", target{}},
		{"127.0.0.1:9000", "", target{}},
		{"127.0.0.1:9000", "/bkt", target{Bucket: "bkt"}},
		{"127.0.0.1:9000", "/bkt/", target{Bucket: "bkt"}},
		{"127.0.0.1:9000", "/bkt/a/b c", target{Bucket: "bkt", Key: "a/b c", HasKey: true}},
		{"127.0.0.1:9000", "/bkt//x", target{Bucket: "bkt", Key: "/x", HasKey: true}},
		{"s3.local:9000", "/bkt/k", target{Bucket: "bkt", Key: "k", HasKey: true}},
		{"localhost", "/bkt/k", target{Bucket: "bkt", Key: "k", HasKey: true}},
		{"bkt.s3.local:9000", "/", target{Bucket: "bkt", VirtualHost: true}},
		{"bkt.s3.local", "/k/", target{Bucket: "bkt", Key: "k/", HasKey: true, VirtualHost: true}},
		{"My.Bkt.LocalHost:80", "/k", target{Bucket: "my.bkt", Key: "k", HasKey: true, VirtualHost: true}},
		{"bkt.localhost", "//x", target{Bucket: "bkt", Key: "/x", HasKey: true, VirtualHost: true}},
		{"bkt.other.example:9000", "/b2/k", target{Bucket: "b2", Key: "k", HasKey: true}},
		{"xlocalhost", "/b2", target{Bucket: "b2"}},
		{"[::1]:9000", "/b2", target{Bucket: "b2"}},
	} {
		if got := parseTarget(tc.host, tc.path, domains); got != tc.want {
			t.Errorf("parseTarget(%q, %q) = %+v, want %+v", tc.host, tc.path, got, tc.want)
		}
	}
}

func TestParseCopySource(t *testing.T) {
	for _, tc := range []struct {
		in                   string
		bucket, key, version string
		ok                   bool
	}{
		{"src/key", "src", "key", "", true},
		{"/src/dir/key", "src", "dir/key", "", true},
		{"src/a%20b%2Bc", "src", "a b+c", "", true},
		{"src/k?versionId=null", "src", "k", "null", true},
		{"src/%E2%9C%93", "src", "✓", "", true},
		{"src", "", "", "", false},
		{"src/", "", "", "", false},
		{"/k", "", "", "", false},
		{"src/%zz", "", "", "", false},
	} {
		b, k, v, ok := parseCopySource(tc.in)
		if ok != tc.ok || b != tc.bucket || k != tc.key || v != tc.version {
			t.Errorf("parseCopySource(%q) = %q %q %q %v, want %q %q %q %v", tc.in, b, k, v, ok, tc.bucket, tc.key, tc.version, tc.ok)
		}
	}
}

func TestS3URLEncode(t *testing.T) {
	for in, want := range map[string]string{
		"plain/key.txt": "plain/key.txt",
		"a b+c":         "a+b%2Bc",
		"ü&=?#%":        "%C3%BC%26%3D%3F%23%25",
		"":              "",
	} {
		if got := s3URLEncode(in); got != want {
			t.Errorf("s3URLEncode(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestParseCopyRange(t *testing.T) {
	if r, err := parseCopyRange("bytes=0-9"); err != nil || r.Start != 0 || r.End != 9 {
		t.Fatalf("bytes=0-9: %+v %v", r, err)
	}
	if r, err := parseCopyRange(""); err != nil || r != nil {
		t.Fatalf("empty: %+v %v", r, err)
	}
	for _, bad := range []string{"bytes=5-4", "bytes=-4", "bytes=4-", "0-9", "bytes=a-b", "bytes=-1-3"} {
		if _, err := parseCopyRange(bad); !errors.Is(err, s3err.ErrInvalidArgument) {
			t.Errorf("parseCopyRange(%q) = %v, want InvalidArgument", bad, err)
		}
	}
}

func TestBodyReader(t *testing.T) {
	pool := newBufPool()
	verifyFail := s3err.ErrBadDigest
	for _, tc := range []struct {
		name    string
		src     func() io.Reader
		size    int64
		want    string
		wantErr *s3err.Error
	}{
		{"exact", func() io.Reader { return strings.NewReader("hello") }, 5, "hello", nil},
		{"empty", func() io.Reader { return strings.NewReader("") }, 0, "", nil},
		{"short", func() io.Reader { return strings.NewReader("hel") }, 5, "", s3err.ErrIncompleteBody},
		{"long", func() io.Reader { return strings.NewReader("hello!") }, 5, "", s3err.ErrIncompleteBody},
		{"verify fails at EOF", func() io.Reader { return io.MultiReader(strings.NewReader("hello"), iotest.ErrReader(verifyFail)) }, 5, "", s3err.ErrBadDigest},
		{"transport error", func() io.Reader {
			return io.MultiReader(strings.NewReader("he"), iotest.ErrReader(io.ErrUnexpectedEOF))
		}, 5, "", s3err.ErrIncompleteBody},
		{"one byte reads", func() io.Reader { return iotest.OneByteReader(strings.NewReader("hello")) }, 5, "hello", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, viaWriterTo := range []bool{false, true} {
				var n int64
				br := newBodyReader(tc.src(), tc.size, &n, pool)
				var sb strings.Builder
				var err error
				if viaWriterTo {
					_, err = br.WriteTo(&sb)
				} else {
					_, err = io.Copy(&sb, readOnly{br})
				}
				if tc.wantErr != nil {
					if !errors.Is(err, tc.wantErr) || !errors.Is(br.failure(), tc.wantErr) {
						t.Fatalf("err = %v, failure = %v, want %s", err, br.failure(), tc.wantErr.Code)
					}
					if _, again := br.Read(make([]byte, 1)); again == nil {
						t.Fatal("error did not stick")
					}
					return
				}
				if err != nil || sb.String() != tc.want || n != int64(len(tc.want)) {
					t.Fatalf("got %q (%d counted), err %v; want %q", sb.String(), n, err, tc.want)
				}
			}
		})
	}
}

func TestParseXMLBodies(t *testing.T) {
	parts, err := parseCompleteMultipartUpload([]byte(`<CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
		<Part><PartNumber>1</PartNumber><ETag>"a"</ETag></Part>
		<Part><ETag>b</ETag><PartNumber>3</PartNumber></Part></CompleteMultipartUpload>`))
	if err != nil || len(parts) != 2 || parts[0].ETag != `"a"` || parts[1].ETag != `"b"` || parts[1].PartNumber != 3 {
		t.Fatalf("complete: %+v %v", parts, err)
	}
	for body, want := range map[string]*s3err.Error{
		``:                          s3err.ErrMalformedXML,
		`<CompleteMultipartUpload>`: s3err.ErrMalformedXML,
		`<CompleteMultipartUpload></CompleteMultipartUpload>`:                                                                                                           s3err.ErrMalformedXML,
		`<Other><Part><PartNumber>1</PartNumber><ETag>a</ETag></Part></Other>`:                                                                                          s3err.ErrMalformedXML,
		`<CompleteMultipartUpload><Part><PartNumber>x</PartNumber><ETag>a</ETag></Part></CompleteMultipartUpload>`:                                                      s3err.ErrMalformedXML,
		`<CompleteMultipartUpload><Part><PartNumber>0</PartNumber><ETag>a</ETag></Part></CompleteMultipartUpload>`:                                                      s3err.ErrInvalidArgument,
		`<CompleteMultipartUpload><Part><PartNumber>10001</PartNumber><ETag>a</ETag></Part></CompleteMultipartUpload>`:                                                  s3err.ErrInvalidArgument,
		`<CompleteMultipartUpload><Part><PartNumber>1</PartNumber></Part></CompleteMultipartUpload>`:                                                                    s3err.ErrInvalidPart,
		`<CompleteMultipartUpload><Part><PartNumber>2</PartNumber><ETag>a</ETag></Part><Part><PartNumber>1</PartNumber><ETag>b</ETag></Part></CompleteMultipartUpload>`: s3err.ErrInvalidPartOrder,
		`<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>a</ETag></Part></CompleteMultipartUpload><x/>`:                                                  s3err.ErrMalformedXML,
	} {
		if _, err := parseCompleteMultipartUpload([]byte(body)); !errors.Is(err, want) {
			t.Errorf("complete %q: %v, want %s", body, err, want.Code)
		}
	}

	quiet, objs, err := parseDeleteObjects([]byte(`<Delete><Quiet>true</Quiet><Object><Key>a</Key></Object><Object><Key>b/c</Key><VersionId>null</VersionId></Object></Delete>`))
	if err != nil || !quiet || len(objs) != 2 || objs[1].Key != "b/c" || objs[1].VersionID != "null" {
		t.Fatalf("delete: %v %+v %v", quiet, objs, err)
	}
	many := "<Delete>" + strings.Repeat("<Object><Key>k</Key></Object>", MaxDeleteObjects+1) + "</Delete>"
	for _, body := range []string{"", "<Delete></Delete>", "<Delete><Object><Key>a</Key></Object>", many, "<NotDelete/>"} {
		if _, _, err := parseDeleteObjects([]byte(body)); !errors.Is(err, s3err.ErrMalformedXML) {
			t.Errorf("delete %.40q: %v, want MalformedXML", body, err)
		}
	}

	for body, want := range map[string]string{
		"":     "",
		"  \n": "",
		`<CreateBucketConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><LocationConstraint>eu-west-1</LocationConstraint></CreateBucketConfiguration>`: "eu-west-1",
	} {
		if got, err := parseCreateBucketConfiguration([]byte(body)); err != nil || got != want {
			t.Errorf("create bucket %q: %q %v", body, got, err)
		}
	}
	if _, err := parseCreateBucketConfiguration([]byte("<CreateBucketConfiguration><Location")); !errors.Is(err, s3err.ErrMalformedXML) {
		t.Errorf("bad create bucket body: %v", err)
	}
}

func TestStripAWSChunked(t *testing.T) {
	for in, want := range map[string]string{
		"aws-chunked":       "",
		"aws-chunked,gzip":  "gzip",
		"gzip, aws-chunked": "gzip",
		"gzip":              "gzip",
		"":                  "",
	} {
		if got := stripAWSChunked(in); got != want {
			t.Errorf("stripAWSChunked(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestRequestID(t *testing.T) {
	a, b := newRequestID(), newRequestID()
	if len(a) != 16 || a == b || strings.ToUpper(a) != a {
		t.Fatalf("request ids %q %q", a, b)
	}
}

// TestUserMetadataHeadersLowerCase: S3 sends x-amz-meta-* names lower-case
// on the wire (net/http would canonicalise them to X-Amz-Meta-Color).
func TestUserMetadataHeadersLowerCase(t *testing.T) {
	h := http.Header{}
	setObjectHeaders(h, &storage.ObjectInfo{UserMetadata: map[string]string{"color": "blue"}})
	//lint:ignore SA1008 the lower-case key is the point: S3 writes it so
	if got := h["x-amz-meta-color"]; len(got) != 1 || got[0] != "blue" {
		t.Fatalf("headers %v: want x-amz-meta-color: blue as written by S3", h)
	}
	if _, canonical := h["X-Amz-Meta-Color"]; canonical {
		t.Fatalf("headers %v: the canonical form must not be sent", h)
	}
}
