//go:build integration

package guitest

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/rs/zerolog"

	"github.com/dgp-proxy/dgp/internal/config"
	harness "github.com/dgp-proxy/dgp/internal/testharness/browser"
	"github.com/dgp-proxy/dgp/internal/testharness/dgpfleet"
	"github.com/dgp-proxy/dgp/internal/testutil"
)

// startGUIInstance starts one instance adjusted by configure, stopped
// after the test (its log shown when the test failed).
func startGUIInstance(t *testing.T, configure func(*config.Config)) string {
	t.Helper()
	logs := &testutil.LogBuffer{}
	in, err := dgpfleet.Start(context.Background(), dgpfleet.Spec{DataDir: t.TempDir(), Logger: zerolog.New(logs), Configure: configure})
	testutil.Must(t, err, "start dgp")
	t.Cleanup(func() {
		if err := in.Stop(context.Background()); err != nil {
			t.Error(err)
		}
		if t.Failed() {
			t.Logf("dgp log (tail):\n%s", testutil.Tail(logs.String(), 20))
		}
	})
	return in.URL()
}

// guiSignIn signs the browser in with the bootstrap password at base and
// opens the users page.
func guiSignIn(t *testing.T, ctx context.Context, base string) {
	t.Helper()
	guiDo(t, ctx, "sign in",
		chromedp.Navigate(base+"/_/ui/login?next=/_/ui/users"),
		chromedp.SetValue(chromedp.ID("password"), dgpfleet.DefaultBootstrapPassword),
		chromedp.Click(chromedp.ID("login-password-submit")))
	guiUntil(t, ctx, "users page", `location.pathname === "/_/ui/users" && document.getElementById("users-count").innerText !== ""`)
}

// The page shows why a mutation was refused: 403 iam_declarative when IAM
// comes from the config file, 503 when the sync bucket cannot be reached.
func TestGUIShowsRefusals(t *testing.T) {
	ctx := harness.New(t)
	guiWatch(t, ctx)

	t.Run("declarative", func(t *testing.T) {
		base := startGUIInstance(t, func(c *config.Config) {
			c.Access.IAMMode = config.IAMModeDeclarative
			c.Access.IAM.Users = []config.IAMUser{{Name: "alice", AccessKeyID: "ALICEDECLARATIVE0001",
				SecretAccessKey: "aliceDeclarativeSecret000000000000000000",
				Permissions:     []config.Rule{{Effect: "Allow", Actions: []string{"list"}, Resources: []string{"*"}}}}}
		})
		guiSignIn(t, ctx, base)
		guiUntil(t, ctx, "alice listed", `!!document.querySelector(`+jsString(guiRow("data-name", "alice"))+`)`)
		guiDo(t, ctx, "disable alice", chromedp.Click(chromedp.CSS(guiRow("data-name", "alice")+" button.act-disable")))
		guiUntil(t, ctx, "refusal shown", `document.querySelector("#messages .msg.error") !== null`)
		msg := guiMessages(t, ctx)
		if !strings.Contains(msg, "403 iam_declarative") {
			t.Fatalf("declarative refusal: %q", msg)
		}
		t.Logf("shown: %s", msg)
		guiClean(t, ctx, "declarative users page")
	})

	t.Run("sync bucket unreachable", func(t *testing.T) {
		dead := "http://127.0.0.1:" + strconv.Itoa(testutil.FreePort(t)) // nothing listens
		base := startGUIInstance(t, func(c *config.Config) {
			c.Storage.S3 = dead
			c.Storage.Region = "us-east-1"
			c.Storage.AccessKeyID = "nobody"
			c.Storage.SecretAccessKey = "nobody-secret"
			c.Storage.ForcePathStyle = true
			c.Advanced.ConfigSyncBucket = "no-such-sync-bucket"
			c.Advanced.ConfigSyncPollInterval = time.Hour
		})
		guiSignIn(t, ctx, base)
		guiDo(t, ctx, "create user",
			chromedp.Click(chromedp.ID("new-user")),
			chromedp.SetValue(chromedp.ID("user-name"), "not-published"),
			chromedp.Click(chromedp.ID("user-save")))
		guiUntil(t, ctx, "refusal shown", `document.querySelector("#messages .msg.error") !== null`)
		msg := guiMessages(t, ctx)
		if !strings.Contains(msg, "(503 ") {
			t.Fatalf("unreachable bucket refusal: %q", msg)
		}
		t.Logf("shown: %s", msg)
		if guiEval[bool](t, ctx, `!!document.querySelector(`+jsString(guiRow("data-name", "not-published"))+`)`) {
			t.Fatal("the refused user is listed")
		}
		guiClean(t, ctx, "users page with the bucket down")
	})
}
