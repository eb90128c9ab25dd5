package declarative_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/dgp-proxy/dgp/internal/configdb"
	"github.com/dgp-proxy/dgp/internal/declarative"
	"github.com/dgp-proxy/dgp/internal/iam"
)

// oidcYAML is baseYAML plus a group and a provider whose mapping rules
// name groups, its client secret from the environment.
const oidcYAML = baseYAML + `
    auth_providers:
      - name: corp
        type: oidc
        issuer_url: https://login.example.com
        client_id: dgp
        client_secret: ${OIDC_SECRET}
        redirect_url: https://dgp.example.com/_/api/admin/oidc/callback
        group_mappings:
          - email: "*@example.com"
            groups: [team]
          - claim: groups
            value: dgp-admins
            groups: [team]
`

func oidcEnv() map[string]string {
	env := map[string]string{"OIDC_SECRET": "oidc-client-secret"}
	for k, v := range testEnv {
		env[k] = v
	}
	return env
}

// TestReconcileGroupMappings: declared mapping rules name groups; the
// config DB stores their ids; a reconcile of the same file changes
// nothing; editing one rule is an update of group_mappings (never a
// no-op), shown in the plan by group name.
func TestReconcileGroupMappings(t *testing.T) {
	s := reconcile(t, configdb.Empty(), desired(t, oidcYAML, oidcEnv()), t0)
	team, _ := s.GroupByName("team")
	p, ok := s.ProviderByName("corp")
	if !ok || p.ClientSecret != "oidc-client-secret" || p.RedirectURL != "https://dgp.example.com"+iam.OIDCCallbackPath {
		t.Fatalf("provider %+v", p)
	}
	want := []iam.GroupMapping{
		{Email: "*@example.com", Groups: []string{team.ID}},
		{Claim: "groups", Value: "dgp-admins", Groups: []string{team.ID}},
	}
	if !reflect.DeepEqual(p.GroupMappings, want) {
		t.Fatalf("stored mappings %+v, want %+v", p.GroupMappings, want)
	}
	if got := iam.MapGroups(p, map[string]any{"email": "x@example.com"}); !reflect.DeepEqual(got, []string{team.ID}) {
		t.Fatalf("MapGroups %q", got)
	}
	if again := reconcile(t, s, desired(t, oidcYAML, oidcEnv()), t0); again != s {
		t.Fatalf("the same file changed the state: %s", planText(t, declarative.Diff(s, again)))
	}

	edited := strings.Replace(oidcYAML, "value: dgp-admins", "regex: '^dgp-(admins|ops)$'", 1)
	next := reconcile(t, s, desired(t, edited, oidcEnv()), t0)
	if next == s {
		t.Fatal("editing a mapping rule changed nothing")
	}
	plan := planText(t, declarative.Diff(s, next))
	for _, want := range []string{`~ auth provider "corp": update`,
		`group_mappings: [email "*@example.com" -> ["team"]; claim "groups" = "dgp-admins" -> ["team"]] -> [email "*@example.com" -> ["team"]; claim "groups" ~ "^dgp-(admins|ops)$" -> ["team"]]`} {
		if !strings.Contains(plan, want) {
			t.Fatalf("plan lacks %q:\n%s", want, plan)
		}
	}
	moved := strings.Replace(oidcYAML, "redirect_url: https://dgp.example.com/", "redirect_url: https://dgp2.example.com/", 1)
	if plan := planText(t, declarative.Diff(s, reconcile(t, s, desired(t, moved, oidcEnv()), t0))); !strings.Contains(plan, "redirect_url:") {
		t.Fatalf("plan of a new redirect URL:\n%s", plan)
	}
}

// TestDesiredMappingGroupsMustBeDeclared: a rule naming a group the file
// does not declare is refused with its path (FromConfig's second line of
// defence; config.Parse refuses it first).
func TestDesiredMappingGroupsMustBeDeclared(t *testing.T) {
	d := desired(t, oidcYAML, oidcEnv())
	d.Providers[0].GroupMappings[1].Groups = []string{"team", "ghost"}
	err := d.Validate()
	var fe *iam.FieldError
	if !errors.As(err, &fe) || !errors.Is(err, iam.ErrInvalid) ||
		!strings.Contains(err.Error(), `access.iam.auth_providers[0].group_mappings[1].groups[1]: no group named "ghost"`) {
		t.Fatalf("error %v", err)
	}
	d.Providers[0].GroupMappings[1].Groups = []string{"team"}
	d.Providers[0].GroupMappings[0].Regex = "("
	if err := d.Validate(); err == nil || !strings.Contains(err.Error(), "access.iam.auth_providers[0].group_mappings[0]") {
		t.Fatalf("error %v", err)
	}
}
