package natsnotify

import (
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/dgp-proxy/dgp/internal/notify"
	"github.com/dgp-proxy/dgp/internal/notify/notifytest"
	"github.com/dgp-proxy/dgp/internal/testutil"
)

// blackHoleProxy forwards TCP connections to target until freeze: from
// then on the connections it holds stay open but forward nothing (what a
// network cut whose FIN was lost looks like to the client: a half-open
// connection). Connections accepted after freeze are forwarded normally
// (the network is back for new ones).
type blackHoleProxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	pairs  []*proxyPair
	wg     sync.WaitGroup
}

type proxyPair struct {
	client, server net.Conn
	frozen         atomic.Bool
}

func startBlackHoleProxy(t *testing.T, target string) *blackHoleProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	testutil.Must(t, err, "listen")
	p := &blackHoleProxy{ln: ln, target: target}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.close)
	return p
}

func (p *blackHoleProxy) url() string { return "nats://" + p.ln.Addr().String() }

func (p *blackHoleProxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		s, err := net.Dial("tcp", p.target)
		if err != nil {
			_ = c.Close()
			continue
		}
		pr := &proxyPair{client: c, server: s}
		p.mu.Lock()
		p.pairs = append(p.pairs, pr)
		p.mu.Unlock()
		p.wg.Add(2)
		go p.pipe(pr, c, s)
		go p.pipe(pr, s, c)
	}
}

// pipe copies src to dst, dropping what it reads once the pair is frozen.
func (p *blackHoleProxy) pipe(pr *proxyPair, src, dst net.Conn) {
	defer p.wg.Done()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 && !pr.frozen.Load() {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
				return
			}
			if !pr.frozen.Load() {
				_ = dst.Close()
			}
			return
		}
	}
}

// freeze stops forwarding on every connection held now, closing none.
func (p *blackHoleProxy) freeze() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, pr := range p.pairs {
		pr.frozen.Store(true)
	}
	return len(p.pairs)
}

func (p *blackHoleProxy) close() {
	_ = p.ln.Close()
	p.mu.Lock()
	for _, pr := range p.pairs {
		_ = pr.client.Close()
		_ = pr.server.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

// TestHalfOpenConnectionIsDetected: after a network cut that the client
// never hears about (its connection forwards nothing and never closes),
// the missing PONGs make it drop the connection as stale: the status goes
// disconnected with the error, the client reconnects, the reconnect asks
// for a pull, and events flow again.
func TestHalfOpenConnectionIsDetected(t *testing.T) {
	ns := startServer(t, serverOpts(-1, t.TempDir()))
	proxy := startBlackHoleProxy(t, ns.Addr().String())
	sink := &notifytest.Sink{}
	logs := &testutil.LogBuffer{}
	src := New(Options{URL: proxy.url(), Subject: subject, ReconnectWait: 50 * time.Millisecond,
		PingInterval: 100 * time.Millisecond, MaxPingsOut: 2},
		filter, sink, zerolog.New(logs), nil)
	notifytest.Start(t, src.Run)
	waitResyncs(t, sink, notify.ReasonConnected)
	waitConnected(t, src, true)

	if n := proxy.freeze(); n != 1 {
		t.Fatalf("%d connections through the proxy, want 1", n)
	}
	waitResyncs(t, sink, notify.ReasonConnected, notify.ReasonReconnected)
	waitConnected(t, src, true)
	// (The error is cleared by the reconnect; the log keeps it.)
	if l := logs.String(); !strings.Contains(l, "nats event source disconnected") || !strings.Contains(strings.ToLower(l), "stale connection") {
		t.Fatalf("the stale connection was not reported as disconnected:\n%s", logs)
	}

	pub := publisher(t, ns.ClientURL())
	testutil.Must(t, pub.Publish(subject, event(t, "s3:ObjectCreated:Put", "state%2Ffile.json", "after-cut")), "publish")
	testutil.RetryUntil(t, wait, func() error {
		if got := etags(sink.Hints()); strings.Join(got, ",") != "after-cut" {
			return fmt.Errorf("hints %v", got)
		}
		return nil
	})
}

// TestDefaultPingsNoticeADeadConnectionInAbout10s: the defaults drop a
// connection without PONGs after at most 15 s (the NATS client gives up
// on the tick after MaxPingsOut unanswered PINGs), not the minute of the
// client's own defaults.
func TestDefaultPingsNoticeADeadConnectionInAbout10s(t *testing.T) {
	src := New(Options{URL: "nats://127.0.0.1:1", Subject: subject}, filter, &notifytest.Sink{}, zerolog.Nop(), nil)
	if got := src.opts.PingInterval * time.Duration(src.opts.MaxPingsOut+1); got > 15*time.Second || src.opts.MaxPingsOut < 1 {
		t.Fatalf("ping interval %s, max pings out %d: a dead connection is noticed after up to %s", src.opts.PingInterval, src.opts.MaxPingsOut, got)
	}
}
