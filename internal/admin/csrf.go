package admin

import "net/http"

// checkCrossSite refuses a cross-site request that could change state
// (owned by the CSRF work: Origin / Sec-Fetch-Site checks).
func (a *API) checkCrossSite(_ *http.Request) error { return nil }
