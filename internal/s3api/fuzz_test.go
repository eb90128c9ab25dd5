package s3api

import (
	"errors"
	"strings"
	"testing"

	"github.com/dgp-proxy/dgp/internal/s3err"
	"github.com/dgp-proxy/dgp/internal/vhost"
)

// isS3Error asserts err is nil or an *s3err.Error with a client status.
func isClientError(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		return
	}
	var e *s3err.Error
	if !errors.As(err, &e) || e.Status >= 500 {
		t.Fatalf("error %v is not a client S3 error", err)
	}
}

func FuzzCompleteMultipartUpload(f *testing.F) {
	f.Add([]byte(`<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>"a"</ETag></Part><Part><PartNumber>2</PartNumber><ETag>b</ETag></Part></CompleteMultipartUpload>`))
	f.Add([]byte(`<CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/"></CompleteMultipartUpload>`))
	f.Add([]byte(`<CompleteMultipartUpload><Part><PartNumber>2</PartNumber><ETag>a</ETag></Part><Part><PartNumber>1</PartNumber><ETag>b</ETag></Part></CompleteMultipartUpload>`))
	f.Add([]byte(`<?xml version="1.0"?><!-- c --><CompleteMultipartUpload/>`))
	f.Fuzz(func(t *testing.T, data []byte) {
		parts, err := parseCompleteMultipartUpload(data)
		isClientError(t, err)
		if err != nil {
			return
		}
		if len(parts) == 0 || len(parts) > MaxPartNumber {
			t.Fatalf("%d parts accepted", len(parts))
		}
		for i, p := range parts {
			if p.PartNumber < 1 || p.PartNumber > MaxPartNumber || (i > 0 && p.PartNumber <= parts[i-1].PartNumber) {
				t.Fatalf("bad part order or number accepted: %+v", parts)
			}
			if len(p.ETag) < 3 || p.ETag[0] != '"' || p.ETag[len(p.ETag)-1] != '"' {
				t.Fatalf("etag %q not quoted", p.ETag)
			}
		}
	})
}

func FuzzDeleteObjects(f *testing.F) {
	f.Add([]byte(`<Delete><Quiet>true</Quiet><Object><Key>a</Key></Object><Object><Key>b/../c</Key><VersionId>x</VersionId></Object></Delete>`))
	f.Add([]byte(`<Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Object><Key>a&amp;b</Key></Object></Delete>`))
	f.Add([]byte(`<Delete><Quiet>maybe</Quiet></Delete>`))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, objs, err := parseDeleteObjects(data)
		isClientError(t, err)
		if err == nil && (len(objs) == 0 || len(objs) > MaxDeleteObjects) {
			t.Fatalf("%d objects accepted", len(objs))
		}
		for _, o := range objs {
			// Keys come back as given; validation must never panic on them.
			_ = checkKey(o.Key)
		}
	})
}

func FuzzCreateBucketConfiguration(f *testing.F) {
	f.Add([]byte(`<CreateBucketConfiguration><LocationConstraint>eu-west-1</LocationConstraint></CreateBucketConfiguration>`))
	f.Add([]byte(""))
	f.Add([]byte(`<CreateBucketConfiguration><LocationConstraint>`))
	f.Fuzz(func(t *testing.T, data []byte) {
		loc, err := parseCreateBucketConfiguration(data)
		isClientError(t, err)
		if err != nil && loc != "" {
			t.Fatalf("location %q returned with error", loc)
		}
	})
}

func FuzzParseTarget(f *testing.F) {
	f.Add("127.0.0.1:9000", "/bucket/key/with/slashes")
	f.Add("bucket.localhost:9000", "/key")
	f.Add("bucket.localhost", "//abs")
	f.Add("BUCKET.LOCALHOST.", "/a/../b")
	f.Add("[::1]:80", "/_/api/admin")
	f.Add("", "")
	domains := vhost.Normalise([]string{"localhost", "s3.example.com"})
	f.Fuzz(func(t *testing.T, host, path string) {
		tg := parseTarget(host, path, domains)
		if !tg.HasKey && tg.Key != "" {
			t.Fatalf("key %q without HasKey", tg.Key)
		}
		if !tg.VirtualHost {
			// Path style: the path is exactly "/" + bucket ["/" + key].
			if strings.Contains(tg.Bucket, "/") {
				t.Fatalf("bucket %q contains '/'", tg.Bucket)
			}
			if tg.HasKey {
				if want := "/" + tg.Bucket + "/" + tg.Key; strings.TrimPrefix(path, "/") != want[1:] {
					t.Fatalf("path %q split into %q + %q", path, tg.Bucket, tg.Key)
				}
			}
		} else if tg.Bucket == "" {
			t.Fatalf("virtual host %q gave no bucket", host)
		}
		if tg.Bucket != "" && validBucketName(tg.Bucket) {
			if tg.Bucket[0] == '_' || tg.Bucket[0] == '.' || strings.ToLower(tg.Bucket) != tg.Bucket {
				t.Fatalf("invalid bucket %q accepted", tg.Bucket)
			}
		}
		if tg.HasKey && checkKey(tg.Key) == nil {
			if tg.Key[0] == '/' || strings.Contains("/"+tg.Key+"/", "/../") || len(tg.Key) > MaxKeyLength {
				t.Fatalf("invalid key %q accepted", tg.Key)
			}
		}
	})
}
