//go:build integration

package guitest

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/dgp-proxy/dgp/internal/testharness/adminclient"
	"github.com/dgp-proxy/dgp/internal/testharness/oidcprovider"
	"github.com/dgp-proxy/dgp/internal/testharness/syncfleet"
)

// formSignIn signs in as u with a plain HTTP client (cookie jar, following
// redirects): it opens loginURL, which leads to the provider's login page,
// and posts the form. It returns the last answer and its body.
func formSignIn(t *testing.T, hc *http.Client, loginURL, issuer string, u oidcprovider.User) (*http.Response, string) {
	t.Helper()
	resp, err := hc.Get(loginURL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	id := resp.Request.URL.Query().Get("authRequestID")
	if id == "" {
		t.Fatalf("not at the provider's login page: %s", resp.Request.URL)
	}
	resp, err = hc.PostForm(issuer+"login/username", url.Values{"id": {id}, "username": {u.Username}, "password": {u.Password}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

func newJarClient(t *testing.T) *http.Client {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Jar: jar, Timeout: 30 * time.Second}
}

// TestOIDCAcrossFleet: on a writer and a reader sharing a sync bucket
// (MinIO), the provider created on the writer reaches the reader; a
// sign-in started on the writer whose callback lands on the reader (as
// behind a load balancer) succeeds, and the session works on both.
func TestOIDCAcrossFleet(t *testing.T) {
	fleet := syncfleet.Start(t, syncfleet.Options{Nodes: []string{"oidc-0", "oidc-1"}, BucketPrefix: "dgp-oidc"})
	writer, reader := fleet.URL(0), fleet.URL(1)
	callback := reader + "/_/api/admin/oidc/callback"
	prov := oidcprovider.New(t, oidcprovider.Options{Users: []oidcprovider.User{alice, bob}, RedirectURIs: []string{callback}})

	api := adminclient.New(t, adminclient.API(writer), 30*time.Second)
	api.Login(writer)
	var group, created struct {
		ID string `json:"id"`
	}
	api.Must(http.StatusCreated, "POST", "/groups", map[string]any{
		"name":        "oidc-admins",
		"permissions": []map[string]any{{"effect": "Allow", "actions": []string{"admin"}, "resources": []string{"*"}}},
	}, &group)
	api.Must(http.StatusCreated, "POST", "/auth-providers", map[string]any{
		"name": "test-idp", "type": "oidc", "issuer_url": prov.Issuer, "client_id": prov.ClientID,
		"client_secret": prov.ClientSecret, "redirect_url": callback,
		"group_mappings": []map[string]any{{"email": "*@example.com", "groups": []string{group.ID}}},
	}, &created)
	// The reader learns of the provider from the sync bucket.
	readerAPI := api.At(adminclient.API(reader)) // same session: fleet-wide
	api.Must(http.StatusOK, "POST", "/config/sync-now", nil, nil)
	readerAPI.Must(http.StatusOK, "POST", "/config/sync-now", nil, nil)

	hc := newJarClient(t) // cookies ignore the port: both instances are one host to it
	resp, body := formSignIn(t, hc, writer+"/_/api/admin/oidc/"+created.ID+"/login", prov.Issuer, alice)
	if !strings.HasPrefix(resp.Request.URL.String(), callback) || resp.StatusCode != http.StatusOK || !strings.Contains(body, "url=/_/ui/") {
		t.Fatalf("the sign-in ended at %s with %d: %s", resp.Request.URL, resp.StatusCode, body)
	}
	for _, base := range []string{writer, reader} {
		resp, err := hc.Get(base + "/_/api/admin/whoami")
		if err != nil {
			t.Fatal(err)
		}
		var who map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&who)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || who["kind"] != "oidc" || who["name"] != alice.Email {
			t.Errorf("whoami on %s: %d %v", base, resp.StatusCode, who)
		}
	}

	// Disabling the provider on the writer ends the session on the reader
	// too once it pulled.
	api.Must(http.StatusOK, "PUT", "/auth-providers/"+created.ID, map[string]any{"enabled": false}, nil)
	readerAPI.Must(http.StatusOK, "POST", "/config/sync-now", nil, nil)
	resp, err := hc.Get(reader + "/_/api/admin/whoami")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("whoami on the reader after the provider was disabled: %d, want 401", resp.StatusCode)
	}
}
