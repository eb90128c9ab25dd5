package s3api

import (
	"context"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
)

func TestWriteHook(t *testing.T) {
	var mu sync.Mutex
	var got []string
	status := http.StatusOK
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body != nil {
			buf := make([]byte, 64)
			for {
				if _, err := r.Body.Read(buf); err != nil {
					break
				}
			}
		}
		w.WriteHeader(status)
	})
	h := WriteHook(next, []string{"s3.example"}, func(b string) bool { return b != "other" },
		func(_ context.Context, bucket, key, op string) {
			mu.Lock()
			got = append(got, bucket+"/"+key+" "+op)
			mu.Unlock()
		})
	do := func(method, target, host, body string, hdr ...string) {
		r := httptest.NewRequest(method, target, strings.NewReader(body))
		if host != "" {
			r.Host = host
		}
		for i := 0; i+1 < len(hdr); i += 2 {
			r.Header.Set(hdr[i], hdr[i+1])
		}
		h.ServeHTTP(httptest.NewRecorder(), r)
	}
	do("PUT", "/b/k1", "", "x")
	do("PUT", "/b/k2", "", "", "X-Amz-Copy-Source", "/b/k1")
	do("PUT", "/b/k3?partNumber=1&uploadId=u", "", "x")
	do("POST", "/b/k3?uploadId=u", "", "<x/>")
	do("DELETE", "/b/k4", "", "")
	do("DELETE", "/b/k5?uploadId=u", "", "")
	do("PUT", "/b/k6?tagging", "", "")
	do("PUT", "/k7", "b.s3.example", "x")
	do("PUT", "/other/k8", "", "x")
	do("GET", "/b/k9", "", "")
	do("POST", "/b?delete", "", "<Delete><Object><Key>d1</Key></Object><Object><Key>d2</Key></Object></Delete>")
	status = http.StatusPreconditionFailed
	do("PUT", "/b/k10", "", "x")
	want := []string{"b/k1 put", "b/k2 copy", "b/k3 complete", "b/k4 delete", "b/k7 put", "b/d1 delete", "b/d2 delete"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("reported %q, want %q", got, want)
	}
}
