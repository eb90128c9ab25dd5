package s3api

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
)

// benchOverConn serves h on a loopback test server and GETs req (signed
// for its own Host) through it from 8 goroutines, as the gateway
// benchmark's workers do: net/http's server side counts too, for both
// handlers alike. cpu-ns/op is the whole process's (the client's
// included).
func benchOverConn(b *testing.B, h http.Handler, req *http.Request, size int) {
	srv := httptest.NewServer(h)
	defer srv.Close()
	su, _ := url.Parse(srv.URL)
	tr := &http.Transport{MaxIdleConnsPerHost: 8}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr}
	b.ReportAllocs()
	start := cpuTime()
	b.SetParallelism(4)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			r := req.Clone(context.Background())
			r.Host = req.URL.Host
			r.URL.Host = su.Host
			r.RequestURI = ""
			resp, err := c.Do(r)
			if err != nil {
				b.Error(err)
				return
			}
			n, _ := io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || n != int64(size) {
				b.Errorf("GET %d, %d bytes", resp.StatusCode, n)
				return
			}
		}
	})
	b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "cpu-ns/op")
}
