package admin

import "net/http"

// errCrossSite is the answer to a state-changing request a browser sent
// from another site.
var errCrossSite = &apiError{Status: http.StatusForbidden, Code: "cross_site",
	Message: "cross-site request refused: state-changing admin requests must come from the admin GUI's own origin " +
		"(Sec-Fetch-Site same-origin or none, or an Origin matching the Host), or from a non-browser client"}

// checkCrossSite refuses (403 cross_site) a request that could change state
// (any method but GET, HEAD and OPTIONS, login and logout included) when a
// browser says it comes from another origin: Sec-Fetch-Site other than
// same-origin or none (same-site is refused too: the GUI is same-origin),
// or, without Sec-Fetch-Site, an Origin whose host is not the request's
// Host. A request with neither header (curl, the CLI, scripts) passes:
// no browser sent it, so no ambient cookie was abused.
//
// The checks are net/http's CrossOriginProtection, with no trusted origins
// and no bypass; only the answer is the API's JSON error.
func (a *API) checkCrossSite(r *http.Request) error { return CheckCrossSite(r) }

// CheckCrossSite applies the admin API's cross-site policy (see
// docs/security.md) to r, for handlers outside the API that change state
// on behalf of a session cookie: nil when r may proceed, else an error to
// answer with 403.
func CheckCrossSite(r *http.Request) error {
	var cop http.CrossOriginProtection // the zero value: no trusted origin, no bypass
	if cop.Check(r) != nil {
		return errCrossSite
	}
	return nil
}
