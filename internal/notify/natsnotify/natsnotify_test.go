package natsnotify

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/dgp-proxy/dgp/internal/notify"
	"github.com/dgp-proxy/dgp/internal/notify/notifytest"
	"github.com/dgp-proxy/dgp/internal/testutil"
)

const (
	syncBucket = "syncbucket"
	syncKey    = "state/file.json"
	subject    = "dgp.config.events"
	wait       = 20 * time.Second
)

var filter = notify.Filter{Bucket: syncBucket, Key: syncKey}

// serverOpts returns options for an embedded server on 127.0.0.1; port -1
// picks a free one.
func serverOpts(port int, storeDir string) *server.Options {
	return &server.Options{
		Host:      "127.0.0.1",
		Port:      port,
		JetStream: true,
		StoreDir:  storeDir,
		NoLog:     true,
		NoSigs:    true,
	}
}

func startServer(t *testing.T, opts *server.Options) *server.Server {
	t.Helper()
	ns, err := server.NewServer(opts)
	if err != nil {
		t.Fatalf("nats server: %v", err)
	}
	ns.Start()
	if !ns.ReadyForConnections(wait) {
		t.Fatal("nats server not ready")
	}
	t.Cleanup(func() {
		ns.Shutdown()
		ns.WaitForShutdown()
	})
	return ns
}

func serverPort(ns *server.Server) int {
	return ns.Addr().(*net.TCPAddr).Port
}

// event returns a MinIO-shaped event for key in the sync bucket.
func event(t *testing.T, eventName, key, etag string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "testdata", "minio-nats-put.json"))
	if err != nil {
		t.Fatal(err)
	}
	s := strings.ReplaceAll(string(b), `"s3:ObjectCreated:Put"`, fmt.Sprintf("%q", eventName))
	s = strings.Replace(s, `"key": "state%2Ffile.json"`, fmt.Sprintf(`"key": %q`, key), 1)
	s = strings.Replace(s, `"a191475ae2bf7db9c7e320f7da455bbb"`, fmt.Sprintf("%q", etag), 1)
	return []byte(s)
}

func publisher(t *testing.T, url string) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatalf("publisher connect: %v", err)
	}
	t.Cleanup(nc.Close)
	return nc
}

func waitResyncs(t *testing.T, sink *notifytest.Sink, want ...string) {
	t.Helper()
	testutil.RetryUntil(t, wait, func() error {
		var got []string
		for _, r := range sink.Resyncs() {
			if r.Source != SourceName {
				return fmt.Errorf("resync from source %q", r.Source)
			}
			got = append(got, r.Reason)
		}
		if strings.Join(got, ",") != strings.Join(want, ",") {
			return fmt.Errorf("resyncs %v, want %v", got, want)
		}
		return nil
	})
}

func waitConnected(t *testing.T, src *Source, want bool) {
	t.Helper()
	testutil.RetryUntil(t, wait, func() error {
		if st := src.Status(); st.Connected != want {
			return fmt.Errorf("connected = %v, want %v (status %+v)", st.Connected, want, st)
		}
		return nil
	})
}

func waitMessages(t *testing.T, src *Source, total uint64) {
	t.Helper()
	testutil.RetryUntil(t, wait, func() error {
		var n uint64
		st := src.Status()
		for _, v := range st.Messages {
			n += v
		}
		if n != total {
			return fmt.Errorf("%d messages handled, want %d (%v)", n, total, st.Messages)
		}
		return nil
	})
}

func etags(hints []notify.Hint) []string {
	var out []string
	for _, h := range hints {
		out = append(out, h.ETag)
	}
	return out
}

func TestCoreSubscriptionDeliversFilteredHints(t *testing.T) {
	ns := startServer(t, serverOpts(-1, t.TempDir()))
	sink := &notifytest.Sink{}
	src := New(Options{URL: ns.ClientURL(), Subject: subject}, filter, sink, zerolog.Nop(), notify.NewMetrics(nil))
	stop := notifytest.Start(t, src.Run)
	waitResyncs(t, sink, notify.ReasonConnected)
	waitConnected(t, src, true)

	pub := publisher(t, ns.ClientURL())
	msgs := [][]byte{
		event(t, "s3:ObjectCreated:Put", "state%2Ffile.json", "e1"),
		event(t, "s3:ObjectRemoved:Delete", "state%2Ffile.json", ""),
		event(t, "s3:ObjectCreated:Put", "state%2Fother.json", "e2"),
		[]byte(`{"Service":"Amazon S3","Event":"s3:TestEvent"}`),
		[]byte("garbage"),
		event(t, "s3:ObjectCreated:CompleteMultipartUpload", "state%2Ffile.json", "e3"),
	}
	for _, m := range msgs {
		if err := pub.Publish(subject, m); err != nil {
			t.Fatal(err)
		}
	}
	if err := pub.Publish("another.subject", msgs[0]); err != nil {
		t.Fatal(err)
	}
	testutil.Must(t, pub.Flush(), "flush")
	waitMessages(t, src, uint64(len(msgs)))

	if got := etags(sink.Hints()); strings.Join(got, ",") != "e1,e3" {
		t.Errorf("hints with etags %v, want e1,e3", got)
	}
	st := src.Status()
	want := map[string]uint64{"applied": 2, "irrelevant": 2, "test": 1, "malformed": 1}
	for k, v := range want {
		if st.Messages[k] != v {
			t.Errorf("messages[%s] = %d, want %d", k, st.Messages[k], v)
		}
	}
	if st.Name != SourceName || st.LastMessage.IsZero() {
		t.Errorf("status = %+v", st)
	}

	stop()
	if src.Status().Connected {
		t.Error("connected after Run returned")
	}
}

func TestJetStreamOrderedConsumerGetsOnlyNewMessages(t *testing.T) {
	ns := startServer(t, serverOpts(-1, t.TempDir()))
	pub := publisher(t, ns.ClientURL())
	js, err := jetstream.New(pub)
	testutil.Must(t, err, "jetstream")
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	_, err = js.CreateStream(ctx, jetstream.StreamConfig{Name: "DGPSYNC", Subjects: []string{"dgp.>"}})
	testutil.Must(t, err, "create stream")

	// Stored before the source starts: must not be delivered.
	_, err = js.Publish(ctx, subject, event(t, "s3:ObjectCreated:Put", "state%2Ffile.json", "old"))
	testutil.Must(t, err, "publish old")

	sink := &notifytest.Sink{}
	src := New(Options{URL: ns.ClientURL(), Subject: subject, Stream: "DGPSYNC"}, filter, sink, zerolog.Nop(), nil)
	notifytest.Start(t, src.Run)
	waitResyncs(t, sink, notify.ReasonConnected)
	waitConnected(t, src, true)

	_, err = js.Publish(ctx, "dgp.other", event(t, "s3:ObjectCreated:Put", "state%2Ffile.json", "other-subject"))
	testutil.Must(t, err, "publish other subject")
	_, err = js.Publish(ctx, subject, event(t, "s3:ObjectCreated:Put", "state%2Ffile.json", "new"))
	testutil.Must(t, err, "publish new")

	testutil.RetryUntil(t, wait, func() error {
		if len(sink.Hints()) == 0 {
			return errors.New("no hint yet")
		}
		return nil
	})
	// Ordered delivery: had "old" been delivered it would have come first.
	if got := etags(sink.Hints()); strings.Join(got, ",") != "new" {
		t.Errorf("hints with etags %v, want only new", got)
	}
	if n := src.Status().Messages["applied"]; n != 1 {
		t.Errorf("applied = %d, want 1", n)
	}
}

func TestJetStreamMissingStreamIsRetried(t *testing.T) {
	ns := startServer(t, serverOpts(-1, t.TempDir()))
	sink := &notifytest.Sink{}
	src := New(Options{URL: ns.ClientURL(), Subject: subject, Stream: "LATER", ConnectRetryWait: 20 * time.Millisecond,
		MaxConnectRetryWait: 100 * time.Millisecond}, filter, sink, zerolog.Nop(), nil)
	notifytest.Start(t, src.Run)
	testutil.RetryUntil(t, wait, func() error {
		if st := src.Status(); st.LastError == "" || st.Connected {
			return fmt.Errorf("want an error while the stream is missing, status %+v", st)
		}
		return nil
	})
	if len(sink.Resyncs()) != 0 {
		t.Fatalf("resync before subscribing: %+v", sink.Resyncs())
	}

	pub := publisher(t, ns.ClientURL())
	js, err := jetstream.New(pub)
	testutil.Must(t, err, "jetstream")
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	_, err = js.CreateStream(ctx, jetstream.StreamConfig{Name: "LATER", Subjects: []string{subject}})
	testutil.Must(t, err, "create stream")

	waitResyncs(t, sink, notify.ReasonConnected)
	waitConnected(t, src, true)
	if st := src.Status(); st.LastError != "" {
		t.Errorf("last error %q kept after connecting", st.LastError)
	}
}

func TestDownAtStartConnectsLater(t *testing.T) {
	port := testutil.FreePort(t)
	url := fmt.Sprintf("nats://127.0.0.1:%d", port)
	sink := &notifytest.Sink{}
	src := New(Options{URL: url, Subject: subject, ConnectRetryWait: 20 * time.Millisecond,
		MaxConnectRetryWait: 200 * time.Millisecond}, filter, sink, zerolog.Nop(), nil)
	notifytest.Start(t, src.Run)

	testutil.RetryUntil(t, wait, func() error {
		if st := src.Status(); st.LastError == "" || st.Connected {
			return fmt.Errorf("want a connection error while NATS is down, status %+v", st)
		}
		return nil
	})
	if len(sink.Resyncs()) != 0 {
		t.Fatalf("resync while down: %+v", sink.Resyncs())
	}

	ns := startServer(t, serverOpts(port, t.TempDir()))
	waitResyncs(t, sink, notify.ReasonConnected)
	waitConnected(t, src, true)

	pub := publisher(t, ns.ClientURL())
	testutil.Must(t, pub.Publish(subject, event(t, "s3:ObjectCreated:Put", "state%2Ffile.json", "after")), "publish")
	testutil.RetryUntil(t, wait, func() error {
		if got := etags(sink.Hints()); strings.Join(got, ",") != "after" {
			return fmt.Errorf("hints %v", got)
		}
		return nil
	})
}

func TestReconnectCallsResync(t *testing.T) {
	storeDir := t.TempDir()
	ns := startServer(t, serverOpts(-1, storeDir))
	port := serverPort(ns)
	sink := &notifytest.Sink{}
	src := New(Options{URL: ns.ClientURL(), Subject: subject, ReconnectWait: 50 * time.Millisecond},
		filter, sink, zerolog.Nop(), nil)
	notifytest.Start(t, src.Run)
	waitResyncs(t, sink, notify.ReasonConnected)
	waitConnected(t, src, true)

	ns.Shutdown()
	ns.WaitForShutdown()
	waitConnected(t, src, false)
	if st := src.Status(); st.LastError == "" {
		t.Errorf("no error recorded on disconnect: %+v", st)
	}

	ns2 := startServer(t, serverOpts(port, storeDir))
	waitResyncs(t, sink, notify.ReasonConnected, notify.ReasonReconnected)
	waitConnected(t, src, true)

	// The subscription is back: a new event gets through.
	pub := publisher(t, ns2.ClientURL())
	testutil.Must(t, pub.Publish(subject, event(t, "s3:ObjectCreated:Put", "state%2Ffile.json", "after-restart")), "publish")
	testutil.RetryUntil(t, wait, func() error {
		if got := etags(sink.Hints()); strings.Join(got, ",") != "after-restart" {
			return fmt.Errorf("hints %v", got)
		}
		return nil
	})
}

func TestTLSAndTokenAuth(t *testing.T) {
	ca := testutil.NewTestCA(t)
	tlsCfg, err := server.GenTLSConfig(&server.TLSConfigOpts{CertFile: ca.CertFile, KeyFile: ca.KeyFile})
	testutil.Must(t, err, "tls config")
	opts := serverOpts(-1, t.TempDir())
	opts.TLS = true
	opts.TLSConfig = tlsCfg
	opts.Authorization = "s3cr3t-token"
	ns := startServer(t, opts)
	url := fmt.Sprintf("tls://127.0.0.1:%d", serverPort(ns))

	t.Run("wrong token", func(t *testing.T) {
		sink := &notifytest.Sink{}
		src := New(Options{URL: url, Subject: subject, Token: "wrong", TLS: TLSOptions{CAFile: ca.CAFile},
			ConnectRetryWait: 20 * time.Millisecond}, filter, sink, zerolog.Nop(), nil)
		notifytest.Start(t, src.Run)
		testutil.RetryUntil(t, wait, func() error {
			if st := src.Status(); !strings.Contains(strings.ToLower(st.LastError), "authorization") {
				return fmt.Errorf("want an authorization error, status %+v", st)
			}
			return nil
		})
		if st := src.Status(); st.Connected || strings.Contains(st.LastError, "s3cr3t") {
			t.Errorf("status %+v", st)
		}
	})

	t.Run("right token", func(t *testing.T) {
		sink := &notifytest.Sink{}
		src := New(Options{URL: url, Subject: subject, Token: "s3cr3t-token", TLS: TLSOptions{CAFile: ca.CAFile}},
			filter, sink, zerolog.Nop(), nil)
		notifytest.Start(t, src.Run)
		waitResyncs(t, sink, notify.ReasonConnected)

		pub, err := nats.Connect(url, nats.Token("s3cr3t-token"), nats.RootCAs(ca.CAFile))
		testutil.Must(t, err, "publisher")
		defer pub.Close()
		testutil.Must(t, pub.Publish(subject, event(t, "s3:ObjectCreated:Put", "state%2Ffile.json", "tls")), "publish")
		testutil.RetryUntil(t, wait, func() error {
			if got := etags(sink.Hints()); strings.Join(got, ",") != "tls" {
				return fmt.Errorf("hints %v", got)
			}
			return nil
		})
	})
}

func TestInvalidOptions(t *testing.T) {
	tests := []Options{
		{},
		{URL: "nats://127.0.0.1:1"},
		{URL: "nats://127.0.0.1:1", Subject: "s", Token: "t", User: "u"},
		{URL: "nats://127.0.0.1:1", Subject: "s", TLS: TLSOptions{CertFile: "c"}},
	}
	for _, o := range tests {
		src := New(o, filter, &notifytest.Sink{}, zerolog.Nop(), nil)
		if err := src.Run(context.Background()); !errors.Is(err, ErrInvalidOptions) {
			t.Errorf("Run(%+v) = %v, want ErrInvalidOptions", o, err)
		}
	}
}

func TestRedactURL(t *testing.T) {
	tests := map[string]string{
		"nats://user:pass@127.0.0.1:4222":           "nats://127.0.0.1:4222",
		"nats://token@host:4222, tls://u:p@h2:4222": "nats://host:4222,tls://h2:4222",
		"127.0.0.1:4222":                            "nats://127.0.0.1:4222",
		"nats://127.0.0.1:4222":                     "nats://127.0.0.1:4222",
	}
	for in, want := range tests {
		if got := redactURL(in); got != want {
			t.Errorf("redactURL(%q) = %q, want %q", in, got, want)
		}
	}
}
