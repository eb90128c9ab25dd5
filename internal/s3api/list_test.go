package s3api

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// treeKeys is a tree of 50 keys: 10 at the top, 40 in four directories.
func treeKeys() []string {
	var keys []string
	for i := range 10 {
		keys = append(keys,
			fmt.Sprintf("top-%02d", i),
			fmt.Sprintf("dir1/f%02d", i),
			fmt.Sprintf("dir2/sub/f%02d", i),
			fmt.Sprintf("dir3/f%02d", i),
			fmt.Sprintf("dir4/deep/er/f%02d", i))
	}
	slices.Sort(keys)
	return keys
}

func TestListObjectsPagination(t *testing.T) {
	e := newTestEnv(t, false)
	c := e.root()
	ctx := context.Background()
	b := aws.String("tree")
	_, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: b})
	must(t, err, "create bucket")
	keys := treeKeys()
	for _, k := range keys {
		_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: b, Key: aws.String(k), Body: strings.NewReader(k)})
		must(t, err, "put "+k)
	}

	// V2 with a delimiter, 3 entries a page: top-level keys and one common
	// prefix per directory, each once, in order.
	var entries []string
	var token *string
	pages := 0
	for {
		out, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: b, Delimiter: aws.String("/"), MaxKeys: aws.Int32(3), ContinuationToken: token})
		must(t, err, "list v2 page")
		pages++
		n := len(out.Contents) + len(out.CommonPrefixes)
		if n > 3 || int(aws.ToInt32(out.KeyCount)) != n || aws.ToInt32(out.MaxKeys) != 3 {
			t.Fatalf("page %d: %d entries, KeyCount %d, MaxKeys %d", pages, n, aws.ToInt32(out.KeyCount), aws.ToInt32(out.MaxKeys))
		}
		var page []string
		for _, o := range out.Contents {
			page = append(page, aws.ToString(o.Key))
		}
		for _, p := range out.CommonPrefixes {
			page = append(page, aws.ToString(p.Prefix))
		}
		slices.Sort(page)
		entries = append(entries, page...)
		if !aws.ToBool(out.IsTruncated) {
			break
		}
		if aws.ToString(out.NextContinuationToken) == "" || pages > 20 {
			t.Fatalf("truncated page %d without a usable token", pages)
		}
		token = out.NextContinuationToken
	}
	want := []string{"dir1/", "dir2/", "dir3/", "dir4/"}
	for i := range 10 {
		want = append(want, fmt.Sprintf("top-%02d", i))
	}
	if !slices.Equal(entries, want) || pages != 5 {
		t.Fatalf("delimited listing in %d pages:\n got %v\nwant %v", pages, entries, want)
	}

	// V2 without a delimiter under a prefix, through the SDK paginator.
	var got []string
	p := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: b, Prefix: aws.String("dir4/"), MaxKeys: aws.Int32(4)})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		must(t, err, "paginator")
		for _, o := range out.Contents {
			got = append(got, aws.ToString(o.Key))
		}
	}
	if want := keysWithPrefix(keys, "dir4/"); !slices.Equal(got, want) {
		t.Fatalf("prefix listing:\n got %v\nwant %v", got, want)
	}

	// start-after, fetch-owner, max-keys 0, nested delimiter.
	out, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: b, StartAfter: aws.String("top-07"), FetchOwner: aws.Bool(true)})
	must(t, err, "start-after")
	if len(out.Contents) != 2 || aws.ToString(out.Contents[0].Key) != "top-08" || out.Contents[0].Owner == nil ||
		aws.ToString(out.Contents[0].Owner.ID) != "root" || aws.ToString(out.StartAfter) != "top-07" {
		t.Fatalf("start-after: %+v", out.Contents)
	}
	out, err = c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: b, Prefix: aws.String("dir3/")})
	must(t, err, "no fetch-owner")
	if len(out.Contents) != 10 || out.Contents[0].Owner != nil || aws.ToString(out.Contents[0].ETag) == "" || aws.ToInt64(out.Contents[0].Size) != 8 {
		t.Fatalf("dir3 listing: %+v", out.Contents[0])
	}
	out, err = c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: b, MaxKeys: aws.Int32(0)})
	must(t, err, "max-keys 0")
	if len(out.Contents) != 0 || aws.ToInt32(out.KeyCount) != 0 {
		t.Fatalf("max-keys 0: %d contents", len(out.Contents))
	}
	out, err = c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: b, Prefix: aws.String("dir4/"), Delimiter: aws.String("/")})
	must(t, err, "nested delimiter")
	if len(out.CommonPrefixes) != 1 || aws.ToString(out.CommonPrefixes[0].Prefix) != "dir4/deep/" || len(out.Contents) != 0 {
		t.Fatalf("nested delimiter: %+v %+v", out.CommonPrefixes, out.Contents)
	}

	// V1 with a delimiter and markers.
	entries = nil
	var marker *string
	for pages = 1; ; pages++ {
		o1, err := c.ListObjects(ctx, &s3.ListObjectsInput{Bucket: b, Delimiter: aws.String("/"), MaxKeys: aws.Int32(4), Marker: marker})
		must(t, err, "list v1 page")
		for _, o := range o1.Contents {
			entries = append(entries, aws.ToString(o.Key))
		}
		for _, p := range o1.CommonPrefixes {
			entries = append(entries, aws.ToString(p.Prefix))
		}
		if !aws.ToBool(o1.IsTruncated) {
			break
		}
		if aws.ToString(o1.NextMarker) == "" || pages > 20 {
			t.Fatalf("v1 page %d truncated without NextMarker", pages)
		}
		marker = o1.NextMarker
	}
	slices.Sort(entries)
	if !slices.Equal(entries, want) {
		t.Fatalf("v1 delimited listing:\n got %v\nwant %v", entries, want)
	}

	// encoding-type=url encodes keys and prefixes as S3 does.
	_, err = c.PutObject(ctx, &s3.PutObjectInput{Bucket: b, Key: aws.String("enc dir/a+b&c.txt"), Body: bytes.NewReader(nil)})
	must(t, err, "put encoded key")
	out, err = c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: b, Prefix: aws.String("enc"), EncodingType: types.EncodingTypeUrl})
	must(t, err, "list url-encoded")
	if len(out.Contents) != 1 || aws.ToString(out.Contents[0].Key) != "enc+dir/a%2Bb%26c.txt" || out.EncodingType != types.EncodingTypeUrl {
		t.Fatalf("url encoding: %+v", out.Contents)
	}
	out, err = c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: b, Prefix: aws.String("enc"), Delimiter: aws.String("/"), EncodingType: types.EncodingTypeUrl})
	must(t, err, "list url-encoded prefixes")
	if len(out.CommonPrefixes) != 1 || aws.ToString(out.CommonPrefixes[0].Prefix) != "enc+dir/" {
		t.Fatalf("url-encoded prefixes: %+v", out.CommonPrefixes)
	}

	// Bad parameters.
	status, body, _ := e.do("GET", "/tree?list-type=2&continuation-token=%25%25%25", nil, nil)
	if status != 400 || !strings.Contains(body, "<Code>InvalidArgument</Code>") {
		t.Fatalf("bad continuation token: %d %s", status, body)
	}
	status, body, _ = e.do("GET", "/tree?list-type=2&max-keys=-1", nil, nil)
	if status != 400 || !strings.Contains(body, "<Code>InvalidArgument</Code>") {
		t.Fatalf("negative max-keys: %d %s", status, body)
	}
	status, body, _ = e.do("GET", "/tree?list-type=2&max-keys=5000&prefix=dir1/", nil, nil)
	if status != 200 || !strings.Contains(body, "<MaxKeys>1000</MaxKeys>") || !strings.Contains(body, `xmlns="http://s3.amazonaws.com/doc/2006-03-01/"`) {
		t.Fatalf("max-keys above 1000: %d %s", status, body)
	}
}

func keysWithPrefix(keys []string, prefix string) []string {
	var out []string
	for _, k := range keys {
		if strings.HasPrefix(k, prefix) {
			out = append(out, k)
		}
	}
	return out
}
