//go:build integration

package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/dgp-proxy/dgp/internal/config"
	"github.com/dgp-proxy/dgp/internal/configsync"
	"github.com/dgp-proxy/dgp/internal/notifysetup"
	"github.com/dgp-proxy/dgp/internal/testharness"
	"github.com/dgp-proxy/dgp/internal/testutil"
)

// Event-driven sync through real servers: MinIO publishes the sync
// bucket's notifications to NATS (or, for the SQS path, to a webhook that
// forwards them to SNS), and every instance pulls at once. The poll is set
// to an hour in these tests unless a test says otherwise, and nobody calls
// sync-now, so only events (or an event source's reconnect) can carry a
// change.

// eventWait bounds every asynchronous assertion: generous, since the
// machines running the suite are shared and noisy.
const eventWait = 45 * time.Second

// minioNATSID is the id of the NATS target of the private MinIOs.
const minioNATSID = "DGPTEST"

// startMinIOWithNATS runs a private MinIO whose NATS target minioNATSID
// publishes to subject on n, through JetStream when jetStream is set.
func startMinIOWithNATS(t *testing.T, n *testutil.PrivateNATS, subject string, jetStream bool) testutil.MinIO {
	t.Helper()
	env, arn := testharness.MinIONATSTarget(minioNATSID, n.Addr, subject, jetStream)
	m := testutil.StartMinIO(t, env...).MinIO
	m.NATSARN = arn
	return m
}

// newFleetOn is newFleet on the given MinIO (plain HTTP).
func newFleetOn(t *testing.T, m testutil.MinIO) *fleet {
	t.Helper()
	f := &fleet{t: t, minio: m, bucket: testutil.UniqueName("sync")}
	c := f.minioClient()
	ctx := context.Background()
	_, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(f.bucket)})
	testutil.Must(t, err, "create sync bucket")
	t.Cleanup(func() {
		out, _ := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(f.bucket)})
		if out != nil {
			for _, o := range out.Contents {
				_, _ = c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(f.bucket), Key: o.Key})
			}
		}
		_, _ = c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String(f.bucket)})
	})
	return f
}

// setupNotifications adds the config object's notification rule to the
// sync bucket, as `dgp sync setup-notifications` does.
func (f *fleet) setupNotifications(target notifysetup.Target) {
	f.t.Helper()
	ctx := context.Background()
	c, err := notifysetup.NewClient(ctx, config.S3Settings{Endpoint: f.minio.Endpoint, AccessKeyID: f.minio.AccessKey, SecretAccessKey: f.minio.SecretKey, ForcePathStyle: true})
	testutil.Must(f.t, err, "notification client")
	rule := notifysetup.Rule{Target: target, Key: config.DefaultConfigSyncObjectKey}
	// A MinIO that just started may not know its targets yet ("destination
	// ARN does not exist"); Ensure is idempotent, so it is simply retried.
	testutil.RetryUntil(f.t, eventWait, func() error {
		_, err := notifysetup.Ensure(ctx, c, f.bucket, rule, false)
		return err
	})
	doc, err := notifysetup.Get(ctx, c, f.bucket)
	testutil.Must(f.t, err, "read notifications")
	if n := len(doc.QueueConfigurations) + len(doc.TopicConfigurations); n != 1 {
		f.t.Fatalf("%d notification rules on the sync bucket, want 1: %+v", n, doc)
	}
}

func natsTarget(t *testing.T, arn string) notifysetup.Target {
	t.Helper()
	tg, err := notifysetup.NATSTarget(arn)
	testutil.Must(t, err, "nats target")
	return tg
}

// withNATS points an instance at a NATS server (poll: an hour, from start).
func withNATS(url, subject, stream string, reader bool) func(*config.Config) {
	return func(c *config.Config) {
		c.Advanced.ConfigSyncNATS.URL = url
		c.Advanced.ConfigSyncNATS.Subject = subject
		c.Advanced.ConfigSyncNATS.Stream = stream
		if reader {
			c.Advanced.ConfigSyncRole = config.SyncRoleReader
		}
	}
}

// syncWatcher reads an instance's sync-status through the admin API, with
// one session (logins are rate-limited).
type syncWatcher struct {
	t   *testing.T
	in  *instance
	adm *adminClient
}

func watchSync(t *testing.T, in *instance) *syncWatcher {
	t.Helper()
	adm := in.admin(t)
	adm.login(in.cfg.Access.BootstrapPassword)
	return &syncWatcher{t: t, in: in, adm: adm}
}

func (w *syncWatcher) status() configsync.Status {
	w.t.Helper()
	var st configsync.Status
	w.adm.must(http.StatusOK, http.MethodGet, "/config/sync-status", nil, &st)
	return st
}

// sourceConnected reports whether the named event source of st is connected.
func sourceConnected(st configsync.Status, name string) (bool, error) {
	for _, s := range st.EventSources {
		if s.Name == name {
			return s.Connected, nil
		}
	}
	return false, fmt.Errorf("no event source %q in %+v", name, st.EventSources)
}

// waitListening waits until the instance's event source is connected and
// the pull that its connection asked for (source "reconnect") has run, so
// that from then on only events can bring a change. It returns the
// instance's watcher.
func waitListening(t *testing.T, in *instance, source string) *syncWatcher {
	t.Helper()
	w := watchSync(t, in)
	testutil.RetryUntil(t, eventWait, func() error {
		st := w.status()
		ok, err := sourceConnected(st, source)
		if err != nil {
			return err
		}
		if !ok {
			return errors.New(source + " not connected yet")
		}
		if n := in.pulls(configsync.SourceReconnect); n == 0 {
			return fmt.Errorf("the connect pull has not run yet (last pull %+v)", st.LastPull)
		}
		return nil
	})
	return w
}

// pulls counts the instance's pulls of a source (any result), from its
// Prometheus metrics.
func (in *instance) pulls(source string) float64 {
	resp, err := in.httpClient().Get(in.app.URL() + "/_/metrics")
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var n float64
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "dgp_config_sync_pulls_total{") && strings.Contains(line, `source="`+source+`"`) {
			if f := strings.Fields(line); len(f) == 2 {
				v, _ := strconv.ParseFloat(f[1], 64)
				n += v
			}
		}
	}
	return n
}

// accepts reports whether in accepts u's key on a real S3 request.
func (in *instance) accepts(u apiUser) error {
	_, err := in.s3Client(u.AccessKeyID, u.SecretAccessKey).ListBuckets(context.Background(), &s3.ListBucketsInput{})
	return err
}

func waitAccepted(t *testing.T, u apiUser, ins ...*instance) {
	t.Helper()
	for _, in := range ins {
		testutil.RetryUntil(t, eventWait, func() error { return in.accepts(u) })
	}
}

func waitRefused(t *testing.T, u apiUser, ins ...*instance) {
	t.Helper()
	for _, in := range ins {
		testutil.RetryUntil(t, eventWait, func() error {
			if in.accepts(u) == nil {
				return fmt.Errorf("%s still accepted", u.Name)
			}
			return nil
		})
	}
}

// assertLastPull checks which trigger brought the instance's last update,
// from its logs: the source of the last "config db applied" line (the
// status's last pull may be a later one that found nothing new).
func (w *syncWatcher) assertLastPull(sources ...string) {
	w.t.Helper()
	type applied struct {
		Source     string `json:"source"`
		Generation uint64 `json:"generation"`
	}
	// The snapshot is swapped before the local file is written and the
	// "config db applied" line is logged, so a request can see the change
	// a moment before the line exists: wait for it.
	testutil.RetryUntil(w.t, 10*time.Second, func() error {
		var last applied
		found := false
		for _, line := range strings.Split(w.in.logs.String(), "\n") {
			if !strings.Contains(line, `"config db applied"`) {
				continue
			}
			if err := json.Unmarshal([]byte(line), &last); err != nil {
				return fmt.Errorf("log line %q: %v", line, err)
			}
			found = true
		}
		if !found || !contains(sources, last.Source) {
			return fmt.Errorf("last update applied by %+v (found %v), want one from %v", last, found, sources)
		}
		return nil
	})
}

// connected reports whether the watcher's instance has the named source connected.
func (w *syncWatcher) connected(source string) (bool, error) {
	return sourceConnected(w.status(), source)
}

// A user created on A works against B and C without sync-now and without
// the poll, through MinIO -> NATS (the harness's shared servers); disabling
// it on A is enforced on B and C the same way.
func TestEventsOverNATS(t *testing.T) {
	m := testutil.RequireMinIO(t)
	natsURL, subject := os.Getenv("DGP_TEST_NATS_URL"), os.Getenv("DGP_TEST_NATS_SUBJECT")
	if natsURL == "" || subject == "" || m.NATSARN == "" {
		t.Skip("DGP_TEST_NATS_URL, DGP_TEST_NATS_SUBJECT or DGP_TEST_MINIO_NATS_ARN not set (run through .ci/run)")
	}
	f := newFleet(t, false)
	f.setupNotifications(natsTarget(t, m.NATSARN))
	a := f.start(withNATS(natsURL, subject, "", false))
	b := f.start(withNATS(natsURL, subject, "", true))
	c := f.start(withNATS(natsURL, subject, "", true))
	wb := waitListening(t, b, "nats")
	wc := waitListening(t, c, "nats")

	adm := a.admin(t)
	adm.login(a.cfg.Access.BootstrapPassword)
	u := adm.createUser("evented", allow([]string{"list"}, "*"))
	waitAccepted(t, u, b, c)
	wb.assertLastPull(configsync.SourceEvent)
	wc.assertLastPull(configsync.SourceEvent)

	adm.must(http.StatusOK, http.MethodPut, "/users/"+u.ID, map[string]any{"enabled": false}, nil)
	waitRefused(t, u, b, c)
	wb.assertLastPull(configsync.SourceEvent)
	wc.assertLastPull(configsync.SourceEvent)
}

// NATS goes down, a change is made on A (MinIO's event for it is lost:
// MinIO drops events while its NATS target is unreachable, or queues them
// when a queue dir is configured), NATS comes back: B and C catch up on
// reconnect, long before the poll (an hour).
func TestEventsCatchUpAfterNATSRestart(t *testing.T) {
	n := testutil.StartNATS(t)
	const subject = "dgp.test.restart"
	m := startMinIOWithNATS(t, n, subject, false)
	f := newFleetOn(t, m)
	f.setupNotifications(natsTarget(t, m.NATSARN))
	a := f.start(withNATS(n.URL, subject, "", false))
	b := f.start(withNATS(n.URL, subject, "", true))
	c := f.start(withNATS(n.URL, subject, "", true))
	wb := waitListening(t, b, "nats")
	wc := waitListening(t, c, "nats")

	adm := a.admin(t)
	adm.login(a.cfg.Access.BootstrapPassword)
	before := adm.createUser("before-outage", allow([]string{"list"}, "*"))
	waitAccepted(t, before, b, c)
	wb.assertLastPull(configsync.SourceEvent)

	n.Stop()
	for _, w := range []*syncWatcher{wb, wc} {
		testutil.RetryUntil(t, eventWait, func() error {
			if ok, err := w.connected("nats"); err != nil || ok {
				return fmt.Errorf("still connected (%v)", err)
			}
			return nil
		})
	}
	during := adm.createUser("during-outage", allow([]string{"list"}, "*"))
	// Nothing can bring the change now: no events, no poll for an hour.
	for _, in := range []*instance{b, c} {
		if in.accepts(during) == nil {
			t.Fatal("a reader got the change while NATS was down")
		}
	}

	mark := len(b.logs.String())
	n.Start()
	waitAccepted(t, during, b, c)
	// The reconnect's pull (or an event MinIO kept and sent late) brought it.
	wb.assertLastPull(configsync.SourceReconnect, configsync.SourceEvent)
	wc.assertLastPull(configsync.SourceReconnect, configsync.SourceEvent)
	// Which of the two came first depends on scheduling (a loaded machine
	// lets MinIO's kept event win), and the pull's log line may follow the
	// swap that made the key work: the log must show one of them, in time.
	testutil.RetryUntil(t, eventWait, func() error {
		if logs := b.logs.String()[mark:]; !strings.Contains(logs, `"source":"reconnect"`) && !strings.Contains(logs, `"source":"event"`) {
			return errors.New("neither a reconnect pull nor an event pull in the reader's logs since the restart")
		}
		return nil
	})
}

// With NATS down for good and a short poll, every instance still
// converges; an instance started while NATS is down starts and serves.
func TestPollConvergesWithNATSDown(t *testing.T) {
	n := testutil.StartNATS(t)
	const subject = "dgp.test.down"
	m := startMinIOWithNATS(t, n, subject, false)
	f := newFleetOn(t, m)
	f.setupNotifications(natsTarget(t, m.NATSARN))
	shortPoll := func(reader bool) func(*config.Config) {
		return func(c *config.Config) {
			withNATS(n.URL, subject, "", reader)(c)
			c.Advanced.ConfigSyncPollInterval = time.Second
		}
	}
	a := f.start(withNATS(n.URL, subject, "", false))
	b := f.start(shortPoll(true))
	wb := waitListening(t, b, "nats")

	n.Stop()
	c := f.start(shortPoll(true)) // NATS is down: it must start anyway
	wc := watchSync(t, c)

	adm := a.admin(t)
	adm.login(a.cfg.Access.BootstrapPassword)
	u := adm.createUser("polled", allow([]string{"list"}, "*"))
	waitAccepted(t, u, b, c)
	wb.assertLastPull(configsync.SourcePoll)
	wc.assertLastPull(configsync.SourcePoll)
	if ok, err := wc.connected("nats"); err != nil || ok {
		t.Fatalf("instance started without NATS says connected=%v (%v)", ok, err)
	}
}

// The JetStream variant: MinIO publishes into a stream created on the
// test's NATS before its first upload; dgp reads the stream.
func TestEventsOverJetStream(t *testing.T) {
	n := testutil.StartNATS(t)
	const subject, stream = "dgp.test.js.config", "DGP_CONFIG_SYNC"
	nc, err := nats.Connect(n.URL)
	testutil.Must(t, err, "nats connect")
	defer nc.Close()
	js, err := jetstream.New(nc)
	testutil.Must(t, err, "jetstream")
	ctx := context.Background()
	_, err = js.CreateStream(ctx, jetstream.StreamConfig{Name: stream, Subjects: []string{subject}, MaxAge: time.Hour})
	testutil.Must(t, err, "create stream")

	m := startMinIOWithNATS(t, n, subject, true)
	f := newFleetOn(t, m)
	f.setupNotifications(natsTarget(t, m.NATSARN))
	a := f.start(withNATS(n.URL, subject, stream, false))
	b := f.start(withNATS(n.URL, subject, stream, true))
	c := f.start(withNATS(n.URL, subject, stream, true))
	wb := waitListening(t, b, "nats")
	wc := waitListening(t, c, "nats")

	adm := a.admin(t)
	adm.login(a.cfg.Access.BootstrapPassword)
	u := adm.createUser("streamed", allow([]string{"list"}, "*"))
	waitAccepted(t, u, b, c)
	wb.assertLastPull(configsync.SourceEvent)
	wc.assertLastPull(configsync.SourceEvent)

	// The events went through the stream.
	s, err := js.Stream(ctx, stream)
	testutil.Must(t, err, "stream")
	info, err := s.Info(ctx)
	testutil.Must(t, err, "stream info")
	if info.State.Msgs == 0 {
		t.Fatal("no message in the stream")
	}

	adm.must(http.StatusOK, http.MethodPut, "/users/"+u.ID, map[string]any{"enabled": false}, nil)
	waitRefused(t, u, b, c)
	wb.assertLastPull(configsync.SourceEvent)
}
