package chaos

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/dgp-proxy/dgp/internal/configdb"
)

// The sync proxy stands between the dgp instances and MinIO for the sync
// bucket only (DGP_CONFIG_SYNC_S3_ENDPOINT names it; storage goes to MinIO
// directly). It forwards every request unchanged (the Host header too, so
// SigV4 signatures hold) and, for each PUT of the config key that MinIO
// accepted, records the ETag and the clear header of the DB (generation,
// writer node): the harness's list of DBs dgp wrote, against which it
// checks every ETag an instance reports. It keeps the body of the newest
// one (the operator's backup, restored after a foreign write when dgp does
// not repair it itself).
//
// It also opens the window "SIGKILL between the PUT and its answer" from
// outside the instance: the harness arms a node, the proxy holds MinIO's
// 200 for the next config PUT that node writes, tells the harness (which
// kills the instance), then drops the connection without answering.

// proxyRecord is one config DB MinIO accepted from dgp.
type proxyRecord struct {
	Seq        int       `json:"seq"`
	ETag       string    `json:"etag"`
	Generation uint64    `json:"generation"`
	Writer     string    `json:"writer"`
	Time       time.Time `json:"time"`
	Held       bool      `json:"held,omitempty"` // its answer was held and dropped
	// Accepted: MinIO answered 2xx. A PUT without an answer (MinIO
	// restarted, the connection cut) is recorded too, unaccepted: it may
	// have landed, and dgp then finds its own bytes when it reads back.
	Accepted bool   `json:"accepted"`
	MD5      string `json:"md5"` // of the body: the ETag of a single-part PUT
}

// SyncProxyOptions configure RunSyncProxy.
type SyncProxyOptions struct {
	Listen   string // data port, e.g. ":9000"
	Control  string // control port, e.g. ":9100"
	Upstream string // MinIO, e.g. "http://minio:9000"
	Key      string // the config key, e.g. "/dgp-iam-sync/.deltaglider/config.db" (path style)
	Log      io.Writer
}

type syncProxy struct {
	o      SyncProxyOptions
	client *http.Client

	mu      sync.Mutex
	records []proxyRecord
	latest  []byte // body of the record with the highest generation
	latestG uint64
	armed   map[string]chan string // node -> receives the held ETag
	release map[string]chan struct{}
}

// RunSyncProxy serves until ctx ends.
func RunSyncProxy(ctx context.Context, o SyncProxyOptions) error {
	p := &syncProxy{
		o: o,
		client: &http.Client{Transport: &http.Transport{
			DisableCompression:  true,
			MaxIdleConnsPerHost: 32,
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		}},
		armed:   map[string]chan string{},
		release: map[string]chan struct{}{},
	}
	data := &http.Server{Addr: o.Listen, Handler: http.HandlerFunc(p.forward), ReadHeaderTimeout: 30 * time.Second}
	ctl := http.NewServeMux()
	ctl.HandleFunc("GET /records", p.serveRecords)
	ctl.HandleFunc("GET /latest", p.serveLatest)
	ctl.HandleFunc("POST /arm", p.serveArm)
	ctl.HandleFunc("POST /release", p.serveRelease)
	ctl.HandleFunc("GET /armed", p.serveArmed)
	ctl.HandleFunc("GET /health", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok\n") })
	control := &http.Server{Addr: o.Control, Handler: ctl, ReadHeaderTimeout: 30 * time.Second}
	errc := make(chan error, 2)
	go func() { errc <- data.ListenAndServe() }()    // owned: shut down and waited for below
	go func() { errc <- control.ListenAndServe() }() // owned: likewise
	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = data.Shutdown(sctx)
	_ = control.Shutdown(sctx)
	for range 2 - btoi(err != nil) {
		<-errc
	}
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func (p *syncProxy) logf(format string, args ...any) {
	if p.o.Log != nil {
		fmt.Fprintf(p.o.Log, time.Now().UTC().Format("15:04:05.000 ")+format+"\n", args...)
	}
}

var hopHeaders = []string{"Connection", "Keep-Alive", "Proxy-Connection", "Te", "Trailer", "Transfer-Encoding", "Upgrade"}

func (p *syncProxy) forward(w http.ResponseWriter, r *http.Request) {
	// (the SDK adds ?x-id=PutObject; a multipart part would carry uploadId)
	isConfigPut := r.Method == http.MethodPut && r.URL.Path == p.o.Key && !r.URL.Query().Has("uploadId")
	var body []byte
	var reqBody io.Reader = r.Body
	if isConfigPut {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, "read body", http.StatusBadRequest)
			return
		}
		body, reqBody = b, bytes.NewReader(b)
	}
	out, err := http.NewRequestWithContext(r.Context(), r.Method, p.o.Upstream+r.URL.RequestURI(), reqBody)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	out.Header = r.Header.Clone()
	for _, h := range hopHeaders {
		out.Header.Del(h)
	}
	out.Host = r.Host
	out.ContentLength = r.ContentLength
	if body != nil {
		out.ContentLength = int64(len(body))
	}
	resp, err := p.client.Do(out)
	if err != nil {
		if isConfigPut {
			p.record(body, "", false)
		}
		http.Error(w, "upstream: "+err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	if isConfigPut && resp.StatusCode/100 != 2 && resp.StatusCode != http.StatusPreconditionFailed {
		p.record(body, "", false)
	}
	if isConfigPut && resp.StatusCode/100 == 2 {
		if held := p.record(body, resp.Header.Get("ETag"), true); held != nil {
			// The DB is in the bucket; the instance must never hear so.
			// Wait for the harness to kill it, then drop the connection.
			select {
			case <-held:
			case <-time.After(30 * time.Second):
			case <-r.Context().Done():
			}
			panic(http.ErrAbortHandler)
		}
	}
	for k, vs := range resp.Header {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = io.Copy(w, resp.Body)
}

// record notes an accepted config PUT and returns a channel to wait on
// when the writer was armed (the answer must be held until it closes).
func (p *syncProxy) record(body []byte, etag string, accepted bool) chan struct{} {
	etag = strings.Trim(etag, `"`)
	h, err := configdb.ReadHeader(body)
	sum := md5.Sum(body)
	rec := proxyRecord{ETag: etag, Time: time.Now().UTC(), Accepted: accepted, MD5: hex.EncodeToString(sum[:])}
	if err == nil {
		rec.Generation, rec.Writer = h.Generation, h.WriterNode
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	rec.Seq = len(p.records)
	var held chan struct{}
	if ch, ok := p.armed[rec.Writer]; ok && rec.Writer != "" && accepted {
		delete(p.armed, rec.Writer)
		held = make(chan struct{})
		p.release[rec.Writer] = held
		rec.Held = true
		ch <- etag // buffered (1)
	}
	p.records = append(p.records, rec)
	if err == nil && accepted && (p.latest == nil || rec.Generation >= p.latestG) {
		p.latest, p.latestG = body, rec.Generation
	}
	p.logf("put accepted=%v etag=%s md5=%s generation=%d writer=%s held=%v", accepted, etag, rec.MD5, rec.Generation, rec.Writer, rec.Held)
	return held
}

func (p *syncProxy) serveRecords(w http.ResponseWriter, r *http.Request) {
	since, _ := strconv.Atoi(r.URL.Query().Get("since"))
	p.mu.Lock()
	var recs []proxyRecord
	if since >= 0 && since < len(p.records) {
		recs = append(recs, p.records[since:]...)
	}
	p.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(recs)
}

func (p *syncProxy) serveLatest(w http.ResponseWriter, _ *http.Request) {
	p.mu.Lock()
	b := p.latest
	p.mu.Unlock()
	if b == nil {
		http.NotFound(w, nil)
		return
	}
	_, _ = w.Write(b)
}

// serveArm arms ?node= and waits up to ?wait= (a Go duration) for its
// next config PUT: 200 with the held ETag, or 204 when none came (the
// node is disarmed again).
func (p *syncProxy) serveArm(w http.ResponseWriter, r *http.Request) {
	node := r.URL.Query().Get("node")
	wait, err := time.ParseDuration(r.URL.Query().Get("wait"))
	if node == "" || err != nil {
		http.Error(w, "node and wait are required", http.StatusBadRequest)
		return
	}
	ch := make(chan string, 1)
	p.mu.Lock()
	p.armed[node] = ch
	p.mu.Unlock()
	select {
	case etag := <-ch:
		_, _ = io.WriteString(w, etag)
	case <-time.After(wait):
		p.mu.Lock()
		if p.armed[node] == ch {
			delete(p.armed, node)
		}
		p.mu.Unlock()
		select { // it may have fired meanwhile
		case etag := <-ch:
			_, _ = io.WriteString(w, etag)
		default:
			w.WriteHeader(http.StatusNoContent)
		}
	}
}

// serveArmed lists the armed nodes (JSON array).
func (p *syncProxy) serveArmed(w http.ResponseWriter, _ *http.Request) {
	p.mu.Lock()
	nodes := make([]string, 0, len(p.armed))
	for n := range p.armed {
		nodes = append(nodes, n)
	}
	p.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(nodes)
}

// serveRelease drops the held answer of ?node=.
func (p *syncProxy) serveRelease(w http.ResponseWriter, r *http.Request) {
	node := r.URL.Query().Get("node")
	p.mu.Lock()
	ch := p.release[node]
	delete(p.release, node)
	p.mu.Unlock()
	if ch != nil {
		close(ch)
	}
	w.WriteHeader(http.StatusNoContent)
}
