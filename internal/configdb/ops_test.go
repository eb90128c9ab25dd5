package configdb

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dgp-proxy/dgp/internal/iam"
)

func TestCreateUser(t *testing.T) {
	s := sample(t)
	op := NewCreateUser("dave", true, allowAll("dave/*"), []string{"g-readers"})
	if len(op.ID) != 16 || len(op.AccessKeyID) != iam.AccessKeyIDLen || len(op.SecretAccessKey) != iam.SecretAccessKeyLen {
		t.Fatalf("constructor did not generate id and keys: %+v", op)
	}
	now := t0.Add(time.Hour)
	next, err := op.Apply(s, now)
	if err != nil {
		t.Fatal(err)
	}
	u, ok := next.User(op.ID)
	if !ok || u.Name != "dave" || !u.Enabled || !u.CreatedAt.Equal(now) || !reflect.DeepEqual(u.GroupIDs, []string{"g-readers"}) {
		t.Fatalf("created user: %+v", u)
	}
	if g, _ := next.Group("g-readers"); !slices.Contains(g.MemberIDs, op.ID) {
		t.Errorf("group does not list the new member: %v", g.MemberIDs)
	}
	cu, ok := next.Lookup(op.AccessKeyID)
	if !ok || cu.SecretAccessKey() != op.SecretAccessKey || !cu.Allowed(iam.ActionWrite, "dave", "x") || !cu.Allowed(iam.ActionRead, "shared", "x") {
		t.Error("new user not compiled with own and group rules")
	}
	if next.Generation() != s.Generation() {
		t.Error("Apply changed the generation")
	}
	if _, ok := s.User(op.ID); ok {
		t.Error("Apply modified the base State")
	}
	if strings.Contains(op.Describe(), op.SecretAccessKey) || strings.Contains(op.Describe(), op.AccessKeyID) {
		t.Errorf("Describe leaks keys: %s", op.Describe())
	}
	// Re-applying the same op (a publish retried after its own success) is a no-op.
	again, err := op.Apply(next, now.Add(time.Minute))
	if err != nil || again != next {
		t.Errorf("re-apply: %v (same state: %v)", err, again == next)
	}

	errCases := []struct {
		name  string
		op    *CreateUser
		want  error
		field string
	}{
		{"name taken", &CreateUser{ID: "new1", Name: "alice", AccessKeyID: "AKNEW1", SecretAccessKey: "secretsecret"}, ErrConflict, ""},
		{"key taken", &CreateUser{ID: "new1", Name: "zed", AccessKeyID: "AKIABOB00000000000BB", SecretAccessKey: "secretsecret"}, ErrConflict, ""},
		{"id taken by another user", &CreateUser{ID: "u-bob", Name: "zed", AccessKeyID: "AKNEW1", SecretAccessKey: "secretsecret"}, ErrConflict, ""},
		{"unknown group", &CreateUser{ID: "new1", Name: "zed", AccessKeyID: "AKNEW1", SecretAccessKey: "secretsecret", GroupIDs: []string{"g-nope"}}, ErrInvalid, "group_ids[0]"},
		{"duplicate group", &CreateUser{ID: "new1", Name: "zed", AccessKeyID: "AKNEW1", SecretAccessKey: "secretsecret", GroupIDs: []string{"g-admins", "g-admins"}}, ErrInvalid, "group_ids[1]"},
		{"bad name", &CreateUser{ID: "new1", Name: "has space", AccessKeyID: "AKNEW1", SecretAccessKey: "secretsecret"}, ErrInvalid, "name"},
		{"bad rule", &CreateUser{ID: "new1", Name: "zed", AccessKeyID: "AKNEW1", SecretAccessKey: "secretsecret",
			Permissions: []iam.Rule{{Effect: iam.EffectAllow, Actions: []iam.Action{"fly"}, Resources: []string{"*"}}}}, ErrInvalid, "permissions[0].actions[0]"},
	}
	for _, c := range errCases {
		t.Run(c.name, func(t *testing.T) {
			_, err := c.op.Apply(s, t0)
			wantErr(t, err, c.want)
			if c.field != "" {
				wantField(t, err, c.field)
			}
		})
	}
}

func TestUpdateUser(t *testing.T) {
	s := sample(t)
	next := mustApply(t, s, &UpdateUser{ID: "u-bob", Name: ptr("robert"), Enabled: ptr(false),
		Permissions: ptr(allowAll("robert/*")), GroupIDs: ptr([]string{"g-admins"})})
	u, _ := next.User("u-bob")
	if u.Name != "robert" || u.Enabled || u.Permissions[0].Resources[0] != "robert/*" || !reflect.DeepEqual(u.GroupIDs, []string{"g-admins"}) {
		t.Fatalf("updated user: %+v", u)
	}
	if _, ok := next.UserByName("bob"); ok {
		t.Error("old name still resolves")
	}
	readers, _ := next.Group("g-readers")
	admins, _ := next.Group("g-admins")
	if slices.Contains(readers.MemberIDs, "u-bob") || !slices.Contains(admins.MemberIDs, "u-bob") {
		t.Errorf("membership not moved: readers %v admins %v", readers.MemberIDs, admins.MemberIDs)
	}
	if _, ok := next.Lookup("AKIABOB00000000000BB"); ok {
		t.Error("disabled user still authenticates")
	}
	// Base untouched.
	if b, _ := s.User("u-bob"); b.Name != "bob" || !b.Enabled || !reflect.DeepEqual(b.GroupIDs, []string{"g-readers"}) {
		t.Errorf("base modified: %+v", b)
	}
	if g, _ := s.Group("g-readers"); !slices.Contains(g.MemberIDs, "u-bob") {
		t.Error("base group modified")
	}
	// Unchanged fields stay; clearing groups works.
	next2 := mustApply(t, next, &UpdateUser{ID: "u-bob", GroupIDs: ptr([]string{})})
	if u, _ := next2.User("u-bob"); u.Name != "robert" || len(u.GroupIDs) != 0 {
		t.Errorf("after clearing groups: %+v", u)
	}
	if admins, _ := next2.Group("g-admins"); slices.Contains(admins.MemberIDs, "u-bob") {
		t.Error("group still lists the user")
	}
	// Renaming to its own name is fine.
	mustApply(t, s, &UpdateUser{ID: "u-bob", Name: ptr("bob")})

	_, err := (&UpdateUser{ID: "u-nope", Enabled: ptr(true)}).Apply(s, t0)
	wantErr(t, err, ErrNotFound)
	_, err = (&UpdateUser{ID: "u-bob", Name: ptr("alice")}).Apply(s, t0)
	wantErr(t, err, ErrConflict)
	_, err = (&UpdateUser{ID: "u-bob", GroupIDs: ptr([]string{"g-nope"})}).Apply(s, t0)
	wantField(t, err, "group_ids[0]")
	_, err = (&UpdateUser{ID: "u-bob", Permissions: ptr([]iam.Rule{{Effect: "x"}})}).Apply(s, t0)
	wantField(t, err, "permissions[0].effect")
	_, err = (&UpdateUser{ID: "u-bob", Name: ptr("")}).Apply(s, t0)
	wantField(t, err, "name")
	if d := (&UpdateUser{ID: "u-bob", Name: ptr("x"), GroupIDs: ptr([]string{})}).Describe(); d != "update user u-bob (name, group_ids)" {
		t.Errorf("Describe = %q", d)
	}
}

func TestDeleteUser(t *testing.T) {
	s := sample(t)
	next := mustApply(t, s, &DeleteUser{ID: "u-alice"})
	if _, ok := next.User("u-alice"); ok {
		t.Fatal("user still there")
	}
	if _, ok := next.Lookup("AKIAALICE0000000000A"); ok {
		t.Error("deleted user still authenticates")
	}
	for _, gid := range []string{"g-admins", "g-readers"} {
		if g, _ := next.Group(gid); slices.Contains(g.MemberIDs, "u-alice") {
			t.Errorf("group %s still lists the deleted user", gid)
		}
	}
	if _, ok := s.User("u-alice"); !ok {
		t.Error("base modified")
	}
	_, err := (&DeleteUser{ID: "u-alice"}).Apply(next, t0)
	wantErr(t, err, ErrNotFound)
}

func TestRotateKeys(t *testing.T) {
	s := sample(t)
	op := NewRotateKeys("u-alice")
	next := mustApply(t, s, op)
	if _, ok := next.Lookup("AKIAALICE0000000000A"); ok {
		t.Error("old key still authenticates")
	}
	cu, ok := next.Lookup(op.AccessKeyID)
	if !ok || cu.Name() != "alice" || cu.SecretAccessKey() != op.SecretAccessKey {
		t.Fatal("new key does not authenticate alice")
	}
	if strings.Contains(op.Describe(), op.SecretAccessKey) {
		t.Error("Describe leaks the secret")
	}
	if again, err := op.Apply(next, t0); err != nil || again != next {
		t.Errorf("re-apply: %v", err)
	}
	_, err := NewRotateKeys("u-nope").Apply(s, t0)
	wantErr(t, err, ErrNotFound)
	_, err = (&RotateKeys{UserID: "u-alice", AccessKeyID: "AKIABOB00000000000BB", SecretAccessKey: "whatever-secret"}).Apply(s, t0)
	wantErr(t, err, ErrConflict)
	_, err = (&RotateKeys{UserID: "u-alice", AccessKeyID: "A", SecretAccessKey: "whatever-secret"}).Apply(s, t0)
	wantField(t, err, "access_key_id")
}

func TestGroupOps(t *testing.T) {
	s := sample(t)
	op := NewCreateGroup("ops", "operators", allowAll("ops/*"), []string{"u-carol"})
	next := mustApply(t, s, op)
	if u, _ := next.User("u-carol"); !slices.Contains(u.GroupIDs, op.ID) {
		t.Error("member does not list the new group")
	}
	if again, err := op.Apply(next, t0); err != nil || again != next {
		t.Errorf("re-apply: %v", err)
	}
	_, err := NewCreateGroup("admins", "", nil, nil).Apply(s, t0)
	wantErr(t, err, ErrConflict)
	_, err = NewCreateGroup("x", "", nil, []string{"u-ghost"}).Apply(s, t0)
	wantField(t, err, "member_ids[0]")
	_, err = (&CreateGroup{ID: "g-admins", Name: "other"}).Apply(s, t0)
	wantErr(t, err, ErrConflict)

	upd := mustApply(t, next, &UpdateGroup{ID: op.ID, Name: ptr("operators"), Description: ptr("d"), MemberIDs: ptr([]string{"u-bob"})})
	g, _ := upd.Group(op.ID)
	if g.Name != "operators" || g.Description != "d" || !reflect.DeepEqual(g.MemberIDs, []string{"u-bob"}) {
		t.Errorf("updated group %+v", g)
	}
	if u, _ := upd.User("u-carol"); slices.Contains(u.GroupIDs, op.ID) {
		t.Error("removed member still lists the group")
	}
	if u, _ := upd.User("u-bob"); !slices.Contains(u.GroupIDs, op.ID) {
		t.Error("added member does not list the group")
	}
	_, err = (&UpdateGroup{ID: op.ID, Name: ptr("readers")}).Apply(next, t0)
	wantErr(t, err, ErrConflict)
	_, err = (&UpdateGroup{ID: "g-nope", Description: ptr("x")}).Apply(next, t0)
	wantErr(t, err, ErrNotFound)
	_, err = (&UpdateGroup{ID: op.ID, Description: ptr("bad\x00")}).Apply(next, t0)
	wantField(t, err, "description")

	del := mustApply(t, s, &DeleteGroup{ID: "g-admins"})
	if u, _ := del.User("u-alice"); !reflect.DeepEqual(u.GroupIDs, []string{"g-readers"}) {
		t.Errorf("member still lists deleted group: %v", u.GroupIDs)
	}
	if cu, _ := del.Lookup("AKIAALICE0000000000A"); cu.Allowed(iam.ActionAdmin, "b", "") {
		t.Error("deleted group's rules still apply")
	}
	_, err = (&DeleteGroup{ID: "g-admins"}).Apply(del, t0)
	wantErr(t, err, ErrNotFound)
}

func TestMembershipOps(t *testing.T) {
	s := sample(t)
	next := mustApply(t, s, &AddMember{GroupID: "g-admins", UserID: "u-bob"})
	if cu, _ := next.Lookup("AKIABOB00000000000BB"); !cu.Allowed(iam.ActionAdmin, "x", "") {
		t.Error("added member lacks group rules")
	}
	if again := mustApply(t, next, &AddMember{GroupID: "g-admins", UserID: "u-bob"}); again != next {
		t.Error("adding an existing member should be a no-op")
	}
	removed := mustApply(t, next, &RemoveMember{GroupID: "g-admins", UserID: "u-bob"})
	if u, _ := removed.User("u-bob"); slices.Contains(u.GroupIDs, "g-admins") {
		t.Error("still a member")
	}
	if again := mustApply(t, removed, &RemoveMember{GroupID: "g-admins", UserID: "u-bob"}); again != removed {
		t.Error("removing a non-member should be a no-op")
	}
	for _, op := range []Op{
		&AddMember{GroupID: "g-nope", UserID: "u-bob"}, &AddMember{GroupID: "g-admins", UserID: "u-nope"},
		&RemoveMember{GroupID: "g-nope", UserID: "u-bob"}, &RemoveMember{GroupID: "g-admins", UserID: "u-nope"},
	} {
		_, err := op.Apply(s, t0)
		wantErr(t, err, ErrNotFound)
	}
}

func TestProviderOps(t *testing.T) {
	s := sample(t)
	op := NewCreateProvider(iam.AuthProvider{ID: "ignored", Name: "corp", Type: "oidc", IssuerURL: "https://sso.example.com", ClientSecret: "shh-very-secret"})
	if op.Provider.ID == "ignored" || op.Provider.ID == "" {
		t.Fatalf("constructor did not choose the id: %q", op.Provider.ID)
	}
	next := mustApply(t, s, op)
	if p, ok := next.ProviderByName("corp"); !ok || p.ClientSecret != "shh-very-secret" {
		t.Fatalf("created provider: %+v", p)
	}
	if strings.Contains(op.Describe(), "shh") {
		t.Error("Describe leaks the client secret")
	}
	_, err := NewCreateProvider(iam.AuthProvider{Name: "google", Type: "oidc"}).Apply(s, t0)
	wantErr(t, err, ErrConflict)
	_, err = NewCreateProvider(iam.AuthProvider{Name: "x", Type: "oidc", IssuerURL: "ftp://x"}).Apply(s, t0)
	wantField(t, err, "issuer_url")

	upd := mustApply(t, next, &UpdateProvider{ID: op.Provider.ID, Enabled: ptr(true), Priority: ptr(5), Scopes: ptr([]string{"openid"}), DisplayName: ptr("Corp SSO")})
	p, _ := upd.Provider(op.Provider.ID)
	if !p.Enabled || p.Priority != 5 || !reflect.DeepEqual(p.Scopes, []string{"openid"}) || p.DisplayName != "Corp SSO" || p.ClientSecret != "shh-very-secret" {
		t.Errorf("updated provider %+v", p)
	}
	_, err = (&UpdateProvider{ID: op.Provider.ID, Name: ptr("google")}).Apply(next, t0)
	wantErr(t, err, ErrConflict)
	_, err = (&UpdateProvider{ID: "p-nope"}).Apply(next, t0)
	wantErr(t, err, ErrNotFound)
	_, err = (&UpdateProvider{ID: op.Provider.ID, Type: ptr("")}).Apply(next, t0)
	wantField(t, err, "type")

	del := mustApply(t, next, &DeleteProvider{ID: op.Provider.ID})
	if _, ok := del.Provider(op.Provider.ID); ok {
		t.Error("provider still there")
	}
	_, err = (&DeleteProvider{ID: op.Provider.ID}).Apply(del, t0)
	wantErr(t, err, ErrNotFound)
}

func TestRevokeSessions(t *testing.T) {
	s := sample(t) // u-bob revoked since t0
	later := mustApply(t, s, &RevokeSessions{Identity: "u-bob", Since: t0.Add(time.Hour)})
	if got, _ := later.RevokedSince("u-bob"); !got.Equal(t0.Add(time.Hour)) {
		t.Errorf("revocation did not move forward: %v", got)
	}
	// Older time: no change (revocations only move forward).
	if same := mustApply(t, later, &RevokeSessions{Identity: "u-bob", Since: t0}); same != later {
		t.Error("an older revocation changed the state")
	}
	// Zero Since means now.
	now := t0.Add(2 * time.Hour)
	n, err := (&RevokeSessions{Identity: "admin"}).Apply(later, now)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := n.RevokedSince("admin"); !got.Equal(now) {
		t.Errorf("zero Since: %v", got)
	}
	_, err = (&RevokeSessions{Identity: ""}).Apply(s, t0)
	wantField(t, err, "identity")
}

// TestRebase applies ops made against one base to a newer base that
// another writer produced in the meantime: the result holds both changes,
// and ops that no longer apply fail with the right sentinel.
func TestRebase(t *testing.T) {
	base := sample(t)

	// Writer A prepares an op against base; writer B publishes first.
	opA := NewCreateUser("erin", true, nil, []string{"g-readers"})
	opB := NewCreateUser("frank", true, nil, []string{"g-readers"})
	newer := mustApply(t, base, opB).WithGeneration(base.Generation() + 1)

	onOld := mustApply(t, base, opA)
	onNew := mustApply(t, newer, opA)
	if onNew.Generation() != newer.Generation() {
		t.Error("Apply changed the generation")
	}
	for _, name := range []string{"erin", "frank"} {
		if _, ok := onNew.UserByName(name); !ok {
			t.Errorf("rebased state lacks %s", name)
		}
	}
	g, _ := onNew.Group("g-readers")
	if !slices.Contains(g.MemberIDs, opA.ID) || !slices.Contains(g.MemberIDs, opB.ID) {
		t.Errorf("group members after rebase: %v", g.MemberIDs)
	}
	// The op's own effect is identical on both bases (deterministic ids and keys).
	a1, _ := onOld.User(opA.ID)
	a2, _ := onNew.User(opA.ID)
	if !reflect.DeepEqual(a1, a2) {
		t.Errorf("op result differs between bases:\n%+v\n%+v", a1, a2)
	}

	// Ops that no longer apply on the newer base.
	gone := mustApply(t, base, &DeleteUser{ID: "u-carol"})
	_, err := (&UpdateUser{ID: "u-carol", Enabled: ptr(true)}).Apply(gone, t0)
	wantErr(t, err, ErrNotFound)
	taken := mustApply(t, base, NewCreateUser("erin", false, nil, nil))
	_, err = opA.Apply(taken, t0)
	wantErr(t, err, ErrConflict)
	noGroup := mustApply(t, base, &DeleteGroup{ID: "g-readers"})
	_, err = opA.Apply(noGroup, t0)
	wantErr(t, err, ErrInvalid)

	// Concurrent group edits compose: A adds a member, B renames the group.
	rename := &UpdateGroup{ID: "g-admins", Name: ptr("superusers")}
	add := &AddMember{GroupID: "g-admins", UserID: "u-carol"}
	both := mustApply(t, mustApply(t, base, rename), add)
	g, _ = both.Group("g-admins")
	if g.Name != "superusers" || !slices.Contains(g.MemberIDs, "u-carol") {
		t.Errorf("composed group: %+v", g)
	}
}
