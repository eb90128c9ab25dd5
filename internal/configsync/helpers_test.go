package configsync_test

import (
	"bufio"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/rs/zerolog"

	"github.com/dgp-proxy/dgp/internal/configdb"
	"github.com/dgp-proxy/dgp/internal/configsync"
	"github.com/dgp-proxy/dgp/internal/iam"
	"github.com/dgp-proxy/dgp/internal/testutil"
)

// testKDF keeps Argon2id cheap in unit tests.
var testKDF = configdb.KDFParams{Time: 1, MemoryKiB: 64, Threads: 1}

var testSecret = []byte("correct horse battery staple")

const testKey = ".deltaglider/config.db"

var t0 = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

// clock is a manual clock.
type clock = testutil.Clock

func newClock() *clock { return testutil.NewClock(t0) }

// logBuf collects JSON log lines, safe for concurrent use.
type logBuf struct{ testutil.LogBuffer }

// lines returns the decoded log lines whose message contains msg.
func (l *logBuf) lines(msg string) []map[string]any {
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(l.String()))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var m map[string]any
		if json.Unmarshal(sc.Bytes(), &m) != nil {
			continue
		}
		if s, _ := m["message"].(string); strings.Contains(s, msg) {
			out = append(out, m)
		}
	}
	return out
}

// node is one instance under test.
type node struct {
	*configsync.Syncer
	dir   string
	path  string
	logs  *logBuf
	reg   *prometheus.Registry
	clock *clock
}

// newNode builds a Syncer on bucket (nil: local only) with its own data
// dir, logs, registry and clock; mods adjust the options.
func newNode(t testing.TB, bucket configsync.Bucket, mods ...func(*configsync.Options)) *node {
	t.Helper()
	dir := t.TempDir()
	return newNodeIn(t, dir, bucket, mods...)
}

func newNodeIn(t testing.TB, dir string, bucket configsync.Bucket, mods ...func(*configsync.Options)) *node {
	t.Helper()
	n := &node{dir: dir, path: filepath.Join(dir, "deltaglider_config.db"), logs: &logBuf{},
		reg: prometheus.NewRegistry(), clock: newClock()}
	o := configsync.Options{
		Bucket:             bucket,
		BucketName:         "sync-bucket",
		Key:                testKey,
		NodeID:             "node-" + filepath.Base(dir),
		Secret:             testSecret,
		Keys:               configdb.NewKeyCache(0),
		KDF:                testKDF,
		LocalPath:          n.path,
		Logger:             zerolog.New(n.logs),
		Registerer:         n.reg,
		Now:                n.clock.Now,
		Rand:               func() float64 { return 0.5 },
		ConflictBackoff:    time.Millisecond,
		MaxPublishAttempts: 10,
	}
	if len(o.NodeID) > 64 {
		o.NodeID = o.NodeID[:64]
	}
	for _, m := range mods {
		m(&o)
	}
	s, err := configsync.New(o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	n.Syncer = s
	return n
}

func mustStart(t testing.TB, n *node) {
	t.Helper()
	if err := n.Start(context.Background()); err != nil {
		t.Fatalf("Start: %v\nlogs:\n%s", err, n.logs)
	}
}

func mustPublish(t testing.TB, n *node, op configdb.Op) *configdb.State {
	t.Helper()
	st, err := n.Publish(context.Background(), op)
	if err != nil {
		t.Fatalf("Publish(%s): %v\nlogs:\n%s", op.Describe(), err, n.logs)
	}
	return st
}

func mustSyncNow(t testing.TB, n *node) configsync.PullResult {
	t.Helper()
	res, err := n.SyncNow(context.Background())
	if err != nil {
		t.Fatalf("SyncNow: %v\nlogs:\n%s", err, n.logs)
	}
	return res
}

func createUser(name string) *configdb.CreateUser {
	return configdb.NewCreateUser(name, true,
		[]iam.Rule{{Effect: iam.EffectAllow, Actions: []iam.Action{iam.ActionRead}, Resources: []string{"b/*"}}}, nil)
}

func wantErrIs(t testing.TB, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("error = %v, want %v", err, want)
	}
}

// hasUser reports whether st holds a user named name.
func hasUser(st *configdb.State, name string) bool {
	_, ok := st.UserByName(name)
	return ok
}

// view returns the full JSON view of st (secrets shown) for comparisons.
func view(t testing.TB, st *configdb.State) string {
	t.Helper()
	b, err := st.MarshalJSONView(true)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// localState opens the node's local file.
func localState(t testing.TB, n *node) (*configdb.State, configdb.Header) {
	t.Helper()
	b, err := os.ReadFile(n.path)
	if err != nil {
		t.Fatalf("read local file: %v", err)
	}
	st, h, err := configdb.Open(b, nil, testSecret)
	if err != nil {
		t.Fatalf("open local file: %v", err)
	}
	return st, h
}

// metric returns the value of the series name{labels...} in the node's
// registry (a histogram gives its sample count), 0 when absent.
func (n *node) metric(t testing.TB, name string, labels ...string) float64 {
	t.Helper()
	mfs, err := n.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	series:
		for _, m := range mf.GetMetric() {
			for i := 0; i+1 < len(labels); i += 2 {
				if !hasLabel(m, labels[i], labels[i+1]) {
					continue series
				}
			}
			switch {
			case m.Counter != nil:
				return m.Counter.GetValue()
			case m.Gauge != nil:
				return m.Gauge.GetValue()
			case m.Histogram != nil:
				return float64(m.Histogram.GetSampleCount())
			}
		}
	}
	return 0
}

func hasLabel(m *dto.Metric, name, value string) bool {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue() == value
		}
	}
	return false
}

// sealRaw seals an arbitrary plaintext payload by hand, following
// docs/config-db-format.md, so tests can build DBs that Seal never writes
// (a newer schema, content that does not validate).
func sealRaw(t testing.TB, payload []byte, schema uint16, generation uint64, sealedAt time.Time, secret []byte) []byte {
	t.Helper()
	return sealRawMin(t, payload, schema, schema, generation, sealedAt, secret)
}

// sealRawMin is sealRaw with a min_reader_schema: format 2 when it is lower
// than the schema.
func sealRawMin(t testing.TB, payload []byte, schema, minReader uint16, generation uint64, sealedAt time.Time, secret []byte) []byte {
	t.Helper()
	var salt [configdb.SaltSize]byte
	var nonce [configdb.NonceSize]byte
	_, _ = rand.Read(salt[:])
	_, _ = rand.Read(nonce[:])
	node := "hand"
	h := []byte(configdb.Magic)
	if minReader < schema {
		h = append(h, configdb.FormatVersionMinReader)
		h = binary.BigEndian.AppendUint16(h, schema)
		h = binary.BigEndian.AppendUint16(h, minReader)
	} else {
		h = append(h, configdb.FormatVersion)
		h = binary.BigEndian.AppendUint16(h, schema)
	}
	h = binary.BigEndian.AppendUint64(h, generation)
	h = binary.BigEndian.AppendUint64(h, uint64(sealedAt.UnixMilli()))
	h = append(h, byte(len(node)))
	h = append(h, node...)
	h = binary.BigEndian.AppendUint32(h, testKDF.Time)
	h = binary.BigEndian.AppendUint32(h, testKDF.MemoryKiB)
	h = append(h, testKDF.Threads)
	h = append(h, salt[:]...)
	h = append(h, nonce[:]...)
	h = binary.BigEndian.AppendUint32(h, uint32(len(payload)+configdb.TagSize))
	key := (*configdb.KeyCache)(nil).Key(secret, salt, testKDF)
	block, err := aes.NewCipher(key[:])
	if err != nil {
		t.Fatal(err)
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		t.Fatal(err)
	}
	out := append([]byte(nil), h...)
	return gcm.Seal(out, nonce[:], payload, h)
}

// sealState seals st at generation gen with the given secret and time.
func sealState(t testing.TB, st *configdb.State, gen uint64, at time.Time, secret []byte) []byte {
	t.Helper()
	b, err := configdb.Seal(st.WithGeneration(gen), configdb.SealOptions{WriterNode: "test", KDF: testKDF, Now: at}, nil, secret)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// runLoop runs n.Run until the test ends and waits for it.
func runLoop(t testing.TB, n *node) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := n.Run(ctx); err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	t.Cleanup(func() {
		cancel()
		wg.Wait()
	})
}
