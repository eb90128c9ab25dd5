package admin

import (
	"net/http"
	"strings"
	"testing"

	"github.com/dgp-proxy/dgp/internal/configdb"
)

func TestUsersCRUD(t *testing.T) {
	h := newHarness(t)
	c := h.client(t)
	c.login()

	// An empty list is an empty array, not null.
	if r := c.must(http.StatusOK, "GET", "/users", nil); strings.TrimSpace(string(r.body)) != "[]" {
		t.Fatalf("empty list: %s", r.body)
	}

	readRule := []map[string]any{{"effect": "Allow", "actions": []string{"read", "list"}, "resources": []string{"photos/*"}}}
	r := c.must(http.StatusCreated, "POST", "/users", map[string]any{"name": "alice", "permissions": readRule})
	alice := r.obj(t)
	id := alice["id"].(string)
	secret := alice["secret_access_key"].(string)
	if len(secret) != 40 || secret == configdb.Masked || alice["enabled"] != true || alice["note"] == nil {
		t.Fatalf("create answer %s", r.body)
	}
	if loc := r.header.Get("Location"); loc != Prefix+"/users/"+id {
		t.Fatalf("Location %q", loc)
	}
	if st, _ := h.iam.Current().User(id); st.SecretAccessKey != secret {
		t.Fatal("the secret shown is not the stored one")
	}

	// The seed's `jq '.[] | .name'`: an array of objects with name.
	var list []map[string]any
	c.must(http.StatusOK, "GET", "/users", nil).json(t, &list)
	if len(list) != 1 || list[0]["name"] != "alice" || list[0]["secret_access_key"] != configdb.Masked {
		t.Fatalf("list %v", list)
	}
	for _, ref := range []string{id, "alice"} {
		got := c.must(http.StatusOK, "GET", "/users/"+ref, nil)
		if strings.Contains(string(got.body), secret) {
			t.Fatalf("GET shows the secret again: %s", got.body)
		}
		if m := got.obj(t); m["id"] != id || m["secret_access_key"] != configdb.Masked || m["access_key_id"] != alice["access_key_id"] {
			t.Fatalf("GET %s: %v", ref, m)
		}
	}

	// Duplicates and bad input.
	wantError(t, c.do("POST", "/users", map[string]any{"name": "alice"}), http.StatusConflict, "conflict")
	bad := []struct {
		body  any
		field string
	}{
		{map[string]any{"name": "bob", "permissions": []map[string]any{{"effect": "Allow", "actions": []string{"read"}, "resources": []string{"/x"}}}}, "permissions[0].resources[0]"},
		{map[string]any{"name": "bob", "permissions": []map[string]any{{"effect": "Maybe", "actions": []string{"read"}, "resources": []string{"x"}}}}, "permissions[0].effect"},
		{map[string]any{"name": "bob", "permissions": []map[string]any{{"effect": "Allow", "actions": []string{"fly"}, "resources": []string{"x"}}}}, "permissions[0].actions[0]"},
		{map[string]any{"name": "-bob"}, "name"},
		{map[string]any{"name": ""}, "name"},
		{map[string]any{"name": "bob", "group_ids": []string{"nosuchgroup"}}, "group_ids[0]"},
		{`{"name": "bob", "enabled": "yes"}`, "enabled"},
	}
	for _, b := range bad {
		m := wantError(t, c.do("POST", "/users", b.body), http.StatusBadRequest, "invalid")
		if m["field"] != b.field || !strings.HasPrefix(m["message"].(string), b.field+": ") {
			t.Fatalf("body %v: field %v, message %q; want field %q", b.body, m["field"], m["message"], b.field)
		}
	}
	m := wantError(t, c.do("POST", "/users", `{"name":"bob","access_key_id":"MINE"}`), http.StatusBadRequest, "bad_request")
	if m["field"] != "access_key_id" {
		t.Fatalf("unknown field answer %v", m)
	}
	if n := h.iam.Current().NumUsers(); n != 1 {
		t.Fatalf("bad input changed the state: %d users", n)
	}

	// Update (by name), partial: only the fields given change.
	upd := c.must(http.StatusOK, "PUT", "/users/alice", map[string]any{"name": "alice2", "enabled": false}).obj(t)
	if upd["name"] != "alice2" || upd["enabled"] != false || upd["secret_access_key"] != configdb.Masked {
		t.Fatalf("update answer %v", upd)
	}
	if perms := upd["permissions"].([]any); len(perms) != 1 {
		t.Fatalf("update dropped permissions: %v", upd)
	}
	c.must(http.StatusOK, "PUT", "/users/"+id, map[string]any{"permissions": []any{}})
	if u, _ := h.iam.Current().User(id); len(u.Permissions) != 0 || u.Name != "alice2" {
		t.Fatalf("after clearing permissions: %+v", u)
	}
	c.createUser(map[string]any{"name": "carol"})
	wantError(t, c.do("PUT", "/users/"+id, map[string]any{"name": "carol"}), http.StatusConflict, "conflict")
	m = wantError(t, c.do("PUT", "/users/"+id, map[string]any{"permissions": []map[string]any{{"effect": "Allow", "actions": []string{"read"}, "resources": []string{"a*b"}}}}),
		http.StatusBadRequest, "invalid")
	if m["field"] != "permissions[0].resources[0]" {
		t.Fatalf("update validation field %v", m)
	}
	wantError(t, c.do("PUT", "/users/"+id, nil), http.StatusBadRequest, "bad_request")

	// Rotate keys: new pair shown once, old key gone.
	rot := c.must(http.StatusOK, "POST", "/users/alice2/rotate-keys", nil).obj(t)
	if rot["access_key_id"] == alice["access_key_id"] || rot["secret_access_key"] == secret || rot["secret_access_key"] == configdb.Masked {
		t.Fatalf("rotate answer %v", rot)
	}
	if _, ok := h.iam.Current().UserByAccessKey(alice["access_key_id"].(string)); ok {
		t.Fatal("old access key still valid")
	}
	if got := c.must(http.StatusOK, "GET", "/users/"+id, nil).obj(t); got["secret_access_key"] != configdb.Masked || got["access_key_id"] != rot["access_key_id"] {
		t.Fatalf("after rotation GET %v", got)
	}

	// Not found on every route.
	for _, rt := range []struct{ method, path string }{
		{"GET", "/users/nobody"}, {"PUT", "/users/nobody"}, {"DELETE", "/users/nobody"}, {"POST", "/users/nobody/rotate-keys"},
	} {
		wantError(t, c.do(rt.method, rt.path, map[string]any{}), http.StatusNotFound, "not_found")
	}

	c.must(http.StatusNoContent, "DELETE", "/users/"+id, nil)
	wantError(t, c.do("GET", "/users/"+id, nil), http.StatusNotFound, "not_found")
	wantError(t, c.do("DELETE", "/users/"+id, nil), http.StatusNotFound, "not_found")
}

func TestSecretsNeverLogged(t *testing.T) {
	h := newHarness(t)
	c := h.client(t)
	c.login()
	u := c.createUser(map[string]any{"name": "dave"})
	rot := c.must(http.StatusOK, "POST", "/users/dave/rotate-keys", nil).obj(t)
	c.must(http.StatusCreated, "POST", "/auth-providers", map[string]any{"name": "corp", "client_secret": "oidc-client-secret-xyz"})
	logs := h.logs.String()
	for _, s := range []string{u["secret_access_key"].(string), rot["secret_access_key"].(string), "oidc-client-secret-xyz", testPassword} {
		if strings.Contains(logs, s) {
			t.Fatalf("secret %q in logs:\n%s", s, logs)
		}
	}
}

func TestCreateUserWithGroupsByName(t *testing.T) {
	h := newHarness(t)
	c := h.client(t)
	c.login()
	g := c.must(http.StatusCreated, "POST", "/groups", map[string]any{"name": "readers"}).obj(t)
	u := c.createUser(map[string]any{"name": "erin", "enabled": false, "group_ids": []string{"readers"}})
	if gids := u["group_ids"].([]any); len(gids) != 1 || gids[0] != g["id"] || u["enabled"] != false {
		t.Fatalf("user %v", u)
	}
	grp := c.must(http.StatusOK, "GET", "/groups/readers", nil).obj(t)
	if ms := grp["member_ids"].([]any); len(ms) != 1 || ms[0] != u["id"] {
		t.Fatalf("group %v", grp)
	}
	// Replacing the memberships through the user.
	upd := c.must(http.StatusOK, "PUT", "/users/erin", map[string]any{"group_ids": []string{}}).obj(t)
	if gids := upd["group_ids"].([]any); len(gids) != 0 {
		t.Fatalf("user after leaving groups %v", upd)
	}
}

func TestReferenceResolution(t *testing.T) {
	h := newHarness(t)
	c := h.client(t)
	c.login()
	a := c.createUser(map[string]any{"name": "frank"})
	aid := a["id"].(string)
	// A user whose name is frank's id makes that reference ambiguous.
	b := c.createUser(map[string]any{"name": aid})

	m := wantError(t, c.do("GET", "/users/"+aid, nil), http.StatusConflict, "ambiguous")
	if !strings.Contains(m["message"].(string), "?by=id") {
		t.Fatalf("ambiguous message %v", m)
	}
	if got := c.must(http.StatusOK, "GET", "/users/"+aid+"?by=id", nil).obj(t); got["id"] != aid {
		t.Fatalf("by=id gave %v", got)
	}
	if got := c.must(http.StatusOK, "GET", "/users/"+aid+"?by=name", nil).obj(t); got["id"] != b["id"] {
		t.Fatalf("by=name gave %v", got)
	}
	wantError(t, c.do("GET", "/users/frank?by=id", nil), http.StatusNotFound, "not_found")
	if m := wantError(t, c.do("GET", "/users/frank?by=nickname", nil), http.StatusBadRequest, "invalid"); m["field"] != "by" {
		t.Fatalf("bad by: %v", m)
	}
	// In a body, the ambiguous reference is refused with its field.
	m = wantError(t, c.do("POST", "/groups", map[string]any{"name": "g", "member_ids": []string{"frank", aid}}), http.StatusConflict, "ambiguous")
	if m["field"] != "member_ids[1]" {
		t.Fatalf("field %v", m)
	}
	// A reference that is an entity's id and the same entity's name is fine.
	g := c.must(http.StatusCreated, "POST", "/groups", map[string]any{"name": "g"}).obj(t)
	c.must(http.StatusOK, "PUT", "/groups/"+g["id"].(string), map[string]any{"name": g["id"]})
	c.must(http.StatusOK, "GET", "/groups/"+g["id"].(string), nil)
}
