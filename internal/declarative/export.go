package declarative

import (
	"bytes"
	"fmt"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/dgp-proxy/dgp/internal/configdb"
	"github.com/dgp-proxy/dgp/internal/iam"
)

// Export renders the IAM of st as a configuration document that the config
// package accepts: access.iam_mode: declarative and access.iam with groups,
// users and auth providers, ordered by name (plus access.iam_allow_empty:
// true when st has no users). Ids, creation times and session revocations
// are not exported (a reconcile keeps them by name).
//
// Unless showSecrets is set, every secret is written as a ${VAR}
// placeholder (see SecretVar) and vars lists, in order, the environment
// variables the document then needs. With showSecrets the secrets are
// written in clear and vars is empty.
func Export(st *configdb.State, showSecrets bool) (doc []byte, vars []string, err error) {
	names := newVarNames()
	secret := func(kind, name, value string) string {
		if showSecrets || value == "" {
			return value
		}
		v := names.take(SecretVar(kind, name))
		vars = append(vars, v)
		return "${" + v + "}"
	}

	var x exportIAM
	for _, g := range st.Groups() {
		x.Groups = append(x.Groups, exportGroup{Name: g.Name, Description: g.Description, Permissions: exportRules(g.Permissions)})
	}
	for _, u := range st.Users() {
		eu := exportUser{
			Name:            u.Name,
			AccessKeyID:     u.AccessKeyID,
			SecretAccessKey: secret(KindUser, u.Name, u.SecretAccessKey),
			Permissions:     exportRules(u.Permissions),
		}
		if !u.Enabled {
			eu.Enabled = new(false)
		}
		for _, id := range u.GroupIDs {
			if g, ok := st.Group(id); ok {
				eu.Groups = append(eu.Groups, g.Name)
			}
		}
		// By name, so the export is the same whatever the (random) ids are.
		slices.Sort(eu.Groups)
		x.Users = append(x.Users, eu)
	}
	for _, p := range st.Providers() {
		ep := exportProvider{
			Name:         p.Name,
			Type:         p.Type,
			IssuerURL:    p.IssuerURL,
			ClientID:     p.ClientID,
			ClientSecret: secret(KindProvider, p.Name, p.ClientSecret),
			Scopes:       flowList(p.Scopes),
			Priority:     p.Priority,
			DisplayName:  p.DisplayName,
			RedirectURL:  p.RedirectURL,
		}
		if !p.Enabled {
			ep.Enabled = new(false)
		}
		for _, m := range p.GroupMappings {
			em := exportMapping{Email: m.Email, Claim: m.Claim, Value: m.Value, Regex: m.Regex}
			for _, id := range m.Groups {
				if g, ok := st.Group(id); ok {
					em.Groups = append(em.Groups, g.Name)
				}
			}
			ep.GroupMappings = append(ep.GroupMappings, em)
		}
		x.Providers = append(x.Providers, ep)
	}

	out := exportDoc{Access: exportAccess{IAMMode: "declarative", IAMAllowEmpty: st.NumUsers() == 0, IAM: x}}
	var b bytes.Buffer
	fmt.Fprintf(&b, "# dgp iam export: generation %d of the config db, %d users, %d groups, %d auth providers.\n",
		st.Generation(), st.NumUsers(), len(x.Groups), len(x.Providers))
	if len(vars) > 0 {
		b.WriteString("# Secrets are ${VAR} placeholders, expanded from the environment when the file is read;\n")
		b.WriteString("# set: " + strings.Join(vars, " ") + "\n")
		b.WriteString("# (dgp iam export --show-secrets prints them in clear).\n")
	}
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(out); err != nil {
		return nil, nil, fmt.Errorf("export iam: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, nil, fmt.Errorf("export iam: %w", err)
	}
	return b.Bytes(), vars, nil
}

// SecretVar returns the name of the environment variable Export uses for
// the secret of the entity of kind (KindUser or KindProvider) named name:
// IAM_USER_<NAME>_SECRET or IAM_PROVIDER_<NAME>_CLIENT_SECRET, where
// <NAME> is the name upper-cased with every character other than a letter
// or digit replaced by '_'. (Not DGP_*: dgp warns about DGP_* variables
// that are not configuration keys.)
func SecretVar(kind, name string) string {
	up := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z':
			return r - 'a' + 'A'
		case r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
			return r
		}
		return '_'
	}, name)
	if kind == KindProvider {
		return "IAM_PROVIDER_" + up + "_CLIENT_SECRET"
	}
	return "IAM_USER_" + up + "_SECRET"
}

// varNames hands out distinct variable names: two names that map to the
// same variable (a.b and a_b) get _2, _3, ... suffixes.
type varNames map[string]bool

func newVarNames() varNames { return varNames{} }

func (n varNames) take(v string) string {
	name := v
	for i := 2; n[name]; i++ {
		name = fmt.Sprintf("%s_%d", v, i)
	}
	n[name] = true
	return name
}

// The exported document, shaped as config.Config's YAML.
type exportDoc struct {
	Access exportAccess `yaml:"access"`
}

type exportAccess struct {
	IAMMode       string    `yaml:"iam_mode"`
	IAMAllowEmpty bool      `yaml:"iam_allow_empty,omitempty"`
	IAM           exportIAM `yaml:"iam"`
}

type exportIAM struct {
	Groups    []exportGroup    `yaml:"groups,omitempty"`
	Users     []exportUser     `yaml:"users,omitempty"`
	Providers []exportProvider `yaml:"auth_providers,omitempty"`
}

type exportGroup struct {
	Name        string       `yaml:"name"`
	Description string       `yaml:"description,omitempty"`
	Permissions []exportRule `yaml:"permissions,omitempty"`
}

type exportUser struct {
	Name            string       `yaml:"name"`
	AccessKeyID     string       `yaml:"access_key_id"`
	SecretAccessKey string       `yaml:"secret_access_key"`
	Enabled         *bool        `yaml:"enabled,omitempty"`
	Groups          flowStrings  `yaml:"groups,omitempty"`
	Permissions     []exportRule `yaml:"permissions,omitempty"`
}

type exportProvider struct {
	Name          string          `yaml:"name"`
	Type          string          `yaml:"type"`
	IssuerURL     string          `yaml:"issuer_url,omitempty"`
	ClientID      string          `yaml:"client_id,omitempty"`
	ClientSecret  string          `yaml:"client_secret,omitempty"`
	Scopes        flowStrings     `yaml:"scopes,omitempty"`
	Enabled       *bool           `yaml:"enabled,omitempty"`
	Priority      int             `yaml:"priority,omitempty"`
	DisplayName   string          `yaml:"display_name,omitempty"`
	RedirectURL   string          `yaml:"redirect_url,omitempty"`
	GroupMappings []exportMapping `yaml:"group_mappings,omitempty"`
}

// exportMapping is a group mapping rule, its groups by name.
type exportMapping struct {
	Email  string      `yaml:"email,omitempty"`
	Claim  string      `yaml:"claim,omitempty"`
	Value  string      `yaml:"value,omitempty"`
	Regex  string      `yaml:"regex,omitempty"`
	Groups flowStrings `yaml:"groups"`
}

// exportRule is a permission rule, written on one line:
// {effect: Allow, actions: [read, list], resources: ["b/*"]}.
type exportRule struct {
	Effect    string      `yaml:"effect"`
	Actions   flowStrings `yaml:"actions"`
	Resources flowStrings `yaml:"resources"`
}

// MarshalYAML implements yaml.Marshaler: the rule as a flow mapping.
func (r exportRule) MarshalYAML() (any, error) {
	type plain exportRule
	var n yaml.Node
	if err := n.Encode(plain(r)); err != nil {
		return nil, err
	}
	n.Style = yaml.FlowStyle
	return &n, nil
}

// flowStrings is a list of strings written as a flow sequence.
type flowStrings []string

// MarshalYAML implements yaml.Marshaler.
func (f flowStrings) MarshalYAML() (any, error) {
	var n yaml.Node
	if err := n.Encode([]string(f)); err != nil {
		return nil, err
	}
	n.Style = yaml.FlowStyle
	return &n, nil
}

func flowList(s []string) flowStrings { return flowStrings(s) }

func exportRules(rules []iam.Rule) []exportRule {
	var out []exportRule
	for _, r := range rules {
		er := exportRule{Effect: string(r.Effect), Resources: flowList(r.Resources)}
		for _, a := range r.Actions {
			er.Actions = append(er.Actions, string(a))
		}
		out = append(out, er)
	}
	return out
}
