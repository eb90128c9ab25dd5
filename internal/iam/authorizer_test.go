package iam

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

// principal is the interface the S3 API declares for an authenticated user;
// CompiledUser must satisfy it exactly.
type principal interface {
	Name() string
	SecretAccessKey() string
	Allowed(action Action, bucket, key string) bool
}

var _ principal = (*CompiledUser)(nil)

func allow(actions []Action, resources ...string) Rule {
	return Rule{Effect: EffectAllow, Actions: actions, Resources: resources}
}

func deny(actions []Action, resources ...string) Rule {
	return Rule{Effect: EffectDeny, Actions: actions, Resources: resources}
}

func acts(a ...Action) []Action { return a }

func testUser(id string, rules []Rule, groups ...string) User {
	return User{
		ID: id, Name: "user-" + id, AccessKeyID: "AK" + id + "XXXXXXXX", SecretAccessKey: "secret-" + id + "-xxxxxxxx",
		Enabled: true, CreatedAt: time.Unix(0, 0), Permissions: rules, GroupIDs: groups,
	}
}

func mustCompile(tb testing.TB, users []User, groups []Group) *Authorizer {
	tb.Helper()
	a, err := Compile(users, groups)
	if err != nil {
		tb.Fatalf("Compile: %v", err)
	}
	return a
}

type check struct {
	action      Action
	bucket, key string
	want        bool
}

func TestAllowed(t *testing.T) {
	R, W, D, L, A, All := ActionRead, ActionWrite, ActionDelete, ActionList, ActionAdmin, ActionAll
	tests := []struct {
		name   string
		rules  []Rule
		checks []check
	}{
		{
			name:  "no rules denies everything but ListBuckets",
			rules: nil,
			checks: []check{
				{R, "b", "k", false}, {L, "b", "", false}, {A, "b", "", false}, {L, "", "", true},
			},
		},
		{
			name:  "star action and star resource allow everything",
			rules: []Rule{allow(acts(All), "*")},
			checks: []check{
				{R, "b", "k", true}, {W, "x", "a/b/c", true}, {D, "b", "k", true}, {L, "b", "", true},
				{A, "newbucket", "", true}, {L, "", "", true},
			},
		},
		{
			name:  "bucket/* covers objects and the bucket itself",
			rules: []Rule{allow(acts(R, L), "photos/*")},
			checks: []check{
				{R, "photos", "a.jpg", true}, {R, "photos", "dir/a.jpg", true}, {L, "photos", "", true},
				{L, "photos", "dir/", true}, {R, "photos2", "a.jpg", false}, {R, "other", "a", false},
				{W, "photos", "a.jpg", false}, {D, "photos", "a.jpg", false},
			},
		},
		{
			name:  "bucket alone matches the bucket, not its objects",
			rules: []Rule{allow(acts(All), "photos")},
			checks: []check{
				{A, "photos", "", true}, {L, "photos", "", true}, {L, "photos", "any/prefix/", true},
				{R, "photos", "a.jpg", false}, {W, "photos", "a.jpg", false}, {A, "photos2", "", false},
			},
		},
		{
			name:  "exact object",
			rules: []Rule{allow(acts(R), "b/dir/file.txt")},
			checks: []check{
				{R, "b", "dir/file.txt", true}, {R, "b", "dir/file.txt2", false}, {R, "b", "dir/file.tx", false},
				{R, "b", "dir", false}, {L, "b", "dir/", false}, {R, "bx", "dir/file.txt", false},
			},
		},
		{
			name:  "prefix scoped",
			rules: []Rule{allow(acts(R, W, L), "b/home/alice/*")},
			checks: []check{
				{R, "b", "home/alice/x", true}, {W, "b", "home/alice/deep/y", true},
				{R, "b", "home/alicex/x", false}, {R, "b", "home/bob/x", false}, {R, "b", "home/alice", false},
				{L, "b", "home/alice/", true}, {L, "b", "home/alice/sub", true},
				{L, "b", "home/", false}, {L, "b", "", false}, {L, "b", "home/alice", false},
				{A, "b", "", false},
			},
		},
		{
			name:  "prefix without slash is a string prefix",
			rules: []Rule{allow(acts(R, L), "b/log*")},
			checks: []check{
				{R, "b", "log", true}, {R, "b", "logs/2024", true}, {R, "b", "lo", false}, {L, "b", "logs/", true},
			},
		},
		{
			name:  "bucket name prefix spans buckets",
			rules: []Rule{allow(acts(R, L, A), "team-*")},
			checks: []check{
				{R, "team-a", "x", true}, {R, "team-b", "y/z", true}, {L, "team-a", "", true}, {A, "team-c", "", true},
				{R, "teamx", "x", false}, {R, "other", "x", false},
			},
		},
		{
			name:  "deny beats allow",
			rules: []Rule{allow(acts(All), "*"), deny(acts(D), "b/*"), deny(acts(All), "secret")},
			checks: []check{
				{R, "b", "k", true}, {D, "b", "k", false}, {D, "c", "k", true},
				{A, "secret", "", false}, {L, "secret", "", false}, {R, "secret", "k", true},
			},
		},
		{
			name:  "deny order does not matter",
			rules: []Rule{deny(acts(W), "b/ro/*"), allow(acts(W), "b/*")},
			checks: []check{
				{W, "b", "ro/x", false}, {W, "b", "rw/x", true},
			},
		},
		{
			name:  "deny list overlaps listings that could reveal denied keys",
			rules: []Rule{allow(acts(L, R), "b/*"), deny(acts(L), "b/private/*"), deny(acts(L), "b/pub/hidden.txt")},
			checks: []check{
				{L, "b", "", false}, {L, "b", "priv", false}, {L, "b", "private/", false}, {L, "b", "private/x/", false},
				{L, "b", "public/", true}, {L, "b", "other/", true},
				{L, "b", "pub/", false}, {L, "b", "pub/hid", false}, {L, "b", "pub/x", true},
				{R, "b", "private/x", true},
			},
		},
		{
			name:  "deny list on star refuses ListBuckets",
			rules: []Rule{allow(acts(All), "*"), deny(acts(L), "*")},
			checks: []check{
				{L, "", "", false}, {L, "b", "", false}, {R, "b", "k", true},
			},
		},
		{
			name:  "deny list on one bucket keeps ListBuckets",
			rules: []Rule{allow(acts(All), "*"), deny(acts(L), "b")},
			checks: []check{
				{L, "", "", true}, {L, "b", "", false}, {L, "c", "", true},
			},
		},
		{
			name:  "non-list actions on bucket service level are refused",
			rules: []Rule{allow(acts(All), "*")},
			checks: []check{
				{R, "", "", false}, {A, "", "", false},
			},
		},
		{
			name:  "unknown or star request action is refused",
			rules: []Rule{allow(acts(All), "*")},
			checks: []check{
				{Action("bogus"), "b", "k", false}, {All, "b", "k", false},
			},
		},
		{
			name:  "admin on bucket prefix covering the whole bucket",
			rules: []Rule{allow(acts(A), "b/*"), allow(acts(A), "c/sub*")},
			checks: []check{
				{A, "b", "", true}, {A, "c", "", false},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := mustCompile(t, []User{testUser("u1", tt.rules)}, nil)
			u, ok := a.Lookup("AKu1XXXXXXXX")
			if !ok {
				t.Fatal("user not found by access key")
			}
			for _, c := range tt.checks {
				if got := u.Allowed(c.action, c.bucket, c.key); got != c.want {
					t.Errorf("Allowed(%q, %q, %q) = %v, want %v", c.action, c.bucket, c.key, got, c.want)
				}
			}
		})
	}
}

func TestGroupRules(t *testing.T) {
	groups := []Group{
		{ID: "g1", Name: "readers", Permissions: []Rule{allow(acts(ActionRead, ActionList), "shared/*")}, MemberIDs: []string{"u1", "u2"}},
		{ID: "g2", Name: "no-delete", Permissions: []Rule{deny(acts(ActionDelete), "*")}, MemberIDs: []string{"u1"}},
	}
	users := []User{
		testUser("u1", []Rule{allow(acts(ActionAll), "own/*")}, "g1", "g2"),
		testUser("u2", nil, "g1"),
		testUser("u3", []Rule{allow(acts(ActionAll), "shared/*")}),
	}
	a := mustCompile(t, users, groups)
	cases := []struct {
		user string
		check
	}{
		{"u1", check{ActionRead, "shared", "x", true}},   // from group g1
		{"u1", check{ActionWrite, "own", "x", true}},     // own rule
		{"u1", check{ActionDelete, "own", "x", false}},   // group deny beats own allow
		{"u1", check{ActionWrite, "shared", "x", false}}, // g1 grants read only
		{"u2", check{ActionList, "shared", "", true}},
		{"u2", check{ActionDelete, "shared", "x", false}},
		{"u2", check{ActionRead, "own", "x", false}},
		{"u3", check{ActionDelete, "shared", "x", true}}, // not a member of g2
	}
	for _, c := range cases {
		u, ok := a.User(c.user)
		if !ok {
			t.Fatalf("user %s not compiled", c.user)
		}
		if got := u.Allowed(c.action, c.bucket, c.key); got != c.want {
			t.Errorf("%s: Allowed(%q, %q, %q) = %v, want %v", c.user, c.action, c.bucket, c.key, got, c.want)
		}
	}
}

func TestDisabledUser(t *testing.T) {
	u := testUser("u1", []Rule{allow(acts(ActionAll), "*")})
	u.Enabled = false
	a := mustCompile(t, []User{u}, nil)
	if _, ok := a.Lookup(u.AccessKeyID); ok {
		t.Error("Lookup returned a disabled user")
	}
	cu, ok := a.User("u1")
	if !ok {
		t.Fatal("User(id) must return disabled users")
	}
	if cu.Enabled() {
		t.Error("Enabled() = true for a disabled user")
	}
	for _, c := range []check{{ActionRead, "b", "k", false}, {ActionList, "", "", false}, {ActionAdmin, "b", "", false}} {
		if cu.Allowed(c.action, c.bucket, c.key) {
			t.Errorf("disabled user allowed %q %q %q", c.action, c.bucket, c.key)
		}
	}
	if cu.BucketVisible("b") {
		t.Error("disabled user sees a bucket")
	}
	var nilUser *CompiledUser
	if nilUser.Allowed(ActionRead, "b", "k") {
		t.Error("nil user allowed")
	}
}

func TestLookupAndAccessors(t *testing.T) {
	u := testUser("u1", nil)
	a := mustCompile(t, []User{u}, nil)
	cu, ok := a.Lookup(u.AccessKeyID)
	if !ok {
		t.Fatal("Lookup failed")
	}
	if cu.ID() != u.ID || cu.Name() != u.Name || cu.AccessKeyID() != u.AccessKeyID || cu.SecretAccessKey() != u.SecretAccessKey {
		t.Errorf("accessors = %q %q %q %q", cu.ID(), cu.Name(), cu.AccessKeyID(), cu.SecretAccessKey())
	}
	if _, ok := a.Lookup("nope"); ok {
		t.Error("Lookup of unknown key succeeded")
	}
	if a.Len() != 1 {
		t.Errorf("Len = %d", a.Len())
	}
	var nilA *Authorizer
	if _, ok := nilA.Lookup(u.AccessKeyID); ok {
		t.Error("nil authorizer found a user")
	}
}

func TestBucketVisible(t *testing.T) {
	rules := []Rule{
		allow(acts(ActionRead), "photos/2024/*"),
		allow(acts(ActionWrite), "team-*"),
		allow(acts(ActionList), "logs"),
		allow(acts(ActionAll), "hidden/*"),
		deny(acts(ActionList), "hidden"),
	}
	a := mustCompile(t, []User{testUser("u1", rules)}, nil)
	u, _ := a.User("u1")
	for bucket, want := range map[string]bool{
		"photos": true, "team-a": true, "logs": true, "hidden": false, "other": false, "photos2": false, "": false,
	} {
		if got := u.BucketVisible(bucket); got != want {
			t.Errorf("BucketVisible(%q) = %v, want %v", bucket, got, want)
		}
	}
}

func TestCompileErrors(t *testing.T) {
	tests := []struct {
		name   string
		users  []User
		groups []Group
		want   error
	}{
		{"duplicate access key", []User{testUser("a", nil), func() User { u := testUser("b", nil); u.AccessKeyID = "AKaXXXXXXXX"; return u }()}, nil, nil},
		{"duplicate user id", []User{testUser("a", nil), testUser("a", nil)}, nil, nil},
		{"unknown group", []User{testUser("a", nil, "g9")}, nil, nil},
		{"duplicate group id", nil, []Group{{ID: "g"}, {ID: "g"}}, nil},
		{"invalid user rule", []User{testUser("a", []Rule{allow(acts("fly"), "*")})}, nil, ErrInvalid},
		{"invalid group rule", nil, []Group{{ID: "g", Permissions: []Rule{allow(acts(ActionRead), "b/*x")}}}, ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Compile(tt.users, tt.groups)
			if err == nil {
				t.Fatal("Compile succeeded")
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("err = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestAllowedDoesNotAllocate(t *testing.T) {
	a, key := benchAuthorizer(t)
	u, _ := a.Lookup(key)
	allocs := testing.AllocsPerRun(100, func() {
		u.Allowed(ActionRead, "bucket-3", "some/deep/key.txt")
		u.Allowed(ActionList, "bucket-1", "prefix/")
		u.Allowed(ActionAdmin, "bucket-2", "")
		u.Allowed(ActionList, "", "")
	})
	if allocs != 0 {
		t.Errorf("Allowed allocates %v times per run", allocs)
	}
}

// benchAuthorizer builds a user with 20 own rules and 5 groups of 16 rules
// each (100 rules), plus other users sharing the groups.
// With oneBucket every rule names the same bucket, so nothing is filtered
// by the bucket index (the worst case).
func benchAuthorizer(tb testing.TB) (*Authorizer, string) { return benchAuthorizerWith(tb, 8) }

func benchAuthorizerWith(tb testing.TB, buckets int) (*Authorizer, string) {
	var groups []Group
	var gids []string
	for g := range 5 {
		id := fmt.Sprintf("g%d", g)
		gids = append(gids, id)
		grp := Group{ID: id, Name: "group-" + id}
		for r := range 16 {
			rule := allow(acts(ActionRead, ActionList), fmt.Sprintf("bucket-%d/g%d/r%d/*", r%buckets, g, r))
			if r%5 == 4 {
				rule = deny(acts(ActionDelete), fmt.Sprintf("bucket-%d/locked-%d/*", r%buckets, r))
			}
			grp.Permissions = append(grp.Permissions, rule)
		}
		groups = append(groups, grp)
	}
	var own []Rule
	for r := range 20 {
		own = append(own, allow(acts(ActionWrite, ActionRead), fmt.Sprintf("bucket-%d/users/u0/p%d/*", r%buckets, r)))
	}
	users := []User{testUser("u0", own, gids...)}
	for i := 1; i < 50; i++ {
		users = append(users, testUser(fmt.Sprintf("u%d", i), nil, gids[i%5]))
	}
	for gi := range groups {
		for _, u := range users {
			for _, g := range u.GroupIDs {
				if g == groups[gi].ID {
					groups[gi].MemberIDs = append(groups[gi].MemberIDs, u.ID)
				}
			}
		}
	}
	return mustCompile(tb, users, groups), users[0].AccessKeyID
}

func BenchmarkAuthorize(b *testing.B) {
	a, key := benchAuthorizer(b)
	b.ReportAllocs()
	b.Run("miss", func(b *testing.B) { // scans every rule of the bucket: worst case
		u, _ := a.Lookup(key)
		for b.Loop() {
			if u.Allowed(ActionRead, "bucket-3", "nothing/matches/here.txt") {
				b.Fatal("unexpected allow")
			}
		}
	})
	b.Run("miss-one-bucket", func(b *testing.B) { // all 100 rules on the requested bucket
		a1, key1 := benchAuthorizerWith(b, 1)
		u, _ := a1.Lookup(key1)
		for b.Loop() {
			if u.Allowed(ActionRead, "bucket-0", "nothing/matches/here.txt") {
				b.Fatal("unexpected allow")
			}
		}
	})
	b.Run("hit", func(b *testing.B) {
		u, _ := a.Lookup(key)
		for b.Loop() {
			if !u.Allowed(ActionRead, "bucket-7", "g4/r15/file") {
				b.Fatal("unexpected deny")
			}
		}
	})
	b.Run("lookup+list", func(b *testing.B) {
		for b.Loop() {
			u, _ := a.Lookup(key)
			u.Allowed(ActionList, "bucket-1", "g1/r1/")
		}
	})
}
