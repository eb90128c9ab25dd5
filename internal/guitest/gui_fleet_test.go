//go:build integration

package guitest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/rs/zerolog"

	"github.com/dgp-proxy/dgp/internal/config"
	"github.com/dgp-proxy/dgp/internal/notifysetup"
	"github.com/dgp-proxy/dgp/internal/testharness/dgpfleet"
	"github.com/dgp-proxy/dgp/internal/testutil"
)

// guiWait bounds every asynchronous outcome of the GUI tests: generous,
// since the machines are shared and noisy.
const guiWait = 90 * time.Second

// guiFleet is a writer and two readers on one sync bucket (MinIO, events
// over NATS), storing objects in the same MinIO.
type guiFleet struct {
	f      dgpfleet.Fleet
	nodes  []string
	minio  testutil.MinIO
	s3     *s3.Client
	bucket string // the sync bucket
}

func (g *guiFleet) url(i int) string { return g.f[i].URL() }

// startGUIFleet starts the fleet, or skips the test when the servers of
// .ci/run are not configured.
func startGUIFleet(t *testing.T) *guiFleet {
	t.Helper()
	m := testutil.RequireMinIO(t)
	natsURL, subject := os.Getenv("DGP_TEST_NATS_URL"), os.Getenv("DGP_TEST_NATS_SUBJECT")
	if natsURL == "" || subject == "" || m.NATSARN == "" {
		t.Skip("DGP_TEST_NATS_URL, DGP_TEST_NATS_SUBJECT or DGP_TEST_MINIO_NATS_ARN not set (run through .ci/run)")
	}
	g := &guiFleet{nodes: []string{"gui-a", "gui-b", "gui-c"}, minio: m}
	g.s3 = s3.New(s3.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(m.Endpoint), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(m.AccessKey, m.SecretKey, ""),
	})
	g.bucket = guiBucket(t, g.s3, "guisync")
	ctx := context.Background()
	nc, err := notifysetup.NewClient(ctx, config.S3Settings{Endpoint: m.Endpoint, AccessKeyID: m.AccessKey, SecretAccessKey: m.SecretKey, ForcePathStyle: true})
	testutil.Must(t, err, "notification client")
	target, err := notifysetup.NATSTarget(m.NATSARN)
	testutil.Must(t, err, "nats target")
	testutil.RetryUntil(t, guiWait, func() error {
		_, err := notifysetup.Ensure(ctx, nc, g.bucket, notifysetup.Rule{Target: target, Key: config.DefaultConfigSyncObjectKey}, false)
		return err
	})

	dir := t.TempDir()
	ports := make([]int, len(g.nodes))
	for i := range ports {
		ports[i] = testutil.FreePort(t)
	}
	logs := make([]*testutil.LogBuffer, len(g.nodes))
	g.f, err = dgpfleet.StartN(ctx, len(g.nodes), 1, func(i int) dgpfleet.Spec {
		logs[i] = &testutil.LogBuffer{}
		return dgpfleet.Spec{
			DataDir: filepath.Join(dir, g.nodes[i]),
			NodeID:  g.nodes[i],
			Logger:  zerolog.New(logs[i]).With().Timestamp().Logger(),
			Configure: func(c *config.Config) {
				c.Advanced.ListenAddr = "127.0.0.1:" + strconv.Itoa(ports[i])
				c.Advanced.AdvertiseURL = "http://127.0.0.1:" + strconv.Itoa(ports[i])
				c.Storage.S3 = m.Endpoint
				c.Storage.Region = "us-east-1"
				c.Storage.AccessKeyID = m.AccessKey
				c.Storage.SecretAccessKey = m.SecretKey
				c.Storage.ForcePathStyle = true
				c.Advanced.ConfigSyncBucket = g.bucket
				c.Advanced.ConfigSyncPollInterval = time.Hour // events and sync-now only
				c.Advanced.ConfigSyncNATS.URL = natsURL
				c.Advanced.ConfigSyncNATS.Subject = subject
				if i > 0 {
					c.Advanced.ConfigSyncRole = config.SyncRoleReader
				}
			},
		}
	})
	testutil.Must(t, err, "start fleet")
	t.Cleanup(func() {
		if err := g.f.Close(); err != nil {
			t.Errorf("stop fleet: %v", err)
		}
		if t.Failed() {
			for i, l := range logs {
				t.Logf("%s log (tail):\n%s", g.nodes[i], testutil.Tail(l.String(), 20))
			}
		}
	})
	return g
}

// guiBucket creates a MinIO bucket, emptied and removed after the test.
func guiBucket(t *testing.T, c *s3.Client, prefix string) string {
	t.Helper()
	ctx := context.Background()
	name := testutil.UniqueName(prefix)
	_, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name)})
	testutil.Must(t, err, "create bucket %s", name)
	t.Cleanup(func() {
		out, _ := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(name)})
		if out != nil {
			for _, o := range out.Contents {
				_, _ = c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(name), Key: o.Key})
			}
		}
		_, _ = c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String(name)})
	})
	return name
}

// guiAPI is a plain admin API client (cookie jar), for what the test
// checks beside the browser.
type guiAPI struct {
	t  *testing.T
	hc *http.Client
}

func newGUIAPI(t *testing.T) *guiAPI {
	jar, err := cookiejar.New(nil)
	testutil.Must(t, err, "cookie jar")
	return &guiAPI{t: t, hc: &http.Client{Jar: jar, Timeout: guiWait}}
}

func (a *guiAPI) do(method, url string, body any) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		return 0, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := a.hc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

func (a *guiAPI) must(want int, method, url string, body, out any) {
	a.t.Helper()
	status, b, err := a.do(method, url, body)
	testutil.Must(a.t, err, "%s %s", method, url)
	if status != want {
		a.t.Fatalf("%s %s: %d %s, want %d", method, url, status, b, want)
	}
	if out != nil {
		testutil.Must(a.t, json.Unmarshal(b, out), "decode %s", b)
	}
}

// guiCLI runs the real AWS CLI with a key pair, HOME in a temp dir.
type guiCLI struct {
	t   *testing.T
	bin string
	env []string
}

func newGUICLI(t *testing.T, accessKey, secretKey string) *guiCLI {
	bin := testutil.AWSCLI(t)
	home := t.TempDir()
	env := testutil.Env(
		"AWS_ACCESS_KEY_ID="+accessKey,
		"AWS_SECRET_ACCESS_KEY="+secretKey,
		"AWS_DEFAULT_REGION=us-east-1",
		"AWS_CONFIG_FILE="+filepath.Join(home, "config"),
		"AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(home, "credentials"),
		"AWS_PAGER=",
		"AWS_EC2_METADATA_DISABLED=true",
		"HOME="+home,
	)
	return &guiCLI{t: t, bin: bin, env: env}
}

func (c *guiCLI) run(endpoint string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, c.bin, append([]string{"--endpoint-url", endpoint}, args...)...)
	cmd.Env = c.env
	out, err := cmd.CombinedOutput()
	return string(out), err
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
		`location.href + " | messages: " + (document.getElementById("messages") ? document.getElementById("messages").innerText : "") + ` +
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
