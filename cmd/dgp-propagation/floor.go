package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/dgp-proxy/dgp/internal/config"
	"github.com/dgp-proxy/dgp/internal/configdb"
	"github.com/dgp-proxy/dgp/internal/configsync"
	"github.com/dgp-proxy/dgp/internal/rawio"
	"github.com/dgp-proxy/dgp/internal/storage/s3backend"
)

// floorReaderCmd is the argument that runs this binary as a floor reader
// (--floor): the least a reader process can do per IAM change in dgp's
// design, to measure what a change costs any Go process on this machine.
const floorReaderCmd = "floor-reader"

// floorEventsOnlyEnv set to "1" makes the floor reader send no GET
// (--floor-events-only): it counts the events for the sync object and logs
// each as the next generation applied.
const floorEventsOnlyEnv = "DGP_PROPAGATION_FLOOR_EVENTS_ONLY"

// isFloorReader reports whether args (a process's, with its name) start
// a floor reader.
func isFloorReader(args []string) bool { return len(args) > 1 && args[1] == floorReaderCmd }

// floorReaderMain runs a floor reader until SIGTERM or SIGINT and returns
// the process's exit code (main's, and the test binary's in TestMain).
func floorReaderMain() int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	log, done := rawio.LogOutput(os.Stderr) // as dgp serve writes its log
	defer done()
	if err := runFloorReader(ctx, log); err != nil {
		fmt.Fprintln(os.Stderr, "dgp-propagation:", err)
		return 1
	}
	return 0
}

// runFloorReader is a reader reduced to its wake-ups and I/O: on every
// NATS message it sends the conditional GET a dgp reader sends (through
// the same configsync bucket adapter, s3backend fast path and
// configsync.DirectTransport, on the subscription's goroutine), reads the
// body and the generation from the
// DB's header, and logs dgp's "config db applied" line. It does not parse
// the event, verify, decrypt, decode or swap anything, and serves no S3:
// only the two metrics the tool waits for at start. It is configured by
// the environment the tool gives a dgp reader process (processEnv).
func runFloorReader(ctx context.Context, stderr io.Writer) error {
	env := os.Getenv
	if env("DGP_CONFIG_SYNC_NATS_URL") == "" || env("DGP_CONFIG_SYNC_NATS_STREAM") != "" {
		return errors.New("floor reader: only --mode nats-core")
	}
	endpoint, bucket := env("DGP_CONFIG_SYNC_S3_ENDPOINT"), env("DGP_CONFIG_SYNC_BUCKET")
	key := config.DefaultConfigSyncObjectKey
	if !configsync.DirectTransportFits(endpoint) {
		return fmt.Errorf("floor reader: %s does not take the direct transport", endpoint)
	}
	getter, err := s3backend.New(ctx, s3backend.Options{
		Name: "floor-get", Endpoint: endpoint, Region: env("DGP_CONFIG_SYNC_S3_REGION"), ForcePathStyle: true,
		AccessKeyID: env("DGP_CONFIG_SYNC_S3_ACCESS_KEY_ID"), SecretAccessKey: env("DGP_CONFIG_SYNC_S3_SECRET_ACCESS_KEY"),
		HTTPClient: &http.Client{Transport: configsync.NewDirectTransport(),
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
	})
	if err != nil {
		return fmt.Errorf("floor reader: %w", err)
	}
	f := &floorReader{get: configsync.NewS3Bucket(getter, bucket).(configsync.BucketGetInto), key: key, log: stderr,
		eventKey: []byte(bucket + "/" + key + `"`)}

	ln, err := net.Listen("tcp", env("DGP_LISTEN_ADDR"))
	if err != nil {
		return fmt.Errorf("floor reader: %w", err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(f.serveMetrics), ReadHeaderTimeout: 10 * time.Second}
	var wg sync.WaitGroup
	wg.Go(func() { _ = srv.Serve(ln) })
	defer func() {
		_ = srv.Close()
		wg.Wait()
	}()

	f.pull(ctx) // the connect pull, as dgp's (before the subscription: f is its goroutine's from then on)
	f.pullsReconnect.Store(1)
	nc, err := nats.Connect(env("DGP_CONFIG_SYNC_NATS_URL"), nats.Name("dgp-floor-reader"), nats.SetCustomDialer(rawio.Dialer{Timeout: 5 * time.Second}))
	if err != nil {
		return fmt.Errorf("floor reader: %w", err)
	}
	defer nc.Close()
	handle := func(*nats.Msg) { f.pull(ctx) }
	if env(floorEventsOnlyEnv) == "1" {
		handle = f.event
	}
	sub, err := nc.Subscribe(env("DGP_CONFIG_SYNC_NATS_SUBJECT"), handle)
	if err != nil {
		return fmt.Errorf("floor reader: %w", err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	if err := nc.Flush(); err != nil {
		return fmt.Errorf("floor reader: %w", err)
	}
	f.connected.Store(true)
	f.logLine(map[string]any{"message": "serving", "url": "http://" + ln.Addr().String()})
	<-ctx.Done()
	return nil
}

// floorReader is the floor reader's state: etag, buf and gen are the
// pulling goroutine's (the start's, then the subscription's).
type floorReader struct {
	// get is the sync bucket's adapter a dgp reader pulls through
	// (conditional GET, the body read into buf, the ETag unquoted).
	get  configsync.BucketGetInto
	key  string
	log  io.Writer
	etag string
	buf  []byte
	// gen is the generation of the last DB pulled, or counted by event.
	gen uint64
	// eventKey is `bucket/key"`, the end of the object's name in MinIO's
	// event wrapper ("Key").
	eventKey       []byte
	connected      atomic.Bool
	logMu          sync.Mutex
	pullsReconnect atomic.Int64
}

// pull sends the conditional GET and logs an applied line for a new DB.
func (f *floorReader) pull(ctx context.Context) {
	body, etag, err := f.get.GetInto(ctx, f.key, f.etag, f.buf)
	if err != nil {
		return // 304, or a failure the next event retries
	}
	f.buf = body
	h, err := configdb.ReadHeader(body)
	if err != nil {
		f.logLine(map[string]any{"level": "warn", "message": "floor reader: unreadable db", "error": err.Error()})
		return
	}
	f.etag, f.gen = etag, h.Generation
	f.logLine(map[string]any{"message": "config db applied", "generation": h.Generation, "source": "event"})
}

// event is the subscription's handler with --floor-events-only: an event
// for the sync object counts as the next generation (each of the tool's
// mutations writes the object once, and MinIO sends one event a write).
// Nothing is parsed or fetched.
func (f *floorReader) event(m *nats.Msg) {
	if !bytes.Contains(m.Data, f.eventKey) {
		return
	}
	f.gen++
	f.logLine(map[string]any{"message": "config db applied", "generation": f.gen, "source": "event"})
}

// logLine writes one JSON log line.
func (f *floorReader) logLine(fields map[string]any) {
	b, _ := json.Marshal(fields)
	f.logMu.Lock()
	defer f.logMu.Unlock()
	_, _ = f.log.Write(append(b, '\n'))
}

// serveMetrics answers the two metrics waitReady reads.
func (f *floorReader) serveMetrics(w http.ResponseWriter, _ *http.Request) {
	connected := 0
	if f.connected.Load() {
		connected = 1
	}
	fmt.Fprintf(w, "dgp_config_sync_event_source_connected{source=\"nats\"} %d\n", connected)
	fmt.Fprintf(w, "dgp_config_sync_pulls_total{source=\"reconnect\"} %d\n", f.pullsReconnect.Load())
}
