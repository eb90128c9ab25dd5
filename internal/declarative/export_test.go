package declarative_test

import (
	"strings"
	"testing"
	"time"

	"github.com/dgp-proxy/dgp/internal/configdb"
	"github.com/dgp-proxy/dgp/internal/declarative"
	"github.com/dgp-proxy/dgp/internal/iam"
)

// richState holds users (one disabled, one in two groups), groups and a
// provider, made through the admin-style Ops as a GUI-mode DB would be.
func richState(t testing.TB) *configdb.State {
	t.Helper()
	s := configdb.Empty()
	apply := func(op configdb.Op) {
		t.Helper()
		next, err := op.Apply(s, t0)
		if err != nil {
			t.Fatalf("%s: %v", op.Describe(), err)
		}
		s = next
	}
	rules := []iam.Rule{{Effect: iam.EffectAllow, Actions: []iam.Action{iam.ActionRead, iam.ActionList}, Resources: []string{"photos/*", "docs"}}}
	g1 := &configdb.CreateGroup{ID: iam.NewID(), Name: "readers", Description: "read: all, \"quoted\"", Permissions: rules}
	g2 := &configdb.CreateGroup{ID: iam.NewID(), Name: "ops.team"}
	apply(g1)
	apply(g2)
	alice := configdb.NewCreateUser("alice", true, []iam.Rule{{Effect: iam.EffectDeny, Actions: []iam.Action{iam.ActionDelete}, Resources: []string{"*"}}},
		[]string{g1.ID, g2.ID})
	apply(alice)
	apply(configdb.NewCreateUser("bob.b", false, nil, []string{g1.ID}))
	apply(configdb.NewCreateUser("bob_b", true, nil, nil))
	apply(configdb.NewCreateProvider(iam.AuthProvider{Name: "corp", Type: "oidc", IssuerURL: "https://id.example.com",
		ClientID: "dgp", ClientSecret: "client-secret-1", Scopes: []string{"openid", "email"}, Enabled: true, Priority: 2,
		DisplayName: "Corp SSO", RedirectURL: "https://dgp.example.com" + iam.OIDCCallbackPath,
		GroupMappings: []iam.GroupMapping{
			{Email: "*@example.com", Groups: []string{g1.ID}},
			{Claim: "groups", Value: "dgp-ops", Groups: []string{g2.ID, g1.ID}},
			{Claim: "hd", Regex: `^example\.(com|org)$`, Groups: []string{g2.ID}},
		}}))
	return s.WithGeneration(12)
}

func TestExportShowSecretsRoundTrips(t *testing.T) {
	s := richState(t)
	doc, vars, err := declarative.Export(s, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(vars) != 0 {
		t.Fatalf("vars with --show-secrets: %v", vars)
	}
	alice, _ := s.UserByName("alice")
	if !strings.Contains(string(doc), alice.SecretAccessKey) {
		t.Fatalf("secrets not shown:\n%s", doc)
	}
	d := desired(t, string(doc), nil)
	if got := reconcile(t, s, d, t0.Add(time.Hour)); got != s {
		t.Fatalf("export -> reconcile changed the state:\n%s\nplan:\n%s", doc, planText(t, declarative.Diff(s, got)))
	}
}

func TestExportPlaceholders(t *testing.T) {
	s := richState(t)
	doc, vars, err := declarative.Export(s, false)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"IAM_USER_ALICE_SECRET", "IAM_USER_BOB_B_SECRET", "IAM_USER_BOB_B_SECRET_2", "IAM_PROVIDER_CORP_CLIENT_SECRET"}
	if strings.Join(vars, " ") != strings.Join(want, " ") {
		t.Fatalf("vars %v, want %v", vars, want)
	}
	env := map[string]string{}
	for _, u := range s.Users() {
		if strings.Contains(string(doc), u.SecretAccessKey) {
			t.Fatalf("a secret is shown without --show-secrets:\n%s", doc)
		}
	}
	for i, u := range s.Users() { // ordered by name: alice, bob.b, bob_b
		env[want[i]] = u.SecretAccessKey
	}
	p, _ := s.ProviderByName("corp")
	env[want[3]] = p.ClientSecret
	if strings.Contains(string(doc), p.ClientSecret) {
		t.Fatalf("the client secret is shown:\n%s", doc)
	}
	for _, v := range want {
		if !strings.Contains(string(doc), "${"+v+"}") {
			t.Fatalf("placeholder %s missing:\n%s", v, doc)
		}
	}
	if got := reconcile(t, s, desired(t, string(doc), env), t0); got != s {
		t.Fatalf("export (placeholders) -> reconcile changed the state:\n%s", planText(t, declarative.Diff(s, got)))
	}
	for _, line := range []string{"iam_mode: declarative", "enabled: false", "groups: [ops.team, readers]",
		"{effect: Allow, actions: [read, list], resources: [photos/*, docs]}"} {
		if !strings.Contains(string(doc), line) {
			t.Fatalf("export lacks %q:\n%s", line, doc)
		}
	}
}

func TestExportEmpty(t *testing.T) {
	doc, _, err := declarative.Export(configdb.Empty(), false)
	if err != nil {
		t.Fatal(err)
	}
	d := desired(t, string(doc), nil) // valid only with iam_allow_empty
	if !d.AllowEmpty || len(d.Users) != 0 {
		t.Fatalf("empty export: %+v\n%s", d, doc)
	}
}

func TestSecretVar(t *testing.T) {
	for name, want := range map[string]string{
		"alice":       "IAM_USER_ALICE_SECRET",
		"a.b-c@d+e=f": "IAM_USER_A_B_C_D_E_F_SECRET",
		"Bob9":        "IAM_USER_BOB9_SECRET",
	} {
		if got := declarative.SecretVar(declarative.KindUser, name); got != want {
			t.Errorf("SecretVar(%q) = %q, want %q", name, got, want)
		}
	}
	if got := declarative.SecretVar(declarative.KindProvider, "corp"); got != "IAM_PROVIDER_CORP_CLIENT_SECRET" {
		t.Errorf("provider var %q", got)
	}
}
