package iam

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
)

// ErrInvalid is the sentinel of every validation failure. Validation errors
// are *FieldError values that match it with errors.Is.
var ErrInvalid = errors.New("invalid")

// FieldError is a validation failure of one field. Field is a path such as
// "permissions[2].resources[0]"; Msg says what is wrong with it.
type FieldError struct {
	Field string
	Msg   string
}

// Error implements error.
func (e *FieldError) Error() string {
	if e.Field == "" {
		return "invalid: " + e.Msg
	}
	return "invalid " + e.Field + ": " + e.Msg
}

// Is makes errors.Is(err, ErrInvalid) true for every *FieldError.
func (e *FieldError) Is(target error) bool { return target == ErrInvalid }

// Prefixed returns a copy of e whose field path is prefixed with prefix
// (joined by "." unless the path starts with an index).
func (e *FieldError) Prefixed(prefix string) *FieldError {
	switch {
	case e.Field == "":
		return &FieldError{Field: prefix, Msg: e.Msg}
	case prefix == "":
		return &FieldError{Field: e.Field, Msg: e.Msg}
	case strings.HasPrefix(e.Field, "["):
		return &FieldError{Field: prefix + e.Field, Msg: e.Msg}
	default:
		return &FieldError{Field: prefix + "." + e.Field, Msg: e.Msg}
	}
}

// PrefixError prefixes the field path of err when it is a *FieldError, and
// returns err unchanged otherwise (nil stays nil).
func PrefixError(prefix string, err error) error {
	var fe *FieldError
	if errors.As(err, &fe) {
		return fe.Prefixed(prefix)
	}
	return err
}

func fieldErr(field, format string, args ...any) *FieldError {
	return &FieldError{Field: field, Msg: fmt.Sprintf(format, args...)}
}

// Limits of validated fields.
const (
	MaxIDLen          = 64
	MaxNameLen        = 64
	MaxAccessKeyIDLen = 128
	MinAccessKeyIDLen = 3
	MaxSecretLen      = 128
	MinSecretLen      = 8
	MaxResourceLen    = 1024 + 64
	MaxRulesPerEntity = 1000
)

// ParseAction returns the Action named s ("read", "write", "delete", "list",
// "admin" or "*"), or a *FieldError.
func ParseAction(s string) (Action, error) {
	switch a := Action(s); a {
	case ActionRead, ActionWrite, ActionDelete, ActionList, ActionAdmin, ActionAll:
		return a, nil
	}
	return "", fieldErr("", "unknown action %q (want read, write, delete, list, admin or *)", s)
}

// Validate checks r: a known effect, at least one known action, at least one
// well-formed resource (see ValidateResource).
func (r Rule) Validate() error {
	if r.Effect != EffectAllow && r.Effect != EffectDeny {
		return fieldErr("effect", "must be %q or %q, got %q", EffectAllow, EffectDeny, r.Effect)
	}
	if len(r.Actions) == 0 {
		return fieldErr("actions", "at least one action is required")
	}
	for i, a := range r.Actions {
		if _, err := ParseAction(string(a)); err != nil {
			return PrefixError(fmt.Sprintf("actions[%d]", i), err)
		}
	}
	if len(r.Resources) == 0 {
		return fieldErr("resources", "at least one resource is required")
	}
	for i, res := range r.Resources {
		if err := ValidateResource(res); err != nil {
			return PrefixError(fmt.Sprintf("resources[%d]", i), err)
		}
	}
	return nil
}

// ValidateRules validates every rule; field paths are "[i]..." so callers
// prefix them with the field name (e.g. "permissions").
func ValidateRules(rules []Rule) error {
	if len(rules) > MaxRulesPerEntity {
		return fieldErr("", "at most %d rules are allowed, got %d", MaxRulesPerEntity, len(rules))
	}
	for i, r := range rules {
		if err := r.Validate(); err != nil {
			return PrefixError(fmt.Sprintf("[%d]", i), err)
		}
	}
	return nil
}

// ValidateResource checks a resource pattern: "*"; "bucket"; "bucket/key";
// or a prefix pattern ending in one "*" ("bucket/prefix*", "bucket/*",
// "buck*"). A "*" anywhere but at the end is refused, as are a leading "/",
// an empty bucket, "bucket/" (no key) and control characters.
func ValidateResource(res string) error {
	if res == "" {
		return fieldErr("", "must not be empty")
	}
	if len(res) > MaxResourceLen {
		return fieldErr("", "longer than %d bytes", MaxResourceLen)
	}
	if res == "*" {
		return nil
	}
	body, prefix := strings.CutSuffix(res, "*")
	if strings.Contains(body, "*") {
		return fieldErr("", "%q: '*' is only allowed as the last character", res)
	}
	for i := 0; i < len(body); i++ {
		if c := body[i]; c < 0x20 || c == 0x7f {
			return fieldErr("", "%q contains a control character", res)
		}
	}
	if strings.HasPrefix(body, "/") {
		return fieldErr("", "%q must start with a bucket name, not '/'", res)
	}
	bucket, key, hasKey := strings.Cut(body, "/")
	if bucket == "" {
		return fieldErr("", "%q has an empty bucket name", res)
	}
	for i := 0; i < len(bucket); i++ {
		c := bucket[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_') {
			return fieldErr("", "%q: bucket name contains %q (allowed: letters, digits, '.', '-', '_')", res, c)
		}
	}
	if hasKey && key == "" && !prefix {
		return fieldErr("", "%q names no object: use %q for the bucket or %q for its objects", res, bucket, bucket+"/*")
	}
	return nil
}

// ValidateID checks an entity id: 1-64 letters, digits and . _ @ + = , -
// (generated ids are 16 hex characters; declared ones may reuse a name).
func ValidateID(id string) error {
	if id == "" {
		return fieldErr("", "must not be empty")
	}
	if len(id) > MaxIDLen {
		return fieldErr("", "longer than %d characters", MaxIDLen)
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("._@+=,-", c) >= 0) {
			return fieldErr("", "%q: only letters, digits and . _ @ + = , - are allowed", id)
		}
	}
	return nil
}

// ValidateName checks a user, group or provider name: 1-64 letters,
// digits and . _ @ + = , - starting with a letter or digit (the same rule
// as declarative IAM in the config file).
func ValidateName(name string) error {
	if name == "" {
		return fieldErr("", "must not be empty")
	}
	if len(name) > MaxNameLen {
		return fieldErr("", "%q: longer than %d characters", name, MaxNameLen)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		if !alnum && (i == 0 || strings.IndexByte("._@+=,-", c) < 0) {
			return fieldErr("", "%q: use 1-%d letters, digits and . _ @ + = , -, starting with a letter or digit", name, MaxNameLen)
		}
	}
	return nil
}

// ValidateAccessKeyID checks an access key id: 3-128 characters of
// [A-Za-z0-9._-]. Generated ids (NewAccessKeyID) always pass.
func ValidateAccessKeyID(id string) error {
	if len(id) < MinAccessKeyIDLen || len(id) > MaxAccessKeyIDLen {
		return fieldErr("", "must be %d-%d characters long", MinAccessKeyIDLen, MaxAccessKeyIDLen)
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return fieldErr("", "only letters, digits, '.', '_' and '-' are allowed")
		}
	}
	return nil
}

// ValidateSecretAccessKey checks a secret: 8-128 printable ASCII characters
// without spaces. The message never contains the secret.
func ValidateSecretAccessKey(s string) error {
	if len(s) < MinSecretLen || len(s) > MaxSecretLen {
		return fieldErr("", "must be %d-%d characters long", MinSecretLen, MaxSecretLen)
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= 0x20 || c >= 0x7f {
			return fieldErr("", "only printable ASCII characters without spaces are allowed")
		}
	}
	return nil
}

// Validate checks the user's own fields (not its references to groups).
func (u User) Validate() error {
	if err := ValidateID(u.ID); err != nil {
		return PrefixError("id", err)
	}
	if err := ValidateName(u.Name); err != nil {
		return PrefixError("name", err)
	}
	if err := ValidateAccessKeyID(u.AccessKeyID); err != nil {
		return PrefixError("access_key_id", err)
	}
	if err := ValidateSecretAccessKey(u.SecretAccessKey); err != nil {
		return PrefixError("secret_access_key", err)
	}
	if err := ValidateRules(u.Permissions); err != nil {
		return PrefixError("permissions", err)
	}
	if err := validateIDList(u.GroupIDs); err != nil {
		return PrefixError("group_ids", err)
	}
	return nil
}

// Validate checks the group's own fields (not its references to users).
func (g Group) Validate() error {
	if err := ValidateID(g.ID); err != nil {
		return PrefixError("id", err)
	}
	if err := ValidateName(g.Name); err != nil {
		return PrefixError("name", err)
	}
	if err := validateText(g.Description, 1024); err != nil {
		return PrefixError("description", err)
	}
	if err := ValidateRules(g.Permissions); err != nil {
		return PrefixError("permissions", err)
	}
	if err := validateIDList(g.MemberIDs); err != nil {
		return PrefixError("member_ids", err)
	}
	return nil
}

// Validate checks the provider's fields: id, name, a lowercase type token,
// an absolute http(s) issuer URL when set, printable client id, secret,
// scopes and display name, a redirect URL ending in OIDCCallbackPath when
// set, and valid group mapping rules (GroupMapping.Validate; whether their
// groups exist is the config DB's check).
func (p AuthProvider) Validate() error {
	if err := ValidateID(p.ID); err != nil {
		return PrefixError("id", err)
	}
	if err := ValidateName(p.Name); err != nil {
		return PrefixError("name", err)
	}
	if p.Type == "" || len(p.Type) > 32 || strings.TrimLeft(p.Type, "abcdefghijklmnopqrstuvwxyz0123456789_-") != "" {
		return fieldErr("type", "%q: must be 1-32 characters of [a-z0-9_-] (e.g. \"oidc\")", p.Type)
	}
	if p.IssuerURL != "" {
		u, err := url.Parse(p.IssuerURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return fieldErr("issuer_url", "%q: must be an absolute http(s) URL", p.IssuerURL)
		}
	}
	if err := validateText(p.ClientID, 512); err != nil {
		return PrefixError("client_id", err)
	}
	if len(p.ClientSecret) > 1024 || strings.ContainsFunc(p.ClientSecret, isControl) {
		return fieldErr("client_secret", "must be at most 1024 characters without control characters")
	}
	seen := make(map[string]bool, len(p.Scopes))
	for i, s := range p.Scopes {
		if s == "" || len(s) > 128 || strings.ContainsFunc(s, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
			return fieldErr(fmt.Sprintf("scopes[%d]", i), "%q: must be 1-128 characters without spaces", s)
		}
		if seen[s] {
			return fieldErr(fmt.Sprintf("scopes[%d]", i), "duplicate scope %q", s)
		}
		seen[s] = true
	}
	if err := validateText(p.DisplayName, 128); err != nil {
		return PrefixError("display_name", err)
	}
	if p.RedirectURL != "" {
		if err := ValidateRedirectURL(p.RedirectURL); err != nil {
			return PrefixError("redirect_url", err)
		}
	}
	if err := ValidateGroupMappings(p.GroupMappings); err != nil {
		return PrefixError("group_mappings", err)
	}
	return nil
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

func validateText(s string, maxLen int) error {
	if len(s) > maxLen {
		return fieldErr("", "longer than %d characters", maxLen)
	}
	if strings.ContainsFunc(s, isControl) {
		return fieldErr("", "contains a control character")
	}
	return nil
}

func validateIDList(ids []string) error {
	var seen map[string]bool // short lists are searched instead
	if len(ids) > 16 {
		seen = make(map[string]bool, len(ids))
	}
	for i, id := range ids {
		if err := ValidateID(id); err != nil {
			return PrefixError(fmt.Sprintf("[%d]", i), err)
		}
		dup := seen[id]
		if seen == nil {
			dup = slices.Contains(ids[:i], id)
		}
		if dup {
			return fieldErr(fmt.Sprintf("[%d]", i), "duplicate id %q", id)
		}
		if seen != nil {
			seen[id] = true
		}
	}
	return nil
}
