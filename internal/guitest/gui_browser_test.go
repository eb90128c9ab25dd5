//go:build integration

package guitest

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"

	harness "github.com/dgp-proxy/dgp/internal/testharness/browser"
	"github.com/dgp-proxy/dgp/internal/testharness/dgpfleet"
	"github.com/dgp-proxy/dgp/internal/testutil"
)

// The GUI end to end, in headless Chromium against a real 3-instance
// fleet (a writer, two readers, MinIO, NATS): sign in with the password;
// create a user and read its secret once; the AWS CLI works with its keys
// (and they give no admin); disable it in the GUI and the CLI is refused on
// another instance; the fleet page shows every instance at the new
// generation; upload and download a file in the object browser; a reader
// refuses a mutation and the page says why.
func TestGUIEndToEnd(t *testing.T) {
	ctx := harness.New(t) // skips without DGP_TEST_CHROMIUM
	testutil.AWSCLI(t)    // skips without DGP_TEST_AWS_CLI
	g := startGUIFleet(t)
	writer, reader := g.url(0), g.url(2)
	data := guiBucket(t, g.s3, "guidata")
	guiWatch(t, ctx)

	// /_/ without a session lands on the sign-in page.
	guiDo(t, ctx, "open /_/", chromedp.Navigate(writer+"/_/"))
	guiUntil(t, ctx, "sign-in page", `location.pathname === "/_/ui/login" && !!document.getElementById("password")`)
	harness.Screenshot(t, ctx, "login")
	guiClean(t, ctx, "login page")

	// A wrong password shows the API's message; the right one signs in.
	guiDo(t, ctx, "wrong password",
		chromedp.SetValue(chromedp.ID("password"), "not-the-password"),
		chromedp.Click(chromedp.ID("login-password-submit")))
	guiUntil(t, ctx, "wrong password message", `document.getElementById("login-error").innerText.includes("wrong password")`)
	guiDo(t, ctx, "sign in",
		chromedp.SetValue(chromedp.ID("password"), dgpfleet.DefaultBootstrapPassword),
		chromedp.Click(chromedp.ID("login-password-submit")))
	guiUntil(t, ctx, "dashboard", `location.pathname === "/_/ui/" && document.getElementById("whoami").innerText.includes("bootstrap admin")`)
	guiUntil(t, ctx, "dashboard sync status", `document.getElementById("sync").innerText.includes("writer")`)
	guiUntil(t, ctx, "dashboard fleet summary", `document.getElementById("fleet-summary").innerText.includes("instance")`)
	guiUntil(t, ctx, "dashboard IAM summary", `document.getElementById("iam-summary").innerText.includes("users")`)
	harness.Screenshot(t, ctx, "dashboard")
	guiClean(t, ctx, "dashboard page")

	// Create a user with read and list on the data bucket.
	const name = "gui-cli-user"
	rules := fmt.Sprintf(`[{"effect":"Allow","actions":["read","list"],"resources":[%q,%q]}]`, data, data+"/*")
	guiDo(t, ctx, "users page", chromedp.Navigate(writer+"/_/ui/users"))
	guiUntil(t, ctx, "users loaded", `document.getElementById("users-count").innerText !== ""`)
	guiDo(t, ctx, "create user",
		chromedp.Click(chromedp.ID("new-user")),
		chromedp.SetValue(chromedp.ID("user-name"), name),
		chromedp.SetValue(chromedp.ID("user-rules"), rules),
		chromedp.Click(chromedp.ID("user-save")))
	guiUntil(t, ctx, "secret shown", `!document.getElementById("secret-card").classList.contains("hidden")`)
	akid := guiEval[string](t, ctx, `document.getElementById("secret-akid").innerText`)
	secret := guiEval[string](t, ctx, `document.getElementById("secret-value").innerText`)
	if len(akid) < 16 || len(secret) != 40 || strings.Contains(secret, "*") {
		t.Fatalf("created user's keys: %q / %q", akid, secret)
	}
	guiUntil(t, ctx, "user listed", `!!document.querySelector(`+jsString(guiRow("data-name", name))+`)`)
	// The copy button puts the secret on the clipboard.
	for _, perm := range []string{"clipboard-read", "clipboard-write"} {
		_, err := chromedp.CallBrowser(ctx, browser.SetPermission, browser.SetPermissionParams{
			Permission: &browser.PermissionDescriptor{Name: perm}, Setting: browser.PermissionSettingGranted, Origin: writer})
		testutil.Must(t, err, "grant %s", perm)
	}
	guiDo(t, ctx, "copy secret", chromedp.Click(chromedp.ID("copy-secret")))
	guiUntil(t, ctx, "copied", `document.getElementById("messages").innerText.includes("Secret copied")`)
	clip, err := chromedp.Run(ctx, chromedp.Evaluate[string](`navigator.clipboard.readText()`, chromedp.EvalAwaitPromise))
	testutil.Must(t, err, "read the clipboard")
	if clip != secret {
		t.Fatalf("clipboard holds %q, want the secret", clip)
	}
	// Once: closing the card forgets it, and the list never shows it.
	guiDo(t, ctx, "close secret", chromedp.Click(chromedp.ID("secret-done")))
	guiDo(t, ctx, "reload users", chromedp.Navigate(writer+"/_/ui/users"))
	guiUntil(t, ctx, "user listed again", `!!document.querySelector(`+jsString(guiRow("data-name", name))+`)`)
	if html := guiEval[string](t, ctx, `document.documentElement.outerHTML`); strings.Contains(html, secret) {
		t.Fatal("the users page shows the secret again")
	}
	harness.Screenshot(t, ctx, "users")
	guiClean(t, ctx, "users page")

	// The keys work with the AWS CLI, on another instance too.
	put := filepath.Join(t.TempDir(), "seed.txt")
	testutil.Must(t, os.WriteFile(put, []byte("seed"), 0o644), "write seed")
	root := newGUICLI(t, dgpfleet.DefaultAccessKeyID, dgpfleet.DefaultSecretAccessKey)
	if out, err := root.run(writer, "s3", "cp", "--no-progress", put, "s3://"+data+"/seed.txt"); err != nil {
		t.Fatalf("root cp: %v\n%s", err, out)
	}
	user := newGUICLI(t, akid, secret)
	testutil.RetryUntil(t, guiWait, func() error { // the readers learn of the user by event
		out, err := user.run(reader, "s3", "ls", "s3://"+data)
		if err != nil || !strings.Contains(out, "seed.txt") {
			return fmt.Errorf("user's ls on the reader: %v\n%s", err, out)
		}
		return nil
	})
	// No admin: its keys do not sign in to the GUI.
	api := newGUIAPI(t)
	var (
		status int
		body   []byte
	)
	status, body, err = api.do(http.MethodPost, writer+"/_/api/admin/login", map[string]string{"access_key_id": akid, "secret_access_key": secret})
	testutil.Must(t, err, "login with the user's keys")
	if status != http.StatusForbidden || !strings.Contains(string(body), "not_admin") {
		t.Fatalf("user's keys on the admin login: %d %s", status, body)
	}

	// Disable it in the GUI: the CLI is refused on the reader.
	disable := guiRow("data-name", name) + " button.act-disable"
	guiDo(t, ctx, "disable user", chromedp.Click(chromedp.CSS(disable)))
	guiUntil(t, ctx, "user shown disabled",
		`(document.querySelector(`+jsString(guiRow("data-name", name)+" td.status")+`) || {innerText: ""}).innerText.includes("disabled")`)
	testutil.RetryUntil(t, guiWait, func() error {
		out, err := user.run(reader, "s3", "ls", "s3://"+data)
		if err == nil || !strings.Contains(out, "InvalidAccessKeyId") {
			return fmt.Errorf("disabled user's ls on the reader: err=%v\n%s", err, out)
		}
		return nil
	})

	// The fleet page shows the three instances at the bucket's generation.
	api.must(http.StatusOK, http.MethodPost, writer+"/_/api/admin/login", map[string]string{"password": dgpfleet.DefaultBootstrapPassword}, nil)
	guiDo(t, ctx, "fleet page", chromedp.Navigate(writer+"/_/ui/fleet"))
	// fleetAt checks the page shows every instance current at the bucket's
	// generation, which must be above min.
	fleetAt := func(min uint64) func() error {
		return func() error {
			var view struct {
				BucketGeneration uint64 `json:"bucket_generation"`
			}
			api.must(http.StatusOK, http.MethodGet, writer+"/_/api/admin/fleet", nil, &view)
			if view.BucketGeneration <= min {
				return fmt.Errorf("bucket generation %d, want > %d", view.BucketGeneration, min)
			}
			rows := guiEval[[][]string](t, ctx, `Array.from(document.querySelectorAll("#fleet tr[data-node]"),
				(r) => [r.dataset.node, r.querySelector(".generation").innerText, r.className])`)
			if len(rows) != len(g.nodes) {
				return fmt.Errorf("fleet page shows %d rows, want %d: %v", len(rows), len(g.nodes), rows)
			}
			for i, r := range rows {
				if r[0] != g.nodes[i] || r[1] != fmt.Sprint(view.BucketGeneration) || r[2] != "current" {
					return fmt.Errorf("fleet row %d: %v, want %s at generation %d, current", i, r, g.nodes[i], view.BucketGeneration)
				}
			}
			return nil
		}
	}
	testutil.RetryUntil(t, guiWait, fleetAt(0))
	// The page refreshes itself: a change made elsewhere shows up without
	// reloading it.
	var gen struct {
		BucketGeneration uint64 `json:"bucket_generation"`
	}
	api.must(http.StatusOK, http.MethodGet, writer+"/_/api/admin/fleet", nil, &gen)
	api.must(http.StatusCreated, http.MethodPost, writer+"/_/api/admin/users", map[string]string{"name": "refresh-probe"}, nil)
	testutil.RetryUntil(t, guiWait, fleetAt(gen.BucketGeneration))
	// Sync-now on a reader, from the writer's page.
	guiDo(t, ctx, "sync-now", chromedp.Click(chromedp.CSS(guiRow("data-node", g.nodes[2])+" button.act-sync")))
	guiUntil(t, ctx, "sync-now answer", `document.getElementById("messages").innerText.includes("Sync-now on `+g.nodes[2]+`")`)
	if msg := guiMessages(t, ctx); strings.Contains(msg, "failed") {
		t.Fatalf("sync-now: %s", msg)
	}
	harness.Screenshot(t, ctx, "fleet")
	guiClean(t, ctx, "fleet page")

	// Upload and download a file in the object browser.
	dir := t.TempDir()
	content := make([]byte, 300<<10)
	_, _ = rand.Read(content)
	local := filepath.Join(dir, "upload.bin")
	testutil.Must(t, os.WriteFile(local, content, 0o644), "write upload")
	guiDo(t, ctx, "objects page", chromedp.Navigate(writer+"/_/ui/objects"))
	guiUntil(t, ctx, "bucket listed", `!!document.querySelector(`+jsString(guiRow("data-bucket", data)+" a.bucket")+`)`)
	guiDo(t, ctx, "open bucket", chromedp.Click(chromedp.CSS(guiRow("data-bucket", data)+" a.bucket")))
	guiUntil(t, ctx, "seed listed", `!!document.querySelector(`+jsString(guiRow("data-key", "seed.txt"))+`)`)
	guiDo(t, ctx, "upload",
		chromedp.SetUploadFiles(chromedp.ID("upload-file"), []string{local}),
		chromedp.Click(chromedp.ID("upload-submit")))
	guiUntil(t, ctx, "uploaded", `document.getElementById("upload-status").innerText.startsWith("Uploaded") && `+
		`!!document.querySelector(`+jsString(guiRow("data-key", "upload.bin"))+`)`)
	if v := guiEval[float64](t, ctx, `document.getElementById("upload-progress").value`); v != 100 {
		t.Errorf("progress bar at %v after the upload", v)
	}
	harness.Screenshot(t, ctx, "objects")
	guiClean(t, ctx, "objects page")
	// What the browser uploaded is what S3 clients read.
	got := filepath.Join(dir, "via-cli.bin")
	if out, err := root.run(reader, "s3", "cp", "--no-progress", "s3://"+data+"/upload.bin", got); err != nil {
		t.Fatalf("cli download: %v\n%s", err, out)
	}
	if b, _ := os.ReadFile(got); !bytes.Equal(b, content) {
		t.Fatal("the object differs from the uploaded file")
	}
	downloads := filepath.Join(dir, "downloads")
	testutil.Must(t, os.MkdirAll(downloads, 0o755), "downloads dir")
	_, err = chromedp.CallBrowser(ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
		Behavior: browser.SetDownloadBehaviorBehaviorAllow, DownloadPath: downloads})
	testutil.Must(t, err, "set download behavior")
	guiDo(t, ctx, "download", chromedp.Click(chromedp.CSS(guiRow("data-key", "upload.bin")+" a.act-download")))
	testutil.RetryUntil(t, guiWait, func() error {
		b, err := os.ReadFile(filepath.Join(downloads, "upload.bin"))
		if err != nil || !bytes.Equal(b, content) {
			return fmt.Errorf("downloaded file: %v (%d bytes)", err, len(b))
		}
		return nil
	})
	// Delete it (two clicks: the button asks first).
	del := guiRow("data-key", "upload.bin") + " button.act-delete"
	guiDo(t, ctx, "delete object", chromedp.Click(chromedp.CSS(del)), chromedp.Click(chromedp.CSS(del)))
	guiUntil(t, ctx, "object gone", `!document.querySelector(`+jsString(guiRow("data-key", "upload.bin"))+`)`)

	// A reader refuses a mutation, and the page says why.
	guiDo(t, ctx, "reader's users page", chromedp.Navigate(reader+"/_/ui/users"))
	guiUntil(t, ctx, "reader users loaded", `!!document.querySelector(`+jsString(guiRow("data-name", name))+`)`)
	guiDo(t, ctx, "create on the reader",
		chromedp.Click(chromedp.ID("new-user")),
		chromedp.SetValue(chromedp.ID("user-name"), "refused-on-reader"),
		chromedp.Click(chromedp.ID("user-save")))
	guiUntil(t, ctx, "reader's refusal shown", `document.querySelector("#messages .msg.error") !== null`)
	msg := guiMessages(t, ctx)
	if !strings.Contains(msg, "read-only replica") || !strings.Contains(msg, "409") {
		t.Fatalf("reader's refusal message: %q", msg)
	}
	// Enabling on the reader is refused the same way.
	guiDo(t, ctx, "enable on the reader", chromedp.Click(chromedp.CSS(guiRow("data-name", name)+" button.act-enable")))
	guiUntil(t, ctx, "second refusal", `document.querySelectorAll("#messages .msg.error").length >= 2`)

	// Sign out: the pages send the browser back to sign-in.
	guiDo(t, ctx, "sign out", chromedp.Click(chromedp.ID("signout")))
	guiUntil(t, ctx, "signed out", `location.pathname === "/_/ui/login"`)
	guiDo(t, ctx, "users after sign-out", chromedp.Navigate(writer+"/_/ui/users"))
	guiUntil(t, ctx, "redirected to sign-in", `location.pathname === "/_/ui/login"`)

	// Sign out everywhere (bootstrap admin, two clicks): every admin
	// session ends, the API client's on a reader too.
	if status, body, err := api.do(http.MethodGet, reader+"/_/api/admin/whoami", nil); err != nil || status != http.StatusOK {
		t.Fatalf("API session before sign-out-everywhere: %d %s %v", status, body, err)
	}
	guiDo(t, ctx, "sign in again",
		chromedp.SetValue(chromedp.ID("password"), dgpfleet.DefaultBootstrapPassword),
		chromedp.Click(chromedp.ID("login-password-submit")))
	guiUntil(t, ctx, "users page again", `location.pathname === "/_/ui/users" && !document.getElementById("signout-all").classList.contains("hidden")`)
	guiDo(t, ctx, "sign out everywhere", chromedp.Click(chromedp.ID("signout-all")), chromedp.Click(chromedp.ID("signout-all")))
	guiUntil(t, ctx, "signed out everywhere", `location.pathname === "/_/ui/login" && document.getElementById("login-error").innerText.includes("revoked")`)
	testutil.RetryUntil(t, guiWait, func() error {
		status, body, err := api.do(http.MethodGet, reader+"/_/api/admin/whoami", nil)
		if err != nil || status != http.StatusUnauthorized {
			return fmt.Errorf("API session on the reader after sign-out-everywhere: %d %s %v", status, body, err)
		}
		return nil
	})
}
