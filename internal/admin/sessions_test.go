package admin

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dgp-proxy/dgp/internal/configdb"
	"github.com/dgp-proxy/dgp/internal/configsync"
	"github.com/dgp-proxy/dgp/internal/iam"
)

// keysOf returns the login body of a user created through the API.
func keysOf(u map[string]any) map[string]string {
	return map[string]string{"access_key_id": u["access_key_id"].(string), "secret_access_key": u["secret_access_key"].(string)}
}

// TestRevokedForGood: every change that makes an enabled admin user stop
// being one ends its sessions on every instance, and undoing the change
// does not bring them back; a new sign-in afterwards works.
func TestRevokedForGood(t *testing.T) {
	h := newHarness(t)
	// Instance B shares the fleet's IAM state and key.
	b := newHarness(t, func(o *Options) { o.IAM = h.iam; o.Now = h.clock.Now })
	adm := h.client(t)
	adm.login()
	admins := adm.must(http.StatusCreated, "POST", "/groups", map[string]any{"name": "admins", "permissions": adminRule}).obj(t)
	gid := admins["id"].(string)
	denyAdmin := []map[string]any{{"effect": "Deny", "actions": []string{"admin"}, "resources": []string{"*"}}}
	nay := adm.must(http.StatusCreated, "POST", "/groups", map[string]any{"name": "nay", "permissions": denyAdmin}).obj(t)
	nayID := nay["id"].(string)

	cases := []struct {
		name      string
		viaGroup  bool // the user is an admin through the group "admins", not its own rules
		end, undo func(uid string)
		noRelogin bool // the undo does not restore the old keys
	}{
		{name: "disabled then enabled",
			end:  func(id string) { adm.must(200, "PUT", "/users/"+id, map[string]any{"enabled": false}) },
			undo: func(id string) { adm.must(200, "PUT", "/users/"+id, map[string]any{"enabled": true}) }},
		{name: "own admin rule removed then given back",
			end:  func(id string) { adm.must(200, "PUT", "/users/"+id, map[string]any{"permissions": []any{}}) },
			undo: func(id string) { adm.must(200, "PUT", "/users/"+id, map[string]any{"permissions": adminRule}) }},
		{name: "a deny rule added then removed",
			end: func(id string) {
				adm.must(200, "PUT", "/users/"+id, map[string]any{"permissions": append(denyAdmin, adminRule...)})
			},
			undo: func(id string) { adm.must(200, "PUT", "/users/"+id, map[string]any{"permissions": adminRule}) }},
		{name: "group's admin rule removed then given back", viaGroup: true,
			end:  func(string) { adm.must(200, "PUT", "/groups/"+gid, map[string]any{"permissions": []any{}}) },
			undo: func(string) { adm.must(200, "PUT", "/groups/"+gid, map[string]any{"permissions": adminRule}) }},
		{name: "removed from the group then added back", viaGroup: true,
			end:  func(id string) { adm.must(200, "DELETE", "/groups/"+gid+"/members/"+id, nil) },
			undo: func(id string) { adm.must(200, "POST", "/groups/"+gid+"/members", map[string]any{"user_id": id}) }},
		{name: "group_ids emptied then restored", viaGroup: true,
			end:  func(id string) { adm.must(200, "PUT", "/users/"+id, map[string]any{"group_ids": []string{}}) },
			undo: func(id string) { adm.must(200, "PUT", "/users/"+id, map[string]any{"group_ids": []string{gid}}) }},
		{name: "member_ids of the group edited then restored", viaGroup: true,
			end:  func(string) { adm.must(200, "PUT", "/groups/"+gid, map[string]any{"member_ids": []string{}}) },
			undo: func(id string) { adm.must(200, "PUT", "/groups/"+gid, map[string]any{"member_ids": []string{id}}) }},
		{name: "admin group deleted", viaGroup: true,
			end: func(string) { adm.must(http.StatusNoContent, "DELETE", "/groups/"+gid, nil) },
			undo: func(id string) {
				g := adm.must(http.StatusCreated, "POST", "/groups", map[string]any{"name": "admins", "permissions": adminRule,
					"member_ids": []string{id}}).obj(t)
				gid = g["id"].(string)
			}},
		{name: "added to a denying group then removed",
			end:  func(id string) { adm.must(200, "POST", "/groups/"+nayID+"/members", map[string]any{"user_id": id}) },
			undo: func(id string) { adm.must(200, "DELETE", "/groups/"+nayID+"/members/"+id, nil) }},
		{name: "keys rotated", noRelogin: true,
			end:  func(id string) { adm.must(200, "POST", "/users/"+id+"/rotate-keys", nil) },
			undo: func(string) {}},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			body := map[string]any{"name": "victim-" + string(rune('a'+i)), "permissions": adminRule}
			if tc.viaGroup {
				body = map[string]any{"name": "victim-" + string(rune('a'+i)), "group_ids": []string{gid}}
			}
			u := adm.createUser(body)
			uid := u["id"].(string)
			h.clock.Advance(time.Second)
			token := sessionCookie(t, h.client(t).must(200, "POST", "/login", keysOf(u))).Value
			if r := withToken(t, b.srv.URL, "GET", "/whoami", token); r.status != 200 {
				t.Fatalf("B refused the fresh session: %d %s", r.status, r.body)
			}
			gen := h.iam.Current().Generation()
			h.clock.Advance(time.Second)
			tc.end(uid)
			st := h.iam.Current()
			if st.Generation() != gen+1 {
				t.Fatalf("generation %d after one change from %d: the revocation was a separate publish", st.Generation(), gen)
			}
			if at, ok := st.RevokedSince("user:" + uid); !ok || !at.Equal(h.clock.Now()) {
				t.Fatalf("no revocation of user:%s at %v in the change's own state: %v", uid, h.clock.Now(), st.Revocations())
			}
			wantError(t, withToken(t, h.srv.URL, "GET", "/whoami", token), 401, "unauthenticated")
			wantError(t, withToken(t, b.srv.URL, "GET", "/whoami", token), 401, "unauthenticated")

			h.clock.Advance(time.Second)
			tc.undo(uid)
			wantError(t, withToken(t, h.srv.URL, "GET", "/whoami", token), 401, "unauthenticated")
			wantError(t, withToken(t, b.srv.URL, "GET", "/whoami", token), 401, "unauthenticated")
			if tc.noRelogin {
				return
			}
			h.clock.Advance(time.Second)
			fresh := h.client(t)
			fresh.must(200, "POST", "/login", keysOf(u))
			fresh.must(200, "GET", "/whoami", nil)
		})
	}
}

// TestNoRevocationForHarmlessChanges: changes that leave every admin an
// admin with the same keys record no revocation.
func TestNoRevocationForHarmlessChanges(t *testing.T) {
	h := newHarness(t)
	adm := h.client(t)
	adm.login()
	boss := adm.createUser(map[string]any{"name": "boss", "permissions": adminRule})
	id := boss["id"].(string)
	plain := adm.createUser(map[string]any{"name": "plain"})
	adm.must(200, "PUT", "/users/"+id, map[string]any{"name": "big-boss"})
	adm.must(200, "PUT", "/users/"+plain["id"].(string), map[string]any{"enabled": false})
	adm.must(200, "POST", "/users/"+plain["id"].(string)+"/rotate-keys", nil)
	adm.must(http.StatusCreated, "POST", "/groups", map[string]any{"name": "readers", "member_ids": []string{id},
		"permissions": []map[string]any{{"effect": "Allow", "actions": []string{"read"}, "resources": []string{"*"}}}})
	adm.must(http.StatusNoContent, "DELETE", "/users/"+plain["id"].(string), nil)
	if revs := h.iam.Current().Revocations(); len(revs) != 0 {
		t.Fatalf("revocations recorded: %v", revs)
	}
	// A disabled user made an admin, then its rule removed: it could not
	// sign in before either, so nothing is recorded.
	off := adm.createUser(map[string]any{"name": "off", "enabled": false, "permissions": adminRule})
	adm.must(200, "PUT", "/users/"+off["id"].(string), map[string]any{"permissions": []any{}})
	if revs := h.iam.Current().Revocations(); len(revs) != 0 {
		t.Fatalf("revocations recorded: %v", revs)
	}
}

// TestRevokedOnDelete: deleting an admin user records its revocation.
func TestRevokedOnDelete(t *testing.T) {
	h := newHarness(t)
	adm := h.client(t)
	adm.login()
	u := adm.createUser(map[string]any{"name": "gone", "permissions": adminRule})
	adm.must(http.StatusNoContent, "DELETE", "/users/"+u["id"].(string), nil)
	if _, ok := h.iam.Current().RevokedSince("user:" + u["id"].(string)); !ok {
		t.Fatalf("no revocation: %v", h.iam.Current().Revocations())
	}
}

// TestRevokingOpRebase: the revocation is computed when the change is
// applied, so a change rebased onto a newer base revokes what it ends
// there.
func TestRevokingOpRebase(t *testing.T) {
	now := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	base := mustApplyT(t, configdb.Empty(), now,
		&configdb.CreateGroup{ID: "g1", Name: "ops"},
		&configdb.CreateUser{ID: "u1", Name: "ann", AccessKeyID: "AKIAANN000000000000A", SecretAccessKey: "ann-secret-0123456789",
			Enabled: true, GroupIDs: []string{"g1"}})
	op := &revokingOp{op: &configdb.UpdateGroup{ID: "g1", Permissions: &[]iam.Rule{}}, retain: time.Hour}
	// On base, ann is no admin: nothing to revoke.
	n, err := op.Apply(base, now)
	if err != nil {
		t.Fatal(err)
	}
	if len(n.Revocations()) != 0 {
		t.Fatalf("revocations on the old base: %v", n.Revocations())
	}
	// Meanwhile another change gave the group admin: rebased, the same op
	// ends ann's sessions.
	newer := mustApplyT(t, base, now, &configdb.UpdateGroup{ID: "g1", Permissions: &[]iam.Rule{adminIAMRule}})
	n, err = op.Apply(newer, now.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"group:g1", "user:u1"}
	if got := sortedKeys(n.Revocations()); !slices.Equal(got, want) {
		t.Fatalf("revocations %v, want %v", got, want)
	}
	if at, _ := n.RevokedSince("user:u1"); !at.Equal(now.Add(time.Minute)) {
		t.Fatalf("revoked since %v", at)
	}
	// Errors and no-ops pass through.
	if _, err := (&revokingOp{op: &configdb.DeleteUser{ID: "nobody"}}).Apply(base, now); err == nil {
		t.Fatal("error swallowed")
	}
	if op.Describe() != op.op.Describe() {
		t.Fatalf("Describe %q", op.Describe())
	}
	// An op of a kind endedSessions does not know: every user is looked at.
	n, err = (&revokingOp{op: opaqueOp{&configdb.UpdateUser{ID: "u1", Enabled: new(bool)}}}).Apply(newer, now)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := n.RevokedSince("user:u1"); !ok {
		t.Fatalf("unknown op: revocations %v", n.Revocations())
	}
	// The exported form, for changes published outside the API.
	ext := RevokingOp(&configdb.UpdateGroup{ID: "g1", Permissions: &[]iam.Rule{}}, 0)
	if r := ext.(*revokingOp).retain; r != DefaultSessionTTL+clockSkewMargin {
		t.Fatalf("retain %v", r)
	}
	if n, err := ext.Apply(newer, now); err != nil || len(n.Revocations()) != 2 {
		t.Fatalf("RevokingOp: %v %v", err, n)
	}
}

// opaqueOp hides the type of the op it wraps.
type opaqueOp struct{ configdb.Op }

var adminIAMRule = iam.Rule{Effect: iam.EffectAllow, Actions: []iam.Action{iam.ActionAdmin}, Resources: []string{"*"}}

func mustApplyT(t *testing.T, s *configdb.State, now time.Time, ops ...configdb.Op) *configdb.State {
	t.Helper()
	for _, op := range ops {
		var err error
		if s, err = op.Apply(s, now); err != nil {
			t.Fatalf("%s: %v", op.Describe(), err)
		}
	}
	return s
}

func sortedKeys(m map[string]time.Time) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// TestEndedSessionsOIDC: disabling, deleting or remapping an enabled
// provider, and a group that stops granting admin, record the revocations
// that cover the OIDC sessions depending on them; revoked() honours them.
func TestEndedSessionsOIDC(t *testing.T) {
	now := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	prov := iam.AuthProvider{ID: "p1", Name: "corp", Type: "oidc", IssuerURL: "https://idp.example", ClientID: "dgp",
		ClientSecret: "client-secret-xyz", Scopes: []string{"openid"}, Enabled: true}
	base := mustApplyT(t, configdb.Empty(), now,
		&configdb.CreateGroup{ID: "g-adm", Name: "adm", Permissions: []iam.Rule{adminIAMRule}},
		&configdb.CreateGroup{ID: "g-read", Name: "read"},
		&configdb.CreateProvider{Provider: prov},
		&configdb.CreateProvider{Provider: iam.AuthProvider{ID: "p2", Name: "off", Type: "oidc", IssuerURL: "https://idp2.example",
			ClientID: "dgp", ClientSecret: "client-secret-xyz", Scopes: []string{"openid"}}})
	f, t2 := false, true
	other := "https://other.example"
	cases := []struct {
		name string
		op   configdb.Op
		want []string
	}{
		{"provider disabled", &configdb.UpdateProvider{ID: "p1", Enabled: &f}, []string{"oidc:p1"}},
		{"provider deleted", &configdb.DeleteProvider{ID: "p1"}, []string{"oidc:p1"}},
		{"provider issuer changed", &configdb.UpdateProvider{ID: "p1", IssuerURL: &other}, []string{"oidc:p1"}},
		{"disabled provider deleted", &configdb.DeleteProvider{ID: "p2"}, nil},
		{"disabled provider enabled", &configdb.UpdateProvider{ID: "p2", Enabled: &t2}, nil},
		{"group's admin rule removed", &configdb.UpdateGroup{ID: "g-adm", Permissions: &[]iam.Rule{}}, []string{"group:g-adm"}},
		{"admin group deleted", &configdb.DeleteGroup{ID: "g-adm"}, []string{"group:g-adm"}},
		{"other group deleted", &configdb.DeleteGroup{ID: "g-read"}, nil},
		{"a deny admin rule added to another mapped group", &configdb.UpdateGroup{ID: "g-read",
			Permissions: &[]iam.Rule{{Effect: iam.EffectDeny, Actions: []iam.Action{iam.ActionAll}, Resources: []string{"*"}}}},
			[]string{"group:g-read"}},
		{"a read rule added to another group", &configdb.UpdateGroup{ID: "g-read",
			Permissions: &[]iam.Rule{{Effect: iam.EffectAllow, Actions: []iam.Action{iam.ActionRead}, Resources: []string{"*"}}}}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			next := mustApplyT(t, base, now, tc.op)
			if got := endedSessions(tc.op, base, next); !slices.Equal(got, tc.want) {
				t.Fatalf("endedSessions = %v, want %v", got, tc.want)
			}
		})
	}

	// revoked(): an OIDC session is covered by its provider's and its
	// groups' revocations issued after it, by everyone's, not by others'.
	sess := claims{Identity: "oidc:p1:alice@example.com", ID: "s1", Provider: "p1", Groups: []string{"g-adm", "g-read"},
		IssuedAt: now.UnixMilli(), Expires: now.Add(time.Hour).UnixMilli()}
	later := now.Add(time.Second)
	for _, tc := range []struct {
		identity string
		at       time.Time
		want     bool
	}{
		{"oidc:p1", later, true},
		{"oidc:p1", now.Add(-time.Second), false}, // an older revocation
		{"oidc:p2", later, false},
		{"group:g-adm", later, true},
		{"group:g-read", later, true},
		{"group:g-other", later, false},
		{"*", later, true},
		{"oidc:p1:alice@example.com", later, true},
		{"oidc:p1:bob@example.com", later, false},
		{"session:s1", later, true},
		{"admin", later, false},
	} {
		st := mustApplyT(t, base, now, &configdb.RevokeSessions{Identity: tc.identity, Since: tc.at})
		if got := revoked(st, sess); got != tc.want {
			t.Errorf("revocation of %q at %v: revoked = %v, want %v", tc.identity, tc.at, got, tc.want)
		}
	}
	// Without the prv claim the provider comes from the identity.
	noPrv := sess
	noPrv.Provider = ""
	st := mustApplyT(t, base, now, &configdb.RevokeSessions{Identity: "oidc:p1", Since: later})
	if !revoked(st, noPrv) {
		t.Error("provider revocation missed a session without prv")
	}
}

// mountRevokeAll registers POST /sessions/revoke-all unless routes()
// already does.
func mountRevokeAll(t *testing.T, h *harness) {
	t.Helper()
	req, err := http.NewRequest("POST", Prefix+"/sessions/revoke-all", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, pattern := h.api.mux.Handler(req); pattern == "" {
		h.api.handle("POST /sessions/revoke-all", h.api.authed(read, h.api.revokeAll))
	}
}

func TestRevokeAll(t *testing.T) {
	h := newHarness(t)
	b := newHarness(t, func(o *Options) { o.IAM = h.iam; o.Now = h.clock.Now })
	mountRevokeAll(t, h)
	adm := h.client(t)
	adm.login()
	boss := adm.createUser(map[string]any{"name": "boss", "permissions": adminRule})
	laptop := sessionCookie(t, h.client(t).login()).Value
	user := h.client(t)
	user.must(200, "POST", "/login", keysOf(boss))

	// Only the bootstrap admin may.
	wantError(t, user.do("POST", "/sessions/revoke-all", nil), http.StatusForbidden, "not_bootstrap_admin")
	// Not cross-site.
	r := sendWith(t, h, adm, "POST", "/sessions/revoke-all", "", map[string]string{"Sec-Fetch-Site": "cross-site"})
	wantError(t, r, http.StatusForbidden, "cross_site")
	// Bad body.
	wantError(t, adm.do("POST", "/sessions/revoke-all", map[string]any{"everyone": "yes"}), 400, "invalid")

	h.clock.Advance(time.Second)
	r = adm.must(200, "POST", "/sessions/revoke-all", nil)
	if m := r.obj(t); m["revoked"] != "admin" {
		t.Fatalf("answer %v", m)
	}
	if ck := sessionCookie(t, r); ck.MaxAge >= 0 {
		t.Fatalf("the caller's cookie not cleared: %v", ck)
	}
	// Every bootstrap admin session is gone, on every instance; users' stay.
	wantError(t, withToken(t, b.srv.URL, "GET", "/whoami", laptop), 401, "unauthenticated")
	wantError(t, withToken(t, h.srv.URL, "GET", "/whoami", laptop), 401, "unauthenticated")
	user.must(200, "GET", "/whoami", nil)
	// A new sign-in works.
	h.clock.Advance(time.Second)
	adm.login()
	adm.must(200, "GET", "/whoami", nil)

	// Everyone: the users' sessions end too.
	h.clock.Advance(time.Second)
	r = adm.must(200, "POST", "/sessions/revoke-all", map[string]any{"everyone": true})
	if m := r.obj(t); m["revoked"] != "everyone" {
		t.Fatalf("answer %v", m)
	}
	wantError(t, user.do("GET", "/whoami", nil), 401, "unauthenticated")
	wantError(t, adm.do("GET", "/whoami", nil), 401, "unauthenticated")
	h.clock.Advance(time.Second)
	user.must(200, "POST", "/login", keysOf(boss))
	user.must(200, "GET", "/whoami", nil)

	// A reader cannot publish: 409, nothing revoked, the cookie kept.
	adm.login()
	h.iam.setFail(configsync.ErrReadOnly)
	r = adm.do("POST", "/sessions/revoke-all", nil)
	wantError(t, r, http.StatusConflict, "read_only_replica")
	h.iam.setFail(nil)
	adm.must(200, "GET", "/whoami", nil)
}

func TestRevokeAllDeclarative(t *testing.T) {
	h := newHarness(t, func(o *Options) { o.Declarative = true })
	mountRevokeAll(t, h)
	adm := h.client(t)
	adm.login()
	h.clock.Advance(time.Second)
	adm.must(200, "POST", "/sessions/revoke-all", nil)
	wantError(t, adm.do("GET", "/whoami", nil), 401, "unauthenticated")
}

// TestRevocationsPruned: a revocation published through the API drops the
// ones whose sessions have all expired (TTL plus the skew margin).
func TestRevocationsPruned(t *testing.T) {
	h := newHarness(t, func(o *Options) { o.SessionTTL = time.Hour })
	adm := h.client(t)
	adm.login()
	adm.must(200, "POST", "/logout", nil)
	first := "session:"
	for id := range h.iam.Current().Revocations() {
		first = id
	}
	if !strings.HasPrefix(first, "session:") {
		t.Fatalf("logout revocation %q", first)
	}
	h.clock.Advance(time.Hour + clockSkewMargin) // exactly at the cutoff: kept
	adm.login()
	adm.must(200, "POST", "/logout", nil)
	if n := len(h.iam.Current().Revocations()); n != 2 {
		t.Fatalf("revocations %v", h.iam.Current().Revocations())
	}
	h.clock.Advance(time.Millisecond)
	adm.login()
	adm.must(200, "POST", "/logout", nil)
	revs := h.iam.Current().Revocations()
	if _, ok := revs[first]; ok || len(revs) != 2 {
		t.Fatalf("the expired revocation %q was not pruned: %v", first, revs)
	}

	// A user revocation prunes too.
	adm.login()
	u := adm.createUser(map[string]any{"name": "u", "permissions": adminRule})
	h.clock.Advance(2 * time.Hour)
	adm.login()
	adm.must(200, "PUT", "/users/"+u["id"].(string), map[string]any{"enabled": false})
	revs = h.iam.Current().Revocations()
	if got := sortedKeys(revs); len(got) != 1 || got[0] != "user:"+u["id"].(string) {
		t.Fatalf("revocations %v", got)
	}
}

func TestSessionInfoKinds(t *testing.T) {
	for _, tc := range []struct {
		c    claims
		want sessionInfo
	}{
		{claims{Identity: "admin", ID: "s"}, sessionInfo{Identity: "admin", Kind: "admin", SessionID: "s"}},
		{claims{Identity: "user:u1", ID: "s"}, sessionInfo{Identity: "user:u1", Kind: "user", UserID: "u1", UserName: "ann", SessionID: "s"}},
		{claims{Identity: "oidc:p1:sub", ID: "s", Provider: "p1", Groups: []string{"g"}, Name: "a@example.com"},
			sessionInfo{Identity: "oidc:p1:sub", Kind: "oidc", Provider: "p1", Groups: []string{"g"}, Name: "a@example.com", SessionID: "s"}},
	} {
		got := newSessionInfo(tc.c, "ann")
		if got.Identity != tc.want.Identity || got.Kind != tc.want.Kind || got.UserID != tc.want.UserID ||
			got.UserName != tc.want.UserName || got.Provider != tc.want.Provider || !slices.Equal(got.Groups, tc.want.Groups) ||
			got.Name != tc.want.Name || got.SessionID != tc.want.SessionID {
			t.Errorf("newSessionInfo(%+v) = %+v, want %+v", tc.c, got, tc.want)
		}
	}
}

// BenchmarkRevokingOp10k: the cost the revocation check adds to a
// mutation of a DB of 10,000 users (compare with the plain op).
func BenchmarkRevokingOp10k(b *testing.B) {
	now := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	d := configdb.Data{Groups: []iam.Group{{ID: "g1", Name: "g1", Permissions: []iam.Rule{adminIAMRule}}}}
	for i := range 10000 {
		u := iam.User{ID: fmt.Sprintf("u%05d", i), Name: fmt.Sprintf("user%05d", i), AccessKeyID: fmt.Sprintf("AKIA%016d", i),
			SecretAccessKey: fmt.Sprintf("secret-%020d", i), Enabled: true, CreatedAt: now,
			Permissions: []iam.Rule{{Effect: iam.EffectAllow, Actions: []iam.Action{iam.ActionRead}, Resources: []string{"b/*"}}}}
		if i%10 == 0 {
			u.GroupIDs = []string{"g1"}
			d.Groups[0].MemberIDs = append(d.Groups[0].MemberIDs, u.ID)
		}
		d.Users = append(d.Users, u)
	}
	base, err := configdb.NewState(1, d)
	if err != nil {
		b.Fatal(err)
	}
	ops := map[string]configdb.Op{
		"disable admin":      &configdb.UpdateUser{ID: "u00010", Enabled: new(bool)},
		"disable non-admin":  &configdb.UpdateUser{ID: "u00011", Enabled: new(bool)},
		"group loses admin":  &configdb.UpdateGroup{ID: "g1", Permissions: &[]iam.Rule{}},
		"unknown op (scans)": opaqueOp{&configdb.UpdateUser{ID: "u00011", Enabled: new(bool)}},
	}
	for name, op := range ops {
		b.Run(name+"/plain", func(b *testing.B) {
			for b.Loop() {
				if _, err := op.Apply(base, now); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(name+"/revoking", func(b *testing.B) {
			r := RevokingOp(op, time.Hour)
			for b.Loop() {
				if _, err := r.Apply(base, now); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
