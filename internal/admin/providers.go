package admin

import (
	"net/http"

	"github.com/dgp-proxy/dgp/internal/configdb"
	"github.com/dgp-proxy/dgp/internal/iam"
)

// providerView is an auth provider as the API shows it: the client secret
// is always configdb.Masked (or "" when none is set).
type providerView struct {
	ID            string        `json:"id"`
	Name          string        `json:"name"`
	Type          string        `json:"type"`
	IssuerURL     string        `json:"issuer_url"`
	ClientID      string        `json:"client_id"`
	ClientSecret  string        `json:"client_secret"`
	Scopes        []string      `json:"scopes"`
	Enabled       bool          `json:"enabled"`
	Priority      int           `json:"priority"`
	DisplayName   string        `json:"display_name"`
	RedirectURL   string        `json:"redirect_url"`
	GroupMappings []mappingView `json:"group_mappings"`
}

// mappingView is a group mapping rule as the API shows and takes it: one
// matcher (email; claim and value; claim and regex) and the ids of the
// groups it maps to. The view shows every field ("" when unset).
type mappingView struct {
	Email  string   `json:"email"`
	Claim  string   `json:"claim"`
	Value  string   `json:"value"`
	Regex  string   `json:"regex"`
	Groups []string `json:"groups"`
}

func newProviderView(p iam.AuthProvider) providerView {
	v := providerView{ID: p.ID, Name: p.Name, Type: p.Type, IssuerURL: p.IssuerURL, ClientID: p.ClientID,
		Scopes: nonNil(p.Scopes), Enabled: p.Enabled, Priority: p.Priority, DisplayName: p.DisplayName,
		RedirectURL: p.RedirectURL, GroupMappings: make([]mappingView, len(p.GroupMappings))}
	if p.ClientSecret != "" {
		v.ClientSecret = configdb.Masked
	}
	for i, m := range p.GroupMappings {
		v.GroupMappings[i] = mappingView{Email: m.Email, Claim: m.Claim, Value: m.Value, Regex: m.Regex, Groups: nonNil(m.Groups)}
	}
	return v
}

// groupMappings converts the rules of a request (nil stays nil).
func groupMappings(vs []mappingView) []iam.GroupMapping {
	if vs == nil {
		return nil
	}
	out := make([]iam.GroupMapping, len(vs))
	for i, v := range vs {
		out[i] = iam.GroupMapping{Email: v.Email, Claim: v.Claim, Value: v.Value, Regex: v.Regex, Groups: v.Groups}
	}
	return out
}

type createProviderRequest struct {
	Name          string        `json:"name"`
	Type          string        `json:"type"`
	IssuerURL     string        `json:"issuer_url"`
	ClientID      string        `json:"client_id"`
	ClientSecret  string        `json:"client_secret"`
	Scopes        []string      `json:"scopes"`
	Enabled       *bool         `json:"enabled"`
	Priority      int           `json:"priority"`
	DisplayName   string        `json:"display_name"`
	RedirectURL   string        `json:"redirect_url"`
	GroupMappings []mappingView `json:"group_mappings"`
}

type updateProviderRequest struct {
	Name          *string        `json:"name"`
	Type          *string        `json:"type"`
	IssuerURL     *string        `json:"issuer_url"`
	ClientID      *string        `json:"client_id"`
	ClientSecret  *string        `json:"client_secret"`
	Scopes        *[]string      `json:"scopes"`
	Enabled       *bool          `json:"enabled"`
	Priority      *int           `json:"priority"`
	DisplayName   *string        `json:"display_name"`
	RedirectURL   *string        `json:"redirect_url"`
	GroupMappings *[]mappingView `json:"group_mappings"`
}

func (a *API) listProviders(w http.ResponseWriter, _ *http.Request, _ *principal) error {
	ps := a.iam.Current().Providers()
	out := make([]providerView, len(ps))
	for i, p := range ps {
		out[i] = newProviderView(p)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (a *API) getProvider(w http.ResponseWriter, r *http.Request, _ *principal) error {
	p, err := a.lookup(r).providers().fromPath(r, "id")
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, newProviderView(p))
	return nil
}

func (a *API) createProvider(w http.ResponseWriter, r *http.Request, p *principal) error {
	var req createProviderRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	if req.Type == "" {
		req.Type = "oidc"
	}
	if req.ClientSecret == configdb.Masked {
		return invalid("client_secret", "give the real client secret, not the mask")
	}
	op := configdb.NewCreateProvider(iam.AuthProvider{
		Name: req.Name, Type: req.Type, IssuerURL: req.IssuerURL, ClientID: req.ClientID,
		ClientSecret: req.ClientSecret, Scopes: req.Scopes, Enabled: req.Enabled == nil || *req.Enabled,
		Priority: req.Priority, DisplayName: req.DisplayName, RedirectURL: req.RedirectURL,
		GroupMappings: groupMappings(req.GroupMappings),
	})
	st, err := a.publish(r, p, op)
	if err != nil {
		return err
	}
	got, ok := st.Provider(op.Provider.ID)
	if !ok {
		got = op.Provider
	}
	w.Header().Set("Location", Prefix+"/auth-providers/"+got.ID)
	writeJSON(w, http.StatusCreated, newProviderView(got))
	return nil
}

func (a *API) updateProvider(w http.ResponseWriter, r *http.Request, p *principal) error {
	cur, err := a.lookup(r).providers().fromPath(r, "id")
	if err != nil {
		return err
	}
	var req updateProviderRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	if req.ClientSecret != nil && *req.ClientSecret == configdb.Masked {
		req.ClientSecret = nil // a form sent back what GET showed: keep the secret
	}
	op := &configdb.UpdateProvider{
		ID: cur.ID, Name: req.Name, Type: req.Type, IssuerURL: req.IssuerURL, ClientID: req.ClientID,
		ClientSecret: req.ClientSecret, Scopes: req.Scopes, Enabled: req.Enabled, Priority: req.Priority,
		DisplayName: req.DisplayName, RedirectURL: req.RedirectURL,
	}
	if req.GroupMappings != nil {
		ms := groupMappings(*req.GroupMappings)
		op.GroupMappings = &ms
	}
	st, err := a.publish(r, p, op)
	if err != nil {
		return err
	}
	got, ok := st.Provider(cur.ID)
	if !ok {
		return notFound("auth provider %q not found", cur.ID)
	}
	writeJSON(w, http.StatusOK, newProviderView(got))
	return nil
}

func (a *API) deleteProvider(w http.ResponseWriter, r *http.Request, p *principal) error {
	cur, err := a.lookup(r).providers().fromPath(r, "id")
	if err != nil {
		return err
	}
	if _, err := a.publish(r, p, &configdb.DeleteProvider{ID: cur.ID}); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
