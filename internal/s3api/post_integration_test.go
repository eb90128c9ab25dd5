//go:build integration

package s3api

import (
	"context"
	"encoding/xml"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/dgp-proxy/dgp/internal/storage"
	"github.com/dgp-proxy/dgp/internal/storage/s3backend"
	"github.com/dgp-proxy/dgp/internal/testutil"
)

// TestPostObjectMinIO sends the same POST Object forms to MinIO directly
// and through dgp in front of that MinIO, and compares the answers: status,
// error code, ETag, the 201 document and the redirect's query. It also
// covers the S3 backend's need for a known size (dgp spools the file).
func TestPostObjectMinIO(t *testing.T) {
	m := testutil.RequireMinIO(t)
	ctx := context.Background()
	be, err := s3backend.New(ctx, s3backend.Options{Name: "minio", Endpoint: m.Endpoint,
		AccessKeyID: m.AccessKey, SecretAccessKey: m.SecretKey, ForcePathStyle: true})
	if err != nil {
		t.Fatal(err)
	}
	router, err := storage.NewRouter([]storage.Backend{be}, "minio", nil)
	if err != nil {
		t.Fatal(err)
	}
	e := newTestEnvWith(t, false, router)
	bucket := testutil.UniqueName("dgp-post")
	root := e.root()
	_, err = root.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)})
	must(t, err, "create bucket")
	t.Cleanup(func() {
		out, err := root.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
		if err == nil {
			for _, o := range out.Contents {
				_, _ = root.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: o.Key})
			}
		}
		_, _ = root.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String(bucket)})
	})

	type target struct {
		name, url, ak, sk string
		client            *http.Client
	}
	targets := []target{
		{"minio", m.Endpoint + "/" + bucket, m.AccessKey, m.SecretKey, &http.Client{}},
		{"dgp", e.srv.URL + "/" + bucket, rootAK, rootSK, e.httpClient()},
	}
	exp := time.Now().Add(time.Hour)
	content := pattern(200_000)
	// form builds a case's form for a target; keys are per target.
	type form func(tg target, key string) postReq
	v4 := func(tg target, exp time.Time, conds []any, fields []formKV, body []byte) postReq {
		return postReq{fields: append(policyV4(tg.ak, tg.sk, time.Now(), exp, conds...), fields...), filename: "f.bin", content: body}
	}
	simple := func(extraConds []any, extra []formKV, body []byte) form {
		return func(tg target, key string) postReq {
			conds := append([]any{map[string]string{"bucket": bucket}, []any{"starts-with", "$key", key[:4]}}, extraConds...)
			return v4(tg, exp, conds, append([]formKV{{"bucket", bucket}, {"key", key}}, extra...), body)
		}
	}
	cases := []struct {
		name string
		form form
	}{
		{"204", simple(nil, nil, content)},
		{"200", simple([]any{map[string]string{"success_action_status": "200"}}, []formKV{{"success_action_status", "200"}}, content)},
		{"201", simple([]any{map[string]string{"success_action_status": "201"}}, []formKV{{"success_action_status", "201"}}, content)},
		{"redirect", simple([]any{[]any{"starts-with", "$success_action_redirect", "http://example.org/"}},
			[]formKV{{"success_action_redirect", "http://example.org/ok"}}, content)},
		{"metadata", simple([]any{[]any{"starts-with", "$Content-Type", "text/"}, map[string]string{"x-amz-meta-tag": "v"}},
			[]formKV{{"Content-Type", "text/plain"}, {"x-amz-meta-tag", "v"}}, []byte("meta"))},
		{"eq fails", simple([]any{[]any{"eq", "$Content-Type", "text/plain"}}, []formKV{{"Content-Type", "image/png"}}, content)},
		{"too large", simple([]any{[]any{"content-length-range", 0, 1000}}, nil, content)},
		{"too small", simple([]any{[]any{"content-length-range", 10, 1000}}, nil, []byte("x"))},
		{"expired", func(tg target, key string) postReq {
			return v4(tg, time.Now().Add(-time.Minute), []any{map[string]string{"bucket": bucket}, map[string]string{"key": key}},
				[]formKV{{"bucket", bucket}, {"key", key}}, content)
		}},
		{"extra field", simple(nil, []formKV{{"x-amz-meta-extra", "1"}}, content)},
		{"x-ignore field", simple(nil, []formKV{{"x-ignore-submit", "Upload"}}, content)},
		{"filename", func(tg target, key string) postReq {
			p := simple(nil, nil, content)(tg, key)
			p.fields[len(p.fields)-1].value = tg.name + "/${filename}"
			p.filename = "filename"
			return p
		}},
		{"starts-with fails", simple([]any{[]any{"starts-with", "$Content-Type", "image/"}}, []formKV{{"Content-Type", "text/plain"}}, content)},
		{"no file", func(tg target, key string) postReq {
			p := simple(nil, nil, content)(tg, key)
			p.noFile = true
			return p
		}},
		{"wrong signature", func(tg target, key string) postReq {
			p := simple(nil, nil, content)(tg, key)
			p.fields[4].value = "0000000000000000000000000000000000000000000000000000000000000000"
			return p
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var got [2]postResp
			for i, tg := range targets {
				key := tg.name + "/" + tc.name
				got[i] = sendPost(t, tg.client, tg.url, tc.form(tg, key))
			}
			mi, dg := got[0], got[1]
			if tc.name == "no file" {
				// MinIO answers MalformedPOSTRequest; AWS (and dgp) InvalidArgument.
				if dg.status != http.StatusBadRequest || dg.code != "InvalidArgument" {
					t.Fatalf("dgp %d %s %q", dg.status, dg.code, dg.message)
				}
				return
			}
			if mi.status != dg.status || mi.code != dg.code {
				t.Fatalf("minio %d %s %q; dgp %d %s %q", mi.status, mi.code, mi.message, dg.status, dg.code, dg.message)
			}
			if mi.status >= 300 && mi.status != http.StatusSeeOther {
				return
			}
			if mi.header.Get("ETag") != dg.header.Get("ETag") || dg.header.Get("ETag") == "" {
				t.Fatalf("ETag: minio %q, dgp %q", mi.header.Get("ETag"), dg.header.Get("ETag"))
			}
			switch tc.name {
			case "201":
				var pr [2]postResult
				for i := range got {
					if err := xml.Unmarshal(got[i].body, &pr[i]); err != nil {
						t.Fatalf("%s: 201 body %q: %v", targets[i].name, got[i].body, err)
					}
				}
				if pr[0].Bucket != pr[1].Bucket || pr[0].ETag != pr[1].ETag || pr[1].Key != "dgp/201" {
					t.Fatalf("201 documents: minio %+v, dgp %+v", pr[0], pr[1])
				}
			case "redirect":
				var q [2]url.Values
				for i := range got {
					u, err := url.Parse(got[i].header.Get("Location"))
					if err != nil {
						t.Fatal(err)
					}
					q[i] = u.Query()
				}
				if q[0].Get("bucket") != q[1].Get("bucket") || q[0].Get("etag") != q[1].Get("etag") || q[1].Get("key") != "dgp/redirect" {
					t.Fatalf("redirect query: minio %v, dgp %v", q[0], q[1])
				}
			}
			// Both stored the same bytes and metadata.
			var heads [2]*s3.HeadObjectOutput
			for i, tg := range targets {
				out, err := root.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(tg.name + "/" + tc.name)})
				must(t, err, "head "+tg.name)
				heads[i] = out
			}
			if aws.ToString(heads[0].ContentType) != aws.ToString(heads[1].ContentType) ||
				heads[0].Metadata["tag"] != heads[1].Metadata["tag"] || aws.ToInt64(heads[1].ContentLength) != int64(len(tc.form(targets[1], "dgp/x").content)) {
				t.Fatalf("stored: minio %q %v, dgp %q %v", aws.ToString(heads[0].ContentType), heads[0].Metadata,
					aws.ToString(heads[1].ContentType), heads[1].Metadata)
			}
		})
	}
}
