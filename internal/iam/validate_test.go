package iam

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestValidateResource(t *testing.T) {
	valid := []string{"*", "b", "b/*", "b/k", "b/dir/", "b/dir/*", "b/log*", "team-*", "my.bucket_1/a b/c*"}
	for _, r := range valid {
		if err := ValidateResource(r); err != nil {
			t.Errorf("ValidateResource(%q) = %v, want nil", r, err)
		}
	}
	invalid := []string{"", "**", "b/*/x", "*b", "b*/", "b/a*b", "/b/k", "b/", "/", "/*", "s3://b", "b\x00/k", "b/k\n", "b c/k",
		strings.Repeat("a", MaxResourceLen+1)}
	for _, r := range invalid {
		err := ValidateResource(r)
		if err == nil {
			t.Errorf("ValidateResource(%q) = nil, want error", r)
			continue
		}
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("ValidateResource(%q) error %v does not match ErrInvalid", r, err)
		}
	}
}

func TestRuleValidate(t *testing.T) {
	tests := []struct {
		rule  Rule
		field string // "" = valid
	}{
		{Rule{Effect: EffectAllow, Actions: []Action{ActionRead}, Resources: []string{"b/*"}}, ""},
		{Rule{Effect: EffectDeny, Actions: []Action{ActionAll}, Resources: []string{"*"}}, ""},
		{Rule{Effect: "allow", Actions: []Action{ActionRead}, Resources: []string{"b"}}, "effect"},
		{Rule{Effect: EffectAllow, Resources: []string{"b"}}, "actions"},
		{Rule{Effect: EffectAllow, Actions: []Action{ActionRead, "Write"}, Resources: []string{"b"}}, "actions[1]"},
		{Rule{Effect: EffectAllow, Actions: []Action{ActionRead}}, "resources"},
		{Rule{Effect: EffectAllow, Actions: []Action{ActionRead}, Resources: []string{"b", "x*y"}}, "resources[1]"},
	}
	for _, tt := range tests {
		err := tt.rule.Validate()
		if tt.field == "" {
			if err != nil {
				t.Errorf("%+v: %v", tt.rule, err)
			}
			continue
		}
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Field != tt.field {
			t.Errorf("%+v: err = %v, want field %q", tt.rule, err, tt.field)
		}
	}
	err := ValidateRules([]Rule{{Effect: EffectAllow, Actions: []Action{ActionRead}, Resources: []string{"b"}}, {Effect: "x"}})
	var fe *FieldError
	if !errors.As(PrefixError("permissions", err), &fe) || fe.Field != "permissions[1].effect" {
		t.Errorf("ValidateRules prefix: %v", err)
	}
}

func TestUserGroupProviderValidate(t *testing.T) {
	good := User{ID: NewID(), Name: "alice", AccessKeyID: NewAccessKeyID(), SecretAccessKey: NewSecretAccessKey(), Enabled: true, CreatedAt: time.Now()}
	if err := good.Validate(); err != nil {
		t.Fatalf("valid user: %v", err)
	}
	userCases := map[string]func(u *User){
		"id":                func(u *User) { u.ID = "a/b" },
		"name":              func(u *User) { u.Name = "" },
		"access_key_id":     func(u *User) { u.AccessKeyID = "A/B" },
		"secret_access_key": func(u *User) { u.SecretAccessKey = "short" },
		"permissions[0].effect": func(u *User) {
			u.Permissions = []Rule{{Effect: "maybe"}}
		},
		"group_ids[1]": func(u *User) { u.GroupIDs = []string{"g1", "g1"} },
		"group_ids[20]": func(u *User) { // a long list (indexed by a map)
			for i := range 20 {
				u.GroupIDs = append(u.GroupIDs, fmt.Sprintf("g%d", i))
			}
			u.GroupIDs = append(u.GroupIDs, "g7")
		},
	}
	for field, mutate := range userCases {
		u := good.Clone()
		mutate(&u)
		var fe *FieldError
		if err := u.Validate(); !errors.As(err, &fe) || fe.Field != field {
			t.Errorf("user %s: err = %v", field, err)
		} else if strings.Contains(err.Error(), good.SecretAccessKey) {
			t.Errorf("error leaks the secret: %v", err)
		}
	}
	g := Group{ID: "g1", Name: "team", Description: "x\ny"}
	var fe *FieldError
	if err := g.Validate(); !errors.As(err, &fe) || fe.Field != "description" {
		t.Errorf("group description: %v", err)
	}
	p := AuthProvider{ID: "p1", Name: "google", Type: "oidc", IssuerURL: "https://accounts.google.com", Scopes: []string{"openid", "email"}}
	if err := p.Validate(); err != nil {
		t.Fatalf("valid provider: %v", err)
	}
	for field, mutate := range map[string]func(p *AuthProvider){
		"type":       func(p *AuthProvider) { p.Type = "OIDC" },
		"issuer_url": func(p *AuthProvider) { p.IssuerURL = "accounts.google.com" },
		"scopes[1]":  func(p *AuthProvider) { p.Scopes = []string{"a", "a"} },
	} {
		q := p.Clone()
		mutate(&q)
		if err := q.Validate(); !errors.As(err, &fe) || fe.Field != field {
			t.Errorf("provider %s: err = %v", field, err)
		}
	}
}

func TestGeneratedKeys(t *testing.T) {
	seen := map[string]bool{}
	for range 200 {
		id, ak, sk := NewID(), NewAccessKeyID(), NewSecretAccessKey()
		if len(id) != 16 || strings.Trim(id, "0123456789abcdef") != "" {
			t.Fatalf("NewID = %q", id)
		}
		if len(ak) != AccessKeyIDLen || strings.Trim(ak, accessKeyAlphabet) != "" {
			t.Fatalf("NewAccessKeyID = %q", ak)
		}
		if len(sk) != SecretAccessKeyLen || strings.Trim(sk, secretAlphabet) != "" {
			t.Fatalf("NewSecretAccessKey has wrong shape")
		}
		if err := ValidateAccessKeyID(ak); err != nil {
			t.Fatal(err)
		}
		if err := ValidateSecretAccessKey(sk); err != nil {
			t.Fatal(err)
		}
		for _, v := range []string{id, ak, sk} {
			if seen[v] {
				t.Fatalf("duplicate random value %q", v)
			}
			seen[v] = true
		}
	}
}

func TestRandomStringUsesWholeAlphabet(t *testing.T) {
	counts := map[byte]int{}
	for range 200 {
		for _, c := range []byte(NewAccessKeyID()) {
			counts[c]++
		}
	}
	if len(counts) != len(accessKeyAlphabet) {
		t.Errorf("4000 generated characters used %d of %d symbols", len(counts), len(accessKeyAlphabet))
	}
}

func TestValidateName(t *testing.T) {
	for _, n := range []string{"alice", "a", "svc.backup-01", "first.last@example.com", "x+y=z,w", strings.Repeat("a", MaxNameLen)} {
		if err := ValidateName(n); err != nil {
			t.Errorf("ValidateName(%q) = %v", n, err)
		}
	}
	for _, n := range []string{"", "-lead", ".lead", "has space", "tab\t", "slash/", "ü", strings.Repeat("a", MaxNameLen+1)} {
		if err := ValidateName(n); !errors.Is(err, ErrInvalid) {
			t.Errorf("ValidateName(%q) = %v, want ErrInvalid", n, err)
		}
	}
}
