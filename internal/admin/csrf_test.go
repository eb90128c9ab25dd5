package admin

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// sendWith sends method path through the harness's server with the given
// headers (and c's cookies when c is not nil) and returns the answer.
func sendWith(t *testing.T, h *harness, c *client, method, path, body string, hdr map[string]string) *response {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, h.srv.URL+Prefix+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range hdr {
		if k == "Host" {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	hc := http.DefaultClient
	if c != nil {
		hc = c.hc
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return &response{status: resp.StatusCode, header: resp.Header, body: data, resp: resp}
}

func TestCrossSiteRefused(t *testing.T) {
	h := newHarness(t)
	c := h.client(t)
	c.login()
	host := strings.TrimPrefix(h.srv.URL, "http://")
	self := h.srv.URL

	cases := []struct {
		name string
		hdr  map[string]string
		ok   bool
	}{
		{"no browser headers (curl, CLI)", nil, true},
		{"sec-fetch-site same-origin", map[string]string{"Sec-Fetch-Site": "same-origin", "Origin": self}, true},
		{"sec-fetch-site none (typed by the user)", map[string]string{"Sec-Fetch-Site": "none"}, true},
		{"sec-fetch-site cross-site", map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}, false},
		{"sec-fetch-site cross-site without origin", map[string]string{"Sec-Fetch-Site": "cross-site"}, false},
		{"sec-fetch-site same-site", map[string]string{"Sec-Fetch-Site": "same-site", "Origin": "http://other." + host}, false},
		{"origin matching host (older browser)", map[string]string{"Origin": self}, true},
		{"origin of another host", map[string]string{"Origin": "https://evil.example"}, false},
		{"origin of another port", map[string]string{"Origin": "http://127.0.0.1:1"}, false},
		{"origin null (sandboxed frame)", map[string]string{"Origin": "null"}, false},
		{"origin matching a proxied host", map[string]string{"Origin": "https://dgp.example", "Host": "dgp.example"}, true},
	}
	// The answer of a refused request, for every kind of state-changing
	// endpoint: sign-in, sign-out, an IAM mutation, a non-IAM action.
	endpoints := []struct{ method, path, body string }{
		{"POST", "/login", `{"password":"` + testPassword + `"}`},
		{"POST", "/users", `{"name":"csrf-victim"}`},
		{"DELETE", "/users/nobody", ""},
		{"PUT", "/groups/nobody", `{"name":"x"}`},
		{"POST", "/config/sync-now", ""},
		{"POST", "/logout", ""},
	}
	for _, tc := range cases {
		for _, ep := range endpoints {
			t.Run(tc.name+"/"+ep.method+" "+ep.path, func(t *testing.T) {
				if ep.path == "/logout" && tc.ok {
					t.Skip("a passing logout would end the session the other cases use")
				}
				r := sendWith(t, h, c, ep.method, ep.path, ep.body, tc.hdr)
				if !tc.ok {
					wantError(t, r, http.StatusForbidden, "cross_site")
					return
				}
				if r.status == http.StatusForbidden {
					t.Fatalf("refused: %s", r.body)
				}
			})
		}
	}
	c.must(http.StatusOK, "GET", "/whoami", nil) // the refused logouts did not end the session
}

func TestCrossSiteRefusedRequestHasNoEffect(t *testing.T) {
	h := newHarness(t)
	c := h.client(t)
	c.login()
	evil := map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}
	wantError(t, sendWith(t, h, c, "POST", "/users", `{"name":"planted"}`, evil), http.StatusForbidden, "cross_site")
	if _, ok := h.iam.Current().UserByName("planted"); ok {
		t.Fatal("a refused cross-site request created a user")
	}
	// A cross-site sign-in sets no cookie (login CSRF).
	r := sendWith(t, h, nil, "POST", "/login", `{"password":"`+testPassword+`"}`, evil)
	wantError(t, r, http.StatusForbidden, "cross_site")
	if len(r.resp.Cookies()) != 0 {
		t.Fatalf("refused login set cookies: %v", r.header.Values("Set-Cookie"))
	}
	// A cross-site sign-out neither clears the cookie nor revokes.
	r = sendWith(t, h, c, "POST", "/logout", "", evil)
	wantError(t, r, http.StatusForbidden, "cross_site")
	if len(r.resp.Cookies()) != 0 || len(h.iam.Current().Revocations()) != 0 {
		t.Fatalf("refused logout acted: cookies %v, revocations %v", r.header.Values("Set-Cookie"), h.iam.Current().Revocations())
	}
	c.must(http.StatusOK, "GET", "/whoami", nil)
}

func TestCrossSiteSafeMethodsPass(t *testing.T) {
	h := newHarness(t)
	c := h.client(t)
	c.login()
	evil := map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}
	for _, m := range []string{"GET", "HEAD"} {
		if r := sendWith(t, h, c, m, "/whoami", "", evil); r.status != http.StatusOK {
			t.Fatalf("%s /whoami cross-site: %d %s", m, r.status, r.body)
		}
	}
	// OPTIONS is not refused as cross-site (it matches no endpoint).
	if r := sendWith(t, h, c, "OPTIONS", "/users", "", evil); r.status == http.StatusForbidden {
		t.Fatalf("OPTIONS refused: %s", r.body)
	}
}

func TestCheckCrossSiteExported(t *testing.T) {
	for _, tc := range []struct {
		method, site, origin string
		ok                   bool
	}{
		{"POST", "", "", true},
		{"POST", "same-origin", "", true},
		{"POST", "cross-site", "", false},
		{"PUT", "same-site", "", false},
		{"DELETE", "", "https://evil.example", false},
		{"PATCH", "", "http://dgp.test", true},
		{"GET", "cross-site", "https://evil.example", true},
	} {
		req, err := http.NewRequest(tc.method, "http://dgp.test/_/ui/x", nil)
		if err != nil {
			t.Fatal(err)
		}
		if tc.site != "" {
			req.Header.Set("Sec-Fetch-Site", tc.site)
		}
		if tc.origin != "" {
			req.Header.Set("Origin", tc.origin)
		}
		if err := CheckCrossSite(req); (err == nil) != tc.ok {
			t.Errorf("%s site=%q origin=%q: err %v, want ok=%v", tc.method, tc.site, tc.origin, err, tc.ok)
		}
	}
}
