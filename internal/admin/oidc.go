package admin

import (
	"cmp"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/dgp-proxy/dgp/internal/configdb"
	"github.com/dgp-proxy/dgp/internal/iam"
)

// identityOIDCPrefix starts the identity of a session signed in through an
// OIDC provider: "oidc:<provider id>:<subject>".
const identityOIDCPrefix = "oidc:"

// ProviderTypeOIDC is the type of the auth providers people sign in with
// through OpenID Connect.
const ProviderTypeOIDC = "oidc"

// Paths of OIDC sign-in, under Prefix.
const (
	oidcCallbackPath = "/oidc/callback"
	// GUI pages the sign-in redirects to.
	guiHome  = "/_/ui/"
	guiLogin = "/_/ui/login"
)

// Error codes of a failed OIDC sign-in, given to the sign-in page as
// /_/ui/login?error=<code>.
const (
	oidcErrState    = "oidc_state"    // no, expired or tampered flow cookie; state mismatch
	oidcErrNonce    = "oidc_nonce"    // the ID token's nonce is not the flow's
	oidcErrDenied   = "oidc_denied"   // the group mapping grants no admin
	oidcErrFailed   = "oidc_failed"   // the provider refused, or discovery, exchange or verification failed
	oidcErrProvider = "oidc_provider" // unknown, disabled or non-OIDC provider
	// oidcErrRateLimited: too many failed sign-in steps from the address.
	oidcErrRateLimited = "rate_limited"
)

// Defaults of OIDCOptions.
const (
	DefaultOIDCDiscoveryTTL = 15 * time.Minute
	DefaultOIDCFlowTTL      = 10 * time.Minute
	DefaultOIDCHTTPTimeout  = 15 * time.Second
)

// OIDCOptions configure OIDC sign-in (MountOIDC).
type OIDCOptions struct {
	// HTTPClient makes the requests to the providers (discovery, keys,
	// token exchange, userinfo). nil: a client with a
	// DefaultOIDCHTTPTimeout timeout.
	HTTPClient *http.Client
	// DiscoveryTTL is how long a provider's discovery document and key set
	// are reused before being fetched again (default
	// DefaultOIDCDiscoveryTTL). Keys the cached set does not know are
	// fetched at once whatever the TTL.
	DiscoveryTTL time.Duration
	// FlowTTL is how long a person has between starting a sign-in and
	// coming back from the provider (default DefaultOIDCFlowTTL).
	FlowTTL time.Duration
}

// oidcFlow serves OIDC sign-in for an API.
type oidcFlow struct {
	a         *API
	discovery *discoveryCache
	flowTTL   time.Duration
}

// MountOIDC serves sign-in through the OIDC auth providers of the config
// DB (type "oidc"); call it before serving. Without it those paths answer
// 404 and OIDC sessions are refused.
//
//	GET /oidc/providers      the enabled providers, for the sign-in page's buttons
//	GET /oidc/{id}/login     302 to the provider (authorization code flow, PKCE S256)
//	GET /oidc/callback       the provider's redirect: signed in, a page that
//	                         refreshes to /_/ui/ at once; else 302 to
//	                         /_/ui/login?error=<code>
//
// None needs a session. The sign-in state travels in a signed cookie, so
// the callback may land on any instance of the fleet.
func (a *API) MountOIDC(o OIDCOptions) {
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Timeout: DefaultOIDCHTTPTimeout}
	}
	if o.DiscoveryTTL <= 0 {
		o.DiscoveryTTL = DefaultOIDCDiscoveryTTL
	}
	if o.FlowTTL <= 0 {
		o.FlowTTL = DefaultOIDCFlowTTL
	}
	f := &oidcFlow{
		a:         a,
		discovery: newDiscoveryCache(o.HTTPClient, o.DiscoveryTTL, a.now),
		flowTTL:   o.FlowTTL,
	}
	a.handle("GET /oidc/providers", f.listProviders)
	a.handle("GET /oidc/{id}/login", f.login)
	a.handle("GET "+oidcCallbackPath, f.callback)
}

// oidcProviderEntry is one sign-in button.
type oidcProviderEntry struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	DisplayName string `json:"display_name"`
	LoginURL    string `json:"login_url"`
}

// listProviders answers the enabled OIDC providers, sorted by priority
// then name. Nothing secret: the sign-in page is public.
func (f *oidcFlow) listProviders(w http.ResponseWriter, _ *http.Request) error {
	out := []oidcProviderEntry{}
	for _, p := range signInProviders(f.a.iam.Current()) {
		out = append(out, oidcProviderEntry{ID: p.ID, Name: p.Name, DisplayName: cmp.Or(p.DisplayName, p.Name),
			LoginURL: Prefix + "/oidc/" + url.PathEscape(p.ID) + "/login"})
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// signInProviders returns the enabled OIDC providers of st by priority,
// then name.
func signInProviders(st *configdb.State) []iam.AuthProvider {
	ps := slices.DeleteFunc(st.Providers(), func(p iam.AuthProvider) bool { return !usableProvider(p) })
	slices.SortFunc(ps, func(x, y iam.AuthProvider) int {
		return cmp.Or(cmp.Compare(x.Priority, y.Priority), cmp.Compare(x.Name, y.Name), cmp.Compare(x.ID, y.ID))
	})
	return ps
}

// usableProvider reports whether people may sign in through p.
func usableProvider(p iam.AuthProvider) bool {
	return p.Enabled && p.Type == ProviderTypeOIDC && p.IssuerURL != "" && p.ClientID != ""
}

// oidcIdentity is the session identity of subject signed in through the
// provider with id providerID.
func oidcIdentity(providerID, subject string) string {
	return identityOIDCPrefix + providerID + ":" + subject
}

// authenticateOIDC checks an OIDC session against st: its provider still
// exists, is an enabled OIDC provider, and the groups the mapping gave at
// sign-in still grant the admin API (their rules may have been edited or
// the groups deleted since). Revocations are checked by the caller.
func (a *API) authenticateOIDC(p *principal, st *configdb.State) (*principal, error) {
	rest := strings.TrimPrefix(p.Identity, identityOIDCPrefix)
	provID, subject, ok := strings.Cut(rest, ":")
	if !ok || provID == "" || subject == "" || provID != p.Provider {
		return nil, errMalformedToken
	}
	prov, ok := st.Provider(provID)
	if !ok || !usableProvider(prov) {
		return nil, errRevoked
	}
	if !iam.GroupsGrantAdmin(p.Groups, st.Group) {
		return nil, errRevoked
	}
	p.userName = p.Name
	return p, nil
}

// oidcRedirectURL is the redirect URL of provider p: its redirect_url when
// set, else the callback on the host the request came to.
func (a *API) oidcRedirectURL(p iam.AuthProvider, r *http.Request) string {
	if p.RedirectURL != "" {
		return p.RedirectURL
	}
	scheme := "http"
	if r.TLS != nil || a.secure {
		scheme = "https"
	}
	return scheme + "://" + r.Host + Prefix + oidcCallbackPath
}

// maxReturnPath bounds the return path kept in the flow cookie (a browser
// drops a cookie over 4 KiB).
const maxReturnPath = 512

// safeReturnPath returns ret when it is a path of the GUI, else the GUI's
// home: the sign-in never redirects off the instance.
func safeReturnPath(ret string) string {
	if len(ret) > maxReturnPath || !strings.HasPrefix(ret, guiHome) || strings.ContainsAny(ret, "\\\r\n") ||
		strings.Contains(ret, "//") || strings.Contains(ret, "/../") || strings.HasSuffix(ret, "/..") {
		return guiHome
	}
	return ret
}
