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
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"github.com/dgp-proxy/dgp/internal/configdb"
)

// Fault kinds, in the order the table lists them.
const (
	FaultKill         = "kill"            // SIGKILL of an instance at a random moment
	FaultKillAfterPut = "kill-after-put"  // SIGKILL between its PUT and the answer
	FaultRestartMinIO = "restart-minio"   // docker restart of MinIO
	FaultRestartNATS  = "restart-nats"    // docker restart of nats-server
	FaultCutMinIO     = "cut-minio"       // an instance off the MinIO network
	FaultCutNATS      = "cut-nats"        // an instance off the NATS network
	FaultCutBoth      = "cut-both"        // an instance off both
	FaultEventDup     = "event-duplicate" // a real event published again, 3 times
	FaultEventReorder = "event-reorder"   // recent events published newest first
	FaultEventDelay   = "event-delay"     // a real event published again seconds later
	FaultEventForeign = "event-foreign"   // events of other buckets/keys/ETags, and garbage
	FaultTamper       = "tamper"          // a foreign writer flips bytes of the sync object
	FaultTruncate     = "truncate"        // a foreign writer truncates the sync object
)

// FaultKinds lists every kind.
var FaultKinds = []string{FaultKill, FaultKillAfterPut, FaultRestartMinIO, FaultRestartNATS, FaultCutMinIO,
	FaultCutNATS, FaultCutBoth, FaultEventDup, FaultEventReorder, FaultEventDelay, FaultEventForeign, FaultTamper, FaultTruncate}

// weights: how often each kind is drawn (restarts of the shared servers
// stall the whole fleet, so they come less often).
var faultWeights = map[string]int{FaultKill: 3, FaultKillAfterPut: 3, FaultRestartMinIO: 1, FaultRestartNATS: 2,
	FaultCutMinIO: 3, FaultCutNATS: 3, FaultCutBoth: 3, FaultEventDup: 2, FaultEventReorder: 2, FaultEventDelay: 2,
	FaultEventForeign: 2, FaultTamper: 1, FaultTruncate: 1}

// fault is one planned injection: drawn from the seed in order.
type fault struct {
	Seq    int
	Kind   string
	Target int           // instance index, for instance faults
	Hold   time.Duration // how long the fault lasts before healing
}

// resource is what a fault holds while it acts, so that two faults never
// act on the same thing at once (they overlap otherwise).
func (f fault) resource() string {
	switch f.Kind {
	case FaultKill, FaultKillAfterPut, FaultCutMinIO, FaultCutNATS, FaultCutBoth:
		return "instance-" + itoa(f.Target)
	case FaultRestartMinIO, FaultTamper, FaultTruncate:
		return "minio"
	case FaultRestartNATS:
		return "nats"
	}
	return "events"
}

// global reports whether the fault stalls the whole fleet (a restart of
// MinIO or NATS, a foreign object in the sync key): a convergence measure
// it overlaps measures it, not the fault before, and is left out.
func (f fault) global() bool {
	switch f.Kind {
	case FaultRestartMinIO, FaultRestartNATS, FaultTamper, FaultTruncate:
		return true
	}
	return false
}

// plan draws n faults from seed (math/rand/v2 PCG): the same seed gives
// the same kinds, targets and holds in the same order. kinds restricts the
// draw (nil: every kind).
func plan(seed uint64, n, instances int, kinds ...string) []fault {
	if len(kinds) == 0 {
		kinds = FaultKinds
	}
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	total := 0
	for _, k := range kinds {
		total += faultWeights[k]
	}
	out := make([]fault, n)
	for i := range out {
		r := rng.IntN(total)
		kind := kinds[0]
		for _, k := range kinds {
			if r < faultWeights[k] {
				kind = k
				break
			}
			r -= faultWeights[k]
		}
		out[i] = fault{Seq: i, Kind: kind, Target: rng.IntN(instances), Hold: time.Duration(200+rng.IntN(1300)) * time.Millisecond}
	}
	return out
}

// injection is what happened to one fault.
type injection struct {
	fault
	Start, Healed time.Time
	Converged     time.Duration // -1: not measured
	Note          string        // e.g. "window hit", "restored by the harness"
	Err           error
}

// injector runs faults against the fleet.
type injector struct {
	f     *Fleet
	obs   *observer
	s3    *s3.Client // the host's client of MinIO (the foreign writer)
	log   io.Writer
	locks map[string]*sync.Mutex
	keys  *configdb.KeyCache
}

func newInjector(f *Fleet, obs *observer, c *s3.Client, log io.Writer) *injector {
	j := &injector{f: f, obs: obs, s3: c, log: log, locks: map[string]*sync.Mutex{}, keys: configdb.NewKeyCache(4)}
	for _, r := range []string{"minio", "nats", "events"} {
		j.locks[r] = &sync.Mutex{}
	}
	for i := range f.inst {
		j.locks["instance-"+itoa(i)] = &sync.Mutex{}
	}
	return j
}

// inject runs one fault: injects it, holds it, heals it, and waits until
// the fleet is whole again (an instance restarted is ready again).
func (j *injector) inject(ctx context.Context, ft fault) injection {
	mu := j.locks[ft.resource()]
	mu.Lock()
	defer mu.Unlock()
	inj := injection{fault: ft, Start: time.Now(), Converged: -1}
	var in *Instance
	if strings.HasPrefix(ft.resource(), "instance-") {
		in = j.f.inst[ft.Target]
		j.obs.impair(ft.Target, +1)
		defer j.obs.impair(ft.Target, -1)
	}
	if ft.global() {
		j.obs.disturb()
	}
	inj.Note, inj.Err = j.act(ctx, ft, in)
	inj.Healed = time.Now()
	return inj
}

func (j *injector) act(ctx context.Context, ft fault, in *Instance) (string, error) {
	d := j.f.d
	switch ft.Kind {
	case FaultKill:
		sleep(ctx, ft.Hold/2) // a random moment of the workload
		return "", j.killAndStart(ctx, in, ft.Hold)
	case FaultKillAfterPut:
		note := "window missed (killed anyway)"
		etag, err := j.arm(ctx, in.Node, 5*time.Second)
		if err != nil {
			return "", err
		}
		if etag != "" {
			note = "window hit"
		}
		err = j.killAndStart(ctx, in, ft.Hold, func() { j.release(ctx, in.Node) })
		return note, err
	case FaultRestartMinIO:
		if err := d.Restart(ctx, j.f.minio.name, time.Second); err != nil {
			return "", err
		}
		if err := j.f.refresh(ctx, j.f.minio); err != nil {
			return "", err
		}
		return "", j.f.waitHTTP(ctx, j.f.minio.URL()+"/minio/health/ready")
	case FaultRestartNATS:
		if err := d.Restart(ctx, j.f.nats.name, time.Second); err != nil {
			return "", err
		}
		return "", j.f.refresh(ctx, j.f.nats)
	case FaultCutMinIO, FaultCutNATS, FaultCutBoth:
		type link struct{ net, ip string }
		var links []link
		if ft.Kind != FaultCutNATS {
			links = append(links, link{j.f.netMinIO, in.minioIP})
		}
		if ft.Kind != FaultCutMinIO {
			links = append(links, link{j.f.netNATS, in.natsIP})
		}
		var errs []error
		for _, l := range links {
			errs = append(errs, d.NetworkDisconnect(ctx, l.net, in.name))
		}
		sleep(ctx, ft.Hold)
		for _, l := range links {
			errs = append(errs, d.NetworkConnect(context.WithoutCancel(ctx), l.net, in.name, containersConnect(l.ip)))
		}
		return "", errors.Join(errs...)
	case FaultEventDup, FaultEventReorder, FaultEventDelay, FaultEventForeign:
		return j.events(ctx, ft)
	case FaultTamper, FaultTruncate:
		return j.foreignWrite(ctx, ft)
	}
	return "", fmt.Errorf("unknown fault %q", ft.Kind)
}

// killAndStart SIGKILLs the instance (running before each of beforeStart),
// keeps it down for hold and starts it again, then waits until it is ready.
func (j *injector) killAndStart(ctx context.Context, in *Instance, hold time.Duration, beforeStart ...func()) error {
	if err := j.f.d.Kill(ctx, in.name, "KILL"); err != nil {
		return err
	}
	for _, f := range beforeStart {
		f()
	}
	if err := j.checkLocalDB(ctx, in); err != nil {
		return err
	}
	sleep(ctx, hold)
	if err := j.f.d.Start(context.WithoutCancel(ctx), in.name); err != nil {
		return err
	}
	return j.f.waitReady(context.WithoutCancel(ctx), in, 90*time.Second)
}

// checkLocalDB copies the killed instance's local DB file out and opens it
// with the password: a SIGKILL must never leave it half-written. Its MD5
// is kept to be checked against the DBs dgp wrote at the end.
func (j *injector) checkLocalDB(ctx context.Context, in *Instance) error {
	dir, err := os.MkdirTemp("", "dgp-chaos-local-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	dst := filepath.Join(dir, "db")
	if err := j.f.d.CopyFrom(ctx, in.name, dataDBPath, dst); err != nil {
		if strings.Contains(err.Error(), "No such container:path") || strings.Contains(err.Error(), "no such file") {
			return nil // nothing written yet
		}
		return err
	}
	b, err := os.ReadFile(dst)
	if err != nil {
		return err
	}
	_, h, err := configdb.Open(b, j.keys, []byte(password))
	sum := md5.Sum(b)
	j.obs.localDB(localDB{Node: in.Node, MD5: hex.EncodeToString(sum[:]), Generation: h.Generation, Err: err})
	return nil
}

// arm asks the proxy to hold the answer of the node's next config PUT; it
// returns the ETag written ("" when the node wrote nothing within wait).
func (j *injector) arm(ctx context.Context, node string, wait time.Duration) (string, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, j.f.syncProxy.URL()+"/arm?node="+node+"&wait="+wait.String(), nil)
	resp, err := (&http.Client{Timeout: wait + 10*time.Second}).Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b), nil
}

func (j *injector) release(ctx context.Context, node string) {
	req, _ := http.NewRequestWithContext(context.WithoutCancel(ctx), http.MethodPost, j.f.syncProxy.URL()+"/release?node="+node, nil)
	if resp, err := j.f.http.Do(req); err == nil {
		resp.Body.Close()
	}
}

// events publishes duplicated, reordered, delayed or foreign events on
// the subject, built from the real events MinIO published.
func (j *injector) events(ctx context.Context, ft fault) (string, error) {
	recent := j.obs.recentEvents(4)
	if len(recent) == 0 {
		recent = [][]byte{syntheticEvent(syncBucket, syncKey, "00000000000000000000000000000000")}
	}
	last := recent[len(recent)-1]
	var out [][]byte
	switch ft.Kind {
	case FaultEventDup:
		out = [][]byte{last, last, last}
	case FaultEventReorder:
		for i := len(recent) - 1; i >= 0; i-- {
			out = append(out, recent[i])
		}
	case FaultEventDelay:
		sleep(ctx, ft.Hold*2)
		out = [][]byte{recent[0]}
	case FaultEventForeign:
		out = [][]byte{
			syntheticEvent("another-bucket", syncKey, "0123456789abcdef0123456789abcdef"),
			syntheticEvent(syncBucket, "users/alice/config.db", "0123456789abcdef0123456789abcdef"),
			syntheticEvent(syncBucket, syncKey, "ffffffffffffffffffffffffffffffff"),
			[]byte(`{"Records": [{"eventName": "s3:ObjectRemoved:Delete"`),
			[]byte("not json at all"),
		}
	}
	for _, raw := range out {
		if err := j.obs.publish(raw); err != nil {
			return "", err
		}
	}
	return fmt.Sprintf("%d messages", len(out)), nil
}

// syntheticEvent is a MinIO put event (the shape of
// testdata/events/minio-nats-put.json) for bucket/key with etag.
func syntheticEvent(bucket, key, etag string) []byte {
	ev := map[string]any{
		"EventName": "s3:ObjectCreated:Put",
		"Key":       bucket + "/" + key,
		"Records": []any{map[string]any{
			"eventVersion": "2.0", "eventSource": "minio:s3", "eventTime": time.Now().UTC().Format(time.RFC3339Nano),
			"eventName": "s3:ObjectCreated:Put",
			"s3": map[string]any{
				"s3SchemaVersion": "1.0", "configurationId": "Config",
				"bucket": map[string]any{"name": bucket, "arn": "arn:aws:s3:::" + bucket},
				"object": map[string]any{"key": strings.ReplaceAll(key, "/", "%2F"), "size": 1234, "eTag": etag,
					"sequencer": fmt.Sprintf("%X", time.Now().UnixNano())},
			},
		}},
	}
	b, _ := json.Marshal(ev)
	return b
}

// repairWait is how long the harness waits for dgp itself to replace a
// foreign object before restoring the newest DB dgp wrote (an operator's
// restore from backup).
const repairWait = time.Second

// foreignWrite writes a tampered or truncated copy of the sync object
// into the sync key (as a foreign writer, straight to MinIO), then heals.
func (j *injector) foreignWrite(ctx context.Context, ft fault) (string, error) {
	// The broken copy replaces the very object it was made from (If-Match
	// on its ETag, read again when dgp wrote in between): a foreign writer
	// putting back stale bytes over a newer DB would lose the changes in it
	// whoever repairs the key.
	var badETag string
	err := retry(ctx, 60*time.Second, 200*time.Millisecond, func() error {
		out, err := j.s3.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(syncBucket), Key: aws.String(syncKey)}, at(j.f.minio.URL()))
		if err != nil {
			return err
		}
		body, err := io.ReadAll(out.Body)
		out.Body.Close()
		if err != nil {
			return err
		}
		bad := bytes.Clone(body)
		if ft.Kind == FaultTamper {
			for i := len(bad) / 2; i < len(bad)/2+8 && i < len(bad); i++ {
				bad[i] ^= 0x5a
			}
		} else {
			bad = bad[:len(bad)/2]
		}
		put, err := j.s3.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(syncBucket), Key: aws.String(syncKey), Body: bytes.NewReader(bad),
			IfMatch: out.ETag}, at(j.f.minio.URL()))
		if err != nil {
			return err
		}
		badETag = strings.Trim(aws.ToString(put.ETag), `"`)
		return nil
	})
	if err != nil {
		return "", err
	}
	j.obs.markForeign(badETag, ft.Kind)
	// Does a mutation of dgp replace it by itself?
	deadline := time.Now().Add(repairWait)
	for time.Now().Before(deadline) {
		if cur, err := j.head(ctx); err == nil && cur != badETag {
			return "replaced by dgp", nil
		}
		sleep(ctx, 200*time.Millisecond)
	}
	// Restore the newest DB dgp wrote, unless dgp replaced the object meanwhile.
	err = retry(ctx, 60*time.Second, 200*time.Millisecond, func() error {
		resp, err := j.f.http.Get(j.f.syncProxy.URL() + "/latest")
		if err != nil {
			return err
		}
		good, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			return fmt.Errorf("proxy /latest: %d %v", resp.StatusCode, err)
		}
		_, err = j.s3.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(syncBucket), Key: aws.String(syncKey),
			Body: bytes.NewReader(good), IfMatch: aws.String(`"` + badETag + `"`)}, at(j.f.minio.URL()))
		var ae smithy.APIError
		if errors.As(err, &ae) && ae.ErrorCode() == "PreconditionFailed" {
			return nil // dgp replaced it meanwhile
		}
		return err
	})
	return "restored by the harness", err
}

func (j *injector) head(ctx context.Context) (string, error) {
	out, err := j.s3.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(syncBucket), Key: aws.String(syncKey)}, at(j.f.minio.URL()))
	if err != nil {
		return "", err
	}
	return strings.Trim(aws.ToString(out.ETag), `"`), nil
}
