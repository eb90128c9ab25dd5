//go:build integration

package configsync_test

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dgp-proxy/dgp/internal/configdb"
	"github.com/dgp-proxy/dgp/internal/configsync"
	"github.com/dgp-proxy/dgp/internal/storage"
	"github.com/dgp-proxy/dgp/internal/storage/s3backend"
	"github.com/dgp-proxy/dgp/internal/testutil"
)

// bigState returns a State holding testutil.BigIAM(n, 0): n users of one rule each.
func bigState(tb testing.TB, n int) *configdb.State {
	tb.Helper()
	users, groups := testutil.BigIAM(n, 0)
	st, err := configdb.NewState(1, configdb.Data{Users: users, Groups: groups})
	testutil.Must(tb, err, "state of %d users", n)
	return st
}

// seedBucket seals st with the default KDF and writes it as the config
// object, returning its size.
func seedBucket(tb testing.TB, be *s3backend.Backend, bucket string, st *configdb.State) int {
	tb.Helper()
	sealed, err := configdb.Seal(st, configdb.SealOptions{WriterNode: "bench", Now: time.Now()}, nil, testSecret)
	testutil.Must(tb, err, "seal")
	_, err = be.PutObject(context.Background(), bucket, testKey, bytes.NewReader(sealed), int64(len(sealed)), storage.PutOptions{})
	testutil.Must(tb, err, "put")
	return len(sealed)
}

// percentile returns the p-th percentile (0-100) of ds.
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(float64(len(s)-1) * p / 100)
	return s[i]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// BenchmarkIntegrationPull10kUsers: a full pull (GET, verify, decrypt,
// decode, validate, compile, swap, local write) of a 10,000-user DB from
// MinIO. The key is derived once (cached per salt), as in production.
func BenchmarkIntegrationPull10kUsers(b *testing.B) {
	be := harnessBackend(b)
	bucket := mustBucket(b, be)
	size := seedBucket(b, be, bucket, bigState(b, 10000))
	n := s3Node(b, be, bucket, func(o *configsync.Options) { o.KDF = configdb.DefaultKDFParams(); o.Role = configsync.RoleReader })
	mustStart(b, n) // first pull derives the key
	if n.Current().NumUsers() != 10000 {
		b.Fatalf("startup pull: %d users", n.Current().NumUsers())
	}
	ctx := context.Background()
	durs := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		n.Forget()
		b.StartTimer()
		start := time.Now()
		res, err := n.SyncNow(ctx)
		durs = append(durs, time.Since(start))
		if err != nil || !res.Downloaded {
			b.Fatalf("pull: %+v %v", res, err)
		}
	}
	b.StopTimer()
	b.ReportMetric(ms(percentile(durs, 50)), "p50-ms")
	b.ReportMetric(ms(percentile(durs, 99)), "p99-ms")
	b.ReportMetric(float64(size)/(1<<20), "db-MiB")
}

// BenchmarkIntegrationPublishContention: three instances publish at once
// to one bucket holding a 1,000-user DB; every publish must succeed.
func BenchmarkIntegrationPublishContention(b *testing.B) {
	be := harnessBackend(b)
	bucket := mustBucket(b, be)
	seedBucket(b, be, bucket, bigState(b, 1000))
	nodes := make([]*node, 3)
	for i := range nodes {
		nodes[i] = s3Node(b, be, bucket, func(o *configsync.Options) { o.KDF = configdb.DefaultKDFParams() })
		mustStart(b, nodes[i])
	}
	ctx := context.Background()
	var next atomic.Int64
	var mu sync.Mutex
	var durs []time.Duration
	var failed atomic.Int64
	b.ResetTimer()
	var wg sync.WaitGroup
	for w := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1)
				if i > int64(b.N) {
					return
				}
				start := time.Now()
				_, err := nodes[w].Publish(ctx, createUser(fmt.Sprintf("w%d-%d", w, i)))
				d := time.Since(start)
				if err != nil {
					failed.Add(1)
					continue
				}
				mu.Lock()
				durs = append(durs, d)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	if failed.Load() > 0 {
		b.Fatalf("%d of %d publishes failed", failed.Load(), b.N)
	}
	var conflicts uint64
	for _, n := range nodes {
		conflicts += n.Status().ConflictsRebased
	}
	b.ReportMetric(ms(percentile(durs, 50)), "p50-ms")
	b.ReportMetric(ms(percentile(durs, 99)), "p99-ms")
	b.ReportMetric(float64(conflicts)/float64(b.N), "conflicts/op")
}
