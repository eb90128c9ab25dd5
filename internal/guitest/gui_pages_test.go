//go:build integration

package guitest

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/rs/zerolog"

	harness "github.com/dgp-proxy/dgp/internal/testharness/browser"
	"github.com/dgp-proxy/dgp/internal/testharness/dgpfleet"
	"github.com/dgp-proxy/dgp/internal/testutil"
)

// The other pages on one instance: sign in with an IAM admin user's keys;
// the rule editor shows the API's validation error; search; rotate keys
// shows the new secret; groups with a member; an auth provider created and
// deleted; the jobs page loads.
func TestGUIPages(t *testing.T) {
	ctx := harness.New(t)
	logs := &testutil.LogBuffer{}
	in, err := dgpfleet.Start(context.Background(), dgpfleet.Spec{DataDir: t.TempDir(), Logger: zerolog.New(logs)})
	testutil.Must(t, err, "start dgp")
	t.Cleanup(func() {
		if err := in.Stop(context.Background()); err != nil {
			t.Error(err)
		}
		if t.Failed() {
			t.Logf("dgp log (tail):\n%s", testutil.Tail(logs.String(), 20))
		}
	})
	base := in.URL()
	api := newGUIAPI(t)
	api.must(http.StatusOK, http.MethodPost, base+"/_/api/admin/login", map[string]string{"password": dgpfleet.DefaultBootstrapPassword}, nil)
	var admin struct {
		AccessKeyID     string `json:"access_key_id"`
		SecretAccessKey string `json:"secret_access_key"`
	}
	api.must(http.StatusCreated, http.MethodPost, base+"/_/api/admin/users", map[string]any{"name": "gui-admin",
		"permissions": []map[string]any{{"effect": "Allow", "actions": []string{"admin"}, "resources": []string{"*"}}}}, &admin)
	var member struct {
		AccessKeyID string `json:"access_key_id"`
	}
	api.must(http.StatusCreated, http.MethodPost, base+"/_/api/admin/users", map[string]any{"name": "member-x"}, &member)
	guiWatch(t, ctx)

	// Sign in with the admin user's keys.
	guiDo(t, ctx, "login page", chromedp.Navigate(base+"/_/ui/login"))
	guiDo(t, ctx, "sign in with keys",
		chromedp.SetValue(chromedp.ID("access-key-id"), admin.AccessKeyID),
		chromedp.SetValue(chromedp.ID("secret-access-key"), admin.SecretAccessKey),
		chromedp.Click(chromedp.ID("login-keys-submit")))
	guiUntil(t, ctx, "signed in as the user", `location.pathname === "/_/ui/" && document.getElementById("whoami").innerText === "gui-admin (user)"`)
	if hidden := guiEval[bool](t, ctx, `document.getElementById("signout-all").classList.contains("hidden")`); !hidden {
		t.Error("sign out everywhere offered to an IAM user")
	}

	// The rule editor: the API's validation message, naming the field.
	guiDo(t, ctx, "users page", chromedp.Navigate(base+"/_/ui/users"))
	guiUntil(t, ctx, "users loaded", `!!document.querySelector(`+jsString(guiRow("data-name", "member-x"))+`)`)
	guiDo(t, ctx, "bad rule",
		chromedp.Click(chromedp.ID("new-user")),
		chromedp.SetValue(chromedp.ID("user-name"), "bad-rule"),
		chromedp.SetValue(chromedp.ID("user-rules"), `[{"effect":"Allow","actions":["read"],"resources":["/photos"]}]`),
		chromedp.Click(chromedp.ID("user-save")))
	guiUntil(t, ctx, "validation error", `document.getElementById("messages").innerText.includes("permissions[0].resources[0]")`)
	guiDo(t, ctx, "not JSON",
		chromedp.SetValue(chromedp.ID("user-rules"), `[{"effect":`),
		chromedp.Click(chromedp.ID("user-save")))
	guiUntil(t, ctx, "JSON error", `document.getElementById("messages").innerText.includes("not valid JSON")`)
	guiDo(t, ctx, "cancel", chromedp.Click(chromedp.ID("user-cancel")))

	// Search.
	guiDo(t, ctx, "search", chromedp.SetValue(chromedp.ID("search"), "MEMBER"), chromedp.Click(chromedp.CSS("#search-form button")))
	guiUntil(t, ctx, "search result", `document.querySelectorAll("#users tr[data-name]").length === 1 && !!document.querySelector(`+jsString(guiRow("data-name", "member-x"))+`)`)

	// Rotate keys (two clicks): the new pair is shown once.
	rotate := guiRow("data-name", "member-x") + " button.act-rotate"
	guiDo(t, ctx, "rotate", chromedp.Click(chromedp.CSS(rotate)), chromedp.Click(chromedp.CSS(rotate)))
	guiUntil(t, ctx, "new keys shown", `!document.getElementById("secret-card").classList.contains("hidden")`)
	if akid := guiEval[string](t, ctx, `document.getElementById("secret-akid").innerText`); akid == member.AccessKeyID || akid == "" {
		t.Fatalf("rotated access key %q (was %q)", akid, member.AccessKeyID)
	}
	guiClean(t, ctx, "users page")

	// Groups: create one with a rule, add the member.
	guiDo(t, ctx, "groups page", chromedp.Navigate(base+"/_/ui/groups"))
	guiUntil(t, ctx, "groups loaded", `document.querySelectorAll("#groups tr").length > 0`)
	guiDo(t, ctx, "create group",
		chromedp.Click(chromedp.ID("new-group")),
		chromedp.SetValue(chromedp.ID("group-name"), "readers"),
		chromedp.SetValue(chromedp.ID("group-description"), "read-only staff"),
		chromedp.SetValue(chromedp.ID("group-rules"), `[{"effect":"Allow","actions":["read","list"],"resources":["photos/*"]}]`),
		chromedp.Click(chromedp.ID("group-save")))
	guiUntil(t, ctx, "group listed", `!!document.querySelector(`+jsString(guiRow("data-name", "readers"))+`)`)
	row := guiRow("data-name", "readers")
	guiDo(t, ctx, "add member",
		chromedp.SetValue(chromedp.CSS(row+" input.member-input"), "member-x"),
		chromedp.Click(chromedp.CSS(row+" form.add-member button")))
	guiUntil(t, ctx, "member shown", `document.querySelector(`+jsString(row+" ul.members")+`).innerText.includes("member-x")`)
	guiClean(t, ctx, "groups page")
	var g []struct {
		Name      string   `json:"name"`
		MemberIDs []string `json:"member_ids"`
	}
	api.must(http.StatusOK, http.MethodGet, base+"/_/api/admin/groups", nil, &g)
	if len(g) != 1 || len(g[0].MemberIDs) != 1 {
		t.Fatalf("groups after the GUI: %+v", g)
	}

	// Auth providers: create, then delete.
	guiDo(t, ctx, "providers page", chromedp.Navigate(base+"/_/ui/providers"))
	guiUntil(t, ctx, "providers loaded", `document.querySelectorAll("#providers tr").length > 0`)
	if cb := guiEval[string](t, ctx, `document.getElementById("callback-url").innerText`); cb != base+"/_/api/admin/oidc/callback" {
		t.Errorf("callback URL shown: %q", cb)
	}
	guiDo(t, ctx, "create provider",
		chromedp.Click(chromedp.ID("new-provider")),
		chromedp.SetValue(chromedp.ID("p-name"), "corp"),
		chromedp.SetValue(chromedp.ID("p-display-name"), "Corp SSO"),
		chromedp.SetValue(chromedp.ID("p-issuer-url"), "https://login.example.com"),
		chromedp.SetValue(chromedp.ID("p-client-id"), "dgp"),
		chromedp.SetValue(chromedp.ID("p-client-secret"), "s3cret"),
		chromedp.Click(chromedp.ID("provider-save")))
	guiUntil(t, ctx, "provider listed", `!!document.querySelector(`+jsString(guiRow("data-name", "corp"))+`)`)
	if html := guiEval[string](t, ctx, `document.documentElement.outerHTML`); strings.Contains(html, "s3cret") {
		t.Error("the providers page shows the client secret")
	}
	guiClean(t, ctx, "providers page")
	harness.Screenshot(t, ctx, "providers")
	del := guiRow("data-name", "corp") + " button.act-delete"
	guiDo(t, ctx, "delete provider", chromedp.Click(chromedp.CSS(del)), chromedp.Click(chromedp.CSS(del)))
	guiUntil(t, ctx, "provider gone", `!document.querySelector(`+jsString(guiRow("data-name", "corp"))+`)`)

	// Jobs: the page loads (a table row, whatever the instance runs).
	guiDo(t, ctx, "jobs page", chromedp.Navigate(base+"/_/ui/jobs"))
	guiUntil(t, ctx, "jobs loaded", `document.querySelectorAll("#jobs tr").length > 0`)
	guiClean(t, ctx, "jobs page")
}
