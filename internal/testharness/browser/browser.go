// Package browser starts a headless Chromium for the GUI's browser tests,
// driven through chromedp.
//
// New reads DGP_TEST_CHROMIUM (the browser binary) and skips the test when
// it is unset; CI always sets it. Each call starts its own browser process
// with a fresh user-data directory (so no cookie or cache leaks from one
// test to the next) and the flags TESTING.md lists for this machine, and
// registers its shutdown with t.Cleanup.
//
// Screenshot saves a full-page PNG into docs/screenshots/ when
// DGP_SCREENSHOTS=1, and does nothing otherwise.
package browser

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Environment variables read by this package.
const (
	EnvChromium    = "DGP_TEST_CHROMIUM"
	EnvScreenshots = "DGP_SCREENSHOTS"
)

// Flags returns the Chromium flags every test browser runs with (TESTING.md:
// running as root on a closed network), without the user-data dir.
func Flags() []chromedp.ExecAllocatorOption {
	return []chromedp.ExecAllocatorOption{
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("no-default-browser-check", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("disable-breakpad", true),
		chromedp.Flag("metrics-recording-only", true),
		chromedp.Flag("password-store", "basic"),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.Flag("mute-audio", true),
		chromedp.WindowSize(1280, 900),
	}
}

// New starts a headless Chromium for t and returns a chromedp context
// bound to its first tab. The browser is closed, and its user-data dir
// removed, by t.Cleanup. The test is skipped when DGP_TEST_CHROMIUM is
// unset, and fails when it is set but the browser does not start.
func New(t testing.TB) context.Context {
	t.Helper()
	bin := os.Getenv(EnvChromium)
	if bin == "" {
		t.Skipf("%s is unset: no browser to drive", EnvChromium)
	}
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("%s=%s: %v", EnvChromium, bin, err)
	}
	dir := t.TempDir()
	out := &tail{max: 16 << 10}
	opts := append(Flags(),
		chromedp.ExecPath(bin),
		chromedp.UserDataDir(filepath.Join(dir, "profile")),
		chromedp.CombinedOutput(out),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(allocCtx)
	// Cleanups run last-in first-out: the tab and browser close before
	// t.TempDir removes the profile.
	t.Cleanup(func() {
		closeCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		done := make(chan struct{})
		go func() {
			defer close(done)
			_ = chromedp.Cancel(ctx) // closes the browser gracefully
		}()
		select {
		case <-done:
		case <-closeCtx.Done():
		}
		cancelCtx()
		cancelAlloc()
		<-done
	})
	// Start the browser now, so a broken binary fails here and not in the
	// test's first action. (No timeout on this first call: chromedp ties
	// the browser's life to its context; the allocator has its own
	// start-up deadline.)
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium %s: %v\n%s", bin, err, out)
	}
	return ctx
}

// Screenshot saves a full-page PNG of the current page as
// docs/screenshots/<name>.png when DGP_SCREENSHOTS=1. A failure to capture
// or write fails the test: a screenshot run must produce every picture.
func Screenshot(t testing.TB, ctx context.Context, name string) {
	t.Helper()
	if os.Getenv(EnvScreenshots) != "1" {
		return
	}
	dir, err := ScreenshotDir()
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	buf, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)) // 100: PNG
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	path := filepath.Join(dir, name+".png")
	if err := os.WriteFile(path, buf, 0o644); err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	t.Logf("screenshot saved: %s", path)
}

// ScreenshotDir returns the repository's docs/screenshots directory
// (created when missing), found by walking up from the working directory to
// the directory holding go.mod.
func ScreenshotDir() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := wd; ; {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			out := filepath.Join(d, "docs", "screenshots")
			return out, os.MkdirAll(out, 0o755)
		}
		parent := filepath.Dir(d)
		if parent == d {
			return "", errors.New("no go.mod above " + wd)
		}
		d = parent
	}
}

// tail keeps the last max bytes of the browser's output, for a failure
// message; chromedp writes to it from its own goroutine.
type tail struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (w *tail) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.b = append(w.b, p...)
	if len(w.b) > w.max {
		w.b = w.b[len(w.b)-w.max:]
	}
	return len(p), nil
}

func (w *tail) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return strings.TrimSpace(string(w.b))
}
