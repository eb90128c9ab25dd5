package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// How the measured phase learns that readers applied a change: probing
// them with the new key (--probes every), or watching their log lines
// (--probes final); and what the probes and idleness cost them.

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
			out[i].noteApply(a, r, start, t0)
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
		s.noteApply(a, r, start, t0)
	} else {
		s.noteHint(r, start, t0)
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
	c0, err := readersUse(readers)
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
	c1, err := readersUse(readers)
	return c1.CPU - c0.CPU, err
}

// idleCost returns the CPU time each group of reader processes spends
// idle over wall: measured over min(wall, idleWindow), at the same time
// for every group, and scaled to wall.
func idleCost(ctx context.Context, groups [][]*node, wall time.Duration) ([]time.Duration, error) {
	win := min(wall, idleWindow)
	c0, err := groupUsage(groups)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	select {
	case <-time.After(win):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	c1, err := groupUsage(groups)
	if err != nil {
		return nil, err
	}
	scale := float64(wall) / float64(time.Since(start))
	out := make([]time.Duration, len(groups))
	for i := range groups {
		out[i] = time.Duration(float64(c1[i].CPU-c0[i].CPU) * scale)
	}
	return out, nil
}

// noteApply records r's apply a and the hint r received since start,
// both measured from the writer's acknowledgement t0.
func (s *sample) noteApply(a applied, r *node, start, t0 time.Time) {
	s.hasApply, s.apply, s.source, s.pullMS = true, a.at.Sub(t0), a.source, a.durationMS
	s.noteHint(r, start, t0)
}

// noteHint records the first hint r received since start, measured from t0.
func (s *sample) noteHint(r *node, start, t0 time.Time) {
	if at, ok := r.watch.HintSince(start); ok {
		s.hasHint, s.hint = true, at.Sub(t0)
	}
}
