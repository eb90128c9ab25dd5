//go:build integration

package app

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/dgp-proxy/dgp/internal/testutil"
)

// listPage is the part of a ListObjectsV2 answer whose semantics must match S3.
type listPage struct {
	Keys       []string
	Prefixes   []string
	Truncated  bool
	KeyCount   int32
	StartAfter string
	Continue   bool
}

// Listing semantics of dgp on a directory, compared call by call with
// MinIO's own answers for the same keys.
func TestListingMatchesMinIO(t *testing.T) {
	minio := testutil.RequireMinIO(t)
	ctx := context.Background()
	direct := s3.New(s3.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(minio.Endpoint),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(minio.AccessKey, minio.SecretKey, ""),
	})
	in := startInstance(t, nil, nil)
	proxied := in.rootClient()

	bucket := testutil.UniqueName("list")
	keys := []string{
		// No key is both an object and a "directory" of another key here
		// ("a" and "a/b"): S3 allows that, MinIO does not.
		"a", "ab/b/c/", "ab/b/d", "ab/c", "a+b", "a-b", "a.b", "a0",
		"b/", "b/x", "b/y/", "b/y/z", "c d/e f", "dir/sub/deep/file", "dir/sub/f",
		"dir/z", "é/ü", "zz", "photos/2026/01/a.jpg", "photos/2026/01/b.jpg",
		"photos/2026/02/c.jpg", "photos/2025/12/d.jpg", "photos/index.html",
	}
	for _, c := range []*s3.Client{direct, proxied} {
		_, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)})
		testutil.Must(t, err, "create bucket")
		for _, k := range keys {
			_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(k), Body: strings.NewReader("x")})
			testutil.Must(t, err, "put %q", k)
		}
	}
	t.Cleanup(func() {
		for _, c := range []*s3.Client{direct, proxied} {
			for _, k := range keys {
				_, _ = c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String(k)})
			}
			_, _ = c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String(bucket)})
		}
	})

	type call struct {
		prefix, delimiter, startAfter string
		maxKeys                       int32
	}
	calls := []call{
		{}, {delimiter: "/"}, {prefix: "a"}, {prefix: "a", delimiter: "/"}, {prefix: "a/", delimiter: "/"},
		{prefix: "b/", delimiter: "/"}, {prefix: "photos/", delimiter: "/"}, {prefix: "photos/2026/", delimiter: "/"},
		{prefix: "photos/20", delimiter: "/"}, {delimiter: "/", maxKeys: 2}, {maxKeys: 3}, {startAfter: "ab/b"}, {prefix: "ab/", delimiter: "/"},
		{startAfter: "dir", delimiter: "/"}, {prefix: "dir/", delimiter: "/sub"}, {delimiter: "b"},
		{prefix: "nothing"}, {prefix: "photos/", maxKeys: 1}, {delimiter: "/", startAfter: "photos/"},
		{prefix: "c d/"}, {prefix: "é"},
	}
	for _, c := range calls {
		name := fmt.Sprintf("prefix=%q,delim=%q,after=%q,max=%d", c.prefix, c.delimiter, c.startAfter, c.maxKeys)
		t.Run(name, func(t *testing.T) {
			want := listAll(t, direct, bucket, c.prefix, c.delimiter, c.startAfter, c.maxKeys)
			got := listAll(t, proxied, bucket, c.prefix, c.delimiter, c.startAfter, c.maxKeys)
			// S3 (and MinIO) may return fewer entries than max-keys on a
			// page when common prefixes are rolled up, so pages are
			// compared as the sequence they spell out, and dgp's pages
			// are checked on their own: full pages, truncated but the last.
			if !reflect.DeepEqual(flatten(got), flatten(want)) {
				t.Fatalf("dgp differs from MinIO\n got: %+v\nwant: %+v", got, want)
			}
			for i, p := range got {
				n := int32(len(p.Keys) + len(p.Prefixes))
				last := i == len(got)-1
				if p.KeyCount != n || p.Truncated == last || p.Continue == last || (c.maxKeys > 0 && n > c.maxKeys) || (!last && c.maxKeys > 0 && n != c.maxKeys) {
					t.Fatalf("dgp page %d malformed: %+v (all pages %+v)", i, p, got)
				}
			}
		})
	}
}

// flatten returns what a listing spells out, page boundaries removed.
func flatten(pages []listPage) listPage {
	var f listPage
	for _, p := range pages {
		f.Keys = append(f.Keys, p.Keys...)
		f.Prefixes = append(f.Prefixes, p.Prefixes...)
		f.KeyCount += p.KeyCount
		f.StartAfter = p.StartAfter
	}
	return f
}

// listAll pages through a listing and returns every page's semantics.
func listAll(t *testing.T, c *s3.Client, bucket, prefix, delimiter, startAfter string, maxKeys int32) []listPage {
	t.Helper()
	in := &s3.ListObjectsV2Input{Bucket: aws.String(bucket)}
	if prefix != "" {
		in.Prefix = aws.String(prefix)
	}
	if delimiter != "" {
		in.Delimiter = aws.String(delimiter)
	}
	if startAfter != "" {
		in.StartAfter = aws.String(startAfter)
	}
	if maxKeys > 0 {
		in.MaxKeys = aws.Int32(maxKeys)
	}
	var pages []listPage
	for i := 0; i < 100; i++ {
		out, err := c.ListObjectsV2(context.Background(), in)
		testutil.Must(t, err, "list")
		p := listPage{Truncated: aws.ToBool(out.IsTruncated), KeyCount: aws.ToInt32(out.KeyCount), StartAfter: aws.ToString(out.StartAfter), Continue: out.NextContinuationToken != nil}
		for _, o := range out.Contents {
			p.Keys = append(p.Keys, aws.ToString(o.Key))
		}
		for _, cp := range out.CommonPrefixes {
			p.Prefixes = append(p.Prefixes, aws.ToString(cp.Prefix))
		}
		if !p.Truncated && len(p.Keys)+len(p.Prefixes) == 0 && len(pages) > 0 {
			// MinIO may end a listing that filled its last page exactly with
			// one more, empty page (S3 answers IsTruncated=false instead).
			// Both mean the same to clients; compare them as S3 puts it.
			pages[len(pages)-1].Truncated = false
			pages[len(pages)-1].Continue = false
			return pages
		}
		pages = append(pages, p)
		if !p.Truncated {
			return pages
		}
		in.ContinuationToken = out.NextContinuationToken
	}
	t.Fatal("listing did not end")
	return nil
}
