//go:build integration

package guitest

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/dgp-proxy/dgp/internal/testharness/adminclient"
	"github.com/dgp-proxy/dgp/internal/testharness/syncfleet"
	"github.com/dgp-proxy/dgp/internal/testutil"
)

// guiWait bounds every asynchronous outcome of the GUI tests: generous,
// since the machines are shared and noisy.
const guiWait = 90 * time.Second

// guiFleet is a writer and two readers on one sync bucket (MinIO, events
// over NATS), storing objects in the same MinIO.
type guiFleet struct {
	*syncfleet.Fleet
	nodes []string
	s3    *s3.Client
}

func (g *guiFleet) url(i int) string { return g.URL(i) }

// startGUIFleet starts the fleet, or skips the test when the servers of
// .ci/run are not configured.
func startGUIFleet(t *testing.T) *guiFleet {
	t.Helper()
	f := syncfleet.Start(t, syncfleet.Options{Nodes: []string{"gui-a", "gui-b", "gui-c"}, BucketPrefix: "guisync",
		NATS: true, Advertise: true, Wait: guiWait})
	return &guiFleet{Fleet: f, nodes: f.Nodes, s3: f.S3}
}

// guiBucket creates a MinIO bucket, emptied and removed after the test.
func guiBucket(t *testing.T, c *s3.Client, prefix string) string {
	t.Helper()
	return syncfleet.TempBucket(t, c, prefix)
}

// guiAPI is a plain admin API client (cookie jar), for what the test
// checks beside the browser; it is called with whole URLs.
type guiAPI struct{ c *adminclient.Client }

func newGUIAPI(t *testing.T) *guiAPI { return &guiAPI{adminclient.New(t, "", guiWait)} }

func (a *guiAPI) do(method, url string, body any) (int, []byte, error) {
	return a.c.Do(method, url, body)
}

func (a *guiAPI) must(want int, method, url string, body, out any) {
	a.c.T.Helper()
	a.c.Must(want, method, url, body, out)
}

// guiCLI runs the real AWS CLI with a key pair, HOME in a temp dir.
type guiCLI struct{ *testutil.AWSCLIRunner }

func newGUICLI(t *testing.T, accessKey, secretKey string) *guiCLI {
	return &guiCLI{testutil.NewAWSCLI(t, accessKey, secretKey)}
}

func (c *guiCLI) run(endpoint string, args ...string) (string, error) {
	return c.Run(endpoint, args...)
}

// --- browser helpers ---

// guiDo runs chromedp steps with a deadline, failing the test with the
// page's messages when they fail.
func guiDo(t *testing.T, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, guiWait)
	defer cancel()
	if err := chromedp.Do(sctx, steps...); err != nil {
		t.Fatalf("%s: %v\npage: %s", what, err, guiPageState(ctx))
	}
}

// guiUntil waits until the JavaScript expression is true in the page. It
// polls from Go, so a navigation in between (a redirect, a sign-in) only
// costs one round.
func guiUntil(t *testing.T, ctx context.Context, what, expr string) {
	t.Helper()
	deadline := time.Now().Add(guiWait)
	js := `(() => { try { return !!(` + expr + `); } catch (e) { return false; } })()`
	var lastErr error
	for time.Now().Before(deadline) {
		sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		ok, err := chromedp.Run(sctx, chromedp.Evaluate[bool](js))
		cancel()
		if err == nil && ok {
			return
		}
		lastErr = err
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s: %s stayed false (last error: %v)\npage: %s", what, expr, lastErr, guiPageState(ctx))
}

// guiEval evaluates a JavaScript expression in the page.
func guiEval[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, guiWait)
	defer cancel()
	v, err := chromedp.Run(sctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("evaluate %s: %v\npage: %s", expr, err, guiPageState(ctx))
	}
	return v
}

// guiPageState describes the page for a failure message: its URL and the
// messages it shows.
func guiPageState(ctx context.Context) string {
	sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	v, err := chromedp.Run(sctx, chromedp.Evaluate[string](
		`location.href + " | messages: " + (document.getElementById("messages") ? document.getElementById("messages").innerText : "") + `+
			`" | login error: " + (document.getElementById("login-error") ? document.getElementById("login-error").innerText : "")`))
	if err != nil {
		return "(unreadable: " + err.Error() + ")"
	}
	return v
}

// guiMessages returns the text of the page's message area.
func guiMessages(t *testing.T, ctx context.Context) string {
	return guiEval[string](t, ctx, `document.getElementById("messages").innerText`)
}

func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func guiRow(attr, value string) string {
	return fmt.Sprintf(`tr[%s=%s]`, attr, jsString(value))
}

// guiWatch records, in every page the tab opens from now on, what the CSP
// blocked and the script errors nobody caught (guiClean reads them).
func guiWatch(t *testing.T, ctx context.Context) {
	t.Helper()
	_, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: `
		window.__dgpProblems = [];
		document.addEventListener("securitypolicyviolation", (e) => window.__dgpProblems.push("CSP blocked " + e.violatedDirective + " " + e.blockedURI));
		window.addEventListener("error", (e) => window.__dgpProblems.push("script error: " + e.message));
		window.addEventListener("unhandledrejection", (e) => window.__dgpProblems.push("unhandled rejection: " + (e.reason && e.reason.message || e.reason)));
	`})
	testutil.Must(t, err, "install the page watcher")
}

// guiClean fails the test when the current page had a CSP violation or an
// uncaught script error.
func guiClean(t *testing.T, ctx context.Context, what string) {
	t.Helper()
	if problems := guiEval[[]string](t, ctx, `Array.isArray(window.__dgpProblems) ? window.__dgpProblems : ["the page watcher is not installed"]`); len(problems) > 0 {
		t.Errorf("%s: %v", what, problems)
	}
}
