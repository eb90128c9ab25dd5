package iam

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// referenceAllowed evaluates rules directly, rule by rule, with the same
// pattern semantics as the compiled authorizer but none of its layout
// (bucket index, per-action sets, shared backing arrays).
func referenceAllowed(rules []Rule, action Action, bucket, key string) bool {
	ai := actionIndex(action)
	if ai < 0 {
		return false
	}
	names := func(r Rule) bool {
		for _, a := range r.Actions {
			if a == ActionAll || a == action {
				return true
			}
		}
		return false
	}
	if bucket == "" {
		if ai != idxList {
			return false
		}
		for _, r := range rules {
			if r.Effect == EffectDeny && names(r) {
				for _, res := range r.Resources {
					if res == "*" {
						return false
					}
				}
			}
		}
		return true
	}
	mode := modeObject
	switch {
	case ai == idxList:
		mode = modeList
	case key == "":
		mode = modeBucket
	}
	matches := func(deny bool) bool {
		for _, r := range rules {
			if (r.Effect == EffectDeny) != deny || !names(r) {
				continue
			}
			for _, res := range r.Resources {
				p, b := compilePattern(res)
				if (b == "" || b == bucket) && match(&p, mode, deny, bucket, key) {
					return true
				}
			}
		}
		return false
	}
	return !matches(true) && matches(false)
}

// match is the reference semantics of one pattern against one request
// (docs/iam.md), for referenceAllowed; the authorizer inlines it in one
// loop per request mode (matchObject, matchBucket, matchList).
func match(p *pattern, mode requestMode, deny bool, b, k string) bool {
	switch p.kind {
	case patAny:
		return true
	case patPrefix:
		return covers(p.s, b, k) // s has no '/', so no listing can be "within" it
	case patBucket:
		// The bucket itself: bucket-level operations and every listing.
		return mode != modeObject
	case patObject:
		switch mode {
		case modeObject:
			return p.s == k
		case modeList: // a denied object inside the listing denies the listing
			return deny && strings.HasPrefix(p.s, k)
		}
		return false
	default: // patKeyPrefix
		switch mode {
		case modeObject:
			return strings.HasPrefix(k, p.s)
		case modeBucket: // only a pattern covering the whole bucket
			return p.s == ""
		}
		return strings.HasPrefix(k, p.s) || (deny && strings.HasPrefix(p.s, k))
	}
}

// TestCompiledLayoutMatchesReference compiles random users (own rules and
// group rules over few or many buckets, so both bucket searches are used)
// and compares every decision with referenceAllowed.
func TestCompiledLayoutMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	actions := []Action{ActionRead, ActionWrite, ActionDelete, ActionList, ActionAdmin, ActionAll}
	keys := []string{"", "a", "a/", "a/b", "a/b/c.txt", "ab", "log", "logs/x", "z"}
	randomRules := func(n, buckets int) []Rule {
		var rules []Rule
		for range n {
			r := Rule{Effect: EffectAllow}
			if rng.IntN(4) == 0 {
				r.Effect = EffectDeny
			}
			for range 1 + rng.IntN(2) {
				r.Actions = append(r.Actions, actions[rng.IntN(len(actions))])
			}
			for range 1 + rng.IntN(3) {
				b := fmt.Sprintf("b%d", rng.IntN(buckets))
				var res string
				switch rng.IntN(8) {
				case 0:
					res = "*"
				case 1:
					res = b[:1] + "*"
				case 2:
					res = b
				case 3:
					res = b + "/*"
				default:
					res = b + "/" + keys[1+rng.IntN(len(keys)-1)]
					if rng.IntN(2) == 0 {
						res += "*"
					}
				}
				r.Resources = append(r.Resources, res)
			}
			rules = append(rules, r)
		}
		return rules
	}
	for iter := range 200 {
		buckets := 1 + rng.IntN(12) // up to twice linearBuckets
		var groups []Group
		var gids []string
		for g := range rng.IntN(4) {
			id := fmt.Sprintf("g%d", g)
			groups = append(groups, Group{ID: id, Permissions: randomRules(rng.IntN(6), buckets)})
			gids = append(gids, id)
		}
		u := testUser("u", randomRules(rng.IntN(20), buckets), gids...)
		a := mustCompile(t, []User{u}, groups)
		cu, _ := a.User("u")
		all := append([]Rule(nil), u.Permissions...)
		for _, g := range groups {
			all = append(all, g.Permissions...)
		}
		for b := -1; b <= buckets; b++ {
			bucket := ""
			if b >= 0 {
				bucket = fmt.Sprintf("b%d", b)
			}
			for _, act := range actions {
				for _, key := range keys {
					got, want := cu.Allowed(act, bucket, key), referenceAllowed(all, act, bucket, key)
					if got != want {
						t.Fatalf("iteration %d: Allowed(%s, %q, %q) = %v, reference %v; rules %+v", iter, act, bucket, key, got, want, all)
					}
				}
			}
		}
	}
}

// TestCompileParts checks that CompileGroup, CompileUser and NewAuthorizer
// give what Compile gives, and that a compiled user can be reused in a
// second Authorizer.
func TestCompileParts(t *testing.T) {
	g := Group{ID: "g", Permissions: []Rule{allow(acts(ActionRead), "shared/*")}}
	cg, err := CompileGroup(g)
	if err != nil {
		t.Fatal(err)
	}
	if cg.ID() != "g" {
		t.Errorf("group id %q", cg.ID())
	}
	groups := map[string]*CompiledGroup{"g": cg}
	alice, err := CompileUser(testUser("alice", []Rule{allow(acts(ActionWrite), "alice/*")}, "g"), groups)
	if err != nil {
		t.Fatal(err)
	}
	bob, err := CompileUser(testUser("bob", nil, "g"), groups)
	if err != nil {
		t.Fatal(err)
	}
	a1, err := NewAuthorizer([]*CompiledUser{alice, bob})
	if err != nil {
		t.Fatal(err)
	}
	a2, err := NewAuthorizer([]*CompiledUser{alice}) // alice reused
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range []*Authorizer{a1, a2} {
		u, ok := a.Lookup(alice.AccessKeyID())
		if !ok || u != alice || !u.Allowed(ActionRead, "shared", "x") || !u.Allowed(ActionWrite, "alice", "x") || u.Allowed(ActionWrite, "shared", "x") {
			t.Errorf("alice in %p: %v %v", a, u, ok)
		}
	}
	if a2.Len() != 1 || a1.Len() != 2 {
		t.Errorf("lengths %d %d", a1.Len(), a2.Len())
	}
	if _, err := CompileUser(testUser("carol", nil, "nope"), groups); err == nil {
		t.Error("unknown group accepted")
	}
	if _, err := CompileGroup(Group{ID: "bad", Permissions: []Rule{allow(acts("fly"), "*")}}); !errors.Is(err, ErrInvalid) {
		t.Errorf("invalid group rule: %v", err)
	}
	if _, err := NewAuthorizer([]*CompiledUser{alice, alice}); !errors.Is(err, ErrDuplicate) {
		t.Errorf("duplicate user: %v", err)
	}
	if _, err := NewAuthorizer([]*CompiledUser{nil}); err == nil {
		t.Error("nil user accepted")
	}
}

// TestUserCompilerBlocks compiles many users, small and large, through one
// UserCompiler (shared blocks) and checks each against CompileUser.
func TestUserCompilerBlocks(t *testing.T) {
	g, err := CompileGroup(Group{ID: "g", Permissions: []Rule{allow(acts(ActionRead, ActionList), "shared/*"), deny(acts(ActionAll), "shared/secret/*")}})
	if err != nil {
		t.Fatal(err)
	}
	groups := map[string]*CompiledGroup{"g": g}
	c := NewUserCompiler(groups)
	var users []User
	var compiled []*CompiledUser
	for i := range 700 {
		var rules []Rule
		for r := range 1 + i%7 {
			rules = append(rules, allow(acts(ActionAll), fmt.Sprintf("b%d/u%d/*", r, i)))
		}
		if i%100 == 0 { // a large user: its patterns get their own allocation
			for r := range 200 {
				rules = append(rules, allow(acts(ActionWrite), fmt.Sprintf("big%d/*", r)))
			}
		}
		u := testUser(fmt.Sprintf("u%d", i), rules, "g")
		cu, err := c.Compile(u)
		if err != nil {
			t.Fatal(err)
		}
		users, compiled = append(users, u), append(compiled, cu)
	}
	for i, u := range users {
		want, err := CompileUser(u, groups)
		if err != nil {
			t.Fatal(err)
		}
		got := compiled[i]
		for _, b := range []string{"shared", "b0", "b3", "big7", "big199", "other"} {
			for _, act := range []Action{ActionRead, ActionWrite, ActionDelete, ActionList, ActionAdmin} {
				for _, key := range []string{"", "secret/x", fmt.Sprintf("u%d/f", i), "u1/f"} {
					if got.Allowed(act, b, key) != want.Allowed(act, b, key) {
						t.Fatalf("user %d: Allowed(%s, %q, %q) differs from CompileUser's", i, act, b, key)
					}
				}
			}
		}
	}
	if _, err := c.Compile(testUser("bad", nil, "nope")); err == nil {
		t.Error("unknown group accepted")
	}
}
