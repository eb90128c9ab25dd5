package configdb

import (
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/dgp-proxy/dgp/internal/iam"
)

func validUser(id, name, key string) iam.User {
	return iam.User{ID: id, Name: name, AccessKeyID: key, SecretAccessKey: "secret-" + id + "-0123", Enabled: true, CreatedAt: t0}
}

func TestNewStateValidate(t *testing.T) {
	tests := []struct {
		name  string
		data  Data
		field string // "" = valid
	}{
		{"empty", Data{}, ""},
		{"valid membership", Data{
			Users:  []iam.User{func() iam.User { u := validUser("u1", "a", "KEY1"); u.GroupIDs = []string{"g1"}; return u }()},
			Groups: []iam.Group{{ID: "g1", Name: "g", MemberIDs: []string{"u1"}}},
		}, ""},
		{"duplicate user id", Data{Users: []iam.User{validUser("u1", "a", "KEY1"), validUser("u1", "b", "KEY2")}}, "users[u1].id"},
		{"duplicate user name", Data{Users: []iam.User{validUser("u1", "a", "KEY1"), validUser("u2", "a", "KEY2")}}, "users[u2].name"},
		{"duplicate access key", Data{Users: []iam.User{validUser("u1", "a", "KEY1"), validUser("u2", "b", "KEY1")}}, "users[u2].access_key_id"},
		{"duplicate group id", Data{Groups: []iam.Group{{ID: "g1", Name: "a"}, {ID: "g1", Name: "b"}}}, "groups[g1].id"},
		{"duplicate group name", Data{Groups: []iam.Group{{ID: "g1", Name: "a"}, {ID: "g2", Name: "a"}}}, "groups[g2].name"},
		{"duplicate provider id", Data{Providers: []iam.AuthProvider{{ID: "p", Name: "a", Type: "oidc"}, {ID: "p", Name: "b", Type: "oidc"}}}, "auth_providers[p].id"},
		{"duplicate provider name", Data{Providers: []iam.AuthProvider{{ID: "p1", Name: "a", Type: "oidc"}, {ID: "p2", Name: "a", Type: "oidc"}}}, "auth_providers[p2].name"},
		{"dangling group id", Data{
			Users: []iam.User{func() iam.User { u := validUser("u1", "a", "KEY1"); u.GroupIDs = []string{"nope"}; return u }()},
		}, "users[u1].group_ids"},
		{"dangling member id", Data{Groups: []iam.Group{{ID: "g1", Name: "g", MemberIDs: []string{"ghost"}}}}, "groups[g1].member_ids"},
		{"membership only on the user side", Data{
			Users:  []iam.User{func() iam.User { u := validUser("u1", "a", "KEY1"); u.GroupIDs = []string{"g1"}; return u }()},
			Groups: []iam.Group{{ID: "g1", Name: "g"}},
		}, "users[u1].group_ids"},
		{"membership only on the group side", Data{
			Users:  []iam.User{validUser("u1", "a", "KEY1")},
			Groups: []iam.Group{{ID: "g1", Name: "g", MemberIDs: []string{"u1"}}},
		}, "groups[g1].member_ids"},
		{"invalid rule", Data{Users: []iam.User{func() iam.User {
			u := validUser("u1", "a", "KEY1")
			u.Permissions = []iam.Rule{{Effect: iam.EffectAllow, Actions: []iam.Action{iam.ActionRead}, Resources: []string{"b/*/x"}}}
			return u
		}()}}, "users[u1].permissions[0].resources[0]"},
		{"invalid group rule", Data{Groups: []iam.Group{{ID: "g1", Name: "g", Permissions: []iam.Rule{{Effect: "Maybe"}}}}}, "groups[g1].permissions[0].effect"},
		{"invalid provider", Data{Providers: []iam.AuthProvider{{ID: "p", Name: "a", Type: ""}}}, "auth_providers[p].type"},
		{"empty revocation identity", Data{Revocations: map[string]time.Time{"": t0}}, "session_revocations"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := NewState(7, tt.data)
			if tt.field == "" {
				if err != nil {
					t.Fatalf("NewState: %v", err)
				}
				if s.Generation() != 7 || s.Schema() != CurrentSchema {
					t.Errorf("generation %d schema %d", s.Generation(), s.Schema())
				}
				if err := s.Validate(); err != nil {
					t.Errorf("Validate of a built state: %v", err)
				}
				return
			}
			wantErr(t, err, ErrInvalid)
			wantField(t, err, tt.field)
		})
	}
}

func TestStateAccessors(t *testing.T) {
	s := sample(t)
	u, ok := s.UserByName("alice")
	if !ok || u.ID != "u-alice" {
		t.Fatalf("UserByName: %+v %v", u, ok)
	}
	if u2, ok := s.User("u-alice"); !ok || !reflect.DeepEqual(u, u2) {
		t.Errorf("User(id) differs from UserByName")
	}
	if u3, ok := s.UserByAccessKey("AKIACAROL000000000CC"); !ok || u3.Name != "carol" || u3.Enabled {
		t.Errorf("UserByAccessKey: %+v %v", u3, ok)
	}
	if _, ok := s.Lookup("AKIACAROL000000000CC"); ok {
		t.Error("Lookup returned disabled carol")
	}
	cu, ok := s.Lookup("AKIAALICE0000000000A")
	if !ok || !cu.Allowed(iam.ActionAdmin, "anything", "") {
		t.Error("alice (admins group) should be allowed admin")
	}
	if g, ok := s.GroupByName("readers"); !ok || !reflect.DeepEqual(g.MemberIDs, []string{"u-alice", "u-bob"}) {
		t.Errorf("GroupByName readers: %+v", g)
	}
	if _, ok := s.Group("g-admins"); !ok {
		t.Error("Group by id")
	}
	if p, ok := s.ProviderByName("google"); !ok || p.ID != "p-google" {
		t.Errorf("ProviderByName: %+v", p)
	}
	if _, ok := s.Provider("p-google"); !ok {
		t.Error("Provider by id")
	}
	if got := names(s.Users()); !reflect.DeepEqual(got, []string{"alice", "bob", "carol"}) {
		t.Errorf("Users order: %v", got)
	}
	if !s.SessionRevoked("u-bob", t0.Add(-time.Second)) || !s.SessionRevoked("u-bob", t0) || s.SessionRevoked("u-bob", t0.Add(time.Second)) {
		t.Error("SessionRevoked boundaries")
	}
	if s.SessionRevoked("u-alice", t0) {
		t.Error("alice is not revoked")
	}

	// Accessors return copies: mutating them does not change the State.
	u.GroupIDs[0] = "hacked"
	all := s.Users()
	all[0].Permissions = allowAll("*")
	all[0].Name = "mallory"
	d := s.Data()
	d.Users[0].Name = "mallory"
	d.Revocations["x"] = t0
	if again, _ := s.User("u-alice"); again.Name != "alice" || again.GroupIDs[0] != "g-admins" || len(again.Permissions) != 0 {
		t.Errorf("State changed through an accessor: %+v", again)
	}
	if _, ok := s.RevokedSince("x"); ok {
		t.Error("revocations changed through Data()")
	}
}

func names(us []iam.User) []string {
	var out []string
	for _, u := range us {
		out = append(out, u.Name)
	}
	return out
}

func TestNewStateCopiesInput(t *testing.T) {
	d := Data{Users: []iam.User{validUser("u1", "a", "KEY1")}}
	s, err := NewState(1, d)
	if err != nil {
		t.Fatal(err)
	}
	d.Users[0].Name = "changed"
	if u, _ := s.User("u1"); u.Name != "a" {
		t.Error("NewState kept a reference to the caller's data")
	}
}

func TestWithGeneration(t *testing.T) {
	s := sample(t)
	n := s.WithGeneration(42)
	if n.Generation() != 42 || s.Generation() != 0 {
		t.Errorf("generations %d %d", n.Generation(), s.Generation())
	}
	if n.Authorizer() != s.Authorizer() {
		t.Error("WithGeneration should share the compiled authorizer")
	}
	if _, ok := n.UserByName("bob"); !ok {
		t.Error("content lost")
	}
}

func TestMergeRevocations(t *testing.T) {
	a := map[string]time.Time{"x": t0, "y": t0.Add(time.Hour)}
	b := map[string]time.Time{"x": t0.Add(time.Minute), "y": t0, "z": t0}
	got := MergeRevocations(a, b)
	want := map[string]time.Time{"x": t0.Add(time.Minute), "y": t0.Add(time.Hour), "z": t0}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("MergeRevocations = %v", got)
	}
	if a["x"] != t0 {
		t.Error("input modified")
	}
}

// TestUsersPage: pages in name order from after (exclusive), stopping when
// f says so, without copying.
func TestUsersPage(t *testing.T) {
	s := sample(t) // alice, bob, carol
	page := func(after string, n int) []string {
		var out []string
		s.UsersPage(after, func(u *iam.User) bool {
			out = append(out, u.Name)
			return len(out) < n
		})
		return out
	}
	for _, tt := range []struct {
		after string
		n     int
		want  []string
	}{
		{"", 10, []string{"alice", "bob", "carol"}},
		{"", 2, []string{"alice", "bob"}},
		{"alice", 10, []string{"bob", "carol"}},
		{"b", 10, []string{"bob", "carol"}},
		{"bob", 1, []string{"carol"}},
		{"carol", 10, nil},
		{"zzz", 10, nil},
		{"A", 10, []string{"alice", "bob", "carol"}},
	} {
		if got := page(tt.after, tt.n); !slices.Equal(got, tt.want) {
			t.Errorf("UsersPage(%q) first %d = %q, want %q", tt.after, tt.n, got, tt.want)
		}
	}
	var first *iam.User
	s.UsersPage("", func(u *iam.User) bool { first = u; return false })
	if first != &s.users[0] {
		t.Error("UsersPage copied the user")
	}
}
