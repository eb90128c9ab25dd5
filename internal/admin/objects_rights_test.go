package admin

import (
	"net/http"
	"strings"
	"testing"

	"github.com/dgp-proxy/dgp/internal/iam"
)

// TestObjectRightsOfEachPrincipal: the bootstrap admin may everything; a
// user session has exactly the rights of its keys on the S3 API (the same
// compiled user); an OIDC session has its mapped groups' rules, Deny
// winning, a deleted group granting nothing; anything else nothing.
func TestObjectRightsOfEachPrincipal(t *testing.T) {
	h := newHarness(t)
	adm := h.client(t)
	adm.login()
	rule := func(effect string, actions []string, res ...string) map[string]any {
		return map[string]any{"effect": effect, "actions": actions, "resources": res}
	}
	readers := adm.must(http.StatusCreated, "POST", "/groups", map[string]any{"name": "oidc-readers", "permissions": []any{
		rule("Allow", []string{"read", "list"}, "photos/shared/*"),
		rule("Allow", []string{"write"}, "photos/shared/inbox/*"),
	}}).obj(t)["id"].(string)
	private := adm.must(http.StatusCreated, "POST", "/groups", map[string]any{"name": "no-private", "permissions": []any{
		rule("Deny", []string{"*"}, "photos/shared/private*"),
	}}).obj(t)["id"].(string)
	admins := adm.must(http.StatusCreated, "POST", "/groups", map[string]any{"name": "admins", "permissions": []any{
		rule("Allow", []string{"admin"}, "*"),
	}}).obj(t)["id"].(string)
	bob := adm.createUser(map[string]any{"name": "bob", "group_ids": []string{readers, admins}, "permissions": []any{
		rule("Deny", []string{"write"}, "photos/shared/inbox/locked*"),
	}})
	st := h.iam.Current()

	type check struct {
		action      iam.Action
		bucket, key string
		want        bool
	}
	common := []check{
		{iam.ActionList, "", "", true},
		{iam.ActionList, "photos", "", false},
		{iam.ActionRead, "photos", "shared/a.jpg", true},
		{iam.ActionRead, "photos", "other/a.jpg", false},
		{iam.ActionWrite, "photos", "shared/inbox/new.jpg", true},
		{iam.ActionWrite, "photos", "shared/a.jpg", false},
		{iam.ActionDelete, "photos", "shared/a.jpg", false},
		{iam.ActionRead, "logs", "x", false},
	}
	for _, tc := range []struct {
		name   string
		p      principal
		checks []check
	}{
		{"bootstrap admin", principal{claims: claims{Identity: identityAdmin}}, []check{
			{iam.ActionList, "", "", true}, {iam.ActionDelete, "logs", "x", true}, {iam.ActionWrite, "any", "k", true},
		}},
		{"user", principal{claims: claims{Identity: identityUserPrefix + bob["id"].(string)}}, append(common,
			check{iam.ActionWrite, "photos", "shared/inbox/locked.jpg", false}, // its own Deny
			check{iam.ActionRead, "photos", "shared/private/p.jpg", true},      // no-private is not its group
			check{iam.ActionList, "photos", "shared/", true},
		)},
		{"oidc", principal{claims: claims{Identity: "oidc:corp:123", Name: "carol@example.com",
			Groups: []string{readers, private, "deleted-group"}}}, append(common,
			check{iam.ActionRead, "photos", "shared/private/p.jpg", false}, // Deny wins
			check{iam.ActionList, "photos", "shared/private/", false},
			// A listing that could show a denied object is denied, as on S3.
			check{iam.ActionList, "photos", "shared/", false},
			check{iam.ActionList, "photos", "shared/inbox/", true},
			check{iam.ActionWrite, "photos", "shared/inbox/locked.jpg", true},
		)},
		{"oidc without groups", principal{claims: claims{Identity: "oidc:corp:456"}}, []check{
			{iam.ActionRead, "photos", "shared/a.jpg", false}, {iam.ActionList, "photos", "", false},
		}},
		{"unknown user", principal{claims: claims{Identity: identityUserPrefix + "gone"}}, []check{
			{iam.ActionList, "", "", false}, {iam.ActionRead, "photos", "shared/a.jpg", false},
		}},
		{"unknown kind", principal{claims: claims{Identity: "session:x"}}, []check{{iam.ActionList, "", "", false}}},
	} {
		rights, rules := rightsOf(st, &tc.p)
		for _, c := range tc.checks {
			if got := rights.Allowed(c.action, c.bucket, c.key); got != c.want {
				t.Errorf("%s: Allowed(%s, %q, %q) = %v, want %v", tc.name, c.action, c.bucket, c.key, got, c.want)
			}
		}
		if want, ok := map[string]string{"user": "shared/", "oidc": ""}[tc.name]; ok {
			if !rights.BucketVisible("photos") {
				t.Errorf("%s: photos not visible", tc.name)
			}
			if got := strings.Join(listStarts(rights, rules, "photos"), ","); got != want {
				t.Errorf("%s: start prefixes %q, want %q", tc.name, got, want)
			}
		}
	}

	// The user's rights are its S3 keys' rights: the very compiled user
	// the gateway looks up by access key.
	rights, _ := rightsOf(st, &principal{claims: claims{Identity: identityUserPrefix + bob["id"].(string)}})
	s3user, ok := st.Lookup(bob["access_key_id"].(string))
	if !ok || rights != objectRights(s3user) {
		t.Fatalf("user rights are not the gateway's compiled user")
	}
	// Disabled: its keys and its object rights stop at once.
	adm.must(http.StatusOK, "PUT", "/users/"+bob["id"].(string), map[string]any{"enabled": false})
	rights, _ = rightsOf(h.iam.Current(), &principal{claims: claims{Identity: identityUserPrefix + bob["id"].(string)}})
	if rights.Allowed(iam.ActionRead, "photos", "shared/a.jpg") || rights.Allowed(iam.ActionList, "", "") {
		t.Fatal("a disabled user keeps object rights")
	}
}
