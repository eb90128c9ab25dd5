//go:build integration

package guitest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/dgp-proxy/dgp/internal/app"
	"github.com/dgp-proxy/dgp/internal/config"
	"github.com/dgp-proxy/dgp/internal/testharness"
	"github.com/dgp-proxy/dgp/internal/testharness/oidcprovider"
	"github.com/dgp-proxy/dgp/internal/testutil"
)

// declarativeOIDCConfig is docs/oidc.md's YAML example, pointed at the test
// provider: %[1]s data dir, %[2]s listen address, %[3]s issuer, %[4]s
// public base URL.
const declarativeOIDCConfig = `advanced:
  data_dir: %[1]s
  listen_addr: %[2]s
access:
  access_key_id: TESTROOTACCESSKEY000
  secret_access_key: testRootSecretKey0000000000000000000000000
  bootstrap_password: test-bootstrap-password
  iam_mode: declarative
  iam_allow_empty: true
  iam:
    groups:
      - name: admins
        permissions:
          - {effect: Allow, actions: [admin], resources: ["*"]}
    auth_providers:
      - name: corp-sso
        type: oidc
        display_name: Corporate SSO
        issuer_url: %[3]s
        client_id: dgp
        client_secret: ${DGP_OIDC_CORP_SECRET}
        scopes: [openid, email, profile]
        redirect_url: %[4]s/_/api/admin/oidc/callback
        group_mappings:
          - {claim: groups, value: storage-admins, groups: [admins]}
          - {email: "*@ops.example.com", groups: [admins]}
`

// TestOIDCDeclarative: a provider declared in the configuration file
// (client secret from the environment, mapping to a group by name) signs
// people in. The browser is a plain HTTP client with a cookie jar that
// follows redirects and posts the provider's login form.
func TestOIDCDeclarative(t *testing.T) {
	ctx := context.Background()
	addr, err := testharness.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + addr
	ops := oidcprovider.User{ID: "u-olga", Username: "olga", Password: "olga-password", Email: "olga@ops.example.com", EmailVerified: true}
	sre := oidcprovider.User{ID: "u-sam", Username: "sam", Password: "sam-password", Email: "sam@example.org", EmailVerified: true,
		Groups: []string{"storage-admins"}}
	dev := oidcprovider.User{ID: "u-dan", Username: "dan", Password: "dan-password", Email: "dan@example.org", EmailVerified: true,
		Groups: []string{"developers"}}
	prov := oidcprovider.New(t, oidcprovider.Options{
		Users: []oidcprovider.User{ops, sre, dev}, ClientSecret: "corp-secret-from-env",
		RedirectURIs: []string{base + "/_/api/admin/oidc/callback"},
	})

	dir := t.TempDir()
	file := filepath.Join(dir, "dgp.yaml")
	yaml := fmt.Sprintf(declarativeOIDCConfig, filepath.Join(dir, "data"), addr, prov.Issuer, base)
	if err := os.WriteFile(file, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	environ := []string{"DGP_OIDC_CORP_SECRET=" + prov.ClientSecret}
	cfg, _, err := config.LoadEnviron(file, environ)
	if err != nil {
		t.Fatal(err)
	}
	logs := &testutil.LogBuffer{}
	a, err := app.New(ctx, app.Options{Config: cfg, Logger: zerolog.New(logs), Stderr: io.Discard,
		ConfigFile: file, Environ: func() []string { return environ }})
	if err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := a.Run(rctx); err != nil {
			t.Errorf("dgp: %v", err)
		}
	})
	t.Cleanup(func() {
		cancel()
		wg.Wait()
		if t.Failed() {
			t.Logf("dgp log:\n%s", logs.String())
		}
	})

	// The sign-in page's list names the declared provider.
	var entries []struct {
		Name     string `json:"name"`
		LoginURL string `json:"login_url"`
	}
	if err := testharness.Retry(ctx, 30*time.Second, func() error {
		resp, err := http.Get(base + "/_/api/admin/oidc/providers")
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		return json.NewDecoder(resp.Body).Decode(&entries)
	}); err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Name != "corp-sso" {
		t.Fatalf("providers %+v", entries)
	}
	login := base + entries[0].LoginURL

	for _, tc := range []struct {
		user oidcprovider.User
		want string // "" signed in, else the error code
	}{
		{ops, ""}, // by email glob
		{sre, ""}, // by the groups claim
		{dev, "oidc_denied"},
	} {
		t.Run(tc.user.Username, func(t *testing.T) {
			hc := newJarClient(t)
			resp, body := formSignIn(t, hc, login, prov.Issuer, tc.user)
			if tc.want != "" {
				if got := resp.Request.URL.String(); got != base+"/_/ui/login?error="+tc.want {
					t.Fatalf("ended at %s, want the sign-in page with %s", got, tc.want)
				}
				return
			}
			if resp.StatusCode != http.StatusOK || !strings.Contains(body, `url=/_/ui/`) {
				t.Fatalf("callback answered %d: %s", resp.StatusCode, body)
			}
			resp, err := hc.Get(base + "/_/api/admin/whoami")
			if err != nil {
				t.Fatal(err)
			}
			var who map[string]any
			_ = json.NewDecoder(resp.Body).Decode(&who)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || who["kind"] != "oidc" || who["name"] != tc.user.Email {
				t.Fatalf("whoami: %d %v", resp.StatusCode, who)
			}
		})
	}
	if strings.Contains(logs.String(), prov.ClientSecret) {
		t.Error("the log holds the client secret")
	}
}
