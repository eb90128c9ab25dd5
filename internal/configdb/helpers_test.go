package configdb

import (
	"errors"
	"testing"
	"time"

	"github.com/dgp-proxy/dgp/internal/iam"
)

// testKDF keeps Argon2id cheap in tests.
var testKDF = KDFParams{Time: 1, MemoryKiB: 64, Threads: 1}

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func mustApply(tb testing.TB, s *State, op Op) *State {
	tb.Helper()
	next, err := op.Apply(s, t0)
	if err != nil {
		tb.Fatalf("%s: %v", op.Describe(), err)
	}
	return next
}

func wantErr(tb testing.TB, err, want error) {
	tb.Helper()
	if err == nil {
		tb.Fatalf("got nil error, want %v", want)
	}
	if !errors.Is(err, want) {
		tb.Fatalf("got error %v, want %v", err, want)
	}
}

func wantField(tb testing.TB, err error, field string) {
	tb.Helper()
	var fe *iam.FieldError
	if !errors.As(err, &fe) {
		tb.Fatalf("got error %v, want a field error on %q", err, field)
	}
	if fe.Field != field {
		tb.Fatalf("got field %q (%v), want %q", fe.Field, err, field)
	}
}

func allowAll(resources ...string) []iam.Rule {
	return []iam.Rule{{Effect: iam.EffectAllow, Actions: []iam.Action{iam.ActionAll}, Resources: resources}}
}

func ptr[T any](v T) *T { return &v }

// sample builds a State with two groups, three users and a provider.
func sample(tb testing.TB) *State {
	tb.Helper()
	s := Empty()
	s = mustApply(tb, s, &CreateGroup{ID: "g-admins", Name: "admins", Permissions: allowAll("*")})
	s = mustApply(tb, s, &CreateGroup{ID: "g-readers", Name: "readers", Description: "read only",
		Permissions: []iam.Rule{{Effect: iam.EffectAllow, Actions: []iam.Action{iam.ActionRead, iam.ActionList}, Resources: []string{"shared/*"}}}})
	s = mustApply(tb, s, &CreateUser{ID: "u-alice", Name: "alice", AccessKeyID: "AKIAALICE0000000000A", SecretAccessKey: "alice-secret-0123456789",
		Enabled: true, GroupIDs: []string{"g-admins", "g-readers"}})
	s = mustApply(tb, s, &CreateUser{ID: "u-bob", Name: "bob", AccessKeyID: "AKIABOB00000000000BB", SecretAccessKey: "bob-secret-0123456789",
		Enabled: true, Permissions: allowAll("bob/*"), GroupIDs: []string{"g-readers"}})
	s = mustApply(tb, s, &CreateUser{ID: "u-carol", Name: "carol", AccessKeyID: "AKIACAROL000000000CC", SecretAccessKey: "carol-secret-0123456789"})
	s = mustApply(tb, s, &CreateProvider{Provider: iam.AuthProvider{ID: "p-google", Name: "google", Type: "oidc",
		IssuerURL: "https://accounts.google.com", ClientID: "cid", ClientSecret: "client-secret-xyz", Scopes: []string{"openid", "email"}, Enabled: true, Priority: 1}})
	s = mustApply(tb, s, &RevokeSessions{Identity: "u-bob", Since: t0})
	return s
}
