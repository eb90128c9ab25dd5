package chaos

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
)

// observer watches the fleet from the host: every instance's sync status
// (sampled), the DBs dgp wrote (the proxy's records), and the events MinIO
// published (kept to be replayed by the event faults).
type observer struct {
	f     *Fleet
	admin *adminClient

	mu       sync.Mutex
	latest   []sample               // per instance, the newest sample
	seen     []map[string]time.Time // per instance: ETag -> first seen
	records  map[string]proxyRecord // ETag -> the DB dgp wrote
	maxGen   uint64                 // highest generation written
	nrec     int                    // records fetched so far
	events   [][]byte               // recent MinIO events, oldest first
	nevents  int                    // events received
	locals   []localDB              // local DB files after SIGKILL
	epoch    int                    // faults that stalled the whole fleet so far
	foreign  map[string]string      // ETags the harness wrote as a foreign writer -> kind
	waiters  []*convergence         // pending convergence measures
	impaired []int                  // per instance: faults acting on it now
	statusOK []int                  // per instance: samples answered

	ncMu sync.Mutex // guards nc, replaced when it was closed
	nc   *nats.Conn
}

type sample struct {
	t          time.Time
	etag       string
	generation uint64
	ok         bool
}

// convergence measures how long after a heal every instance not under a
// fault holds a DB at least as new as the newest one written at the heal.
type convergence struct {
	since time.Time
	gen   uint64
	epoch int                // o.epoch at the start
	done  chan time.Duration // receives once; -1: disturbed
}

func newObserver(f *Fleet, admin *adminClient) *observer {
	n := len(f.inst)
	o := &observer{f: f, admin: admin, latest: make([]sample, n), seen: make([]map[string]time.Time, n),
		records: map[string]proxyRecord{}, foreign: map[string]string{}, impaired: make([]int, n), statusOK: make([]int, n)}
	for i := range o.seen {
		o.seen[i] = map[string]time.Time{}
	}
	return o
}

// connectNATS subscribes to the subject on the fleet's nats-server through
// its published port; the dialer asks for the port at every (re)connect,
// since a restart of the container may move it.
func (o *observer) connectNATS() error {
	o.ncMu.Lock()
	defer o.ncMu.Unlock()
	return o.connectNATSLocked()
}

// connectNATSLocked is connectNATS with ncMu held.
func (o *observer) connectNATSLocked() error {
	nc, err := nats.Connect("nats://nats-server", nats.SetCustomDialer(natsDialer{o.f}),
		nats.MaxReconnects(-1), nats.ReconnectWait(200*time.Millisecond), nats.Timeout(3*time.Second))
	if err != nil {
		return fmt.Errorf("connect to nats: %w", err)
	}
	if _, err := nc.Subscribe(subject, func(m *nats.Msg) {
		o.mu.Lock()
		defer o.mu.Unlock()
		o.nevents++
		o.events = append(o.events, append([]byte(nil), m.Data...))
		if len(o.events) > 64 {
			o.events = o.events[len(o.events)-64:]
		}
	}); err != nil {
		nc.Close()
		return err
	}
	o.nc = nc
	return nc.Flush()
}

type natsDialer struct{ f *Fleet }

func (d natsDialer) Dial(network, _ string) (net.Conn, error) {
	return net.DialTimeout(network, d.f.nats.Addr(), 2*time.Second)
}

// publish sends raw on the subject (an event fault). The fleet's
// nats-server may be restarting (another fault): a publish that fails is
// tried again, on a new connection when the old one was closed, for up to
// 15 s, so that an injection fails only when NATS stays away.
func (o *observer) publish(raw []byte) error {
	deadline := time.Now().Add(15 * time.Second)
	for {
		err := o.publishOnce(raw)
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(250 * time.Millisecond)
	}
}

func (o *observer) publishOnce(raw []byte) error {
	o.ncMu.Lock()
	if o.nc == nil || o.nc.IsClosed() {
		if o.nc != nil {
			o.nc.Close()
			o.nc = nil
		}
		if err := o.connectNATSLocked(); err != nil {
			o.ncMu.Unlock()
			return err
		}
	}
	nc := o.nc
	o.ncMu.Unlock()
	if err := nc.Publish(subject, raw); err != nil {
		return err
	}
	return nc.FlushTimeout(3 * time.Second)
}

// recentEvents returns up to n of the newest events MinIO published.
func (o *observer) recentEvents(n int) [][]byte {
	o.mu.Lock()
	defer o.mu.Unlock()
	if n > len(o.events) {
		n = len(o.events)
	}
	return append([][]byte(nil), o.events[len(o.events)-n:]...)
}

// run samples statuses and proxy records until ctx ends.
func (o *observer) run(ctx context.Context) {
	var wg sync.WaitGroup
	for i, in := range o.f.inst {
		wg.Add(1)
		go func() { // owned: waited for below
			defer wg.Done()
			o.sampleLoop(ctx, i, in)
		}()
	}
	wg.Add(1)
	go func() { // owned: waited for below
		defer wg.Done()
		for ctx.Err() == nil {
			_ = o.fetchRecords(ctx)
			o.checkWaiters()
			sleep(ctx, 100*time.Millisecond)
		}
	}()
	wg.Wait()
	o.ncMu.Lock()
	if o.nc != nil {
		o.nc.Close()
	}
	o.ncMu.Unlock()
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

type syncStatus struct {
	ETag       string `json:"etag"`
	Generation uint64 `json:"generation"`
	State      string `json:"state"`
	LastPull   *struct {
		Source string    `json:"source"`
		Result string    `json:"result"`
		Time   time.Time `json:"time"`
	} `json:"last_pull"`
	EventSources []struct {
		Name      string            `json:"name"`
		Connected bool              `json:"connected"`
		Messages  map[string]uint64 `json:"messages"`
		LastError string            `json:"last_error"`
	} `json:"event_sources"`
}

// messages is how many messages the event sources received.
func (st syncStatus) messages() uint64 {
	var n uint64
	for _, es := range st.EventSources {
		for _, c := range es.Messages {
			n += c
		}
	}
	return n
}

func (o *observer) status(ctx context.Context, in *Instance) (syncStatus, error) {
	var st syncStatus
	code, body, err := o.admin.do(ctx, in, http.MethodGet, "/config/sync-status", nil)
	if err != nil {
		return st, err
	}
	if code != http.StatusOK {
		return st, fmt.Errorf("%s sync-status: %d %s", in.Node, code, body)
	}
	return st, json.Unmarshal(body, &st)
}

func (o *observer) sampleLoop(ctx context.Context, i int, in *Instance) {
	for ctx.Err() == nil {
		st, err := o.status(ctx, in)
		now := time.Now()
		o.mu.Lock()
		if err == nil {
			st.ETag = strings.Trim(st.ETag, `"`)
			o.latest[i] = sample{t: now, etag: st.ETag, generation: st.Generation, ok: true}
			if _, ok := o.seen[i][st.ETag]; !ok {
				o.seen[i][st.ETag] = now
			}
			o.statusOK[i]++
		}
		o.mu.Unlock()
		sleep(ctx, 100*time.Millisecond)
	}
}

// fetchRecords reads the proxy's new records.
func (o *observer) fetchRecords(ctx context.Context) error {
	o.mu.Lock()
	since := o.nrec
	o.mu.Unlock()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, o.f.syncProxy.URL()+"/records?since="+itoa(since), nil)
	resp, err := o.admin.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var recs []proxyRecord
	if err := json.NewDecoder(resp.Body).Decode(&recs); err != nil {
		return err
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, r := range recs {
		if r.Seq != o.nrec {
			continue
		}
		o.nrec++
		if r.Accepted {
			o.records[r.ETag] = r
			o.maxGen = max(o.maxGen, r.Generation)
		} else if _, ok := o.records[r.MD5]; !ok {
			o.records[r.MD5] = r // may have landed: its ETag would be the MD5
		}
	}
	return nil
}

// newestGeneration is the highest generation dgp has written so far.
func (o *observer) newestGeneration(ctx context.Context) uint64 {
	_ = o.fetchRecords(ctx)
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.maxGen
}

// disturb starts a fault that stalls the whole fleet: the convergence
// measures under way are left out.
func (o *observer) disturb() {
	o.mu.Lock()
	o.epoch++
	o.mu.Unlock()
}

// impair marks instance i as under a fault (delta +1) or not (-1).
func (o *observer) impair(i, delta int) {
	o.mu.Lock()
	o.impaired[i] += delta
	o.mu.Unlock()
}

// converge starts a convergence measure from now; the channel receives
// the time it took (or nothing if the run ends first).
func (o *observer) converge(ctx context.Context) <-chan time.Duration {
	c := &convergence{since: time.Now(), gen: o.newestGeneration(ctx), done: make(chan time.Duration, 1)}
	o.mu.Lock()
	c.epoch = o.epoch
	o.waiters = append(o.waiters, c)
	o.mu.Unlock()
	return c.done
}

func (o *observer) checkWaiters() {
	o.mu.Lock()
	defer o.mu.Unlock()
	keep := o.waiters[:0]
	for _, c := range o.waiters {
		if c.epoch != o.epoch {
			c.done <- -1
			continue
		}
		ok := true
		var last time.Time
		for i, s := range o.latest {
			if o.impaired[i] > 0 {
				continue
			}
			if !s.ok || s.t.Before(c.since) || s.generation < c.gen {
				ok = false
				break
			}
			if s.t.After(last) {
				last = s.t
			}
		}
		if ok {
			if last.IsZero() {
				last = time.Now()
			}
			c.done <- last.Sub(c.since)
			continue
		}
		keep = append(keep, c)
	}
	o.waiters = keep
}

// localDB is a local DB file copied out of a killed instance.
type localDB struct {
	Node, MD5  string
	Generation uint64
	Err        error // configdb.Open's
}

func (o *observer) localDB(l localDB) {
	o.mu.Lock()
	o.locals = append(o.locals, l)
	o.mu.Unlock()
}

// localProblems checks the local DB files copied after each SIGKILL: each
// opens, and is a DB dgp wrote. It returns how many were checked.
func (o *observer) localProblems() (int, []string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	var out []string
	for _, l := range o.locals {
		switch _, ok := o.records[l.MD5]; {
		case l.Err != nil:
			out = append(out, fmt.Sprintf("%s: local DB file after SIGKILL does not open: %v", l.Node, l.Err))
		case !ok:
			out = append(out, fmt.Sprintf("%s: local DB file after SIGKILL (generation %d, md5 %s) is not a DB dgp wrote", l.Node, l.Generation, l.MD5))
		}
	}
	return len(o.locals), out
}

// markForeign records an ETag the harness wrote into the sync key.
func (o *observer) markForeign(etag, kind string) {
	o.mu.Lock()
	o.foreign[etag] = kind
	o.mu.Unlock()
}

// violation is an ETag an instance reported that dgp did not write.
type violation struct {
	Node, ETag, Why string
	At              time.Time
}

// unverified lists every ETag an instance held that is not a DB dgp wrote
// (the foreign writer's objects above all).
func (o *observer) unverified() []violation {
	o.mu.Lock()
	defer o.mu.Unlock()
	var out []violation
	for i, seen := range o.seen {
		for etag, at := range seen {
			if etag == "" {
				continue
			}
			if kind, ok := o.foreign[etag]; ok {
				out = append(out, violation{o.f.inst[i].Node, etag, "the foreign writer's " + kind + " object", at})
			} else if _, ok := o.records[etag]; !ok {
				out = append(out, violation{o.f.inst[i].Node, etag, "not a DB dgp wrote", at})
			}
		}
	}
	sort.Slice(out, func(a, b int) bool { return out[a].At.Before(out[b].At) })
	return out
}

// distinctSeen is the number of distinct ETags the instances held.
func (o *observer) distinctSeen() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	all := map[string]bool{}
	for _, seen := range o.seen {
		for e := range seen {
			all[e] = true
		}
	}
	return len(all)
}
