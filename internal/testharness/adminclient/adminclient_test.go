package adminclient

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// Do sends nil as no body, strings and bytes as they are and anything
// else as JSON, each with its content type; At keeps the session cookie.
func TestDoBodiesAndCookies(t *testing.T) {
	type seen struct{ path, ctype, body, cookie string }
	var got []seen
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		s := seen{path: r.URL.Path, ctype: r.Header.Get("Content-Type"), body: string(b)}
		if ck, err := r.Cookie("s"); err == nil {
			s.cookie = ck.Value
		}
		got = append(got, s)
		http.SetCookie(w, &http.Cookie{Name: "s", Value: "tok", Path: "/"})
		w.WriteHeader(http.StatusCreated)
		_, _ = io.WriteString(w, `{"id":"x1"}`)
	}))
	defer srv.Close()

	c := New(t, srv.URL+"/a", 10*time.Second)
	var out struct{ ID string }
	if body := c.Must(http.StatusCreated, http.MethodPost, "/json", map[string]int{"n": 1}, &out); string(body) != `{"id":"x1"}` || out.ID != "x1" {
		t.Fatalf("Must: body %s, decoded %+v", body, out)
	}
	if st, _, err := c.Do(http.MethodPost, "/raw", `{"raw":true}`); err != nil || st != http.StatusCreated {
		t.Fatalf("Do raw: %d %v", st, err)
	}
	if _, _, err := c.At(srv.URL+"/b").Do(http.MethodGet, "/none", nil); err != nil {
		t.Fatal(err)
	}
	want := []seen{
		{"/a/json", "application/json", `{"n":1}`, ""},
		{"/a/raw", "application/json", `{"raw":true}`, "tok"},
		{"/b/none", "", "", "tok"},
	}
	if len(got) != len(want) {
		t.Fatalf("requests %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("request %d: %+v, want %+v", i, got[i], want[i])
		}
	}
}
