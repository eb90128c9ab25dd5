package soak

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// loadUsers is how many users share the S3 workers.
const loadUsers = 4

// keysPerWorker bounds each worker's objects (it overwrites them).
const keysPerWorker = 8

// load is the S3 traffic: workers spread over the instances and the load
// users, each writing, reading back, heading, listing and deleting its own
// small objects. The load users' permissions never change (their group's
// rules do, see churn), so every failure of theirs is unexpected.
type load struct {
	o       Options
	env     *env
	fails   *failures
	clients []*s3.Client // one per worker
	ops     atomic.Int64

	mu  sync.Mutex
	lat map[string][]time.Duration
}

// setupLoad creates the load group and users on the writer.
func setupLoad(ctx context.Context, o Options, e *env, adm *admin, fails *failures) (*load, string, []rule, error) {
	base := []rule{allow(e.dataBucket+"/load/*", "read", "write", "delete", "list")}
	var g struct {
		ID string `json:"id"`
	}
	if err := adm.do(ctx, http.MethodPost, "/groups", map[string]any{"name": "soak-load", "permissions": base}, http.StatusCreated, &g); err != nil {
		return nil, "", nil, err
	}
	users := make([]user, loadUsers)
	for i := range users {
		err := adm.do(ctx, http.MethodPost, "/users", map[string]any{"name": fmt.Sprintf("load-%d", i), "group_ids": []string{g.ID}},
			http.StatusCreated, &users[i])
		if err != nil {
			return nil, "", nil, err
		}
	}
	l := &load{o: o, env: e, fails: fails, lat: map[string][]time.Duration{}}
	for i := range o.Concurrency {
		u := users[i%len(users)]
		l.clients = append(l.clients, s3Client(e.procs[i%len(e.procs)], u.AccessKeyID, u.SecretAccessKey))
	}
	// Every instance knows the load users before the traffic starts.
	if err := e.converged(ctx); err != nil {
		return nil, "", nil, err
	}
	return l, g.ID, base, nil
}

// run runs the workers until ctx ends.
func (l *load) run(ctx context.Context) {
	var wg sync.WaitGroup
	for i, c := range l.clients {
		wg.Go(func() { l.worker(ctx, i, c) })
	}
	wg.Wait()
}

// worker loops over its keys: PUT, GET (checking the bytes), HEAD, and
// every keysPerWorker-th round a LIST of its prefix and a DELETE.
func (l *load) worker(ctx context.Context, id int, c *s3.Client) {
	body := make([]byte, l.o.ObjectSize)
	lat := map[string][]time.Duration{}
	defer func() {
		l.mu.Lock()
		for k, v := range lat {
			l.lat[k] = append(l.lat[k], v...)
		}
		l.mu.Unlock()
	}()
	bucket := aws.String(l.env.dataBucket)
	prefix := fmt.Sprintf("load/w%03d/", id)
	do := func(op string, f func() error) bool {
		start := time.Now()
		err := f()
		if ctx.Err() != nil {
			return false // the soak ended during the request
		}
		l.ops.Add(1)
		if err != nil {
			l.fails.add("worker %d %s: %v", id, op, err)
			return false
		}
		lat[op] = append(lat[op], time.Since(start))
		return true
	}
	for n := 0; ctx.Err() == nil; n++ {
		key := aws.String(fmt.Sprintf("%s%02d", prefix, n%keysPerWorker))
		_, _ = rand.Read(body)
		ok := do("put", func() error {
			_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: bucket, Key: key, Body: bytes.NewReader(body), ContentLength: aws.Int64(int64(len(body)))})
			return err
		})
		if !ok {
			continue // what follows reads the object back
		}
		do("get", func() error {
			out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: bucket, Key: key})
			if err != nil {
				return err
			}
			defer out.Body.Close()
			got, err := io.ReadAll(out.Body)
			if err != nil {
				return err
			}
			if !bytes.Equal(got, body) {
				return fmt.Errorf("read back %d bytes that differ from the %d written", len(got), len(body))
			}
			return nil
		})
		do("head", func() error {
			_, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: bucket, Key: key})
			return err
		})
		if n%keysPerWorker == keysPerWorker-1 {
			do("list", func() error {
				_, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: bucket, Prefix: aws.String(prefix)})
				return err
			})
			do("delete", func() error {
				_, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: bucket, Key: key})
				return err
			})
		}
	}
}

// count returns the requests made so far.
func (l *load) count() int64 { return l.ops.Load() }

// summary returns the successful requests by operation and their latency.
func (l *load) summary() (map[string]int, map[string]LatencySummary) {
	l.mu.Lock()
	defer l.mu.Unlock()
	ops := map[string]int{}
	lat := map[string]LatencySummary{}
	var all []time.Duration
	for op, ds := range l.lat {
		ops[op] = len(ds)
		lat[op] = summarize(ds)
		all = append(all, ds...)
	}
	lat["all"] = summarize(all)
	return ops, lat
}
