package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/dgp-proxy/dgp/internal/config"
	"github.com/dgp-proxy/dgp/internal/configdb"
	"github.com/dgp-proxy/dgp/internal/notifysetup"
	"github.com/dgp-proxy/dgp/internal/testharness"
)

// sample is one reader's view of one mutation.
type sample struct {
	// accept: writer's acknowledgement -> the reader accepted the new key
	// on a signed S3 request.
	accept   time.Duration
	timedOut bool
	// apply: acknowledgement -> the reader's "config db applied" log line
	// (written after the swap and the local file's fsync; negative when
	// the reader applied before the writer answered).
	apply    time.Duration
	hasApply bool
	source   string // the trigger of that pull
	pullMS   int64  // the pull's own duration (GET, verify, decrypt, decode, swap, fsync)
	// hint: acknowledgement -> the reader's event source handed it the
	// hint (with --trace only).
	hint    time.Duration
	hasHint bool
	probes  int // signed requests sent to the reader for this mutation
	// probed: accept was measured (false with --probes final, where
	// nothing is sent to the reader while measured).
	probed bool
}

// measurement is the outcome of one (mode, readers) run.
type measurement struct {
	mode          string
	readers       int
	mutations     int
	probeInterval time.Duration
	samples       []sample
	ack           []time.Duration // request -> 201 on the writer
	event         []time.Duration // 201 -> MinIO's event seen by the tool (negative: before)
	firstGen      uint64
	lastGen       uint64
	saltReused    bool
	// cpu is the CPU time used during the measured phase, per process
	// ("dgp": this process, every instance and the probes).
	cpu  cpuTimes
	wall time.Duration
	// users is the number of users the DB held when the measured phase
	// began.
	users int
	// processes: the readers ran as processes. readerCPU is their CPU
	// time during the measured phase, summed; probeCPU what the same
	// number of probes alone cost them afterwards; rss their resident
	// memory at the end, summed.
	processes bool
	readerCPU time.Duration
	probeCPU  time.Duration
	// idleCPU is what the reader processes spent doing nothing (no
	// mutation, no probe) over as long as the measured phase lasted
	// (measured over at most idleWindow and scaled).
	idleCPU time.Duration
	rss     int64
	// faults is the reader processes' minor page faults during the
	// measured phase, summed (each one a fresh page touched).
	faults int64
}

// idleWindow bounds the idle measurement of the reader processes.
const idleWindow = 20 * time.Second

// measure runs one mode with n readers.
func measure(ctx context.Context, o options, e *env, mode string, n int) (_ *measurement, err error) {
	work, cleanup, err := tempDir(o.workDir, fmt.Sprintf("%s-%d-", mode, n))
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil && o.workDir != "" {
			// Kept for the instances' logs (the reader processes' are
			// there as <name>.log).
			err = fmt.Errorf("%w (data dirs and logs kept in %s)", err, work)
			return
		}
		cleanup()
	}()
	s3c, err := notifysetup.NewClient(ctx, config.S3Settings{Endpoint: e.minioURL, AccessKeyID: e.minioAccess, SecretAccessKey: e.minioSecret, ForcePathStyle: true})
	if err != nil {
		return nil, err
	}
	bucket := "dgp-propagation-" + randHex(6)
	if _, err := s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		return nil, fmt.Errorf("create bucket: %w", err)
	}
	defer emptyAndDelete(s3c, bucket)
	if err := setupNotifications(ctx, s3c, e, mode, bucket); err != nil {
		return nil, err
	}
	var queues []string
	if mode == modeSQS {
		if queues, err = createQueues(ctx, e.sqs, n); err != nil {
			return nil, err
		}
		defer deleteQueues(e.sqs, queues)
	}

	fo := fleetOptions{work: work, bucket: bucket, mode: mode, env: e, poll: o.pollInterval, hc: o.hc, trace: o.trace, dgpBin: o.dgpBin,
		readerEnv: o.readerEnv}
	writer, err := startNode(ctx, fo, "writer", true, "")
	if err != nil {
		return nil, err
	}
	defer writer.stop()
	adm, err := newAdmin(ctx, writer)
	if err != nil {
		return nil, err
	}
	// A first DB, so that readers derive its key at startup, not while
	// measured, holding --users users.
	warm, err := adm.createUser(ctx, "warm-up")
	if err != nil {
		return nil, err
	}
	for i := 1; i < o.users; i++ {
		if _, err := adm.createUser(ctx, "seed-"+strconv.Itoa(i)); err != nil {
			return nil, err
		}
	}
	readers, err := startReaders(ctx, fo, n, queues)
	if err != nil {
		return nil, err
	}
	defer stopAll(readers)
	if err := waitReady(ctx, mode, readers, writer.watch.Published()); err != nil {
		return nil, err
	}
	if err := warmUp(ctx, o, adm, writer, readers); err != nil {
		return nil, err
	}
	m := &measurement{mode: mode, readers: n, mutations: o.mutations, probeInterval: o.probe(mode, n),
		users: max(o.users, 1), processes: o.dgpBin != ""}
	firstSalt, firstGen, err := readHeader(ctx, s3c, bucket)
	if err != nil {
		return nil, err
	}
	m.firstGen = firstGen
	time.Sleep(300 * time.Millisecond) // let start-up pulls and connections settle

	stopProfile, err := o.profile(mode, n)
	if err != nil {
		return nil, err
	}
	defer stopProfile()
	stopPerf, err := o.perfReaders(ctx, mode, readers)
	if err != nil {
		return nil, err
	}
	defer func() { _ = stopPerf() }()
	rcpu0, err := readerCPU(readers)
	if err != nil {
		return nil, err
	}
	faults0, err := readerFaults(readers)
	if err != nil {
		return nil, err
	}
	cpu0, wall0 := e.cpu(), time.Now()
	var last user
	for i := range o.mutations {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		start := time.Now()
		u, err := adm.createUser(ctx, "bench-"+strconv.Itoa(i))
		if err != nil {
			return nil, err
		}
		t0 := time.Now()
		m.ack = append(m.ack, t0.Sub(start))
		last = u
		g := writer.watch.Published()
		if o.probeFinal {
			m.samples = append(m.samples, watchAll(ctx, readers, g, start, t0, o.timeout)...)
		} else {
			m.samples = append(m.samples, probeAll(ctx, readers, u, g, start, t0, m.probeInterval, o.timeout)...)
		}
		if mode != modePoll {
			if at, ok := e.events.firstSince(bucket, start); ok {
				m.event = append(m.event, at.Sub(t0))
			}
		}
		pause := o.pause
		if mode == modePoll {
			// Mutations start right after the readers' poll found the
			// previous one: a random pause spreads them over the poll
			// period, as real changes are.
			pause += time.Duration(mrand.Int64N(int64(o.pollInterval)))
		}
		time.Sleep(pause)
	}

	m.cpu, m.wall = e.cpu().sub(cpu0), time.Since(wall0)
	rcpu1, err := readerCPU(readers)
	if err != nil {
		return nil, err
	}
	m.readerCPU = rcpu1 - rcpu0
	faults1, err := readerFaults(readers)
	if err != nil {
		return nil, err
	}
	m.faults = faults1 - faults0
	stopProfile()
	if err := stopPerf(); err != nil {
		return nil, err
	}
	if o.probeFinal {
		if err := finalProbe(ctx, readers, last); err != nil {
			return nil, err
		}
	}
	if m.processes {
		m.rss = readerRSS(readers)
		if m.probeCPU, err = probeCost(ctx, readers, warm, m.samples); err != nil {
			return nil, err
		}
		if m.idleCPU, err = idleCost(ctx, readers, m.wall); err != nil {
			return nil, err
		}
	}
	lastSalt, lastGen, err := readHeader(ctx, s3c, bucket)
	if err != nil {
		return nil, err
	}
	m.lastGen = lastGen
	m.saltReused = lastSalt == firstSalt
	return m, nil
}

// probeAll probes every reader at once until each accepts u's key.
func probeAll(ctx context.Context, readers []*node, u user, g uint64, start, t0 time.Time, interval, timeout time.Duration) []sample {
	out := make([]sample, len(readers))
	var wg sync.WaitGroup
	for i, r := range readers {
		wg.Go(func() { out[i] = probe(ctx, r, u, g, start, t0, interval, timeout) })
	}
	wg.Wait()
	return out
}

// warmUp makes o.warmup mutations, each awaited on every reader and not
// measured: a user created, then deleted, in turn, so that the DB the
// measured phase starts from holds the --users users it would hold
// without them.
func warmUp(ctx context.Context, o options, adm *adminClient, writer *node, readers []*node) error {
	var made user
	for i := range o.warmup {
		var err error
		if made.ID == "" {
			made, err = adm.createUser(ctx, "warm-up-"+strconv.Itoa(i))
		} else {
			err = adm.deleteUser(ctx, made.ID)
			made = user{}
		}
		if err != nil {
			return fmt.Errorf("warm-up mutation %d: %w", i, err)
		}
		now := time.Now()
		for _, s := range watchAll(ctx, readers, writer.watch.Published(), now, now, o.timeout) {
			if s.timedOut {
				return fmt.Errorf("warm-up mutation %d: a reader did not apply it within %v", i, o.timeout)
			}
		}
		time.Sleep(o.pause)
	}
	if made.ID != "" {
		return adm.deleteUser(ctx, made.ID) // the last one, awaited by the first measured mutation
	}
	return nil
}

// watchAll waits until every reader logs that it applied generation g
// (or later), sending nothing to the readers: the --probes final mode.
func watchAll(ctx context.Context, readers []*node, g uint64, start, t0 time.Time, timeout time.Duration) []sample {
	out := make([]sample, len(readers))
	var wg sync.WaitGroup
	for i, r := range readers {
		wg.Go(func() {
			wctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			a, ok := r.watch.WaitApplied(wctx, g, nil)
			if !ok {
				out[i].timedOut = true
				return
			}
			out[i].hasApply, out[i].apply, out[i].source, out[i].pullMS = true, a.at.Sub(t0), a.source, a.durationMS
			if at, ok := r.watch.HintSince(start); ok {
				out[i].hasHint, out[i].hint = true, at.Sub(t0)
			}
		})
	}
	wg.Wait()
	return out
}

// finalProbe checks, after a --probes final phase, that every reader
// accepts the last mutation's key on a signed S3 request: the log lines
// the phase watched stand for what S3 clients see.
func finalProbe(ctx context.Context, readers []*node, u user) error {
	errs := make([]error, len(readers))
	var wg sync.WaitGroup
	for i, r := range readers {
		wg.Go(func() {
			rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			if _, err := r.s3Client(u.AccessKeyID, u.SecretAccessKey).ListBuckets(rctx, &s3.ListBucketsInput{}); err != nil {
				errs[i] = fmt.Errorf("%s: the last key, after its apply was logged: %w", r.name, err)
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// probe sends signed ListBuckets requests with u's key to r every
// interval, and at once when r logs that it applied generation g, until r
// accepts the key.
func probe(ctx context.Context, r *node, u user, g uint64, start, t0 time.Time, interval, timeout time.Duration) sample {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	client := r.s3Client(u.AccessKeyID, u.SecretAccessKey)
	tick := time.NewTicker(interval)
	defer tick.Stop()
	var s sample
	seenApply := false
	s.probed = true
	for {
		s.probes++
		rctx, rcancel := context.WithTimeout(ctx, 5*time.Second)
		_, err := client.ListBuckets(rctx, &s3.ListBucketsInput{})
		rcancel()
		if err == nil {
			s.accept = time.Since(t0)
			break
		}
		if ctx.Err() != nil {
			s.timedOut = true
			break
		}
		if seenApply {
			select {
			case <-tick.C:
			case <-ctx.Done():
			}
			continue
		}
		_, seenApply = r.watch.WaitApplied(ctx, g, tick.C)
	}
	// The log line comes after the swap (and the local file's fsync):
	// give it a moment when the key was accepted first.
	wctx, wcancel := context.WithTimeout(context.Background(), 5*time.Second)
	a, ok := r.watch.WaitApplied(wctx, g, nil)
	wcancel()
	if ok {
		s.hasApply, s.apply, s.source, s.pullMS = true, a.at.Sub(t0), a.source, a.durationMS
	}
	if at, ok := r.watch.HintSince(start); ok {
		s.hasHint, s.hint = true, at.Sub(t0)
	}
	return s
}

// probeCost sends every reader as many accepted probes (signed
// ListBuckets with u's key) as it received during the measured phase
// (samples, reader by reader and mutation by mutation), and returns the
// CPU time the reader processes spent meanwhile: the share of the
// measured reader CPU that the probing, not the propagation, cost.
func probeCost(ctx context.Context, readers []*node, u user, samples []sample) (time.Duration, error) {
	counts := make([]int, len(readers))
	for i, s := range samples {
		counts[i%len(readers)] += s.probes
	}
	c0, err := readerCPU(readers)
	if err != nil {
		return 0, err
	}
	errs := make([]error, len(readers))
	var wg sync.WaitGroup
	for i, r := range readers {
		wg.Go(func() {
			client := r.s3Client(u.AccessKeyID, u.SecretAccessKey)
			for range counts[i] {
				if _, err := client.ListBuckets(ctx, &s3.ListBucketsInput{}); err != nil {
					errs[i] = fmt.Errorf("%s: calibration probe: %w", r.name, err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return 0, err
	}
	c1, err := readerCPU(readers)
	return c1 - c0, err
}

// idleCost returns the CPU time the reader processes spend idle over
// wall: measured over min(wall, idleWindow), scaled to wall.
func idleCost(ctx context.Context, readers []*node, wall time.Duration) (time.Duration, error) {
	win := min(wall, idleWindow)
	c0, err := readerCPU(readers)
	if err != nil {
		return 0, err
	}
	start := time.Now()
	select {
	case <-time.After(win):
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	c1, err := readerCPU(readers)
	if err != nil {
		return 0, err
	}
	return time.Duration(float64(c1-c0) * float64(wall) / float64(time.Since(start))), nil
}

// waitReady waits until every reader holds generation gen and, with an
// event source, is connected to it (and has run its connect pull).
func waitReady(ctx context.Context, mode string, readers []*node, gen uint64) error {
	return testharness.Retry(ctx, 2*time.Minute, func() error {
		for _, r := range readers {
			if g := r.watch.Generation(); g < gen {
				return fmt.Errorf("%s holds generation %d, want %d", r.name, g, gen)
			}
			if mode == modePoll {
				continue
			}
			m, err := r.metrics(ctx)
			if err != nil {
				return err
			}
			src := "nats"
			if mode == modeSQS {
				src = "sqs"
			}
			if m.Sum("dgp_config_sync_event_source_connected", `source="`+src+`"`) != 1 {
				return fmt.Errorf("%s: %s not connected", r.name, src)
			}
			if src == "nats" && m.Sum("dgp_config_sync_pulls_total", `source="reconnect"`) < 1 {
				return fmt.Errorf("%s: connect pull not run yet", r.name)
			}
		}
		return nil
	})
}

func setupNotifications(ctx context.Context, c *s3.Client, e *env, mode, bucket string) error {
	var target notifysetup.Target
	var err error
	switch mode {
	case modePoll:
		return nil
	case modeNATSCore:
		target, err = notifysetup.NATSTarget(e.coreARN)
	case modeNATSJetStream:
		target, err = notifysetup.NATSTarget(e.jsARN)
	case modeSQS:
		target, err = notifysetup.SQSQueueTarget(bridgeARN)
	}
	if err != nil {
		return err
	}
	// A MinIO that just started may not know its targets yet ("destination
	// ARN does not exist"): Ensure is idempotent, so try again for a while.
	return testharness.Retry(ctx, 30*time.Second, func() error {
		_, err := notifysetup.Ensure(ctx, c, bucket, notifysetup.Rule{Target: target, Key: config.DefaultConfigSyncObjectKey}, false)
		return err
	})
}

// createQueues creates one queue per reader subscribed to the topic,
// alternately with and without raw message delivery.
func createQueues(ctx context.Context, s *sqsEnv, n int) ([]string, error) {
	var urls []string
	for i := range n {
		out, err := s.sqs.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("dgp-propagation-" + randHex(6))})
		if err != nil {
			return urls, err
		}
		url := aws.ToString(out.QueueUrl)
		urls = append(urls, url)
		attrs, err := s.sqs.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
			QueueUrl: aws.String(url), AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn},
		})
		if err != nil {
			return urls, err
		}
		_, err = s.sns.Subscribe(ctx, &sns.SubscribeInput{
			TopicArn: aws.String(s.topicARN), Protocol: aws.String("sqs"),
			Endpoint:   aws.String(attrs.Attributes[string(sqstypes.QueueAttributeNameQueueArn)]),
			Attributes: map[string]string{"RawMessageDelivery": strconv.FormatBool(i%2 == 0)},
		})
		if err != nil {
			return urls, err
		}
	}
	return urls, nil
}

func deleteQueues(s *sqsEnv, urls []string) {
	ctx := context.Background()
	for _, u := range urls {
		_, _ = s.sqs.DeleteQueue(ctx, &sqs.DeleteQueueInput{QueueUrl: aws.String(u)})
	}
	// Subscriptions of deleted queues stay in goaws; they cost a failed
	// delivery each, which the next runs do not wait for.
}

// readHeader returns the salt and generation of the sync object.
func readHeader(ctx context.Context, c *s3.Client, bucket string) ([configdb.SaltSize]byte, uint64, error) {
	out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(config.DefaultConfigSyncObjectKey)})
	if err != nil {
		return [configdb.SaltSize]byte{}, 0, fmt.Errorf("read sync object: %w", err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	if err != nil {
		return [configdb.SaltSize]byte{}, 0, err
	}
	h, err := configdb.ReadHeader(b)
	if err != nil {
		return [configdb.SaltSize]byte{}, 0, err
	}
	return h.Salt, h.Generation, nil
}

func emptyAndDelete(c *s3.Client, bucket string) {
	ctx := context.Background()
	out, _ := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	if out != nil {
		for _, o := range out.Contents {
			_, _ = c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: o.Key})
		}
	}
	_, _ = c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String(bucket)})
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

var errNoSQS = errors.New("the sqs mode needs the self-contained environment (--minio-bin and --nats-server-bin)")
