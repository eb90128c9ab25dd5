package admin

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Fleet is what the fleet view needs from the instance (internal/app
// adapts internal/fleetstatus): the view of every instance, and where a
// sync-now for one of them goes.
type Fleet interface {
	// View lists every instance of the fleet; JSON-encodable.
	View(ctx context.Context) (any, error)
	// Target says where sync-now for node goes: self when node is this
	// instance; else the base URL node advertised ("" when none). Errors
	// wrap ErrFleetUnknownNode or ErrFleetUnverified; anything else is a
	// 503 (the sync bucket did not answer).
	Target(ctx context.Context, node string) (self bool, adminURL string, err error)
}

// FleetClient is optionally implemented by a Fleet to choose the HTTP
// client sync-now is proxied with (another instance's CA, say).
type FleetClient interface {
	HTTPClient() *http.Client
}

// Errors a Fleet wraps.
var (
	// ErrFleetUnknownNode: no current status of that node (404 not_found).
	ErrFleetUnknownNode = errors.New("no instance of the fleet has that node id")
	// ErrFleetUnverified: the node's status is not signed with the fleet's
	// key, so nothing is sent to it (409 unverified_status).
	ErrFleetUnverified = errors.New("that instance's status is not signed with this fleet's key")
)

// Bounds of a proxied sync-now.
const (
	fleetProxyTimeout = 2 * time.Minute
	fleetProxyMaxBody = 1 << 20
)

// MountFleet serves the fleet view on f (call it before serving):
// GET /fleet and POST /fleet/{node}/sync-now. Without it those paths
// answer 404.
func (a *API) MountFleet(f Fleet) {
	client := &http.Client{
		Timeout: fleetProxyTimeout,
		// The session cookie goes to the advertised URL and nowhere else.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	if c, ok := f.(FleetClient); ok && c.HTTPClient() != nil {
		cc := *c.HTTPClient()
		cc.CheckRedirect = client.CheckRedirect
		if cc.Timeout == 0 {
			cc.Timeout = fleetProxyTimeout
		}
		client = &cc
	}
	a.handle("GET /fleet", a.authed(read, func(w http.ResponseWriter, r *http.Request, _ *principal) error {
		v, err := f.View(r.Context())
		if err != nil {
			return fleetError(err)
		}
		writeJSON(w, http.StatusOK, v)
		return nil
	}))
	a.handle("POST /fleet/{node}/sync-now", a.authed(read, func(w http.ResponseWriter, r *http.Request, p *principal) error {
		node := r.PathValue("node")
		self, base, err := f.Target(r.Context(), node)
		if err != nil {
			return fleetError(err)
		}
		if self {
			return a.syncNow(w, r, p)
		}
		if base == "" {
			return &apiError{Status: http.StatusConflict, Code: "no_admin_url", Message: fmt.Sprintf(
				"instance %s advertised no admin URL, so sync-now cannot be sent to it from here: set advanced.advertise_url "+
					"(DGP_ADVERTISE_URL) on it to the URL the rest of the fleet reaches it at, or call POST %s/config/sync-now on that instance itself",
				node, Prefix)}
		}
		return a.proxySyncNow(w, r, p, client, node, base)
	}))
}

// proxySyncNow sends POST <base>/_/api/admin/config/sync-now with the
// caller's session cookie (sessions are valid on every instance) and
// answers what that instance answered.
func (a *API) proxySyncNow(w http.ResponseWriter, r *http.Request, p *principal, client *http.Client, node, base string) error {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return &apiError{Status: http.StatusConflict, Code: "no_admin_url",
			Message: fmt.Sprintf("instance %s advertised %q, which is not an http(s) URL: fix its advanced.advertise_url", node, base)}
	}
	target := strings.TrimRight(base, "/") + Prefix + "/config/sync-now"
	req, err := http.NewRequestWithContext(r.Context(), http.MethodPost, target, http.NoBody)
	if err != nil {
		return fmt.Errorf("proxy sync-now: %w", err)
	}
	for i, ck := range r.CookiesNamed(CookieName) {
		if i == maxSessionCookies {
			break
		}
		req.AddCookie(&http.Cookie{Name: ck.Name, Value: ck.Value})
	}
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		a.log.Warn().Str("identity", p.who()).Str("ip", p.ip).Str("node", node).Str("url", target).Err(err).Msg("fleet sync-now: instance unreachable")
		return &apiError{Status: http.StatusBadGateway, Code: "instance_unreachable",
			Message: fmt.Sprintf("instance %s did not answer at %s: %v", node, target, err)}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, fleetProxyMaxBody+1))
	if err != nil || len(body) > fleetProxyMaxBody {
		return &apiError{Status: http.StatusBadGateway, Code: "instance_unreachable",
			Message: fmt.Sprintf("instance %s answered %s at %s but its answer could not be read", node, resp.Status, target)}
	}
	a.log.Info().Str("identity", p.who()).Str("ip", p.ip).Str("node", node).Int("status", resp.StatusCode).Msg("fleet sync-now proxied")
	if ct := resp.Header.Get("Content-Type"); ct != "" {
		w.Header().Set("Content-Type", ct)
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Dgp-Fleet-Node", node)
	w.WriteHeader(resp.StatusCode)
	_, _ = io.Copy(w, bytes.NewReader(body))
	return nil
}

// fleetError maps a Fleet error to its answer.
func fleetError(err error) error {
	switch {
	case errors.Is(err, ErrFleetUnknownNode):
		return &apiError{Status: http.StatusNotFound, Code: "not_found", Message: err.Error()}
	case errors.Is(err, ErrFleetUnverified):
		return &apiError{Status: http.StatusConflict, Code: "unverified_status", Message: err.Error() +
			": it runs with another bootstrap secret, or someone without the secret wrote it; nothing is sent to it"}
	}
	return &apiError{Status: http.StatusServiceUnavailable, Code: "fleet_unavailable",
		Message: "the fleet status in the sync bucket could not be read: " + err.Error()}
}
