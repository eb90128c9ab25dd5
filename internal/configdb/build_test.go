package configdb

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"

	"github.com/dgp-proxy/dgp/internal/iam"
)

// mutateDraft applies one random change to d the way Ops do (top-level
// slices are d's own, inner slices are replaced, never written), valid or
// not: renames and key changes that may collide, one-sided or two-sided
// membership changes, new, changed and invalid rules, deletions that leave
// dangling ids, new users and groups.
func mutateDraft(rng *rand.Rand, d *Data) string {
	if len(d.Users) == 0 || len(d.Groups) == 0 {
		return "nothing"
	}
	ui, gi := rng.IntN(len(d.Users)), rng.IntN(len(d.Groups))
	if gids := d.Users[ui].GroupIDs; len(gids) > 0 && rng.IntN(2) == 0 { // mostly one of the user's groups
		if j := slices.IndexFunc(d.Groups, func(g iam.Group) bool { return g.ID == gids[rng.IntN(len(gids))] }); j >= 0 {
			gi = j
		}
	}
	u, g := &d.Users[ui], &d.Groups[gi]
	other := d.Users[rng.IntN(len(d.Users))]
	rules := func() []iam.Rule {
		acts := []iam.Action{iam.ActionRead, iam.ActionWrite, iam.ActionList, iam.ActionAll, "fly"}
		res := []string{"*", "b1", "b1/*", "b2/k", "b2/x*", "b3/*", "team-*", "bad/*/x"}
		var out []iam.Rule
		for range rng.IntN(4) {
			eff := iam.EffectAllow
			if rng.IntN(3) == 0 {
				eff = iam.EffectDeny
			}
			a, r := acts[rng.IntN(len(acts)-1)], res[rng.IntN(len(res)-1)]
			if rng.IntN(20) == 0 { // occasionally invalid
				a, r = acts[len(acts)-1], res[len(res)-1]
			}
			out = append(out, iam.Rule{Effect: eff, Actions: []iam.Action{a}, Resources: []string{r}})
		}
		return out
	}
	switch op := rng.IntN(16); op {
	case 0:
		u.Enabled = !u.Enabled
		return "toggle enabled"
	case 1:
		u.Permissions = rules()
		return "user rules"
	case 2:
		u.Name = other.Name + []string{"", "-x"}[rng.IntN(2)]
		return "rename user"
	case 3:
		u.AccessKeyID = other.AccessKeyID + []string{"", "X"}[rng.IntN(2)]
		return "change key"
	case 4:
		u.GroupIDs = withID(u.GroupIDs, g.ID)
		return "membership on the user side only"
	case 5:
		g.MemberIDs = withID(g.MemberIDs, u.ID)
		return "membership on the group side only"
	case 6:
		u.GroupIDs, g.MemberIDs = withID(u.GroupIDs, g.ID), withID(g.MemberIDs, u.ID)
		return "add member"
	case 7:
		switch rng.IntN(3) {
		case 0:
			u.GroupIDs = withoutID(u.GroupIDs, g.ID)
			return "remove membership on the user side only"
		case 1:
			g.MemberIDs = withoutID(g.MemberIDs, u.ID)
			return "remove membership on the group side only"
		}
		u.GroupIDs, g.MemberIDs = withoutID(u.GroupIDs, g.ID), withoutID(g.MemberIDs, u.ID)
		return "remove member"
	case 8:
		g.Permissions = rules()
		return "group rules"
	case 9:
		if rng.IntN(2) == 0 {
			for _, gid := range u.GroupIDs {
				if gj := slices.IndexFunc(d.Groups, func(x iam.Group) bool { return x.ID == gid }); gj >= 0 {
					d.Groups[gj].MemberIDs = withoutID(d.Groups[gj].MemberIDs, u.ID)
				}
			}
		}
		d.Users = slices.Delete(d.Users, ui, ui+1)
		return "delete user"
	case 10:
		n := validUser(fmt.Sprintf("new%d", rng.IntN(1000)), fmt.Sprintf("new-%d", rng.IntN(1000)), fmt.Sprintf("NEWKEY%d", rng.IntN(1000)))
		n.Permissions = rules()
		d.Users = append(d.Users, n)
		return "new user"
	case 11:
		g.Name, g.Description = g.Name+"x", "changed"
		return "rename group"
	case 12:
		u.GroupIDs = append(slices.Clip(u.GroupIDs), u.GroupIDs...)
		return "duplicate group ids"
	case 13:
		if rng.IntN(2) == 0 {
			for _, uid := range g.MemberIDs {
				if uj := slices.IndexFunc(d.Users, func(x iam.User) bool { return x.ID == uid }); uj >= 0 {
					d.Users[uj].GroupIDs = withoutID(d.Users[uj].GroupIDs, g.ID)
				}
			}
		}
		d.Groups = slices.Delete(d.Groups, gi, gi+1)
		return "delete group"
	case 14:
		d.Groups = append(d.Groups, iam.Group{ID: fmt.Sprintf("ng%d", rng.IntN(100)), Name: fmt.Sprintf("ng-%d", rng.IntN(100)), Permissions: rules()})
		return "new group"
	default:
		u.SecretAccessKey = "another-secret-" + u.ID
		return "new secret"
	}
}

// sameAuthorization fails unless got and want decide alike for every user
// on requests over the buckets the rules name, and got's Lookup agrees
// with its Authorizer.
func sameAuthorization(t *testing.T, got, want *State) {
	t.Helper()
	ga, wa := got.Authorizer(), want.Authorizer()
	if ga.Len() != wa.Len() || ga.Len() != len(got.users) {
		t.Fatalf("authorizer sizes %d and %d for %d users", ga.Len(), wa.Len(), len(got.users))
	}
	for _, u := range got.users {
		cg, ok1 := ga.User(u.ID)
		cw, ok2 := wa.User(u.ID)
		if !ok1 || !ok2 || cg.Name() != cw.Name() || cg.AccessKeyID() != cw.AccessKeyID() || cg.SecretAccessKey() != cw.SecretAccessKey() || cg.Enabled() != cw.Enabled() {
			t.Fatalf("user %s: compiled %v/%v differ", u.ID, cg, cw)
		}
		lu, lok := got.Lookup(u.AccessKeyID)
		au, aok := ga.Lookup(u.AccessKeyID)
		if lu != au || lok != aok || lok != u.Enabled || (lok && lu != cg) {
			t.Fatalf("user %s: Lookup gives %v %v, the authorizer %v %v", u.ID, lu, lok, au, aok)
		}
		for _, act := range []iam.Action{iam.ActionRead, iam.ActionWrite, iam.ActionDelete, iam.ActionList, iam.ActionAdmin} {
			for _, b := range []string{"", "b1", "b2", "b3", "team-a", "other"} {
				for _, k := range []string{"", "k", "x1", "y"} {
					if cg.Allowed(act, b, k) != cw.Allowed(act, b, k) {
						t.Fatalf("user %s: Allowed(%s, %q, %q) differs", u.ID, act, b, k)
					}
				}
				if cg.BucketVisible(b) != cw.BucketVisible(b) {
					t.Fatalf("user %s: BucketVisible(%q) differs", u.ID, b)
				}
			}
		}
	}
	if _, ok := got.Lookup("no-such-key"); ok {
		t.Fatal("unknown key authenticates")
	}
}

// TestBuildFromBaseMatchesFullBuild checks the reuse of a base State
// (validation skipped and compiled users shared for what is unchanged)
// against a build from scratch of the same content: the same error, or the
// same content and the same decisions.
func TestBuildFromBaseMatchesFullBuild(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	base := bigState(t, 60)
	for _, op := range []Op{
		&CreateGroup{ID: "gb1", Name: "b1-team", Permissions: []iam.Rule{{Effect: iam.EffectAllow, Actions: []iam.Action{iam.ActionAll}, Resources: []string{"b1/*"}}}, MemberIDs: []string{"u000001", "u000002"}},
		&UpdateUser{ID: "u000003", Permissions: ptr([]iam.Rule{{Effect: iam.EffectDeny, Actions: []iam.Action{iam.ActionList}, Resources: []string{"b2/x*"}}})},
	} {
		base = mustApply(t, base, op)
	}
	accepted := 0
	for iter := range 5000 {
		draft := newDraft(base).Data
		var did []string
		for range 1 + rng.IntN(3) {
			did = append(did, mutateDraft(rng, &draft))
		}
		scratch := cloneData(draft)
		got, err := build(base.generation, draft, base)
		want, wantErr := build(base.generation, scratch, nil)
		if (err == nil) != (wantErr == nil) || (err != nil && err.Error() != wantErr.Error()) {
			t.Fatalf("iteration %d (%v): from base: %v; from scratch: %v", iter, did, err, wantErr)
		}
		if err != nil {
			continue
		}
		accepted++
		if !reflect.DeepEqual(got.Data(), want.Data()) {
			t.Fatalf("iteration %d (%v): content differs", iter, did)
		}
		if err := got.Validate(); err != nil {
			t.Fatalf("iteration %d (%v): built state does not validate: %v", iter, did, err)
		}
		sameAuthorization(t, got, want)
		if rng.IntN(4) == 0 {
			base = got // walk on, so bases carry reused parts too
		}
	}
	if accepted < 500 {
		t.Errorf("only %d of 5000 random changes were valid: the test exercises too little", accepted)
	}
}

// TestApplySharesUnchangedUsers checks that an Op recompiles only what it
// changes: the users it touches and the members of a group whose rules
// change.
func TestApplySharesUnchangedUsers(t *testing.T) {
	s := bigState(t, 200)
	shared := func(a, b *State) (n int) {
		for i, u := range a.users {
			if j, ok := b.userByID[u.ID]; ok && a.compiledUsers[i] == b.compiledUsers[j] {
				n++
			}
		}
		return n
	}
	next := mustApply(t, s, &UpdateUser{ID: "u000042", Enabled: ptr(false)})
	if n := shared(s, next); n != 199 {
		t.Errorf("update of one user shares %d compiled users, want 199", n)
	}
	if u, _ := next.Authorizer().User("u000042"); u.Enabled() {
		t.Error("disabled user still enabled in the authorizer")
	}
	if !maps.Equal(s.userByID, next.userByID) {
		t.Error("indexes differ")
	}
	// Group g03 has every 20th user from the 4th: 10 members.
	next = mustApply(t, s, &UpdateGroup{ID: "g03", Permissions: ptr(allowAll("elsewhere/*"))})
	if n := shared(s, next); n != 190 {
		t.Errorf("a group rule change shares %d compiled users, want 190", n)
	}
	if u, _ := next.Authorizer().User("u000003"); !u.Allowed(iam.ActionRead, "elsewhere", "x") || u.Allowed(iam.ActionRead, "team-3", "x") {
		t.Error("member of the changed group keeps the old group rules")
	}
	if u, _ := next.Authorizer().User("u000004"); u.Allowed(iam.ActionRead, "elsewhere", "x") {
		t.Error("non-member got the changed group's rules")
	}
	// A rename moves positions: the users are still shared.
	next = mustApply(t, s, &UpdateUser{ID: "u000000", Name: ptr("zz-last")})
	if n := shared(s, next); n != 199 {
		t.Errorf("a rename shares %d compiled users, want 199", n)
	}
	if u, ok := next.Lookup("AK000000000000000000"); !ok || u.Name() != "zz-last" {
		t.Errorf("renamed user: %v %v", u, ok)
	}
}
