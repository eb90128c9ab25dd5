package httpstatus

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestRecorderKeepsFirstStatus(t *testing.T) {
	for _, tc := range []struct {
		name  string
		write func(w http.ResponseWriter)
		want  int
	}{
		{"nothing", func(http.ResponseWriter) {}, 0},
		{"header", func(w http.ResponseWriter) { w.WriteHeader(http.StatusNotFound) }, http.StatusNotFound},
		{"body first", func(w http.ResponseWriter) { _, _ = w.Write([]byte("x")); w.WriteHeader(http.StatusTeapot) }, http.StatusOK},
		{"flush first", func(w http.ResponseWriter) { w.(http.Flusher).Flush() }, http.StatusOK},
		{"two headers", func(w http.ResponseWriter) {
			w.WriteHeader(http.StatusCreated)
			w.WriteHeader(http.StatusBadGateway)
		}, http.StatusCreated},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			r := &Recorder{ResponseWriter: rec}
			tc.write(r)
			if r.Status() != tc.want {
				t.Fatalf("Status() = %d, want %d", r.Status(), tc.want)
			}
			if tc.want != 0 && rec.Code != tc.want {
				t.Fatalf("the writer below got %d, want %d", rec.Code, tc.want)
			}
		})
	}
	var w http.ResponseWriter = httptest.NewRecorder()
	if (&Recorder{ResponseWriter: w}).Unwrap() != w {
		t.Fatal("Unwrap does not return the writer below")
	}
}
