//go:build integration

package app

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/dgp-proxy/dgp/internal/testutil"
)

// TestObjectBrowserOverMinIO: the object browser over the S3 backend
// (MinIO): a streamed upload S3 serves back, listings paged through
// "folders" with each given once, downloads, deletes, the backend's errors
// translated, and a user's rights applied.
func TestObjectBrowserOverMinIO(t *testing.T) {
	minio := testutil.RequireMinIO(t)
	in := startS3Gateway(t, minio)
	ctx := context.Background()
	root := in.rootClient()
	bucket := testutil.UniqueName("browser")
	_, err := root.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)})
	testutil.Must(t, err, "create bucket")
	t.Cleanup(func() {
		out, err := root.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
		if err == nil {
			for _, o := range out.Contents {
				_, _ = root.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: o.Key})
			}
		}
		_, _ = root.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String(bucket)})
	})

	adm := in.admin(t)
	adm.login(in.cfg.Access.BootstrapPassword)
	put := func(c *adminClient, key string, body []byte, ctype string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPut, c.base+"/objects/"+bucket+"?key="+url.QueryEscape(key), bytes.NewReader(body))
		req.Header.Set("Content-Type", ctype)
		resp, err := c.http.Do(req)
		testutil.Must(t, err, "upload %s", key)
		msg, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp.StatusCode, string(msg)
	}

	big := testutil.Pattern(8 << 20)
	if code, msg := put(adm, "dir/big.bin", big, "application/x-big"); code != http.StatusOK {
		t.Fatalf("upload: %d %s", code, msg)
	}
	out, err := root.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String("dir/big.bin")})
	testutil.Must(t, err, "s3 get")
	got, _ := io.ReadAll(out.Body)
	out.Body.Close()
	if !bytes.Equal(got, big) || aws.ToString(out.ContentType) != "application/x-big" {
		t.Fatalf("S3 serves %d bytes of type %q", len(got), aws.ToString(out.ContentType))
	}
	// MinIO refuses keys with an empty segment: its error is passed on.
	if code, msg := put(adm, "odd//key", []byte("x"), "text/plain"); code != http.StatusBadRequest || !strings.Contains(msg, "Object name") {
		t.Fatalf("upload odd//key: %d %s", code, msg)
	}
	for _, k := range []string{"a.txt", "dir/x.txt", "dir/sub/y.txt", "z.txt"} {
		if code, msg := put(adm, k, []byte("data "+k), "text/plain"); code != http.StatusOK {
			t.Fatalf("upload %s: %d %s", k, code, msg)
		}
	}

	// Paged one entry at a time with the delimiter: each "folder" once.
	type page struct {
		CommonPrefixes []string `json:"common_prefixes"`
		Objects        []struct {
			Key  string `json:"key"`
			Size int64  `json:"size"`
		} `json:"objects"`
		IsTruncated    bool   `json:"is_truncated"`
		NextStartAfter string `json:"next_start_after"`
	}
	var seen []string
	after := ""
	for i := 0; ; i++ {
		if i > 10 {
			t.Fatalf("pagination does not end: %v", seen)
		}
		var p page
		adm.must(http.StatusOK, http.MethodGet, "/objects/"+bucket+"?delimiter=/&max=1&start_after="+url.QueryEscape(after), nil, &p)
		seen = append(seen, p.CommonPrefixes...)
		for _, o := range p.Objects {
			seen = append(seen, o.Key)
		}
		if !p.IsTruncated {
			break
		}
		after = p.NextStartAfter
	}
	if strings.Join(seen, ",") != "a.txt,dir/,z.txt" {
		t.Fatalf("paged root: %v", seen)
	}
	var p page
	adm.must(http.StatusOK, http.MethodGet, "/objects/"+bucket+"?delimiter=/&prefix=dir/", nil, &p)
	if len(p.Objects) != 2 || p.Objects[0].Key != "dir/big.bin" || p.Objects[0].Size != int64(len(big)) ||
		strings.Join(p.CommonPrefixes, ",") != "dir/sub/" {
		t.Fatalf("dir/: %+v", p)
	}

	// Download with the stored type, as an attachment (by ?key= here).
	resp, err := adm.http.Get(adm.base + "/objects/" + bucket + "?key=" + url.QueryEscape("dir/sub/y.txt"))
	testutil.Must(t, err, "download")
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "data dir/sub/y.txt" || resp.Header.Get("Content-Type") != "text/plain" ||
		resp.Header.Get("Content-Disposition") != `attachment; filename="y.txt"; filename*=UTF-8''y.txt` {
		t.Fatalf("download: %q %v", body, resp.Header)
	}

	// The backend's errors, translated.
	var e struct {
		Error   string `json:"error"`
		Message string `json:"message"`
	}
	if code := adm.do(http.MethodGet, "/objects/"+bucket+"/nope.txt", nil, &e); code != http.StatusNotFound || e.Error != "no_such_key" {
		t.Fatalf("missing key: %d %+v", code, e)
	}
	if code := adm.do(http.MethodGet, "/objects/"+testutil.UniqueName("absent"), nil, &e); code != http.StatusNotFound || e.Error != "no_such_bucket" {
		t.Fatalf("missing bucket: %d %+v", code, e)
	}

	// A user allowed on dir/ only.
	u := adm.createUser("browser-user", allow([]string{"admin"}, "*"), allow([]string{"read", "write", "list", "delete"}, bucket+"/dir/*"))
	uc := in.admin(t)
	uc.must(http.StatusOK, http.MethodPost, "/login", map[string]string{"access_key_id": u.AccessKeyID, "secret_access_key": u.SecretAccessKey}, nil)
	if code, msg := put(uc, "dir/mine.txt", []byte("mine"), "text/plain"); code != http.StatusOK {
		t.Fatalf("user upload under dir/: %d %s", code, msg)
	}
	if code, msg := put(uc, "elsewhere.txt", []byte("no"), "text/plain"); code != http.StatusForbidden || !strings.Contains(msg, `"access_denied"`) {
		t.Fatalf("user upload elsewhere: %d %s", code, msg)
	}
	if code := uc.do(http.MethodGet, "/objects/"+bucket+"?delimiter=/", nil, &e); code != http.StatusForbidden {
		t.Fatalf("user lists the root: %d %+v", code, e)
	}
	uc.must(http.StatusOK, http.MethodDelete, "/objects/"+bucket+"/dir/mine.txt", nil, nil)
	if code := uc.do(http.MethodDelete, "/objects/"+bucket+"/a.txt", nil, &e); code != http.StatusForbidden {
		t.Fatalf("user deletes elsewhere: %d %+v", code, e)
	}
	if _, err := root.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String("a.txt")}); err != nil {
		t.Fatalf("a.txt is gone after a refused delete: %v", err)
	}
}
