package iam

import (
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
)

// GroupMapping is one group mapping rule of an OIDC auth provider: when its
// matcher matches the claims of a verified ID token, the person signing in
// belongs to Groups for that session. Exactly one matcher is set:
//
//   - Email: a glob ("*@example.com"; '*' matches any run of characters,
//     everything else is literal) matched case-insensitively against the
//     "email" claim. When the token carries "email_verified" and it is false
//     (false or "false"), no email rule matches.
//   - Claim + Value: the string claim named Claim equals Value exactly, or
//     the claim is an array holding the string Value.
//   - Claim + Regex: an RE2 regular expression matched against the string
//     claim, or against each string of an array claim. It is not anchored
//     for the author: write ^...$ to match a whole value.
//
// Claims of other types (numbers, booleans, objects) never match. Claim
// names are top-level claim names taken literally (a '.' is part of the
// name, not a path).
type GroupMapping struct {
	Email  string   `json:"email,omitempty"`
	Claim  string   `json:"claim,omitempty"`
	Value  string   `json:"value,omitempty"`
	Regex  string   `json:"regex,omitempty"`
	Groups []string `json:"groups"` // ids of dgp groups
}

// Clone returns a deep copy of m. Empty slices become nil.
func (m GroupMapping) Clone() GroupMapping {
	m.Groups = cloneSlice(m.Groups)
	return m
}

// CloneGroupMappings returns a deep copy of ms (nil when empty).
func CloneGroupMappings(ms []GroupMapping) []GroupMapping {
	if len(ms) == 0 {
		return nil
	}
	out := make([]GroupMapping, len(ms))
	for i, m := range ms {
		out[i] = m.Clone()
	}
	return out
}

// MapGroups returns the ids of the dgp groups that p's group mapping rules
// give to a person whose verified ID token carries claims: the union of
// the Groups of every matching rule, deduplicated and sorted (nil when none
// matches). A rule whose regex does not compile never matches (validation
// refuses such rules before they are stored). The ids are not checked
// against the groups that exist: see GroupsGrantAdmin.
func MapGroups(p AuthProvider, claims map[string]any) []string {
	var out []string
	for _, m := range p.GroupMappings {
		if m.matches(claims) {
			out = append(out, m.Groups...)
		}
	}
	if len(out) == 0 {
		return nil
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// GroupsGrantAdmin reports whether the rules of the groups with the given
// ids grant the admin API: an Allow rule with action admin (or *) on
// resource "*" and no such Deny rule. Ids that lookup does not find are
// ignored (a group deleted since). lookup is typically
// (*configdb.State).Group.
func GroupsGrantAdmin(groupIDs []string, lookup func(id string) (Group, bool)) bool {
	var rules []Rule
	for _, id := range groupIDs {
		if g, ok := lookup(id); ok {
			rules = append(rules, g.Permissions...)
		}
	}
	return RulesGrantAdmin(rules)
}

// RulesGrantAdmin reports whether rules hold an Allow rule with action
// admin (or *) on resource "*" and no such Deny rule: the rule that lets an
// identity use the admin API.
func RulesGrantAdmin(rules []Rule) bool {
	allow := false
	for _, r := range rules {
		if !slices.Contains(r.Resources, "*") ||
			!(slices.Contains(r.Actions, ActionAdmin) || slices.Contains(r.Actions, ActionAll)) {
			continue
		}
		if r.Effect == EffectDeny {
			return false
		}
		allow = allow || r.Effect == EffectAllow
	}
	return allow
}

func (m GroupMapping) matches(claims map[string]any) bool {
	switch {
	case m.Email != "":
		return emailMatches(m.Email, claims)
	case m.Claim == "":
		return false
	case m.Regex != "":
		re, err := regexp.Compile(m.Regex)
		if err != nil {
			return false
		}
		return anyClaimString(claims[m.Claim], re.MatchString)
	default:
		return anyClaimString(claims[m.Claim], func(s string) bool { return s == m.Value })
	}
}

// emailMatches applies an email glob to the "email" claim, refusing an
// address the provider says it has not verified.
func emailMatches(glob string, claims map[string]any) bool {
	email, ok := claims["email"].(string)
	if !ok || email == "" {
		return false
	}
	switch v := claims["email_verified"].(type) {
	case bool:
		if !v {
			return false
		}
	case string: // some providers send the boolean as a string
		if strings.EqualFold(v, "false") {
			return false
		}
	}
	return globMatch(strings.ToLower(glob), strings.ToLower(email))
}

// anyClaimString reports whether the claim is a string accepted by f, or an
// array holding one.
func anyClaimString(v any, f func(string) bool) bool {
	switch v := v.(type) {
	case string:
		return f(v)
	case []any:
		for _, e := range v {
			if s, ok := e.(string); ok && f(s) {
				return true
			}
		}
	case []string:
		return slices.ContainsFunc(v, f)
	}
	return false
}

// globMatch matches s against pattern, where '*' matches any run of bytes
// (including none) and every other byte matches itself.
func globMatch(pattern, s string) bool {
	// Greedy matching with backtracking to the last '*': linear in practice
	// and never exponential.
	p, i := 0, 0
	star, mark := -1, 0
	for i < len(s) {
		switch {
		case p < len(pattern) && pattern[p] == '*':
			star, mark = p, i
			p++
		case p < len(pattern) && pattern[p] == s[i]:
			p++
			i++
		case star >= 0:
			p = star + 1
			mark++
			i = mark
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}

// OIDCCallbackPath is the path every OIDC provider's redirect URL ends in:
// the admin API's sign-in callback.
const OIDCCallbackPath = "/_/api/admin/oidc/callback"

// Limits of group mapping rules.
const (
	MaxGroupMappings     = 100
	MaxGroupsPerMapping  = 100
	MaxMappingPatternLen = 1024
)

// ValidateRedirectURL checks an OIDC redirect URL: an absolute http(s)
// URL without query or fragment whose path ends in OIDCCallbackPath.
func ValidateRedirectURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil {
		return fieldErr("", "%q: must be an absolute http(s) URL", s)
	}
	if u.RawQuery != "" || u.Fragment != "" || strings.HasSuffix(s, "?") || strings.HasSuffix(s, "#") {
		return fieldErr("", "%q: must have no query or fragment", s)
	}
	if !strings.HasSuffix(u.Path, OIDCCallbackPath) {
		return fieldErr("", "%q: the path must end in %s (the admin API's sign-in callback)", s, OIDCCallbackPath)
	}
	return nil
}

// Validate checks one mapping rule: exactly one matcher (email; claim and
// value; claim and regex), a regex that compiles, at least one group id,
// no duplicate.
func (m GroupMapping) Validate() error {
	switch {
	case m.Email != "" && (m.Claim != "" || m.Value != "" || m.Regex != ""):
		return fieldErr("", "give either email, or claim with value or regex, not both")
	case m.Email != "":
		if len(m.Email) > 254 || strings.ContainsFunc(m.Email, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
			return fieldErr("email", "%q: must be an email glob of at most 254 characters without spaces (e.g. \"*@example.com\")", m.Email)
		}
	case m.Claim == "" && (m.Value != "" || m.Regex != ""):
		return fieldErr("claim", "value and regex need the claim they apply to")
	case m.Claim == "":
		return fieldErr("", "a rule needs a matcher: email, or claim with value or regex")
	default:
		if len(m.Claim) > 256 || strings.ContainsFunc(m.Claim, isControl) {
			return fieldErr("claim", "must be a claim name of at most 256 characters without control characters")
		}
		switch {
		case m.Value != "" && m.Regex != "":
			return fieldErr("", "give either value or regex with a claim, not both")
		case m.Value == "" && m.Regex == "":
			return fieldErr("", "a claim rule needs a value or a regex")
		case m.Value != "":
			if len(m.Value) > MaxMappingPatternLen || strings.ContainsFunc(m.Value, isControl) {
				return fieldErr("value", "must be at most %d characters without control characters", MaxMappingPatternLen)
			}
		default:
			if len(m.Regex) > MaxMappingPatternLen {
				return fieldErr("regex", "longer than %d characters", MaxMappingPatternLen)
			}
			if _, err := regexp.Compile(m.Regex); err != nil {
				return fieldErr("regex", "%q does not compile: %v", m.Regex, err)
			}
		}
	}
	if len(m.Groups) == 0 {
		return fieldErr("groups", "at least one group is required")
	}
	if len(m.Groups) > MaxGroupsPerMapping {
		return fieldErr("groups", "at most %d groups are allowed, got %d", MaxGroupsPerMapping, len(m.Groups))
	}
	if err := validateIDList(m.Groups); err != nil {
		return PrefixError("groups", err)
	}
	return nil
}

// ValidateGroupMappings validates every rule; field paths are "[i]..." so
// callers prefix them with the field name ("group_mappings").
func ValidateGroupMappings(ms []GroupMapping) error {
	if len(ms) > MaxGroupMappings {
		return fieldErr("", "at most %d rules are allowed, got %d", MaxGroupMappings, len(ms))
	}
	for i, m := range ms {
		if err := m.Validate(); err != nil {
			return PrefixError(fmt.Sprintf("[%d]", i), err)
		}
	}
	return nil
}
