package config

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	dgpiam "github.com/dgp-proxy/dgp/internal/iam"
)

// iamKeyID is what declared IAM users' access key ids look like.
var iamKeyID = regexp.MustCompile(`^[A-Z0-9]{16,128}$`)

// ruleActions are the actions a permission rule may name.
var ruleActions = []string{"read", "write", "delete", "list", "admin", "*"}

func (c *Config) validateIAM(v *collector) {
	iam := &c.Access.IAM
	declared := len(iam.Users)+len(iam.Groups)+len(iam.AuthProviders) > 0
	if c.Access.IAMMode == IAMModeGUI && declared {
		v.add("access.iam", "only used with access.iam_mode: declarative (in gui mode IAM is managed through the admin API)")
	}
	if c.Access.IAMMode == IAMModeDeclarative && len(iam.Users) == 0 && !c.Access.IAMAllowEmpty {
		v.add("access.iam.users", "declarative IAM with no users; set access.iam_allow_empty: true if that is intended")
	}

	groups := map[string]bool{}
	for i, g := range iam.Groups {
		p := fmt.Sprintf("access.iam.groups[%d]", i)
		if checkName(v, p+".name", g.Name) {
			if groups[g.Name] {
				v.add(p+".name", fmt.Sprintf("group %s is declared more than once", strconv.Quote(g.Name)))
			}
			groups[g.Name] = true
		}
		checkRules(v, p+".permissions", g.Permissions)
	}

	users := map[string]bool{}
	keys := map[string]string{}
	if c.Access.AccessKeyID != "" {
		keys[c.Access.AccessKeyID] = "access.access_key_id"
	}
	for i, u := range iam.Users {
		p := fmt.Sprintf("access.iam.users[%d]", i)
		if checkName(v, p+".name", u.Name) {
			if users[u.Name] {
				v.add(p+".name", fmt.Sprintf("user %s is declared more than once", strconv.Quote(u.Name)))
			}
			users[u.Name] = true
		}
		if pair(v, p+".access_key_id", u.AccessKeyID, p+".secret_access_key", u.SecretAccessKey) {
			if !iamKeyID.MatchString(u.AccessKeyID) {
				v.add(p+".access_key_id", "must be 16-128 uppercase letters and digits")
			} else if other, dup := keys[u.AccessKeyID]; dup {
				v.add(p+".access_key_id", "already used by "+other)
			} else {
				keys[u.AccessKeyID] = p + ".access_key_id"
			}
			if len(u.SecretAccessKey) < minSecretLen {
				v.add(p+".secret_access_key", fmt.Sprintf("must be at least %d characters", minSecretLen))
			}
		}
		for j, g := range u.Groups {
			if !groups[g] {
				v.add(fmt.Sprintf("%s.groups[%d]", p, j), fmt.Sprintf("no group named %s in access.iam.groups", strconv.Quote(g)))
			}
		}
		checkRules(v, p+".permissions", u.Permissions)
	}

	providers := map[string]bool{}
	for i, ap := range iam.AuthProviders {
		p := fmt.Sprintf("access.iam.auth_providers[%d]", i)
		if checkName(v, p+".name", ap.Name) {
			if providers[ap.Name] {
				v.add(p+".name", fmt.Sprintf("provider %s is declared more than once", strconv.Quote(ap.Name)))
			}
			providers[ap.Name] = true
		}
		if ap.Type == "" {
			v.add(p+".type", "required (oidc)")
		} else {
			oneOf(v, p+".type", ap.Type, "oidc")
		}
		if ap.IssuerURL == "" {
			v.add(p+".issuer_url", "required")
		} else {
			checkURL(v, p+".issuer_url", ap.IssuerURL, "https", "http")
		}
		if ap.ClientID == "" {
			v.add(p+".client_id", "required")
		}
		if len(ap.Scopes) > 0 && !slices.Contains(ap.Scopes, "openid") {
			v.add(p+".scopes", "must include openid")
		}
		if ap.RedirectURL != "" {
			if err := dgpiam.ValidateRedirectURL(ap.RedirectURL); err != nil {
				v.add(p+".redirect_url", fieldMsg(err))
			}
		}
		checkMappings(v, p+".group_mappings", ap.GroupMappings, groups)
	}
}

// checkMappings validates group mapping rules as the config DB does
// (groups are names of declared groups here, ids there).
func checkMappings(v *collector, path string, ms []GroupMapping, groups map[string]bool) {
	if len(ms) > dgpiam.MaxGroupMappings {
		v.add(path, fmt.Sprintf("at most %d rules are allowed, got %d", dgpiam.MaxGroupMappings, len(ms)))
		return
	}
	for i, m := range ms {
		p := fmt.Sprintf("%s[%d]", path, i)
		rule := dgpiam.GroupMapping{Email: m.Email, Claim: m.Claim, Value: m.Value, Regex: m.Regex, Groups: m.Groups}
		if err := rule.Validate(); err != nil {
			var fe *dgpiam.FieldError
			if errors.As(err, &fe) && fe.Field != "" {
				p += "." + fe.Field
			}
			v.add(p, fieldMsg(err))
			continue
		}
		for j, g := range m.Groups {
			if !groups[g] {
				v.add(fmt.Sprintf("%s.groups[%d]", p, j), fmt.Sprintf("no group named %s in access.iam.groups", strconv.Quote(g)))
			}
		}
	}
}

// fieldMsg is the message of a validation error without its field path.
func fieldMsg(err error) string {
	var fe *dgpiam.FieldError
	if errors.As(err, &fe) {
		return fe.Msg
	}
	return err.Error()
}

// checkRules validates permission rules.
func checkRules(v *collector, path string, rules []Rule) {
	for i, r := range rules {
		p := fmt.Sprintf("%s[%d]", path, i)
		if r.Effect == "" {
			v.add(p+".effect", "required (Allow or Deny)")
		} else {
			oneOf(v, p+".effect", r.Effect, "Allow", "Deny")
		}
		if len(r.Actions) == 0 {
			v.add(p+".actions", "at least one action is required")
		}
		for j, a := range r.Actions {
			oneOf(v, fmt.Sprintf("%s.actions[%d]", p, j), a, ruleActions...)
		}
		if len(r.Resources) == 0 {
			v.add(p+".resources", `at least one resource is required (e.g. "bucket/prefix*" or "*")`)
		}
		for j, res := range r.Resources {
			if problem := resourceProblem(res); problem != "" {
				v.add(fmt.Sprintf("%s.resources[%d]", p, j), problem)
			}
		}
	}
}

// resourceProblem describes why res is not a "bucket/prefix*" pattern, or
// returns "".
func resourceProblem(res string) string {
	q := strconv.Quote(res)
	switch {
	case res == "":
		return "must not be empty"
	case strings.HasPrefix(res, "/"):
		return q + ` must start with a bucket name, e.g. "bucket/prefix*"`
	case strings.ContainsFunc(res, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		return q + " contains control characters"
	case strings.Contains(strings.TrimSuffix(res, "*"), "*"):
		return q + ": '*' is only allowed at the end"
	}
	return ""
}
