// Package soak runs a bounded soak of dgp: real dgp processes (a writer
// and readers, built from this tree) in front of MinIO, sharing a sync
// bucket whose changes reach the readers as NATS events, under S3 traffic
// from as many workers as asked while the writer's IAM changes every
// mutation interval. It counts every request that failed other than by a
// mutation's intent (a disabled, rotated or deleted key being refused is
// intended; anything else is not), samples each process's RSS, open file
// descriptors, goroutines and Go heap, and judges whether they stayed flat.
//
// cmd/dgp-bench soak is its command line; the package's integration test
// runs it for 90 seconds. Everything listens on 127.0.0.1.
package soak

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// Options configure a soak.
type Options struct {
	// MinIO: the S3 service holding the data bucket and the sync bucket.
	MinIOURL, MinIOAccessKey, MinIOSecretKey string
	// MinIONATSARN is MinIO's NATS notification target; NATSURL and
	// NATSSubject where it publishes. All three are needed: the readers
	// learn of changes by events (their poll is an hour).
	MinIONATSARN, NATSURL, NATSSubject string

	// DGPBin is the dgp binary; empty: built from this module into WorkDir.
	DGPBin string
	// WorkDir holds the instances' data dirs and logs; empty: a temporary
	// directory removed at the end.
	WorkDir string

	Duration         time.Duration // how long the traffic runs (default 3m)
	Concurrency      int           // S3 workers (default 16)
	MutationInterval time.Duration // one IAM mutation per interval on the writer (default 1s)
	SampleInterval   time.Duration // resource samples (default duration/20, within 1s-5s)
	Readers          int           // reader instances besides the writer (default 1)
	ObjectSize       int           // bytes per object (default 4 KiB)

	// Progress, when not nil, receives a line per sample as the soak runs.
	Progress io.Writer
}

func (o *Options) defaults() error {
	if o.MinIOURL == "" || o.NATSURL == "" || o.MinIONATSARN == "" {
		return errors.New("soak: MinIO URL, NATS URL and MinIO's NATS target ARN are required")
	}
	if o.NATSSubject == "" {
		o.NATSSubject = "dgp.config-sync"
	}
	if o.Duration <= 0 {
		o.Duration = 3 * time.Minute
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 16
	}
	if o.MutationInterval <= 0 {
		o.MutationInterval = time.Second
	}
	if o.SampleInterval <= 0 {
		o.SampleInterval = min(max(o.Duration/20, time.Second), 5*time.Second)
	}
	if o.Readers <= 0 {
		o.Readers = 1
	}
	if o.ObjectSize <= 0 {
		o.ObjectSize = 4 << 10
	}
	return nil
}

// Result is what a soak measured.
type Result struct {
	Options Options
	Elapsed time.Duration

	// Ops counts the workers' successful S3 requests by operation;
	// Latency summarises them per operation (and "all").
	Ops     map[string]int
	Latency map[string]LatencySummary
	// Unexpected are the requests that failed without a mutation meaning
	// them to (workers' and checks' alike), the first few described in
	// UnexpectedSamples.
	Unexpected        int
	UnexpectedSamples []string

	// Mutations counts the acknowledged IAM mutations by kind; Checks the
	// outcomes verified after them on every instance; IntendedRefusals the
	// requests refused because a mutation meant them to be.
	Mutations        map[string]int
	Checks           int
	IntendedRefusals int
	// Propagation summarises, over the mutations, how long the slowest
	// reader took to show the mutation's effect.
	Propagation LatencySummary

	// Samples are the resource samples, per instance, in time order;
	// Flatness the verdict per instance and resource.
	Samples  []Sample
	Flatness []Flatness
}

// Failed reports why the soak failed, or nil: unexpected failures, or a
// resource that grew.
func (r *Result) Failed() error {
	var errs []error
	if r.Unexpected > 0 {
		errs = append(errs, fmt.Errorf("%d requests failed unexpectedly", r.Unexpected))
	}
	for _, f := range r.Flatness {
		if !f.Flat {
			errs = append(errs, fmt.Errorf("%s %s grew: first third median %s, last third median %s (bound %s)",
				f.Instance, f.Resource, f.format(f.First), f.format(f.Last), f.format(f.Bound)))
		}
	}
	if len(r.Flatness) == 0 {
		errs = append(errs, errors.New("no resource samples after the warm-up"))
	}
	return errors.Join(errs...)
}

// Run runs one soak and returns what it measured. An error means the soak
// could not be set up or run (servers, binaries); the outcome of a soak
// that ran is in the Result (see Result.Failed).
func Run(ctx context.Context, o Options) (*Result, error) {
	if err := o.defaults(); err != nil {
		return nil, err
	}
	work := o.WorkDir
	if work == "" {
		dir, err := os.MkdirTemp("", "dgp-soak-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(dir)
		work = dir
	}
	if o.DGPBin == "" {
		bin, err := BuildDGP(ctx, filepath.Join(work, "dgp"))
		if err != nil {
			return nil, err
		}
		o.DGPBin = bin
	}
	env, err := setup(ctx, o, work)
	if err != nil {
		return nil, err
	}
	defer env.close()

	res := &Result{Options: o, Mutations: map[string]int{}}
	fails := &failures{}
	adm, err := newAdmin(ctx, env.writer())
	if err != nil {
		return nil, err
	}
	load, group, rules, err := setupLoad(ctx, o, env, adm, fails)
	if err != nil {
		return nil, err
	}
	churn := newChurn(o, env, fails, adm, group, rules)
	sampler := newSampler(env.procs, o.Progress, load.count)

	runCtx, cancel := context.WithTimeout(ctx, o.Duration)
	defer cancel()
	start := time.Now()
	var wg sync.WaitGroup
	wg.Go(func() { load.run(runCtx) })
	wg.Go(func() { churn.run(runCtx, o.MutationInterval) })
	wg.Go(func() { sampler.run(runCtx, o.SampleInterval) })
	wg.Wait()
	res.Elapsed = time.Since(start)
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	// Every instance is still up and at the writer's generation.
	if err := env.converged(ctx); err != nil {
		fails.add("after the soak: %v", err)
	}

	res.Ops, res.Latency = load.summary()
	res.Mutations, res.Checks, res.IntendedRefusals, res.Propagation = churn.summary()
	res.Samples = sampler.samples()
	res.Flatness = judge(res.Samples, warmup(o.Duration))
	res.Unexpected, res.UnexpectedSamples = fails.get()
	return res, nil
}

// failures counts unexpected failures and keeps the first few.
type failures struct {
	mu      sync.Mutex
	n       int
	samples []string
}

const keptFailures = 20

func (f *failures) add(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.n++
	if len(f.samples) < keptFailures {
		f.samples = append(f.samples, time.Now().UTC().Format("15:04:05.000")+" "+fmt.Sprintf(format, args...))
	}
}

func (f *failures) get() (int, []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.n, append([]string(nil), f.samples...)
}
