package iam

import (
	"slices"
	"time"
)

// Effect says whether a matching Rule grants or refuses access.
type Effect string

// The two effects of a permission rule. Deny beats Allow.
const (
	EffectAllow Effect = "Allow"
	EffectDeny  Effect = "Deny"
)

// Rule is one permission statement: it grants (Allow) or refuses (Deny) the
// listed actions on the listed resources. See docs/iam.md for how resources
// match requests.
type Rule struct {
	Effect    Effect   `json:"effect"`
	Actions   []Action `json:"actions"`
	Resources []string `json:"resources"`
}

// User is an IAM user: an S3 credential pair plus permissions, own and
// inherited from the groups it belongs to.
type User struct {
	ID              string    `json:"id"`
	Name            string    `json:"name"`
	AccessKeyID     string    `json:"access_key_id"`
	SecretAccessKey string    `json:"secret_access_key"`
	Enabled         bool      `json:"enabled"`
	CreatedAt       time.Time `json:"created_at"`
	Permissions     []Rule    `json:"permissions,omitempty"`
	GroupIDs        []string  `json:"group_ids,omitempty"`
}

// Group is a named set of users sharing permission rules. MemberIDs mirrors
// the members' User.GroupIDs; a valid configuration keeps both sides equal.
type Group struct {
	ID          string   `json:"id"`
	Name        string   `json:"name"`
	Description string   `json:"description,omitempty"`
	Permissions []Rule   `json:"permissions,omitempty"`
	MemberIDs   []string `json:"member_ids,omitempty"`
}

// AuthProvider is an external sign-in provider (OIDC) for the admin surface.
type AuthProvider struct {
	ID           string   `json:"id"`
	Name         string   `json:"name"`
	Type         string   `json:"type"`
	IssuerURL    string   `json:"issuer_url,omitempty"`
	ClientID     string   `json:"client_id,omitempty"`
	ClientSecret string   `json:"client_secret,omitempty"`
	Scopes       []string `json:"scopes,omitempty"`
	Enabled      bool     `json:"enabled"`
	Priority     int      `json:"priority"`
	DisplayName  string   `json:"display_name,omitempty"`
	// RedirectURL is the URL the provider sends the browser back to: an
	// absolute http(s) URL ending in OIDCCallbackPath (schema 3).
	RedirectURL string `json:"redirect_url,omitempty"`
	// GroupMappings map a signed-in person to dgp groups (schema 3); see
	// GroupMapping and MapGroups.
	GroupMappings []GroupMapping `json:"group_mappings,omitempty"`
}

// Clone returns a deep copy of r. Empty slices become nil.
func (r Rule) Clone() Rule {
	return Rule{Effect: r.Effect, Actions: cloneSlice(r.Actions), Resources: cloneSlice(r.Resources)}
}

// CloneRules returns a deep copy of rules (nil when empty).
func CloneRules(rules []Rule) []Rule {
	if len(rules) == 0 {
		return nil
	}
	out := make([]Rule, len(rules))
	for i, r := range rules {
		out[i] = r.Clone()
	}
	return out
}

// Clone returns a deep copy of u. Empty slices become nil.
func (u User) Clone() User {
	u.Permissions = CloneRules(u.Permissions)
	u.GroupIDs = cloneSlice(u.GroupIDs)
	return u
}

// Clone returns a deep copy of g. Empty slices become nil.
func (g Group) Clone() Group {
	g.Permissions = CloneRules(g.Permissions)
	g.MemberIDs = cloneSlice(g.MemberIDs)
	return g
}

// Clone returns a deep copy of p. Empty slices become nil.
func (p AuthProvider) Clone() AuthProvider {
	p.Scopes = cloneSlice(p.Scopes)
	p.GroupMappings = CloneGroupMappings(p.GroupMappings)
	return p
}

func cloneSlice[T any](s []T) []T {
	if len(s) == 0 {
		return nil
	}
	return slices.Clone(s)
}
