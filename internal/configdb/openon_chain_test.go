package configdb

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/dgp-proxy/dgp/internal/iam"
)

// TestOpenerChainEqualsOpen: random chains of changes (users, groups,
// memberships, providers, revocations), each DB opened through one Opener
// over the State opened before it (sometimes over an older one, as a
// reader that missed a pull), give at every step the State a fresh Open
// gives, and no later open changes a State returned earlier.
func TestOpenerChainEqualsOpen(t *testing.T) {
	keys := NewKeyCache(2)
	for seed := uint64(1); seed <= 6; seed++ {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			testOpenerChain(t, keys, seed, 60)
		})
	}
}

func testOpenerChain(t *testing.T, keys *KeyCache, seed uint64, steps int) {
	rng := rand.New(rand.NewPCG(seed, seed*7919))
	s := bigState(t, 40)
	s = mustApply(t, s, &CreateProvider{Provider: iam.AuthProvider{ID: "p-google", Name: "google", Type: "oidc",
		IssuerURL: "https://accounts.google.com", ClientID: "cid", Scopes: []string{"openid"}, Enabled: true}})
	var o Opener
	type opened struct {
		st   *State
		view string
		data Data
	}
	var all []opened
	var prev *Header
	for step := range steps {
		if step > 0 {
			for tries := 0; ; tries++ {
				op := randomOp(rng, s)
				next, err := op.Apply(s, t0)
				if err == nil && next != s {
					s = next.WithGeneration(s.Generation() + 1)
					break
				}
				if tries > 100 {
					t.Fatalf("step %d: no applicable op (last: %v)", step, err)
				}
			}
		}
		sealed, err := Seal(s, SealOptions{WriterNode: "t", Prev: prev}, keys, testSecret) // Prev: one key derivation
		if err != nil {
			t.Fatal(err)
		}
		want, wh, err := Open(sealed, keys, testSecret)
		if err != nil {
			t.Fatal(err)
		}
		var held *State
		if n := len(all); n > 0 {
			held = all[n-1].st
			if n > 2 && rng.IntN(5) == 0 {
				held = all[n-1-rng.IntN(3)].st // a reader that missed pulls
			}
		}
		got, gh, err := o.OpenOn(sealed, keys, testSecret, held)
		if err != nil {
			t.Fatalf("step %d: %v", step, err)
		}
		prev = &wh
		if gh != wh {
			t.Fatalf("step %d: header %+v, want %+v", step, gh, wh)
		}
		assertSameState(t, step, got, want)
		all = append(all, opened{got, viewOf(t, want), want.Data()})
	}
	for i, a := range all {
		if g := viewOf(t, a.st); g != a.view {
			t.Fatalf("state %d changed after later opens:\n%s\nwant\n%s", i, g, a.view)
		}
		if !reflect.DeepEqual(a.st.Data(), a.data) {
			t.Fatalf("state %d: content changed after later opens", i)
		}
	}
}

// assertSameState fails unless got holds what want holds (content,
// lookups, compiled answers).
func assertSameState(t *testing.T, step int, got, want *State) {
	t.Helper()
	if g, w := viewOf(t, got), viewOf(t, want); g != w {
		t.Fatalf("step %d: view differs from Open's:\n%s\nwant\n%s", step, g, w)
	}
	if g, w := got.Data(), want.Data(); !reflect.DeepEqual(g, w) {
		t.Fatalf("step %d: content differs from Open's:\n%+v\nwant\n%+v", step, g, w)
	}
	if err := got.Validate(); err != nil {
		t.Fatalf("step %d: does not validate: %v", step, err)
	}
	if !reflect.DeepEqual(got.indexes, want.indexes) {
		t.Fatalf("step %d: indexes differ from Open's:\n%v\nwant\n%v", step, got.indexes, want.indexes)
	}
	for _, u := range want.Users() {
		for _, k := range []struct {
			name string
			f    func(*State) (iam.User, bool)
		}{
			{"id", func(s *State) (iam.User, bool) { return s.User(u.ID) }},
			{"name", func(s *State) (iam.User, bool) { return s.UserByName(u.Name) }},
			{"key", func(s *State) (iam.User, bool) { return s.UserByAccessKey(u.AccessKeyID) }},
		} {
			g, gok := k.f(got)
			w, wok := k.f(want)
			if gok != wok || !reflect.DeepEqual(g, w) {
				t.Fatalf("step %d: user %s by %s: %+v %v, want %+v %v", step, u.ID, k.name, g, gok, w, wok)
			}
		}
		cu, ok := got.Lookup(u.AccessKeyID)
		wu, wok := want.Lookup(u.AccessKeyID)
		if ok != wok {
			t.Fatalf("step %d: user %s: Lookup %v, Open's %v", step, u.ID, ok, wok)
		}
		if !ok {
			continue
		}
		if cu.SecretAccessKey() != wu.SecretAccessKey() {
			t.Fatalf("step %d: user %s compiled with another secret", step, u.ID)
		}
		for _, a := range []iam.Action{iam.ActionRead, iam.ActionWrite, iam.ActionList, iam.ActionDelete} {
			for _, bucket := range []string{"bucket-3", "x", "y", "z", "team-3", "team-4", "home", "archive", "g1", "g2", "r0"} {
				if g, w := cu.Allowed(a, bucket, "u000007/k"), wu.Allowed(a, bucket, "u000007/k"); g != w {
					t.Fatalf("step %d: user %s %s %s: allowed %v, Open's %v", step, u.ID, a, bucket, g, w)
				}
			}
		}
	}
	for _, g := range want.Groups() {
		gg, ok := got.GroupByName(g.Name)
		if !ok || !reflect.DeepEqual(gg, g) {
			t.Fatalf("step %d: group %s by name: %+v %v, want %+v", step, g.Name, gg, ok, g)
		}
	}
	for _, p := range want.Providers() {
		gp, ok := got.ProviderByName(p.Name)
		if !ok || !reflect.DeepEqual(gp, p) {
			t.Fatalf("step %d: provider %s by name: %+v %v, want %+v", step, p.Name, gp, ok, p)
		}
	}
}

// randomOp returns an Op on s chosen by rng (it may fail to apply; the
// caller then draws another).
func randomOp(rng *rand.Rand, s *State) Op {
	users, groups, providers := s.Users(), s.Groups(), s.Providers()
	anyUser := func() iam.User { return users[rng.IntN(len(users))] }
	anyGroup := func() iam.Group { return groups[rng.IntN(len(groups))] }
	rules := func() []iam.Rule {
		return allowAll(fmt.Sprintf("r%d/*", rng.IntN(4)))
	}
	name := func(prefix string) string { return fmt.Sprintf("%s%06d", prefix, rng.IntN(1_000_000)) }
	switch k := rng.IntN(16); {
	case k == 0 || (len(users) == 0 && k < 6):
		var gids []string
		if len(groups) > 0 && rng.IntN(2) == 0 {
			gids = []string{anyGroup().ID}
		}
		return NewCreateUser(name("a"), rng.IntN(4) > 0, rules(), gids)
	case k == 1:
		return &DeleteUser{ID: anyUser().ID}
	case k == 2:
		return &UpdateUser{ID: anyUser().ID, Permissions: ptr(rules())}
	case k == 3:
		return &UpdateUser{ID: anyUser().ID, Enabled: ptr(rng.IntN(2) == 0)}
	case k == 4:
		return &UpdateUser{ID: anyUser().ID, Name: ptr(name("z"))} // moves it in name order
	case k == 5:
		return NewRotateKeys(anyUser().ID)
	case k == 6 || (len(groups) == 0 && k < 12):
		return NewCreateGroup(name("g"), "made", rules(), nil)
	case k == 7:
		return &DeleteGroup{ID: anyGroup().ID}
	case k == 8:
		return &UpdateGroup{ID: anyGroup().ID, Permissions: ptr(rules())}
	case k == 9:
		return &UpdateGroup{ID: anyGroup().ID, Name: ptr(name("h")), Description: ptr(name("d"))}
	case k == 10:
		return &AddMember{GroupID: anyGroup().ID, UserID: anyUser().ID}
	case k == 11:
		u := anyUser()
		if len(u.GroupIDs) == 0 {
			return &AddMember{GroupID: anyGroup().ID, UserID: u.ID}
		}
		return &RemoveMember{GroupID: u.GroupIDs[rng.IntN(len(u.GroupIDs))], UserID: u.ID}
	case k == 12:
		p := iam.AuthProvider{Name: name("p"), Type: "oidc", IssuerURL: "https://id.example.com", ClientID: name("c"), Enabled: true}
		if len(groups) > 0 {
			p.GroupMappings = []iam.GroupMapping{{Email: "a@example.com", Groups: []string{anyGroup().ID}}}
		}
		return NewCreateProvider(p)
	case k == 13 && len(providers) > 0:
		return &UpdateProvider{ID: providers[rng.IntN(len(providers))].ID, ClientID: ptr(name("c")), Priority: ptr(rng.IntN(9))}
	case k == 14 && len(providers) > 1:
		return &DeleteProvider{ID: providers[rng.IntN(len(providers))].ID}
	default:
		return &RevokeSessions{Identity: anyUser().ID, Since: t0.Add(-1)}
	}
}
