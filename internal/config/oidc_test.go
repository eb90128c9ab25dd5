package config

import (
	"strings"
	"testing"
)

// oidcIAM declares a provider with a redirect URL, group mapping rules of
// every kind, and its client secret from the environment.
const oidcIAM = `
access:
  iam_mode: declarative
  iam:
    groups:
      - name: admins
        permissions:
          - {effect: Allow, actions: [admin], resources: ["*"]}
      - name: readers
        permissions:
          - {effect: Allow, actions: [read, list], resources: ["*"]}
    users:
      - name: alice
        access_key_id: AKIAALICE0000001
        secret_access_key: alice-secret
    auth_providers:
      - name: corp
        type: oidc
        issuer_url: https://login.example.com/realms/corp
        client_id: dgp
        client_secret: ${OIDC_SECRET}
        redirect_url: https://dgp.example.com/_/api/admin/oidc/callback
        group_mappings:
          - email: "*@example.com"
            groups: [readers]
          - claim: groups
            value: dgp-admins
            groups: [admins, readers]
          - claim: hd
            regex: '^example\.com$'
            groups: [admins]
`

func TestOIDCProviderFields(t *testing.T) {
	cfg := mustParse(t, oidcIAM, map[string]string{"OIDC_SECRET": "from-the-env"})
	p := cfg.Access.IAM.AuthProviders[0]
	if p.ClientSecret != "from-the-env" || p.RedirectURL != "https://dgp.example.com/_/api/admin/oidc/callback" {
		t.Fatalf("provider %+v", p)
	}
	if len(p.GroupMappings) != 3 || p.GroupMappings[0].Email != "*@example.com" || p.GroupMappings[1].Value != "dgp-admins" ||
		p.GroupMappings[2].Regex != `^example\.com$` || strings.Join(p.GroupMappings[1].Groups, ",") != "admins,readers" {
		t.Fatalf("mappings %+v", p.GroupMappings)
	}
	if list := parseErrors(t, oidcIAM, nil); !hasError(list, "access.iam.auth_providers[0].client_secret", "OIDC_SECRET is not set") {
		t.Fatalf("unset secret variable: %v", lines(list))
	}
}

func TestOIDCProviderErrors(t *testing.T) {
	env := map[string]string{"OIDC_SECRET": "s"}
	cases := []struct{ name, replace, with, path, problem string }{
		{"redirect path", "https://dgp.example.com/_/api/admin/oidc/callback", "https://dgp.example.com/callback",
			"access.iam.auth_providers[0].redirect_url", "must end in /_/api/admin/oidc/callback"},
		{"redirect scheme", "https://dgp.example.com/_/api/admin/oidc/callback", "dgp.example.com/_/api/admin/oidc/callback",
			"access.iam.auth_providers[0].redirect_url", "absolute http(s) URL"},
		{"unknown group", "groups: [readers]", "groups: [readers, nobody]",
			"access.iam.auth_providers[0].group_mappings[0].groups[1]", `no group named "nobody"`},
		{"no groups", "groups: [readers]", "groups: []", "access.iam.auth_providers[0].group_mappings[0].groups", "at least one group"},
		{"bad regex", `'^example\.com$'`, `'^(example'`, "access.iam.auth_providers[0].group_mappings[2].regex", "does not compile"},
		{"two matchers", "value: dgp-admins", "value: dgp-admins\n            regex: x", "access.iam.auth_providers[0].group_mappings[1]", "not both"},
		{"email and claim", `email: "*@example.com"`, `email: "*@example.com"` + "\n            claim: x", "access.iam.auth_providers[0].group_mappings[0]", "not both"},
		{"claim alone", "value: dgp-admins", "", "access.iam.auth_providers[0].group_mappings[1]", "value or a regex"},
		{"unknown key", "value: dgp-admins", "valeu: dgp-admins", "access.iam.auth_providers[0].group_mappings[1].valeu", "unknown key"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if !strings.Contains(oidcIAM, c.replace) {
				t.Fatalf("%q is not in the base document", c.replace)
			}
			list := parseErrors(t, strings.Replace(oidcIAM, c.replace, c.with, 1), env)
			if !hasError(list, c.path, c.problem) {
				t.Errorf("want %s: ...%s...; got:\n%s", c.path, c.problem, strings.Join(lines(list), "\n"))
			}
		})
	}
}
