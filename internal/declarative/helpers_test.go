package declarative_test

import (
	"strings"
	"testing"
	"time"

	"github.com/dgp-proxy/dgp/internal/config"
	"github.com/dgp-proxy/dgp/internal/configdb"
	"github.com/dgp-proxy/dgp/internal/declarative"
)

var t0 = time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC)

// baseYAML declares two users in one group, their secrets from the
// environment.
const baseYAML = `
access:
  iam_mode: declarative
  iam:
    groups:
      - name: team
        description: the team
        permissions:
          - {effect: Allow, actions: [read, list], resources: ["shared/*"]}
    users:
      - name: alice
        access_key_id: AKIAALICE0000000001
        secret_access_key: ${ALICE_SECRET}
        groups: [team]
        permissions:
          - {effect: Allow, actions: [write], resources: ["shared/alice/*"]}
      - name: bob
        access_key_id: AKIABOB00000000001
        secret_access_key: ${BOB_SECRET}
        groups: [team]
`

var testEnv = map[string]string{
	"ALICE_SECRET": "alice-secret-0001",
	"BOB_SECRET":   "bob-secret-00001",
}

// parse loads a configuration from YAML with env as the environment.
func parse(t testing.TB, yaml string, env map[string]string) *config.Config {
	t.Helper()
	cfg, _, err := config.Parse("test.yaml", []byte(yaml), func(k string) (string, bool) {
		v, ok := env[k]
		return v, ok
	})
	if err != nil {
		t.Fatalf("parse config: %v", err)
	}
	return cfg
}

// desired returns the declared IAM of a YAML configuration.
func desired(t testing.TB, yaml string, env map[string]string) declarative.Desired {
	t.Helper()
	d, err := declarative.FromConfig(parse(t, yaml, env))
	if err != nil {
		t.Fatalf("FromConfig: %v", err)
	}
	return d
}

// reconcile applies a fresh Reconcile of d to s.
func reconcile(t testing.TB, s *configdb.State, d declarative.Desired, now time.Time) *configdb.State {
	t.Helper()
	op, err := declarative.NewReconcile(d)
	if err != nil {
		t.Fatalf("NewReconcile: %v", err)
	}
	next, err := op.Apply(s, now)
	if err != nil {
		t.Fatalf("Apply: %v", err)
	}
	return next
}

// groupNames returns the names of the groups user name belongs to.
func groupNames(t testing.TB, s *configdb.State, name string) []string {
	t.Helper()
	u, ok := s.UserByName(name)
	if !ok {
		t.Fatalf("no user %q", name)
	}
	var out []string
	for _, id := range u.GroupIDs {
		g, ok := s.Group(id)
		if !ok {
			t.Fatalf("user %q lists unknown group id %q", name, id)
		}
		out = append(out, g.Name)
	}
	return out
}

// planText renders a plan.
func planText(t testing.TB, p declarative.Plan) string {
	t.Helper()
	var b strings.Builder
	if err := p.Write(&b); err != nil {
		t.Fatal(err)
	}
	return b.String()
}
