package httpbody

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// TestEarlyAnswerReachesClient answers 403 with Connection: close before
// reading a body a little under net/http's post-handler drain limit, as
// the S3 and admin APIs do on a refused request: the client must get the
// answer every time, never a reset while it is still sending the body.
func TestEarlyAnswerReachesClient(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d := new(Deadline)
		d.Init(r.Body, w, 20*time.Second, func(time.Duration, error) error { return errors.New("timeout") })
		r.Body = d
		buf := make([]byte, 512)
		_, _ = io.ReadFull(d, buf) // the form's first fields, then a refusal
		w.Header().Set("Connection", "close")
		w.WriteHeader(http.StatusForbidden)
		_, _ = w.Write([]byte("refused"))
		d.Expire()
	}))
	defer srv.Close()
	body := bytes.Repeat([]byte("x"), 200_000)
	for i := range 200 {
		resp, err := http.Post(srv.URL, "application/octet-stream", bytes.NewReader(body))
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden || string(b) != "refused" {
			t.Fatalf("request %d: %d %q", i, resp.StatusCode, b)
		}
	}
}
