//go:build integration

package s3backend

import (
	"context"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/dgp-proxy/dgp/internal/s3err"
	"github.com/dgp-proxy/dgp/internal/storage"
)

// TestFastListingMatchesSDKOnMinIO lists the same bucket on the fast path
// and through the SDK with random prefixes, delimiters, markers and page
// sizes: every page must be identical.
func TestFastListingMatchesSDKOnMinIO(t *testing.T) {
	fast, slow := fastAndSDKBackends(t)
	bucket := mustBucket(t, fast)
	ctx := context.Background()
	keys := []string{
		"a", "a/b", "a/b/c", "a b", "a+b", "a%2Fb", "a&b<c>'\"", "ctl\x01\x7f\ttab", "dir/", "dir/x",
		"dir/sub/y", "dü/é", "日本/語", "z/", "z/x", "~tilde", "end ",
	}
	for i := range 30 {
		keys = append(keys, "many/k"+string(rune('a'+i%26))+string(rune('0'+i/26)))
	}
	for _, k := range keys {
		mustPut(t, fast, bucket, k, []byte(k), storage.PutOptions{})
	}
	t0 := fast.fast.targetFor(ctx, bucket)
	if t0 == nil {
		t.Fatal("no fast-path target for the bucket")
	}
	if _, ok, err := fast.fastListObjects(ctx, t0, storage.ListOptions{MaxKeys: 1000}, 1000); err != nil || !ok {
		t.Fatalf("fast listing not read by the scanner: ok=%v err=%v", ok, err)
	}

	r := rand.New(rand.NewPCG(5, 9))
	delims := []string{"", "/", "b", "é", "//"}
	for i := range 60 {
		o := storage.ListOptions{Delimiter: delims[r.IntN(len(delims))], MaxKeys: r.IntN(12)}
		if r.IntN(2) == 0 {
			k := keys[r.IntN(len(keys))]
			o.Prefix = k[:r.IntN(len(k)+1)]
		}
		if r.IntN(3) == 0 {
			o.Marker = keys[r.IntN(len(keys))]
		}
		for page := 0; page < 50; page++ {
			got, gerr := fast.ListObjects(ctx, bucket, o)
			want, werr := slow.ListObjects(ctx, bucket, o)
			if (gerr != nil) != (werr != nil) {
				t.Fatalf("case %d %+v: fast err %v, sdk err %v", i, o, gerr, werr)
			}
			if gerr != nil {
				break
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("case %d page %d %+v:\nfast %+v\nsdk  %+v", i, page, o, got, want)
			}
			if !got.IsTruncated || o.MaxKeys == 0 {
				break
			}
			o.Marker = got.NextMarker
		}
	}
	for _, b := range []*Backend{fast, slow} {
		_, err := b.ListObjects(ctx, bucket+"-missing", storage.ListOptions{MaxKeys: 1})
		wantS3Err(t, "ListObjects(missing bucket)", err, s3err.ErrNoSuchBucket)
	}
}

// TestListingTokenOnMinIO: pages asked with the previous page's NextToken
// are the pages asked with its NextMarker, on the fast path and through the
// SDK; a token MinIO does not take falls back to the marker.
func TestListingTokenOnMinIO(t *testing.T) {
	fast, slow := fastAndSDKBackends(t)
	bucket := mustBucket(t, fast)
	ctx := context.Background()
	for i := range 25 {
		k := string(rune('a'+i%5)) + "/" + string(rune('a'+i/5)) + " é"
		mustPut(t, fast, bucket, k, []byte("x"), storage.PutOptions{})
	}
	for _, b := range []*Backend{fast, slow} {
		for _, delim := range []string{"", "/"} {
			var byMarker, byToken []*storage.ListResult
			for o := (storage.ListOptions{MaxKeys: 3, Delimiter: delim}); ; {
				res, err := b.ListObjects(ctx, bucket, o)
				if err != nil {
					t.Fatal(err)
				}
				byMarker = append(byMarker, res)
				if !res.IsTruncated {
					break
				}
				o.Marker = res.NextMarker
			}
			tokens := 0
			for o := (storage.ListOptions{MaxKeys: 3, Delimiter: delim}); ; {
				res, err := b.ListObjects(ctx, bucket, o)
				if err != nil {
					t.Fatal(err)
				}
				byToken = append(byToken, res)
				if !res.IsTruncated {
					break
				}
				if res.NextToken != "" {
					tokens++
				}
				o.Marker, o.Token = res.NextMarker, res.NextToken
			}
			if tokens == 0 {
				t.Fatal("MinIO gave no continuation token")
			}
			for _, p := range byToken {
				p.NextToken = ""
			}
			for _, p := range byMarker {
				p.NextToken = ""
			}
			if !reflect.DeepEqual(byToken, byMarker) {
				t.Fatalf("delimiter %q: pages by token differ from pages by marker", delim)
			}
		}
		bogus := storage.ListOptions{MaxKeys: 1000, Marker: "c", Token: "!!! not base64"}
		got, err := b.ListObjects(ctx, bucket, bogus)
		if err != nil {
			t.Fatalf("bogus token: %v", err)
		}
		want, _ := b.ListObjects(ctx, bucket, storage.ListOptions{MaxKeys: 1000, Marker: "c"})
		got.NextToken, want.NextToken = "", ""
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("bogus token: %+v, want %+v", got, want)
		}
	}
}
