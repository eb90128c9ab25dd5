package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"path/filepath"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/dgp-proxy/dgp/internal/config"
	"github.com/dgp-proxy/dgp/internal/configdb"
	"github.com/dgp-proxy/dgp/internal/notifysetup"
	"github.com/dgp-proxy/dgp/internal/procuse"
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
	// processes: the readers ran as processes; stats are what they
	// used, one entry per binary (two with --dgp-bin-b).
	processes bool
	stats     []readerStats
}

// readerStats are what a group of reader processes (all of them, or those
// of one binary) used.
type readerStats struct {
	label string // "" for all the readers, else "A: <binary>" or "B: <binary>"
	n     int    // reader processes in the group
	// Use is what they used during the measured phase, summed: CPU time,
	// thread switches, minor page faults (each one a fresh page touched).
	procuse.Use
	// probe is what the same number of probes alone cost them afterwards.
	probe time.Duration
	// idle is what they spent doing nothing (no mutation, no probe) over
	// as long as the measured phase lasted (measured over at most
	// idleWindow and scaled).
	idle time.Duration
	// rss is their resident memory at the end, summed.
	rss int64
}

// readerGroups splits the readers by binary: one group, or two with
// --dgp-bin-b (labelled with the binaries' names).
func readerGroups(readers []*node, o options) ([][]*node, []string) {
	if o.dgpBinB == "" {
		return [][]*node{readers}, []string{""}
	}
	groups := make([][]*node, 2)
	for _, r := range readers {
		groups[r.group] = append(groups[r.group], r)
	}
	return groups, []string{"A: " + filepath.Base(o.dgpBin), "B: " + filepath.Base(o.dgpBinB)}
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
		readerEnv: o.readerEnv, floor: o.floor, floorEvents: o.floorEvents, dgpBinB: o.dgpBinB}
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
	groups, labels := readerGroups(readers, o)
	before, err := groupUsage(groups)
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
	after, err := groupUsage(groups)
	if err != nil {
		return nil, err
	}
	for i, g := range groups {
		m.stats = append(m.stats, readerStats{label: labels[i], n: len(g), Use: after[i].Minus(before[i])})
	}
	stopProfile()
	if err := stopPerf(); err != nil {
		return nil, err
	}
	if o.probeFinal && !o.floor { // (a floor reader serves no S3)
		if err := finalProbe(ctx, readers, last); err != nil {
			return nil, err
		}
	}
	if m.processes {
		for i, g := range groups {
			m.stats[i].rss = readerRSS(g)
		}
		if len(groups) == 1 { // (--dgp-bin-b goes with --probes final: no probe while measured)
			if m.stats[0].probe, err = probeCost(ctx, readers, warm, m.samples); err != nil {
				return nil, err
			}
		}
		idle, err := idleCost(ctx, groups, m.wall)
		if err != nil {
			return nil, err
		}
		for i := range groups {
			m.stats[i].idle = idle[i]
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
