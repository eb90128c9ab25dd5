//go:build integration

package app

import (
	"encoding/json"
	"io"
	"net/http"
	"testing"
)

// TestAdminUncleanPathRefused: the instance hands /_/api/admin/ paths to
// the admin API as they came, so an unclean one (an object key a//b in
// the path) is refused rather than redirected onto another path with the
// method kept.
func TestAdminUncleanPathRefused(t *testing.T) {
	in := startInstance(t, nil, nil)
	c := in.httpClient()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	for _, p := range []string{"/_/api/admin/objects/b/a//b", "/_/api/admin/users/../groups", "/_/api/admin/./whoami"} {
		req, _ := http.NewRequest(http.MethodDelete, in.app.URL()+p, nil)
		req.URL.Opaque = p // keep the path as written
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var e struct {
			Code string `json:"error"`
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		_ = json.Unmarshal(body, &e)
		if resp.StatusCode != http.StatusBadRequest || e.Code != "bad_path" {
			t.Errorf("DELETE %s: %d %s, want 400 bad_path", p, resp.StatusCode, body)
		}
	}
}
