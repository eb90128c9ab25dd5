package configdb

import (
	"errors"
	"fmt"
	"testing"

	"github.com/dgp-proxy/dgp/internal/iam"
)

// sealAt seals s for the tests of OpenOn.
func sealAt(tb testing.TB, s *State, keys *KeyCache) []byte {
	tb.Helper()
	b, err := Seal(s, SealOptions{WriterNode: "t"}, keys, testSecret)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// TestOpenOnEqualsOpen: for every change a pulled DB may bring relative
// to the held one (and for an unrelated base), OpenOn gives the State Open
// gives, sharing the compiled form of exactly the unchanged users.
func TestOpenOnEqualsOpen(t *testing.T) {
	keys := NewKeyCache(2)
	base := bigState(t, 100)
	users := base.Users()
	changed := users[7].ID
	cases := map[string]struct {
		op      Op
		base    *State
		changed []string // ids of the users whose compiled form must not be shared
		shared  bool     // whether the unchanged users must be shared
	}{
		"new user":        {op: NewCreateUser("fresh", true, allowAll("x/*"), nil), shared: true},
		"permissions":     {op: &UpdateUser{ID: changed, Permissions: ptr(allowAll("y/*"))}, changed: []string{changed}, shared: true},
		"disabled":        {op: &UpdateUser{ID: changed, Enabled: ptr(false)}, changed: []string{changed}, shared: true},
		"rotated keys":    {op: NewRotateKeys(changed), changed: []string{changed}, shared: true},
		"deleted user":    {op: &DeleteUser{ID: changed}, shared: true},
		"group rules":     {op: &UpdateGroup{ID: "g03", Permissions: ptr(allowAll("z/*"))}, shared: true},
		"membership":      {op: &AddMember{GroupID: "g04", UserID: changed}, changed: []string{changed}, shared: true},
		"unrelated base":  {op: NewCreateUser("fresh", true, nil, nil), base: sample(t)},
		"empty base":      {op: NewCreateUser("fresh", true, nil, nil), base: Empty()},
		"same generation": {base: base},
	}
	for name, tc := range cases {
		for _, opened := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/opened=%v", name, opened), func(t *testing.T) {
				testOpenOn(t, keys, base, tc.op, tc.base, tc.changed, tc.shared, opened)
			})
		}
	}
}

// testOpenOn is one case of TestOpenOnEqualsOpen; with opened, the held
// State is opened from its sealed form (so OpenOn also reuses the texts
// of its users, not only their compiled form).
func testOpenOn(t *testing.T, keys *KeyCache, base *State, op Op, heldBase *State, changed []string, shared, opened bool) {
	tc := struct {
		op      Op
		base    *State
		changed []string
		shared  bool
	}{op, heldBase, changed, shared}
	{
		{
			next := base
			if tc.op != nil {
				next = mustApply(t, base, tc.op).WithGeneration(base.Generation() + 1)
			}
			sealed := sealAt(t, next, keys)
			want, wh, err := Open(sealed, keys, testSecret)
			if err != nil {
				t.Fatal(err)
			}
			held := base
			if tc.base != nil {
				held = tc.base
			}
			if opened {
				var err error
				if held, _, err = Open(sealAt(t, held, keys), keys, testSecret); err != nil {
					t.Fatal(err)
				}
				if held.raw == nil && held.NumUsers() > 0 {
					t.Fatal("a State opened from a sealed DB holds no user texts")
				}
			}
			got, gh, err := OpenOn(sealed, keys, testSecret, held)
			if err != nil {
				t.Fatal(err)
			}
			if gh != wh {
				t.Fatalf("header %+v, want %+v", gh, wh)
			}
			if g, w := viewOf(t, got), viewOf(t, want); g != w {
				t.Fatalf("OpenOn view differs from Open's:\n%s\nwant\n%s", g, w)
			}
			if err := got.Validate(); err != nil {
				t.Fatalf("OpenOn state does not validate: %v", err)
			}
			sharedN := 0
			for _, u := range got.Users() {
				cu, ok := got.Lookup(u.AccessKeyID)
				wu, wok := want.Lookup(u.AccessKeyID)
				if ok != wok || ok != u.Enabled {
					t.Fatalf("user %s: Lookup %v, Open's %v, enabled %v", u.ID, ok, wok, u.Enabled)
				}
				if !ok {
					continue
				}
				if cu.SecretAccessKey() != wu.SecretAccessKey() {
					t.Fatalf("user %s compiled differently", u.ID)
				}
				for _, a := range []iam.Action{iam.ActionRead, iam.ActionWrite, iam.ActionList, iam.ActionDelete} {
					for _, bucket := range []string{"bucket-3", "x", "y", "z", "team-3", "team-4", "home", "archive"} {
						if g, w := cu.Allowed(a, bucket, "u000007/k"), wu.Allowed(a, bucket, "u000007/k"); g != w {
							t.Fatalf("user %s %s %s: allowed %v, Open's %v", u.ID, a, bucket, g, w)
						}
					}
				}
				hu, inBase := held.Lookup(u.AccessKeyID)
				if inBase && hu == cu {
					sharedN++
					for _, id := range tc.changed {
						if id == u.ID {
							t.Fatalf("changed user %s shares the compiled form of the held state", id)
						}
					}
				}
			}
			if tc.shared && sharedN < 90 {
				t.Fatalf("%d compiled users shared with the held state, want most", sharedN)
			}
		}
	}
}

// TestOpenOnErrors: a DB that Open refuses, OpenOn refuses with the same
// error, whatever it holds.
func TestOpenOnErrors(t *testing.T) {
	keys := NewKeyCache(2)
	base := sample(t)
	sealed := sealAt(t, base, keys)
	tampered := append([]byte(nil), sealed...)
	tampered[len(tampered)-1] ^= 1
	for name, b := range map[string][]byte{"tampered": tampered, "truncated": sealed[:len(sealed)-3]} {
		_, _, werr := Open(b, keys, testSecret)
		_, _, gerr := OpenOn(b, keys, testSecret, base)
		if werr == nil || gerr == nil || werr.Error() != gerr.Error() {
			t.Fatalf("%s: OpenOn error %v, Open's %v", name, gerr, werr)
		}
	}
	_, _, err := OpenOn(sealed, keys, []byte("wrong"), base)
	if !errors.Is(err, ErrAuthFailed) {
		t.Fatalf("wrong secret: %v", err)
	}
}

func viewOf(tb testing.TB, s *State) string {
	tb.Helper()
	b, err := s.MarshalJSONView(true)
	if err != nil {
		tb.Fatal(err)
	}
	return string(b)
}

// TestOpenerReusesItsBufferSafely: one Opener opens a chain of DBs, each
// over the State of the one before, as a reader does; every State equals
// Open's and stays so after the Opener decrypted the next ones into the
// same buffer, which DBs growing by a user or so keep using. A DB that
// does not open leaves the Opener usable.
func TestOpenerReusesItsBufferSafely(t *testing.T) {
	keys := NewKeyCache(2)
	var o Opener
	s := bigState(t, 100)
	var held *State
	type opened struct {
		st   *State
		view string
	}
	var all []opened
	var first *byte // the Opener's buffer after the first DB
	ops := []Op{nil, NewCreateUser("fresh", true, allowAll("x/*"), nil), &UpdateUser{ID: s.Users()[3].ID, Enabled: ptr(false)},
		&DeleteUser{ID: s.Users()[9].ID}, NewRotateKeys(s.Users()[20].ID), &UpdateGroup{ID: "g03", Permissions: ptr(allowAll("z/*"))}}
	for i, op := range ops {
		if op != nil {
			s = mustApply(t, s, op).WithGeneration(s.Generation() + 1)
		}
		sealed := sealAt(t, s, keys)
		if i == 2 {
			if _, _, err := o.OpenOn(sealed, keys, []byte("another secret"), held); !errors.Is(err, ErrAuthFailed) {
				t.Fatalf("wrong secret: %v, want ErrAuthFailed", err)
			}
			if _, _, err := o.OpenOn(sealed[:len(sealed)-1], keys, testSecret, held); !errors.Is(err, ErrTruncated) {
				t.Fatalf("truncated: %v, want ErrTruncated", err)
			}
		}
		want, wh, err := Open(sealed, keys, testSecret)
		if err != nil {
			t.Fatal(err)
		}
		got, gh, err := o.OpenOn(sealed, keys, testSecret, held)
		if err != nil {
			t.Fatalf("DB %d: %v", i, err)
		}
		if gh != wh {
			t.Fatalf("DB %d: header %+v, want %+v", i, gh, wh)
		}
		if g, w := viewOf(t, got), viewOf(t, want); g != w {
			t.Fatalf("DB %d: Opener's view differs from Open's:\n%s\nwant\n%s", i, g, w)
		}
		all = append(all, opened{got, viewOf(t, want)})
		held = got
		if i == 0 {
			first = &o.plain[:1][0]
		} else if &o.plain[:1][0] != first {
			t.Errorf("DB %d (%d bytes after %d): decrypted into a new buffer", i, len(sealed), len(all))
		}
	}
	for i, a := range all {
		if g := viewOf(t, a.st); g != a.view {
			t.Fatalf("DB %d changed after the Opener opened the next ones:\n%s\nwant\n%s", i, g, a.view)
		}
	}
}
