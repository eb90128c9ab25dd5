// Package chaos runs dgp's fault matrix over a fleet of containers: three
// dgp instances, MinIO (storage and the sync bucket, notifying NATS of
// every new config DB) and nats-server on private Docker networks, a
// workload of IAM mutations on every instance and S3 traffic, and faults
// injected at random points in an order drawn from a seed: SIGKILL of an
// instance (also between its PUT of the DB and its answer), restarts of
// MinIO and NATS, an instance cut from MinIO, NATS or both, duplicated,
// reordered, delayed and foreign events, and a tampered or truncated
// object written into the sync key by a foreign writer.
//
// After the faults it checks dgp's promises: every acknowledged mutation
// is in the final DB; the instances converge on one ETag (measured after
// every fault, and at the end with events and without); no instance ever
// held a DB dgp did not write (the foreign objects above all); every
// instance's local DB file opens after a SIGKILL. Report.Table prints the
// matrix. Used by TestChaos and cmd/dgp-chaos; it needs a Docker engine
// and the images of internal/testharness/containers.
package chaos

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/dgp-proxy/dgp/internal/configdb"
	"github.com/dgp-proxy/dgp/internal/testharness/containers"
)

// Options configure Run.
type Options struct {
	Docker     *containers.Docker
	Images     containers.Images
	ProxyImage string // BuildProxyImage
	Faults     int    // how many to inject
	Seed       uint64
	// Kinds restricts the faults drawn (nil: all of FaultKinds).
	Kinds []string
	// Lanes is how many faults act at once (on different targets); 4 by default.
	Lanes int
	// PollInterval of the instances (DGP_CONFIG_SYNC_POLL_INTERVAL); 5s by default.
	PollInterval time.Duration
	// Keep leaves the containers running after the run (for a look).
	Keep bool
	Log  io.Writer
}

// Run starts the fleet, runs the workload and the faults, heals, checks
// and returns the report. Everything it created is removed at the end
// (unless Keep), also on error.
func Run(ctx context.Context, o Options) (rep *Report, err error) {
	if o.Lanes <= 0 {
		o.Lanes = 4
	}
	if o.PollInterval <= 0 {
		o.PollInterval = 5 * time.Second
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	for _, k := range o.Kinds {
		if faultWeights[k] == 0 {
			return &Report{}, fmt.Errorf("unknown fault kind %q (kinds: %s)", k, strings.Join(FaultKinds, ", "))
		}
	}
	rep = &Report{Seed: o.Seed, Faults: o.Faults, PollInterval: o.PollInterval}
	start := time.Now()
	defer func() {
		if !o.Keep {
			if cerr := o.Docker.Cleanup(2 * time.Minute); cerr != nil && err == nil {
				err = fmt.Errorf("cleanup: %w", cerr)
			}
		}
		rep.Duration = time.Since(start)
	}()
	f, err := startFleet(ctx, o.Docker, o.Images, o.ProxyImage, 3, o.PollInterval, o.Log)
	if err != nil {
		return rep, fmt.Errorf("start fleet: %w", err)
	}
	rep.Setup = time.Since(start)
	admin := newAdminClient()
	if err := admin.login(ctx, f.inst[0]); err != nil {
		return rep, err
	}
	obs := newObserver(f, admin)
	if err := obs.connectNATS(); err != nil {
		return rep, err
	}
	minio := minioClient()

	// The S3 user.
	var trafficKey struct {
		AK string `json:"access_key_id"`
		SK string `json:"secret_access_key"`
	}
	if err := createUser(ctx, admin, f.inst[0], "traffic", &trafficKey); err != nil {
		return rep, err
	}

	octx, stopObs := context.WithCancel(ctx)
	var bg sync.WaitGroup
	bg.Add(1)
	go func() { // owned: stopObs, then bg.Wait below
		defer bg.Done()
		obs.run(octx)
	}()
	defer func() {
		stopObs()
		bg.Wait()
	}()

	// The workload.
	led := newLedger()
	traffic := newS3Traffic()
	wctx, stopWork := context.WithCancel(ctx)
	var work sync.WaitGroup
	for i, in := range f.inst {
		w := &iamWorker{idx: i, in: in, admin: admin, led: led, group: fmt.Sprintf("g-w%d", i),
			rng: rand.New(rand.NewPCG(o.Seed+uint64(i)+1, 7))}
		if err := w.ensureGroup(ctx); err != nil {
			stopWork()
			return rep, err
		}
		work.Add(2)
		go func() { // owned: stopWork, then work.Wait
			defer work.Done()
			w.run(wctx)
		}()
		c := s3Client(trafficKey.AK, trafficKey.SK)
		go func() { // owned: likewise
			defer work.Done()
			traffic.run(wctx, c, in, i, rand.New(rand.NewPCG(o.Seed+uint64(i)+100, 9)))
		}()
	}
	stopWorkload := sync.OnceFunc(func() {
		stopWork()
		work.Wait()
	})
	defer stopWorkload()

	// The faults, o.Lanes at a time, in the seed's order.
	plan := plan(o.Seed, o.Faults, len(f.inst), o.Kinds...)
	inj := newInjector(f, obs, minio, o.Log)
	next := make(chan fault)
	results := make(chan injection, len(plan))
	cctx, stopConv := context.WithCancel(octx)
	defer stopConv()
	var lanes, convs sync.WaitGroup
	for range o.Lanes {
		lanes.Add(1)
		go func() { // owned: next is closed, then lanes.Wait
			defer lanes.Done()
			for ft := range next {
				r := inj.inject(ctx, ft)
				conv := obs.converge(ctx)
				results <- r
				convs.Add(1)
				go func() { // owned: stopConv, then convs.Wait
					defer convs.Done()
					select {
					case d := <-conv:
						rep.setConvergence(r.Seq, d)
					case <-cctx.Done():
					}
				}()
			}
		}()
	}
	faultStart := time.Now()
	for _, ft := range plan {
		next <- ft
		if ft.Seq%20 == 19 {
			fmt.Fprintf(o.Log, "%s faults injected: %d/%d\n", time.Since(faultStart).Round(time.Second), ft.Seq+1, len(plan))
		}
	}
	close(next)
	lanes.Wait()
	close(results)
	for r := range results {
		rep.add(r)
	}
	rep.FaultPhase = time.Since(faultStart)

	// Let the last heals converge (at most two poll intervals), then stop
	// the workload.
	waited := make(chan struct{})
	go func() { // owned: waited for right here
		convs.Wait()
		close(waited)
	}()
	select {
	case <-waited:
	case <-time.After(2 * o.PollInterval):
		stopConv()
		<-waited
	}
	stopWorkload()
	rep.finish(led, traffic)

	if err := finalChecks(ctx, f, admin, obs, minio, led, traffic, rep, trafficKey.AK, trafficKey.SK); err != nil {
		return rep, err
	}
	return rep, nil
}

// setupBuckets creates the sync and data buckets and the notification rule
// (the minio-init service of docker-compose.yml, without mc).
func setupBuckets(ctx context.Context, url string) error {
	c := minioClient()
	for _, b := range []string{syncBucket, dataBucket} {
		err := retry(ctx, 60*time.Second, 200*time.Millisecond, func() error { // 503 until MinIO is initialized
			_, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(b)}, at(url))
			var owned *types.BucketAlreadyOwnedByYou
			if errors.As(err, &owned) {
				return nil
			}
			return err
		})
		if err != nil {
			return fmt.Errorf("create bucket %s: %w", b, err)
		}
	}
	return retry(ctx, 30*time.Second, 200*time.Millisecond, func() error { return ensureNotification(ctx, c, url) })
}

func createUser(ctx context.Context, a *adminClient, in *Instance, name string, into any) error {
	return retry(ctx, 60*time.Second, 300*time.Millisecond, func() error {
		code, b, err := a.do(ctx, in, "POST", "/users", map[string]any{"name": name,
			"permissions": []map[string]any{{"effect": "Allow", "actions": []string{"read", "write", "list"}, "resources": []string{"*"}}}})
		if err != nil {
			return err
		}
		if code != 201 {
			return fmt.Errorf("create user %s: %d %s", name, code, b)
		}
		return jsonUnmarshal(b, into)
	})
}

// finalChecks heals what is left, then checks the promises.
func finalChecks(ctx context.Context, f *Fleet, admin *adminClient, obs *observer, minio *s3.Client, led *ledger,
	traffic *s3Traffic, rep *Report, ak, sk string) error {
	// Every instance ready.
	for _, in := range f.inst {
		if err := f.waitReady(ctx, in, 90*time.Second); err != nil {
			return err
		}
	}
	// Every instance receives events again. "Connected" is not enough: a
	// cut can leave a half-open connection (the server dropped the client,
	// its FIN lost in the cut) that the client takes for alive until its
	// next ping. So the harness publishes a copy of a real event and waits
	// until every instance counts one more message, again until they do.
	healStart := time.Now()
	err := retry(ctx, 90*time.Second, 0, func() error {
		before := make([]uint64, len(f.inst))
		for i, in := range f.inst {
			st, err := obs.status(ctx, in)
			if err != nil {
				return err
			}
			before[i] = st.messages()
		}
		probe := obs.recentEvents(1)
		if len(probe) == 0 {
			probe = [][]byte{syntheticEvent(syncBucket, syncKey, "00000000000000000000000000000000")}
		}
		if err := obs.publish(probe[0]); err != nil {
			return err
		}
		return retry(ctx, 2*time.Second, 100*time.Millisecond, func() error {
			for i, in := range f.inst {
				st, err := obs.status(ctx, in)
				if err != nil {
					return err
				}
				if st.messages() <= before[i] {
					return fmt.Errorf("%s receives no events", in.Node)
				}
			}
			return nil
		})
	})
	if err != nil {
		return err
	}
	rep.EventsRestored = time.Since(healStart)
	// A last mutation (acknowledged), then convergence with events.
	conv := func(label string, on *Instance, limit time.Duration) (time.Duration, error) {
		if err := createUser(ctx, admin, on, "final-"+label, &struct{}{}); err != nil {
			return 0, err
		}
		t0 := time.Now()
		etag, err := headETag(ctx, minio, f)
		if err != nil {
			return 0, err
		}
		at := map[string]time.Duration{}
		err = retry(ctx, limit, 50*time.Millisecond, func() error {
			var errs []error
			for _, in := range f.inst {
				if _, ok := at[in.Node]; ok {
					continue
				}
				st, err := obs.status(ctx, in)
				switch {
				case err != nil:
					errs = append(errs, err)
				case strings.Trim(st.ETag, `"`) != etag:
					errs = append(errs, fmt.Errorf("%s holds %s, the bucket %s", in.Node, st.ETag, etag))
				default:
					at[in.Node] = time.Since(t0)
				}
			}
			return errors.Join(errs...)
		})
		var parts []string
		for _, in := range f.inst {
			d, ok := at[in.Node]
			if !ok {
				continue
			}
			part := fmt.Sprintf("%s %s", in.Node, d.Round(time.Millisecond))
			if st, err := obs.status(ctx, in); err == nil && d > 500*time.Millisecond {
				if st.LastPull != nil { // how it got there
					part += fmt.Sprintf(" [pulled by %s: %s]", st.LastPull.Source, st.LastPull.Result)
				}
				for _, es := range st.EventSources { // why it was slow
					part += fmt.Sprintf(" [%s connected=%v messages=%v %s]", es.Name, es.Connected, es.Messages, es.LastError)
				}
			}
			parts = append(parts, part)
		}
		rep.FinalDetail = append(rep.FinalDetail, label+": "+strings.Join(parts, ", "))
		return time.Since(t0), err
	}
	if rep.FinalWithEvents, err = conv("events", f.inst[0], 2*f.poll); err != nil {
		return fmt.Errorf("convergence with events: %w", err)
	}
	// Without events: NATS stopped, the others must pull by their poll.
	if err := f.d.Stop(ctx, f.nats.name, 0); err != nil {
		return err
	}
	if rep.FinalWithoutEvents, err = conv("poll", f.inst[1], 3*f.poll); err != nil {
		return fmt.Errorf("convergence without events: %w", err)
	}

	// Every acknowledged mutation is there (admin API of an instance, and
	// the bucket's DB opened with the password).
	final, err := finalStates(ctx, admin, f.inst[2])
	if err != nil {
		return err
	}
	lost, phantoms, checked := led.verify(final)
	rep.Lost, rep.Phantoms, rep.UsersChecked = lost, phantoms, checked
	for _, l := range lost {
		rep.attributeLost(l.mutation)
	}
	body, etag, err := getObject(ctx, minio, f)
	if err != nil {
		return err
	}
	st, h, err := configdb.Open(body, configdb.NewKeyCache(4), []byte(password))
	if err != nil {
		rep.Problems = append(rep.Problems, fmt.Sprintf("the bucket's DB %s does not open: %v", etag, err))
	} else {
		rep.FinalGeneration = h.Generation
		names := map[string]bool{}
		for _, u := range st.Users() {
			names[u.Name] = true
		}
		for name := range final {
			if !names[name] {
				rep.Problems = append(rep.Problems, fmt.Sprintf("user %s is served by the admin API but not in the bucket's DB", name))
			}
		}
		if len(names) != len(final) {
			rep.Problems = append(rep.Problems, fmt.Sprintf("the bucket's DB has %d users, the admin API %d", len(names), len(final)))
		}
	}

	// S3: every acknowledged object reads back intact.
	rep.S3Missing = traffic.verifyAll(ctx, s3Client(ak, sk), f.inst[0])

	// No instance ever held a DB dgp did not write.
	_ = obs.fetchRecords(ctx)
	rep.Unverified = obs.unverified()
	rep.DistinctETags = obs.distinctSeen()
	rep.DBsWritten = len(obs.records)
	var localProblems []string
	rep.LocalChecked, localProblems = obs.localProblems()
	rep.Problems = append(rep.Problems, localProblems...)
	obs.mu.Lock()
	rep.EventsSeen = obs.nevents
	obs.mu.Unlock()

	// SIGKILL every instance, then open its local DB file.
	dir, err := os.MkdirTemp("", "dgp-chaos-db-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	// A running instance writes its local file after pulls pause (1 s, at
	// most 10 s: configsync's deferred write), so a SIGKILL right after
	// convergence may find the previous DB there, by design (a restart
	// pulls the bucket). First wait for every file to reach the bucket's
	// DB: a file that does not within the deferred write's bound is a
	// problem; the SIGKILL below then checks it survives.
	rep.Problems = append(rep.Problems, f.waitLocalWritten(ctx, dir, etag, deferredWriteBound)...)
	for _, in := range f.inst {
		if err := f.d.Kill(ctx, in.name, "KILL"); err != nil {
			return err
		}
		b, sum, err := f.localDB(ctx, in.name, filepath.Join(dir, in.Node+".db"))
		if err != nil {
			return err
		}
		_, h, err := configdb.Open(b, configdb.NewKeyCache(4), []byte(password))
		if err != nil {
			rep.Problems = append(rep.Problems, fmt.Sprintf("%s: local DB file does not open: %v", in.Node, err))
			continue
		}
		rep.LocalDBs = append(rep.LocalDBs, fmt.Sprintf("%s: generation %d, md5 %s", in.Node, h.Generation, sum))
		if sum != etag {
			rep.Problems = append(rep.Problems, fmt.Sprintf("%s: local DB file (generation %d) is not the bucket's DB %s", in.Node, h.Generation, etag))
		}
	}
	return nil
}

func headETag(ctx context.Context, c *s3.Client, f *Fleet) (string, error) {
	out, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(syncBucket), Key: aws.String(syncKey)}, at(f.minio.URL()))
	if err != nil {
		return "", err
	}
	return strings.Trim(aws.ToString(out.ETag), `"`), nil
}

func getObject(ctx context.Context, c *s3.Client, f *Fleet) ([]byte, string, error) {
	out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(syncBucket), Key: aws.String(syncKey)}, at(f.minio.URL()))
	if err != nil {
		return nil, "", err
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	return b, strings.Trim(aws.ToString(out.ETag), `"`), err
}

// median and maximum of ds (zero when empty).
func medianMax(ds []time.Duration) (time.Duration, time.Duration) {
	if len(ds) == 0 {
		return 0, 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(a, b int) bool { return s[a] < s[b] })
	return s[len(s)/2], s[len(s)-1]
}

// deferredWriteBound is how long after its last pull an instance may take
// to write its local DB file: configsync's SaveMaxDelay (10 s) and margin.
const deferredWriteBound = 15 * time.Second

// waitLocalWritten waits, up to bound, until every instance's local DB
// file is the bucket's DB (md5 etag), and returns a problem for each that
// is not.
func (f *Fleet) waitLocalWritten(ctx context.Context, dir, etag string, bound time.Duration) []string {
	var problems []string
	deadline := time.Now().Add(bound)
	for _, in := range f.inst {
		dst := filepath.Join(dir, in.Node+".pending.db")
		for {
			_, sum, err := f.localDB(ctx, in.name, dst)
			if err == nil && sum == etag {
				break
			}
			if time.Now().After(deadline) {
				problems = append(problems, fmt.Sprintf("%s: local DB file is not the bucket's DB %s %s after convergence (md5 %s, %v): the deferred write did not land",
					in.Node, etag, bound, sum, err))
				break
			}
			select {
			case <-ctx.Done():
				return append(problems, ctx.Err().Error())
			case <-time.After(500 * time.Millisecond):
			}
		}
	}
	return problems
}

// localDB copies an instance's local DB file to dst and returns it with
// its md5 (hex).
func (f *Fleet) localDB(ctx context.Context, name, dst string) ([]byte, string, error) {
	if err := f.d.CopyFrom(ctx, name, dataDBPath, dst); err != nil {
		return nil, "", err
	}
	b, err := os.ReadFile(dst)
	if err != nil {
		return nil, "", err
	}
	sum := md5.Sum(b)
	return b, hex.EncodeToString(sum[:]), nil
}
