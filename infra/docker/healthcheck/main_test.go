package main

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestDefaultURL(t *testing.T) {
	cases := []struct {
		name    string
		env     map[string]string
		want    string
		wantErr string
	}{
		{name: "defaults", want: "http://127.0.0.1:9000/_/health"},
		{name: "listen port", env: map[string]string{"DGP_LISTEN_ADDR": "0.0.0.0:9443"}, want: "http://127.0.0.1:9443/_/health"},
		{name: "tls", env: map[string]string{"DGP_TLS_CERT_FILE": "/tls/tls.crt"}, want: "https://127.0.0.1:9000/_/health"},
		{name: "ipv6 listen", env: map[string]string{"DGP_LISTEN_ADDR": "[::]:8080"}, want: "http://127.0.0.1:8080/_/health"},
		{name: "no port", env: map[string]string{"DGP_LISTEN_ADDR": "0.0.0.0"}, wantErr: "DGP_LISTEN_ADDR"},
		{name: "port 0", env: map[string]string{"DGP_LISTEN_ADDR": "127.0.0.1:0"}, wantErr: "no fixed port"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := defaultURL(func(k string) string { return c.env[k] })
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, c.wantErr)
				}
				return
			}
			if err != nil || got != c.want {
				t.Fatalf("defaultURL = %q, %v; want %q", got, err, c.want)
			}
		})
	}
}

func TestRun(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/_/health", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, `{"status":"ok"}`) })
	mux.HandleFunc("/down", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusServiceUnavailable) })
	mux.HandleFunc("/moved", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/_/health", http.StatusFound) })
	srv := httptest.NewServer(mux)
	defer srv.Close()
	tlsSrv := httptest.NewTLSServer(mux)
	defer tlsSrv.Close()

	// A port nothing listens on.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + l.Addr().String() + "/_/health"
	l.Close()

	// A server that never answers within the timeout.
	hang := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { <-hang }))
	defer slow.Close()
	defer close(hang)

	cases := []struct {
		name string
		args []string
		want int
		msg  string
	}{
		{name: "healthy", args: []string{srv.URL + "/_/health"}, want: 0},
		{name: "healthy over tls", args: []string{tlsSrv.URL + "/_/health"}, want: 0},
		{name: "503", args: []string{srv.URL + "/down"}, want: 1, msg: "503"},
		{name: "redirect is not healthy", args: []string{srv.URL + "/moved"}, want: 1, msg: "302"},
		{name: "not listening", args: []string{closed}, want: 1, msg: "get "},
		{name: "timeout", args: []string{"--timeout", "200ms", slow.URL}, want: 1, msg: "no answer"},
		{name: "two urls", args: []string{srv.URL, srv.URL}, want: 2, msg: "at most one"},
		{name: "bad flag", args: []string{"--nope"}, want: 2},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var stderr strings.Builder
			got := run(c.args, func(string) string { return "" }, &stderr)
			if got != c.want {
				t.Fatalf("exit %d, want %d (stderr %q)", got, c.want, stderr.String())
			}
			if c.msg != "" && !strings.Contains(stderr.String(), c.msg) {
				t.Fatalf("stderr %q lacks %q", stderr.String(), c.msg)
			}
			if c.want == 0 && stderr.Len() != 0 {
				t.Fatalf("a healthy check printed %q", stderr.String())
			}
		})
	}
}
