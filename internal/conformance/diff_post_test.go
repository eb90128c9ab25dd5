//go:build integration

package conformance

import (
	"net/http"
	"testing"
	"time"
)

// POST Object: a browser form upload with a SigV4 POST policy, its
// success answers (204, 201 with a PostResponse, 303 redirect), ${filename}
// keys, and the refusals for a failed eq / starts-with condition, an
// oversized file, an expired policy and a bad signature.
func TestDifferentialPostObject(t *testing.T) {
	post := func(name string, f postForm) step {
		f.Bucket = "bucket"
		if f.Expires == 0 {
			f.Expires = time.Hour
		}
		return step{Name: name, Method: http.MethodPost, Build: f.build, Unsigned: true}
	}
	upKey := []any{"starts-with", "$key", "up/"}
	size := []any{"content-length-range", 1, 64}
	runDifferential(t, scenario{
		Name:    "post",
		Buckets: []string{"bucket"},
		Steps: []step{
			{Name: "create", Method: "PUT", Path: "/{bucket}"},
			post("default-204", postForm{Fields: [][2]string{{"key", "up/a.txt"}, {"Content-Type", "text/plain"}},
				Conditions: []any{upKey, size, []any{"starts-with", "$Content-Type", "text/"}}, Filename: "a.txt", File: "hello post"}),
			{Name: "get-default", Method: "GET", Path: "/{bucket}/up/a.txt"},
			post("status-201", postForm{Fields: [][2]string{{"key", "up/b.txt"}, {"success_action_status", "201"}},
				Conditions: []any{upKey, size, map[string]string{"success_action_status": "201"}}, Filename: "b.txt", File: "bee"}),
			post("status-200", postForm{Fields: [][2]string{{"key", "up/c.txt"}, {"success_action_status", "200"}},
				Conditions: []any{upKey, size, map[string]string{"success_action_status": "200"}}, Filename: "c.txt", File: "sea"}),
			post("filename-key", postForm{Fields: [][2]string{{"key", "up/${filename}"}, {"Content-Type", "application/x-test"}},
				Conditions: []any{upKey, size, []any{"starts-with", "$Content-Type", ""}}, Filename: "named.bin", File: "by filename"}),
			{Name: "get-filename-key", Method: "GET", Path: "/{bucket}/up/named.bin"},
			post("redirect", postForm{Fields: [][2]string{{"key", "up/r.txt"}, {"success_action_redirect", "http://example.com/done?x=1"}},
				Conditions: []any{upKey, size, map[string]string{"success_action_redirect": "http://example.com/done?x=1"}}, Filename: "r.txt", File: "redirected"}),
			post("meta-case-insensitive", postForm{Fields: [][2]string{{"KEY", "up/m.txt"}, {"X-Amz-Meta-Color", "blue"}, {"content-type", "text/plain"}},
				Conditions: []any{upKey, size, map[string]string{"x-amz-meta-color": "blue"}, map[string]string{"Content-Type": "text/plain"}}, Filename: "m.txt", File: "meta"}),
			{Name: "head-meta", Method: "HEAD", Path: "/{bucket}/up/m.txt"},
			post("eq-fails", postForm{Fields: [][2]string{{"key", "up/e.txt"}, {"x-amz-meta-color", "red"}},
				Conditions: []any{upKey, size, map[string]string{"x-amz-meta-color": "blue"}}, Filename: "e.txt", File: "red"}),
			post("starts-with-fails", postForm{Fields: [][2]string{{"key", "down/s.txt"}},
				Conditions: []any{upKey, size}, Filename: "s.txt", File: "wrong prefix"}),
			post("too-large", postForm{Fields: [][2]string{{"key", "up/big.txt"}},
				Conditions: []any{upKey, []any{"content-length-range", 1, 4}}, Filename: "big.txt", File: "more than four"}),
			post("field-not-in-policy", postForm{Fields: [][2]string{{"key", "up/x.txt"}, {"x-amz-meta-extra", "1"}},
				Conditions: []any{upKey, size}, Filename: "x.txt", File: "extra"}),
			post("expired", postForm{Fields: [][2]string{{"key", "up/old.txt"}}, Expires: -time.Minute,
				Conditions: []any{upKey, size}, Filename: "old.txt", File: "late"}),
			post("anonymous", postForm{Fields: [][2]string{{"key", "up/anon.txt"}}, SkipSigning: true, Filename: "anon.txt", File: "anon"}),
			post("bad-signature", postForm{Fields: [][2]string{{"key", "up/sig.txt"}}, WrongSecret: true,
				Conditions: []any{upKey, size}, Filename: "sig.txt", File: "forged"}),
			{Name: "list-after-posts", Method: "GET", Path: "/{bucket}?list-type=2"},
		},
	})
}
