//go:build integration

package guitest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/dgp-proxy/dgp/internal/config"
	"github.com/dgp-proxy/dgp/internal/testharness/dgpfleet"
	"github.com/dgp-proxy/dgp/internal/testharness/oidcprovider"
	"github.com/dgp-proxy/dgp/internal/testutil"
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
	m := testutil.RequireMinIO(t)
	ctx := context.Background()
	bucket := testutil.UniqueName("dgp-oidc")
	s3c := s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String(m.Endpoint), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(m.AccessKey, m.SecretKey, "")})
	if _, err := s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		out, _ := s3c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
		if out != nil {
			for _, o := range out.Contents {
				_, _ = s3c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: o.Key})
			}
		}
		_, _ = s3c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String(bucket)})
	})
	dir := t.TempDir()
	fleet, err := dgpfleet.StartN(ctx, 2, 1, func(i int) dgpfleet.Spec {
		return dgpfleet.Spec{
			DataDir: filepath.Join(dir, fmt.Sprint("node-", i)),
			NodeID:  fmt.Sprint("oidc-", i),
			Configure: func(c *config.Config) {
				c.Storage.S3 = m.Endpoint
				c.Storage.Region = "us-east-1"
				c.Storage.AccessKeyID = m.AccessKey
				c.Storage.SecretAccessKey = m.SecretKey
				c.Storage.ForcePathStyle = true
				c.Advanced.ConfigSyncBucket = bucket
				c.Advanced.ConfigSyncPollInterval = time.Hour // sync-now only
				if i > 0 {
					c.Advanced.ConfigSyncRole = config.SyncRoleReader
				}
			},
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := fleet.Close(); err != nil {
			t.Errorf("stop fleet: %v", err)
		}
	})
	writer, reader := fleet[0].URL(), fleet[1].URL()
	callback := reader + "/_/api/admin/oidc/callback"
	prov := oidcprovider.New(t, oidcprovider.Options{Users: []oidcprovider.User{alice, bob}, RedirectURIs: []string{callback}})

	api := newAPIClient(t, writer)
	api.login(t)
	var group, created struct {
		ID string `json:"id"`
	}
	api.must(t, http.StatusCreated, "POST", "/groups", map[string]any{
		"name":        "oidc-admins",
		"permissions": []map[string]any{{"effect": "Allow", "actions": []string{"admin"}, "resources": []string{"*"}}},
	}, &group)
	api.must(t, http.StatusCreated, "POST", "/auth-providers", map[string]any{
		"name": "test-idp", "type": "oidc", "issuer_url": prov.Issuer, "client_id": prov.ClientID,
		"client_secret": prov.ClientSecret, "redirect_url": callback,
		"group_mappings": []map[string]any{{"email": "*@example.com", "groups": []string{group.ID}}},
	}, &created)
	// The reader learns of the provider from the sync bucket.
	readerAPI := &apiClient{base: reader + "/_/api/admin", hc: api.hc} // same session: fleet-wide
	api.must(t, http.StatusOK, "POST", "/config/sync-now", nil, nil)
	readerAPI.must(t, http.StatusOK, "POST", "/config/sync-now", nil, nil)

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
	api.must(t, http.StatusOK, "PUT", "/auth-providers/"+created.ID, map[string]any{"enabled": false}, nil)
	readerAPI.must(t, http.StatusOK, "POST", "/config/sync-now", nil, nil)
	resp, err = hc.Get(reader + "/_/api/admin/whoami")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("whoami on the reader after the provider was disabled: %d, want 401", resp.StatusCode)
	}
}
