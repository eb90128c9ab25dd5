package main

import (
	"context"
	"fmt"
	"runtime/pprof"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/dgp-proxy/dgp/internal/procuse"
)

// Workload ids, as accepted by --workloads.
const (
	wlPutLarge       = "put-large"
	wlPutLargeSigned = "put-large-signed"
	wlGetLarge       = "get-large"
	wlPutSmall       = "put-small"
	wlGetSmall       = "get-small"
)

// allWorkloads is the default order of the report.
var allWorkloads = []string{wlPutLarge, wlPutLargeSigned, wlGetLarge, wlPutSmall, wlGetSmall}

// Object keys of the bench bucket.
const (
	keyLargeSrc  = "bench/large-src"
	smallSrcKeys = 64 // distinct 4 KiB objects read by the GET workload
	smallPutKeys = 16 // distinct keys each PUT worker cycles through
)

// unsignedPayload makes the SDK sign UNSIGNED-PAYLOAD instead of hashing
// the body first.
var unsignedPayload = s3.WithAPIOptions(v4.SwapComputePayloadSHA256ForUnsignedPayloadMiddleware)

// bench holds what every workload shares.
type bench struct {
	bucket      string
	body        *payload
	largeSize   int64
	smallSize   int64
	largeCount  int
	concurrency int
	roundTime   time.Duration
}

// workload is one measured operation mix; round measures one target once
// and returns the rate in unit and the number of requests it made. A timed
// workload's rounds last the round time (the small-object ones); the
// others make a number of transfers.
type workload struct {
	id    string
	title string
	unit  string
	round func(ctx context.Context, t *target, warm bool) (float64, int64, error)
	timed bool
}

func (b *bench) workloads() map[string]workload {
	large := formatSize(b.largeSize)
	small := formatSize(b.smallSize)
	return map[string]workload{
		wlPutLarge: {wlPutLarge, large + " PUT, UNSIGNED-PAYLOAD", "MiB/s", func(ctx context.Context, t *target, warm bool) (float64, int64, error) {
			return b.largeRound(ctx, warm, func(i int) error { return b.putLarge(ctx, t, true) })
		}, false},
		wlPutLargeSigned: {wlPutLargeSigned, large + " PUT, signed payload (what the AWS CLI sends over HTTP)", "MiB/s", func(ctx context.Context, t *target, warm bool) (float64, int64, error) {
			return b.largeRound(ctx, warm, func(i int) error { return b.putLarge(ctx, t, false) })
		}, false},
		wlGetLarge: {wlGetLarge, large + " GET", "MiB/s", func(ctx context.Context, t *target, warm bool) (float64, int64, error) {
			buf := make([]byte, 256<<10)
			return b.largeRound(ctx, warm, func(i int) error { return b.get(ctx, t, keyLargeSrc, b.largeSize, buf) })
		}, false},
		wlPutSmall: {wlPutSmall, small + " PUT, signed payload", "ops/s", func(ctx context.Context, t *target, warm bool) (float64, int64, error) {
			return b.smallRound(ctx, warm, func(w, i int) error {
				key := "bench/small/" + t.id + "/w" + strconv.Itoa(w) + "/" + strconv.Itoa(i%smallPutKeys)
				_, err := t.client.PutObject(ctx, &s3.PutObjectInput{
					Bucket: aws.String(b.bucket), Key: aws.String(key),
					Body: b.body.reader(b.smallSize), ContentLength: aws.Int64(b.smallSize),
				})
				return err
			})
		}, true},
		wlGetSmall: {wlGetSmall, small + " GET", "ops/s", func(ctx context.Context, t *target, warm bool) (float64, int64, error) {
			bufs := make([][]byte, b.concurrency)
			for i := range bufs {
				bufs[i] = make([]byte, 32<<10)
			}
			return b.smallRound(ctx, warm, func(w, i int) error {
				return b.get(ctx, t, smallSrcKey((w*7+i)%smallSrcKeys), b.smallSize, bufs[w])
			})
		}, true},
	}
}

func smallSrcKey(i int) string { return "bench/small-src/" + strconv.Itoa(i) }

// putLarge uploads the large body to the target's own key.
func (b *bench) putLarge(ctx context.Context, t *target, unsigned bool) error {
	var opts []func(*s3.Options)
	if unsigned {
		opts = append(opts, unsignedPayload)
	}
	_, err := t.client.PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(b.bucket), Key: aws.String("bench/large/" + t.id),
		Body: b.body.reader(b.largeSize), ContentLength: aws.Int64(b.largeSize),
	}, opts...)
	return err
}

// get downloads key through buf and checks its length.
func (b *bench) get(ctx context.Context, t *target, key string, size int64, buf []byte) error {
	out, err := t.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(b.bucket), Key: aws.String(key)})
	if err != nil {
		return err
	}
	n, err := drain(out.Body, buf)
	out.Body.Close()
	if err != nil {
		return fmt.Errorf("read %s: %w", key, err)
	}
	if n != size {
		return fmt.Errorf("read %s: got %d bytes, want %d", key, n, size)
	}
	return nil
}

// largeRound runs op largeCount times in sequence (once when warming up)
// and returns MiB/s.
func (b *bench) largeRound(ctx context.Context, warm bool, op func(i int) error) (float64, int64, error) {
	n := b.largeCount
	if warm {
		n = 1
	}
	start := time.Now()
	for i := range n {
		if err := op(i); err != nil {
			return 0, 0, err
		}
	}
	elapsed := time.Since(start).Seconds()
	return float64(n) * float64(b.largeSize) / (1 << 20) / elapsed, int64(n), nil
}

// smallRound runs op from concurrency workers until the round time is up
// (a quarter of it when warming up) and returns operations per second. The
// first error stops the round and is returned.
func (b *bench) smallRound(ctx context.Context, warm bool, op func(worker, i int) error) (float64, int64, error) {
	d := b.roundTime
	if warm {
		d /= 4
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		ops      atomic.Int64
		wg       sync.WaitGroup
		errOnce  sync.Once
		firstErr error
	)
	start := time.Now()
	deadline := start.Add(d)
	for w := range b.concurrency {
		wg.Go(func() {
			for i := 0; time.Now().Before(deadline) && ctx.Err() == nil; i++ {
				if err := op(w, i); err != nil {
					errOnce.Do(func() { firstErr = err; cancel() })
					return
				}
				ops.Add(1)
			}
		})
	}
	wg.Wait()
	if firstErr != nil {
		return 0, 0, firstErr
	}
	return float64(ops.Load()) / time.Since(start).Seconds(), ops.Load(), nil
}

// result holds the per-round rates of one workload, by target id.
type result struct {
	w      workload
	rounds map[string][]float64
	// requests counts every request made, warm-up included, by target id.
	requests map[string]int64
	// cpu is the CPU time of the workload by profile role (client, proxy,
	// dgp; "" for the runtime's own goroutines, such as the GC's).
	cpu map[string]time.Duration
	// procRounds are, in --processes mode, what the target's server
	// process used in each measured round and the requests it served, by
	// target id.
	procRounds map[string][]procRound
	// coverage is the share of the process's CPU time (getrusage) the
	// profile holds: below 1 when samples were lost.
	coverage float64
	// paired are the rounds in which the bare proxy and dgp ran at the
	// same time (runPaired).
	paired []pairedRound
}

// procRound is what a server process used in one round (CPU time, thread
// switches, system calls) and the requests it served.
type procRound struct {
	procuse.Use
	requests int64
}

// runWorkload warms every target up, then measures rounds rounds; in each
// round every target runs once, the starting target rotating so that no
// target always follows the same one.
func runWorkload(ctx context.Context, w workload, targets []*target, rounds int, progress func(string)) (*result, error) {
	res := &result{w: w, rounds: map[string][]float64{}, requests: map[string]int64{}, procRounds: map[string][]procRound{}}
	// The client's goroutines carry role, workload and target labels (the
	// client's connections are per target, so their goroutines too).
	do := func(t *target, warm bool) (v float64, err error) {
		var before procuse.Use
		if t.usage != nil && !warm {
			if before, err = t.usage(); err != nil {
				return 0, err
			}
		}
		var n int64
		pprof.Do(ctx, pprof.Labels("role", roleClient, "workload", w.id, "target", t.id), func(ctx context.Context) {
			v, n, err = w.round(ctx, t, warm)
			res.requests[t.id] += n
		})
		if t.usage != nil && !warm && err == nil {
			after, cerr := t.usage()
			if cerr != nil {
				return 0, cerr
			}
			res.procRounds[t.id] = append(res.procRounds[t.id], procRound{Use: after.Minus(before), requests: n})
		}
		return v, err
	}
	for _, t := range targets {
		if _, err := do(t, true); err != nil {
			return nil, fmt.Errorf("%s via %s (warm-up): %w", w.id, t.id, err)
		}
	}
	for r := range rounds {
		for j := range targets {
			t := targets[(r+j)%len(targets)]
			v, err := do(t, false)
			if err != nil {
				return nil, fmt.Errorf("%s via %s: %w", w.id, t.id, err)
			}
			res.rounds[t.id] = append(res.rounds[t.id], v)
			progress(fmt.Sprintf("%s round %d/%d %s: %.1f %s", w.id, r+1, rounds, t.id, v, w.unit))
		}
	}
	return res, nil
}
