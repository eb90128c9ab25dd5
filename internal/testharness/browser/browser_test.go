//go:build integration

package browser

import (
	"net/http"
	"net/http/httptest"
	"os"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestNewDrivesAPage loads a page from a local server and reads back what
// its script wrote, proving the browser starts, runs JavaScript and closes.
func TestNewDrivesAPage(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/app.js":
			w.Header().Set("Content-Type", "text/javascript")
			_, _ = w.Write([]byte(`document.getElementById("out").textContent = "ran";`))
		default:
			w.Header().Set("Content-Type", "text/html")
			_, _ = w.Write([]byte(`<!doctype html><title>t</title><p id="out">not yet</p><script src="/app.js"></script>`))
		}
	}))
	defer srv.Close()

	ctx := New(t)
	if err := chromedp.Do(ctx,
		chromedp.Navigate(srv.URL),
		chromedp.WaitVisible(chromedp.ID("out")),
		chromedp.Poll[chromedp.Void](`document.getElementById("out").textContent === "ran"`),
	); err != nil {
		t.Fatalf("drive page: %v", err)
	}
	got, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("out")))
	if err != nil {
		t.Fatalf("read text: %v", err)
	}
	if got != "ran" {
		t.Fatalf("page text %q, want %q", got, "ran")
	}
}

func TestScreenshotDirIsInRepo(t *testing.T) {
	if os.Getenv(EnvChromium) == "" {
		t.Skipf("%s is unset", EnvChromium)
	}
	dir, err := ScreenshotDir()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("screenshot dir: %v", err)
	}
}
