package iam

import (
	"encoding/json"
	"errors"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

// claimsOf decodes a JSON object as the sign-in code gets ID-token claims:
// encoding/json into map[string]any (arrays are []any, numbers float64).
func claimsOf(t *testing.T, s string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestMapGroupsMatchers(t *testing.T) {
	email := func(glob string) GroupMapping { return GroupMapping{Email: glob, Groups: []string{"g"}} }
	value := func(claim, v string) GroupMapping { return GroupMapping{Claim: claim, Value: v, Groups: []string{"g"}} }
	regex := func(claim, re string) GroupMapping {
		return GroupMapping{Claim: claim, Regex: re, Groups: []string{"g"}}
	}
	tests := []struct {
		name   string
		rule   GroupMapping
		claims string
		want   bool
	}{
		{"email glob", email("*@example.com"), `{"email":"ann@example.com","email_verified":true}`, true},
		{"email glob, other domain", email("*@example.com"), `{"email":"ann@example.org"}`, false},
		{"email glob, subdomain is not the domain", email("*@example.com"), `{"email":"ann@evil-example.com"}`, false},
		{"email glob is case-insensitive", email("*@Example.COM"), `{"email":"Ann@EXAMPLE.com"}`, true},
		{"email exact", email("ann@example.com"), `{"email":"ann@example.com"}`, true},
		{"email exact, longer address", email("ann@example.com"), `{"email":"ann@example.com.evil"}`, false},
		{"email, several stars", email("a*n@*.example.com"), `{"email":"ann@mail.example.com"}`, true},
		{"email, '?' is literal", email("a?n@example.com"), `{"email":"ann@example.com"}`, false},
		{"email not verified (bool)", email("*@example.com"), `{"email":"ann@example.com","email_verified":false}`, false},
		{"email not verified (string)", email("*@example.com"), `{"email":"ann@example.com","email_verified":"False"}`, false},
		{"email verified (string)", email("*@example.com"), `{"email":"ann@example.com","email_verified":"true"}`, true},
		{"email_verified absent", email("*@example.com"), `{"email":"ann@example.com"}`, true},
		{"no email claim", email("*"), `{"sub":"x"}`, false},
		{"empty email claim", email("*"), `{"email":""}`, false},
		{"email claim not a string", email("*"), `{"email":["ann@example.com"]}`, false},

		{"value on string claim", value("department", "ops"), `{"department":"ops"}`, true},
		{"value is exact", value("department", "ops"), `{"department":"ops-team"}`, false},
		{"value is case-sensitive", value("department", "ops"), `{"department":"OPS"}`, false},
		{"value in array claim", value("groups", "dgp-admins"), `{"groups":["users","dgp-admins"]}`, true},
		{"value not in array claim", value("groups", "dgp-admins"), `{"groups":["users"]}`, false},
		{"array of mixed types", value("groups", "a"), `{"groups":[1,null,{"a":"a"},"a"]}`, true},
		{"number claim never matches", value("level", "3"), `{"level":3}`, false},
		{"bool claim never matches", value("admin", "true"), `{"admin":true}`, false},
		{"object claim never matches", value("org", "x"), `{"org":{"name":"x"}}`, false},
		{"null claim never matches", value("org", "x"), `{"org":null}`, false},
		{"absent claim", value("org", "x"), `{}`, false},
		{"claim name with dots is literal", value("https://example.com/roles", "admin"), `{"https://example.com/roles":["admin"]}`, true},
		{"claim name is not a path", value("org.name", "x"), `{"org":{"name":"x"}}`, false},

		{"regex on string claim", regex("hd", `^example\.com$`), `{"hd":"example.com"}`, true},
		{"regex is not anchored for the author", regex("hd", `example\.com`), `{"hd":"notexample.com.evil"}`, true},
		{"anchored regex", regex("hd", `^example\.com$`), `{"hd":"notexample.com"}`, false},
		{"regex on array elements", regex("groups", `^team-(ops|dev)$`), `{"groups":["x","team-dev"]}`, true},
		{"regex on no element", regex("groups", `^team-(ops|dev)$`), `{"groups":["team-devs"]}`, false},
		{"regex never matches a number", regex("n", `.*`), `{"n":1}`, false},
		{"bad regex never matches", regex("hd", `(`), `{"hd":"("}`, false},

		{"no matcher never matches", GroupMapping{Groups: []string{"g"}}, `{"email":"a@b"}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := AuthProvider{GroupMappings: []GroupMapping{tt.rule}}
			got := MapGroups(p, claimsOf(t, tt.claims))
			if want := []string{"g"}; tt.want != slices.Equal(got, want) || !tt.want && got != nil {
				t.Fatalf("MapGroups = %q, want match %v", got, tt.want)
			}
		})
	}
}

func TestMapGroupsStringSliceClaim(t *testing.T) {
	p := AuthProvider{GroupMappings: []GroupMapping{
		{Claim: "roles", Value: "admin", Groups: []string{"a"}},
		{Claim: "roles", Regex: "^dev", Groups: []string{"d"}},
	}}
	got := MapGroups(p, map[string]any{"roles": []string{"developer", "admin"}})
	if !slices.Equal(got, []string{"a", "d"}) {
		t.Fatalf("MapGroups = %q", got)
	}
}

func TestMapGroupsUnionSortedDeduplicated(t *testing.T) {
	p := AuthProvider{GroupMappings: []GroupMapping{
		{Email: "*@example.com", Groups: []string{"zeta", "alpha"}},
		{Claim: "groups", Value: "ops", Groups: []string{"ops", "alpha"}},
		{Claim: "groups", Value: "nobody", Groups: []string{"never"}},
		{Claim: "hd", Regex: "^example", Groups: []string{"zeta"}},
	}}
	got := MapGroups(p, claimsOf(t, `{"email":"a@example.com","groups":["ops"],"hd":"example.com"}`))
	if want := []string{"alpha", "ops", "zeta"}; !slices.Equal(got, want) {
		t.Fatalf("MapGroups = %q, want %q", got, want)
	}
	if got := MapGroups(p, claimsOf(t, `{"email":"a@other.org"}`)); got != nil {
		t.Fatalf("no rule matches: %q, want nil", got)
	}
	if got := MapGroups(AuthProvider{}, nil); got != nil {
		t.Fatalf("no rules: %q", got)
	}
	// The provider's lists are not modified.
	if !slices.Equal(p.GroupMappings[0].Groups, []string{"zeta", "alpha"}) {
		t.Fatalf("rule groups modified: %q", p.GroupMappings[0].Groups)
	}
}

func TestGlobMatch(t *testing.T) {
	for _, tt := range []struct {
		pattern, s string
		want       bool
	}{
		{"", "", true}, {"", "a", false}, {"*", "", true}, {"*", "anything", true}, {"**", "x", true},
		{"a*", "a", true}, {"a*", "ab", true}, {"a*", "ba", false}, {"*a", "ba", true}, {"*a", "ab", false},
		{"*@x.com", "@x.com", true}, {"*@x.com", "a@x.co", false}, {"a*b*c", "abc", true}, {"a*b*c", "aXbYc", true},
		{"a*b*c", "aXbY", false}, {"a*a*a*a*b", strings.Repeat("a", 200), false}, {"a.b", "aXb", false},
	} {
		if got := globMatch(tt.pattern, tt.s); got != tt.want {
			t.Errorf("globMatch(%q, %q) = %v, want %v", tt.pattern, tt.s, got, tt.want)
		}
	}
}

func TestGroupsGrantAdmin(t *testing.T) {
	rule := func(e Effect, actions []Action, res ...string) Rule {
		return Rule{Effect: e, Actions: actions, Resources: res}
	}
	groups := map[string]Group{
		"admins":   {ID: "admins", Permissions: []Rule{rule(EffectAllow, []Action{ActionAdmin}, "*")}},
		"all":      {ID: "all", Permissions: []Rule{rule(EffectAllow, []Action{ActionAll}, "*")}},
		"bucket":   {ID: "bucket", Permissions: []Rule{rule(EffectAllow, []Action{ActionAdmin}, "b")}},
		"readers":  {ID: "readers", Permissions: []Rule{rule(EffectAllow, []Action{ActionRead, ActionList}, "*")}},
		"denied":   {ID: "denied", Permissions: []Rule{rule(EffectDeny, []Action{ActionAdmin}, "*")}},
		"denyread": {ID: "denyread", Permissions: []Rule{rule(EffectDeny, []Action{ActionRead}, "*")}},
	}
	lookup := func(id string) (Group, bool) { g, ok := groups[id]; return g, ok }
	for _, tt := range []struct {
		ids  []string
		want bool
	}{
		{nil, false},
		{[]string{"admins"}, true},
		{[]string{"all"}, true},
		{[]string{"bucket"}, false},
		{[]string{"readers"}, false},
		{[]string{"ghost"}, false},
		{[]string{"ghost", "admins"}, true},
		{[]string{"admins", "denied"}, false},
		{[]string{"denied", "all"}, false},
		{[]string{"admins", "denyread"}, true},
	} {
		if got := GroupsGrantAdmin(tt.ids, lookup); got != tt.want {
			t.Errorf("GroupsGrantAdmin(%q) = %v, want %v", tt.ids, got, tt.want)
		}
	}
}

func TestValidateGroupMappings(t *testing.T) {
	g := []string{"g1"}
	tests := []struct {
		name    string
		m       GroupMapping
		field   string // "" = valid
		message string
	}{
		{"email", GroupMapping{Email: "*@example.com", Groups: g}, "", ""},
		{"claim value", GroupMapping{Claim: "groups", Value: "ops", Groups: g}, "", ""},
		{"claim regex", GroupMapping{Claim: "groups", Regex: "^ops$", Groups: []string{"g1", "g2"}}, "", ""},
		{"no matcher", GroupMapping{Groups: g}, "[0]", "needs a matcher"},
		{"email and claim", GroupMapping{Email: "*", Claim: "c", Value: "v", Groups: g}, "[0]", "not both"},
		{"email and value", GroupMapping{Email: "*", Value: "v", Groups: g}, "[0]", "not both"},
		{"value without claim", GroupMapping{Value: "v", Groups: g}, "[0].claim", "need the claim"},
		{"regex without claim", GroupMapping{Regex: "v", Groups: g}, "[0].claim", "need the claim"},
		{"claim alone", GroupMapping{Claim: "c", Groups: g}, "[0]", "value or a regex"},
		{"value and regex", GroupMapping{Claim: "c", Value: "v", Regex: "r", Groups: g}, "[0]", "not both"},
		{"bad regex", GroupMapping{Claim: "c", Regex: "a(b", Groups: g}, "[0].regex", "does not compile"},
		{"perl regex", GroupMapping{Claim: "c", Regex: `(?=x)`, Groups: g}, "[0].regex", "does not compile"},
		{"long regex", GroupMapping{Claim: "c", Regex: strings.Repeat("a", MaxMappingPatternLen+1), Groups: g}, "[0].regex", "longer"},
		{"email with space", GroupMapping{Email: "a b@example.com", Groups: g}, "[0].email", "without spaces"},
		{"claim with control", GroupMapping{Claim: "a\nb", Value: "v", Groups: g}, "[0].claim", "control"},
		{"value with control", GroupMapping{Claim: "c", Value: "a\x00", Groups: g}, "[0].value", "control"},
		{"no group", GroupMapping{Email: "*"}, "[0].groups", "at least one"},
		{"bad group id", GroupMapping{Email: "*", Groups: []string{"a b"}}, "[0].groups[0]", "only letters"},
		{"duplicate group", GroupMapping{Email: "*", Groups: []string{"g1", "g1"}}, "[0].groups[1]", "duplicate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidateGroupMappings([]GroupMapping{tt.m})
			if tt.field == "" {
				if err != nil {
					t.Fatalf("valid rule refused: %v", err)
				}
				return
			}
			var fe *FieldError
			if !errors.As(err, &fe) || !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v, want a *FieldError", err)
			}
			if fe.Field != tt.field || !strings.Contains(fe.Msg, tt.message) {
				t.Fatalf("error field %q msg %q, want field %q containing %q", fe.Field, fe.Msg, tt.field, tt.message)
			}
		})
	}
	many := make([]GroupMapping, MaxGroupMappings+1)
	for i := range many {
		many[i] = GroupMapping{Email: "*", Groups: g}
	}
	if err := ValidateGroupMappings(many); err == nil {
		t.Fatal("accepted more than MaxGroupMappings rules")
	}
}

func TestProviderValidateNewFields(t *testing.T) {
	base := AuthProvider{ID: "p1", Name: "corp", Type: "oidc"}
	for _, tt := range []struct {
		url   string
		valid bool
	}{
		{"", true},
		{"https://dgp.example.com/_/api/admin/oidc/callback", true},
		{"http://127.0.0.1:8080/_/api/admin/oidc/callback", true},
		{"https://example.com/proxy/dgp/_/api/admin/oidc/callback", true},
		{"https://dgp.example.com/_/api/admin/oidc/callback/", false},
		{"https://dgp.example.com/callback", false},
		{"https://dgp.example.com/_/api/admin/oidc/callback?x=1", false},
		{"https://dgp.example.com/_/api/admin/oidc/callback#f", false},
		{"https://user:pw@dgp.example.com/_/api/admin/oidc/callback", false},
		{"ftp://dgp.example.com/_/api/admin/oidc/callback", false},
		{"/_/api/admin/oidc/callback", false},
		{"https:///_/api/admin/oidc/callback", false},
	} {
		p := base
		p.RedirectURL = tt.url
		err := p.Validate()
		if (err == nil) != tt.valid {
			t.Errorf("redirect_url %q: error %v, want valid %v", tt.url, err, tt.valid)
		}
		var fe *FieldError
		if err != nil && (!errors.As(err, &fe) || fe.Field != "redirect_url") {
			t.Errorf("redirect_url %q: error %v, want field redirect_url", tt.url, err)
		}
	}
	p := base
	p.GroupMappings = []GroupMapping{{Email: "*", Groups: []string{"g"}}, {Claim: "c", Regex: "(", Groups: []string{"g"}}}
	var fe *FieldError
	if err := p.Validate(); !errors.As(err, &fe) || fe.Field != "group_mappings[1].regex" {
		t.Fatalf("error %v, want field group_mappings[1].regex", err)
	}
}

func TestProviderCloneCopiesMappings(t *testing.T) {
	p := AuthProvider{GroupMappings: []GroupMapping{{Email: "*", Groups: []string{"a"}}}}
	c := p.Clone()
	c.GroupMappings[0].Groups[0] = "changed"
	c.GroupMappings[0].Email = "x"
	if p.GroupMappings[0].Groups[0] != "a" || p.GroupMappings[0].Email != "*" {
		t.Fatal("Clone shares the mapping rules")
	}
}

// FuzzGlobMatch compares globMatch with a reference: the glob turned into
// an anchored regular expression ('*' = "(?s:.*)", the rest quoted).
func FuzzGlobMatch(f *testing.F) {
	for _, s := range [][2]string{{"*@example.com", "a@example.com"}, {"a*b*c", "aXbYc"}, {"**", ""}, {"*.*", "a.b.c"}, {"x*", "\xff"}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, pattern, s string) {
		if len(pattern) > 64 || len(s) > 256 {
			return
		}
		parts := strings.Split(pattern, "*")
		for i, p := range parts {
			parts[i] = regexp.QuoteMeta(p)
		}
		re, err := regexp.Compile(`^(?s:` + strings.Join(parts, ".*") + `)$`)
		if err != nil || !utf8.ValidString(pattern) || !utf8.ValidString(s) {
			return // the reference works on UTF-8 text
		}
		if got, want := globMatch(pattern, s), re.MatchString(s); got != want {
			t.Fatalf("globMatch(%q, %q) = %v, reference %v", pattern, s, got, want)
		}
	})
}
