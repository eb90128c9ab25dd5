package chaos

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dgp-proxy/dgp/internal/configdb"
	"github.com/dgp-proxy/dgp/internal/testutil"
)

func TestPlanIsRepeatable(t *testing.T) {
	a, b := plan(42, 500, 3), plan(42, 500, 3)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("the same seed gave two plans")
	}
	if reflect.DeepEqual(a, plan(43, 500, 3)) {
		t.Fatal("two seeds gave the same plan")
	}
	kinds := map[string]int{}
	for i, f := range a {
		if f.Seq != i || f.Target < 0 || f.Target > 2 || f.Hold <= 0 {
			t.Fatalf("fault %d: %+v", i, f)
		}
		kinds[f.Kind]++
	}
	for _, k := range FaultKinds {
		if kinds[k] == 0 {
			t.Errorf("500 faults never drew %s", k)
		}
	}
}

func TestLedgerVerify(t *testing.T) {
	l := newLedger()
	add := func(name, outcome string, allowed []string, phantom string) {
		i := l.add(mutation{Op: "create", User: name, Outcome: outcome})
		u := &userState{name: name, allowed: allowed, lastAck: -1, phantom: phantom, phantomOp: i}
		if outcome == acked {
			u.lastAck = i
		}
		l.users[name] = u
	}
	add("kept", acked, []string{"enabled"}, "")
	add("lost", acked, []string{"disabled"}, "")
	add("either", ambiguous, []string{"absent", "enabled"}, "")
	add("phantom", notMade, []string{"absent"}, "enabled")
	final := map[string]string{"kept": "enabled", "lost": "enabled", "either": "enabled", "phantom": "enabled"}
	lost, phantoms, checked := l.verify(final)
	if checked != 4 || len(lost) != 1 || lost[0].User != "lost" || lost[0].Got != "enabled" {
		t.Fatalf("lost %+v (checked %d)", lost, checked)
	}
	if len(phantoms) != 1 || phantoms[0].User != "phantom" {
		t.Fatalf("phantoms %+v", phantoms)
	}
	delete(final, "either") // absent is allowed too
	delete(final, "kept")   // but this one was acknowledged
	lost, _, _ = l.verify(final)
	if len(lost) != 2 || lost[0].User != "kept" || lost[0].Got != "absent" {
		t.Fatalf("lost %+v", lost)
	}
}

func TestUnverifiedETags(t *testing.T) {
	f := &Fleet{inst: []*Instance{{Node: "dgp-1"}, {Node: "dgp-2"}}}
	o := newObserver(f, nil)
	o.records["good"] = proxyRecord{ETag: "good", Accepted: true}
	o.markForeign("bad", FaultTamper)
	now := time.Now()
	o.seen[0][""], o.seen[0]["good"] = now, now
	o.seen[1]["bad"], o.seen[1]["unknown"] = now, now
	v := o.unverified()
	if len(v) != 2 {
		t.Fatalf("violations %+v", v)
	}
	for _, x := range v {
		if x.Node != "dgp-2" || (x.ETag == "bad") != strings.Contains(x.Why, "tamper") {
			t.Errorf("violation %+v", x)
		}
	}
}

// TestSyncProxy runs the proxy in front of a minimal S3 object store
// (one object, If-Match honoured): it forwards, records what dgp wrote,
// and holds the answer of an armed node's PUT until released, then drops
// it although the store holds the object.
func TestSyncProxy(t *testing.T) {
	var mu sync.Mutex
	var stored []byte
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		switch r.Method {
		case http.MethodPut:
			b, _ := io.ReadAll(r.Body)
			if r.Host != "syncproxy:9000" {
				http.Error(w, "host "+r.Host, http.StatusForbidden) // SigV4 signs the Host
				return
			}
			stored = b
			sum := md5.Sum(b)
			w.Header().Set("ETag", `"`+hex.EncodeToString(sum[:])+`"`)
		case http.MethodGet:
			_, _ = w.Write(stored)
		}
	}))
	defer upstream.Close()
	listen, control := freeAddr(t), freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { // owned: cancel, then <-done
		done <- RunSyncProxy(ctx, SyncProxyOptions{Listen: listen, Control: control, Upstream: upstream.URL, Key: "/b/k"})
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("proxy: %v", err)
		}
	}()
	testutil.RetryUntil(t, 10*time.Second, func() error {
		resp, err := http.Get("http://" + control + "/health")
		if err == nil {
			resp.Body.Close()
		}
		return err
	})

	db := func(node string, gen uint64) []byte {
		st, err := configdb.NewState(gen, configdb.Data{})
		if err != nil {
			t.Fatal(err)
		}
		b, err := configdb.Seal(st, configdb.SealOptions{WriterNode: node, KDF: configdb.KDFParams{Time: 1, MemoryKiB: 64, Threads: 1}},
			configdb.NewKeyCache(1), []byte("pw"))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	put := func(body []byte) (*http.Response, error) {
		req, _ := http.NewRequest(http.MethodPut, "http://"+listen+"/b/k?x-id=PutObject", bytes.NewReader(body))
		req.Host = "syncproxy:9000"
		return http.DefaultClient.Do(req)
	}
	resp, err := put(db("dgp-1", 7))
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("put through the proxy: %v %v", resp, err)
	}
	resp.Body.Close()

	// Armed: the store takes the PUT, the client never hears of it.
	armed := make(chan string, 1)
	go func() { // owned: <-armed below
		resp, err := http.Post("http://"+control+"/arm?node=dgp-2&wait=10s", "", nil)
		if err != nil {
			armed <- "error: " + err.Error()
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		armed <- string(b)
	}()
	testutil.RetryUntil(t, 10*time.Second, func() error { // the arm request must arrive first
		resp, err := http.Get("http://" + control + "/armed")
		if err != nil {
			return err
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.Contains(string(b), "dgp-2") {
			return fmt.Errorf("armed: %s", b)
		}
		return nil
	})
	held := db("dgp-2", 8)
	putErr := make(chan error, 1)
	go func() { // owned: <-putErr below
		resp, err := put(held)
		if err == nil {
			resp.Body.Close()
		}
		putErr <- err
	}()
	etag := <-armed
	sum := md5.Sum(held)
	if etag != hex.EncodeToString(sum[:]) {
		t.Fatalf("arm answered %q, want the held PUT's ETag", etag)
	}
	mu.Lock()
	landed := bytes.Equal(stored, held)
	mu.Unlock()
	if !landed {
		t.Fatal("the held PUT is not in the store")
	}
	resp, err = http.Post("http://"+control+"/release?node=dgp-2", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if err := <-putErr; err == nil {
		t.Fatal("the held PUT was answered")
	}

	resp, err = http.Get("http://" + control + "/records")
	if err != nil {
		t.Fatal(err)
	}
	var recs []proxyRecord
	_ = json.NewDecoder(resp.Body).Decode(&recs)
	resp.Body.Close()
	if len(recs) != 2 || recs[0].Writer != "dgp-1" || recs[0].Generation != 7 || recs[0].Held ||
		recs[1].Writer != "dgp-2" || recs[1].Generation != 8 || !recs[1].Held || !recs[1].Accepted || recs[1].ETag != etag {
		t.Fatalf("records %+v", recs)
	}
	resp, err = http.Get("http://" + control + "/latest")
	if err != nil {
		t.Fatal(err)
	}
	latest, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !bytes.Equal(latest, held) {
		t.Fatal("/latest is not the newest DB")
	}
}

func freeAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}
