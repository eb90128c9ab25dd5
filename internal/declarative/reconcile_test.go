package declarative_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dgp-proxy/dgp/internal/configdb"
	"github.com/dgp-proxy/dgp/internal/declarative"
	"github.com/dgp-proxy/dgp/internal/iam"
)

func TestReconcileFromEmpty(t *testing.T) {
	s := reconcile(t, configdb.Empty(), desired(t, baseYAML, testEnv), t0)
	if s.NumUsers() != 2 || len(s.Groups()) != 1 {
		t.Fatalf("users %d, groups %d; want 2, 1", s.NumUsers(), len(s.Groups()))
	}
	if s.Generation() != 0 {
		t.Fatalf("generation %d: an Op must not change it", s.Generation())
	}
	alice, _ := s.UserByName("alice")
	if alice.AccessKeyID != "AKIAALICE0000000001" || alice.SecretAccessKey != "alice-secret-0001" || !alice.Enabled {
		t.Fatalf("alice: %+v", alice)
	}
	if !alice.CreatedAt.Equal(t0) {
		t.Fatalf("alice created_at %v, want %v", alice.CreatedAt, t0)
	}
	team, _ := s.GroupByName("team")
	if len(team.MemberIDs) != 2 || team.Description != "the team" {
		t.Fatalf("team: %+v", team)
	}
	if got := groupNames(t, s, "bob"); !slices.Equal(got, []string{"team"}) {
		t.Fatalf("bob's groups: %v", got)
	}
	// The declared rules authorise as declared.
	cu, ok := s.Lookup("AKIAALICE0000000001")
	if !ok {
		t.Fatal("alice's key does not authenticate")
	}
	if !cu.Allowed(iam.ActionWrite, "shared", "alice/x") || !cu.Allowed(iam.ActionRead, "shared", "y") ||
		cu.Allowed(iam.ActionWrite, "shared", "bob/x") {
		t.Fatal("alice's permissions are not the declared ones")
	}

	p := declarative.Diff(configdb.Empty(), s)
	if got := p.Names(declarative.KindUser, declarative.ActionCreate); !slices.Equal(got, []string{"alice", "bob"}) {
		t.Fatalf("created users %v", got)
	}
	if got := p.Names(declarative.KindGroup, declarative.ActionCreate); !slices.Equal(got, []string{"team"}) {
		t.Fatalf("created groups %v", got)
	}
}

func TestReconcileNothingToDoReturnsSameState(t *testing.T) {
	d := desired(t, baseYAML, testEnv)
	op, err := declarative.NewReconcile(d)
	if err != nil {
		t.Fatal(err)
	}
	s, err := op.Apply(configdb.Empty(), t0)
	if err != nil {
		t.Fatal(err)
	}
	s = s.WithGeneration(7)
	// The same Op again, and a fresh Op (other pre-chosen ids) later.
	for name, apply := range map[string]func() (*configdb.State, error){
		"same op":  func() (*configdb.State, error) { return op.Apply(s, t0.Add(time.Hour)) },
		"fresh op": func() (*configdb.State, error) { return mustNew(t, d).Apply(s, t0.Add(time.Hour)) },
	} {
		got, err := apply()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got != s {
			t.Fatalf("%s: a reconcile that changes nothing must return the same *State; diff: %+v",
				name, declarative.Diff(s, got))
		}
	}
}

func mustNew(t testing.TB, d declarative.Desired) *declarative.Reconcile {
	t.Helper()
	op, err := declarative.NewReconcile(d)
	if err != nil {
		t.Fatal(err)
	}
	return op
}

func TestReconcileIsDeterministic(t *testing.T) {
	op := mustNew(t, desired(t, baseYAML, testEnv))
	a, err := op.Apply(configdb.Empty(), t0)
	if err != nil {
		t.Fatal(err)
	}
	b, err := op.Apply(configdb.Empty(), t0)
	if err != nil {
		t.Fatal(err)
	}
	av, _ := a.MarshalJSONView(true)
	bv, _ := b.MarshalJSONView(true)
	if string(av) != string(bv) {
		t.Fatalf("the same Op applied twice differs:\n%s\n%s", av, bv)
	}
}

// changedYAML renames the group, drops bob, rotates alice's secret, adds
// carol and disables nobody.
const changedYAML = `
access:
  iam_mode: declarative
  iam:
    groups:
      - name: crew
        description: the team
        permissions:
          - {effect: Allow, actions: [read, list], resources: ["shared/*"]}
    users:
      - name: alice
        access_key_id: AKIAALICE0000000001
        secret_access_key: ${ALICE_SECRET}
        groups: [crew]
        permissions:
          - {effect: Allow, actions: [write], resources: ["shared/alice/*"]}
      - name: carol
        access_key_id: AKIACAROL000000001
        secret_access_key: carol-secret-0001
        enabled: false
`

func TestReconcileChangesByNameKeepingIDs(t *testing.T) {
	s1 := reconcile(t, configdb.Empty(), desired(t, baseYAML, testEnv), t0)
	s1 = s1.WithGeneration(3)
	s1, err := (&configdb.RevokeSessions{Identity: "user:x", Since: t0}).Apply(s1, t0)
	if err != nil {
		t.Fatal(err)
	}
	alice1, _ := s1.UserByName("alice")
	team, _ := s1.GroupByName("team")

	env := map[string]string{"ALICE_SECRET": "alice-secret-0002"}
	s2 := reconcile(t, s1, desired(t, changedYAML, env), t0.Add(time.Hour))

	alice2, ok := s2.UserByName("alice")
	if !ok || alice2.ID != alice1.ID || !alice2.CreatedAt.Equal(alice1.CreatedAt) {
		t.Fatalf("alice must keep id and created_at: before %+v after %+v", alice1, alice2)
	}
	if alice2.SecretAccessKey != "alice-secret-0002" {
		t.Fatal("alice's secret was not rotated")
	}
	if _, ok := s2.UserByName("bob"); ok {
		t.Fatal("bob was not deleted")
	}
	if _, ok := s2.Lookup("AKIABOB00000000001"); ok {
		t.Fatal("bob's key still authenticates")
	}
	carol, _ := s2.UserByName("carol")
	if carol.Enabled || !carol.CreatedAt.Equal(t0.Add(time.Hour)) {
		t.Fatalf("carol: %+v", carol)
	}
	if _, ok := s2.GroupByName("team"); ok {
		t.Fatal("the old group name survived the rename")
	}
	crew, _ := s2.GroupByName("crew")
	if crew.ID == team.ID {
		t.Fatal("a renamed group is a new group (matched by name), but it kept the old id")
	}
	if !slices.Equal(crew.MemberIDs, []string{alice1.ID}) {
		t.Fatalf("crew members %v, want alice only", crew.MemberIDs)
	}
	if got := groupNames(t, s2, "alice"); !slices.Equal(got, []string{"crew"}) {
		t.Fatalf("alice's groups %v", got)
	}
	if _, ok := s2.RevokedSince("user:x"); !ok {
		t.Fatal("session revocations must be kept")
	}
	if s2.Generation() != 3 {
		t.Fatalf("generation %d, want the base's 3", s2.Generation())
	}

	p := declarative.Diff(s1, s2)
	want := []declarative.Change{
		{Kind: declarative.KindGroup, Name: "crew", Action: declarative.ActionCreate},
		{Kind: declarative.KindGroup, Name: "team", Action: declarative.ActionDelete},
		{Kind: declarative.KindUser, Name: "alice", Action: declarative.ActionUpdate, Fields: []declarative.FieldChange{
			{Field: "secret_access_key", Secret: true},
			{Field: "groups", Old: `["team"]`, New: `["crew"]`},
		}},
		{Kind: declarative.KindUser, Name: "bob", Action: declarative.ActionDelete},
		{Kind: declarative.KindUser, Name: "carol", Action: declarative.ActionCreate},
	}
	if len(p.Changes) != len(want) {
		t.Fatalf("plan:\n%s", planText(t, p))
	}
	for i, c := range p.Changes {
		w := want[i]
		if c.Kind != w.Kind || c.Name != w.Name || c.Action != w.Action || !slices.Equal(c.Fields, w.Fields) {
			t.Fatalf("change %d = %+v, want %+v\nplan:\n%s", i, c, w, planText(t, p))
		}
	}
	text := planText(t, p)
	for _, secret := range []string{"alice-secret-0001", "alice-secret-0002", "carol-secret-0001"} {
		if strings.Contains(text, secret) {
			t.Fatalf("the plan shows a secret:\n%s", text)
		}
	}
	for _, line := range []string{`~ user "alice": update`, "secret_access_key: secret changed",
		`groups: ["team"] -> ["crew"]`, `- user "bob": delete`, "Plan: 2 to create, 1 to update, 2 to delete."} {
		if !strings.Contains(text, line) {
			t.Fatalf("plan lacks %q:\n%s", line, text)
		}
	}
}

func TestDiffFieldLevel(t *testing.T) {
	s1 := reconcile(t, configdb.Empty(), desired(t, baseYAML, testEnv), t0)
	d := desired(t, baseYAML, testEnv)
	d.Groups[0].Description = "renamed description"
	d.Groups[0].Permissions[0].Actions = []iam.Action{iam.ActionRead}
	d.Users[1].Enabled = false
	d.Users[1].AccessKeyID = "AKIABOB00000000002"
	s2 := reconcile(t, s1, d, t0)
	p := declarative.Diff(s1, s2)
	text := planText(t, p)
	for _, line := range []string{
		`description: "the team" -> "renamed description"`,
		`permissions: [Allow read,list on "shared/*"] -> [Allow read on "shared/*"]`,
		`enabled: true -> false`,
		`access_key_id: "AKIABOB00000000001" -> "AKIABOB00000000002"`,
		"Plan: 0 to create, 2 to update, 0 to delete.",
	} {
		if !strings.Contains(text, line) {
			t.Fatalf("plan lacks %q:\n%s", line, text)
		}
	}
	if empty := planText(t, declarative.Diff(s2, s2)); !strings.HasPrefix(empty, "No changes") {
		t.Fatalf("empty plan renders %q", empty)
	}
}

func TestReconcileRefusesToDeleteEveryUser(t *testing.T) {
	s := reconcile(t, configdb.Empty(), desired(t, baseYAML, testEnv), t0)
	onlyNew := desired(t, baseYAML, testEnv)
	onlyNew.Users = []declarative.User{{Name: "zed", AccessKeyID: "AKIAZED00000000001", SecretAccessKey: "zed-secret-0001", Enabled: true}}
	none := desired(t, baseYAML, testEnv)
	none.Users = nil

	for name, d := range map[string]declarative.Desired{"no users": none, "only new users": onlyNew} {
		t.Run(name, func(t *testing.T) {
			_, err := mustNew(t, d).Apply(s, t0)
			if !errors.Is(err, declarative.ErrWouldDeleteAllUsers) {
				t.Fatalf("err = %v, want ErrWouldDeleteAllUsers", err)
			}
			if !strings.Contains(err.Error(), "iam_allow_empty") {
				t.Fatalf("the error should say how to allow it: %v", err)
			}
			d.AllowEmpty = true
			next := reconcile(t, s, d, t0)
			if _, ok := next.UserByName("alice"); ok {
				t.Fatal("with AllowEmpty the old users must go")
			}
		})
	}
	// A fresh instance (no users yet) may start with an empty list.
	none.AllowEmpty = false
	if _, err := mustNew(t, none).Apply(configdb.Empty(), t0); err != nil {
		t.Fatalf("empty onto empty: %v", err)
	}
}

func TestReconcileKeepsGeneratedKeys(t *testing.T) {
	const yaml = `
access:
  iam_mode: declarative
  iam:
    users:
      - name: keyless
`
	s1 := reconcile(t, configdb.Empty(), desired(t, yaml, nil), t0)
	u1, _ := s1.UserByName("keyless")
	if u1.AccessKeyID == "" || u1.SecretAccessKey == "" {
		t.Fatalf("a user declared without keys gets generated ones: %+v", u1)
	}
	if got := reconcile(t, s1, desired(t, yaml, nil), t0.Add(time.Hour)); got != s1 {
		t.Fatal("a user declared without keys must keep its keys across reconciles")
	}
}

func TestValidationErrorsNameTheField(t *testing.T) {
	base := func() declarative.Desired { return desired(t, baseYAML, testEnv) }
	cases := []struct {
		name   string
		mutate func(*declarative.Desired)
		fields []string
	}{
		{"duplicate user", func(d *declarative.Desired) { d.Users[1].Name = "alice" }, []string{"access.iam.users[1].name"}},
		{"bad user name", func(d *declarative.Desired) { d.Users[0].Name = "-x" }, []string{"access.iam.users[0].name"}},
		{"unknown group", func(d *declarative.Desired) { d.Users[1].Groups = []string{"nope"} }, []string{"access.iam.users[1].groups[0]"}},
		{"key id without secret", func(d *declarative.Desired) { d.Users[0].SecretAccessKey = "" }, []string{"access.iam.users[0].secret_access_key"}},
		{"short secret", func(d *declarative.Desired) { d.Users[0].SecretAccessKey = "short" }, []string{"access.iam.users[0].secret_access_key"}},
		{"shared access key", func(d *declarative.Desired) { d.Users[1].AccessKeyID = d.Users[0].AccessKeyID }, []string{"access.iam.users[1].access_key_id"}},
		{"bad effect", func(d *declarative.Desired) { d.Groups[0].Permissions[0].Effect = "Maybe" }, []string{"access.iam.groups[0].permissions[0].effect"}},
		{"bad resource", func(d *declarative.Desired) { d.Users[0].Permissions[0].Resources = []string{"a*b"} },
			[]string{"access.iam.users[0].permissions[0].resources[0]"}},
		{"duplicate group", func(d *declarative.Desired) { d.Groups = append(d.Groups, d.Groups[0]) }, []string{"access.iam.groups[1].name"}},
		{"bad provider", func(d *declarative.Desired) {
			d.Providers = []declarative.Provider{{Name: "corp", Type: "oidc", IssuerURL: "ftp://x"}}
		}, []string{"access.iam.auth_providers[0].issuer_url"}},
		{"every problem at once", func(d *declarative.Desired) {
			d.Users[0].Name = "bad name"
			d.Groups[0].Permissions[0].Actions = nil
		}, []string{"access.iam.users[0].name", "access.iam.groups[0].permissions[0].actions"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := base()
			c.mutate(&d)
			_, err := declarative.NewReconcile(d)
			if !errors.Is(err, iam.ErrInvalid) {
				t.Fatalf("err = %v, want iam.ErrInvalid", err)
			}
			for _, f := range c.fields {
				if !strings.Contains(err.Error(), "invalid "+f+":") {
					t.Fatalf("error does not name %s: %v", f, err)
				}
			}
			for _, secret := range testEnv {
				if strings.Contains(err.Error(), secret) {
					t.Fatalf("error shows a secret: %v", err)
				}
			}
			// Apply checks the same rules (an Op built by hand).
			if _, err := (&declarative.Reconcile{Desired: d}).Apply(configdb.Empty(), t0); !errors.Is(err, iam.ErrInvalid) {
				t.Fatalf("Apply: err = %v, want iam.ErrInvalid", err)
			}
		})
	}
}

func TestFromConfigEnvironment(t *testing.T) {
	d := desired(t, baseYAML, testEnv)
	if d.Users[0].SecretAccessKey != "alice-secret-0001" || d.Users[1].SecretAccessKey != "bob-secret-00001" {
		t.Fatal("secrets are not expanded from the environment")
	}
	if d.AllowEmpty {
		t.Fatal("AllowEmpty set without iam_allow_empty")
	}
	if len(d.Users[0].Permissions) != 1 || d.Users[0].Permissions[0].Actions[0] != iam.ActionWrite {
		t.Fatalf("alice's rules: %+v", d.Users[0].Permissions)
	}
}

func TestDescribeHasNoSecrets(t *testing.T) {
	op := mustNew(t, desired(t, baseYAML, testEnv))
	got := op.Describe()
	if strings.Contains(got, "secret-") || !strings.Contains(got, "2 users") {
		t.Fatalf("Describe = %q", got)
	}
}
