//go:build integration

package configsync_test

import (
	"context"
	"fmt"
	"net/http"
	"syscall"
	"testing"
	"time"

	"github.com/dgp-proxy/dgp/internal/configdb"
	"github.com/dgp-proxy/dgp/internal/configsync"
	"github.com/dgp-proxy/dgp/internal/storage/s3backend"
	"github.com/dgp-proxy/dgp/internal/testutil"
)

// processCPU returns the CPU time (user + system) this process used so far.
func processCPU(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	testutil.Must(tb, syscall.Getrusage(syscall.RUSAGE_SELF, &ru), "getrusage")
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// syncBackend is an s3backend built as the app builds the sync bucket's
// client: the SDK path (no fast path) unless fast.
func syncBackend(tb testing.TB, fast bool) *s3backend.Backend {
	tb.Helper()
	m := testutil.RequireMinIO(tb)
	be, err := s3backend.New(context.Background(), s3backend.Options{
		Name: "config-sync", Endpoint: m.Endpoint, AccessKeyID: m.AccessKey, SecretAccessKey: m.SecretKey,
		ForcePathStyle: true, DisableFastPath: !fast,
	})
	testutil.Must(tb, err, "s3backend.New")
	return be
}

// directBackend is the fast-path s3backend sending through a
// configsync.DirectTransport, as the app builds the pull's getter on a
// plain-HTTP endpoint.
func directBackend(tb testing.TB) *s3backend.Backend {
	tb.Helper()
	m := testutil.RequireMinIO(tb)
	if !configsync.DirectTransportFits(m.Endpoint) {
		tb.Skipf("%s does not fit the direct transport", m.Endpoint)
	}
	be, err := s3backend.New(context.Background(), s3backend.Options{
		Name: "config-sync-get", Endpoint: m.Endpoint, AccessKeyID: m.AccessKey, SecretAccessKey: m.SecretKey,
		ForcePathStyle: true, HTTPClient: &http.Client{Transport: configsync.NewDirectTransport()},
	})
	testutil.Must(tb, err, "s3backend.New")
	return be
}

// readerBucket is the reader's Bucket: the SDK path only ("sdk"),
// conditional GETs on the fast path first ("thin"), or on the fast path
// through a DirectTransport ("direct").
func readerBucket(tb testing.TB, kind, bucket string) configsync.Bucket {
	switch kind {
	case "thin":
		return configsync.NewS3BucketThinGet(syncBackend(tb, false), syncBackend(tb, true), bucket)
	case "direct":
		return configsync.NewS3BucketThinGet(syncBackend(tb, false), directBackend(tb), bucket)
	}
	return configsync.NewS3Bucket(syncBackend(tb, false), bucket)
}

// bucketKinds are the reader Bucket variants the fan-out benchmarks compare.
var bucketKinds = []string{"sdk", "thin", "direct"}

// BenchmarkIntegrationFanoutPull100Users is one reader's share of an IAM
// change on a 100-user DB: the writer publishes a new user (not timed),
// then the reader pulls it (timed: conditional GET, verify, decrypt,
// decode, validate, compile, swap, local write). cpu-us/op is the CPU
// time of the whole process during the timed pulls (the reader, plus the
// Go runtime's GC and any idle goroutine of the writer).
func BenchmarkIntegrationFanoutPull100Users(b *testing.B) {
	for _, kind := range bucketKinds {
		b.Run(kind, func(b *testing.B) { benchFanoutPull(b, kind) })
	}
}

func benchFanoutPull(b *testing.B, kind string) {
	be := syncBackend(b, false)
	bucket := mustBucket(b, be)
	seedBucket(b, be, bucket, bigState(b, 100))
	mods := func(role string) func(o *configsync.Options) {
		return func(o *configsync.Options) {
			o.BucketName = bucket
			o.Now = time.Now
			o.Rand = nil
			o.ConflictBackoff = 0
			o.KDF = configdb.DefaultKDFParams()
			o.Role = role
		}
	}
	w := newNode(b, configsync.NewS3Bucket(be, bucket), mods(configsync.RoleWriter))
	r := newNode(b, readerBucket(b, kind, bucket), mods(configsync.RoleReader))
	mustStart(b, w)
	mustStart(b, r) // the first pull derives the key
	ctx := context.Background()
	// Warm both sides (connections, caches) once.
	mustPublish(b, w, createUser("warm-up"))
	mustSyncNow(b, r)
	var cpu, wall time.Duration
	b.ResetTimer()
	b.StopTimer()
	for i := 0; i < b.N; i++ {
		mustPublish(b, w, createUser(fmt.Sprintf("fanout-%d", i)))
		b.StartTimer()
		c0, t0 := processCPU(b), time.Now()
		res, err := r.SyncNow(ctx)
		wall += time.Since(t0)
		cpu += processCPU(b) - c0
		b.StopTimer()
		if err != nil || !res.Downloaded {
			b.Fatalf("pull: %+v %v", res, err)
		}
	}
	if got := r.Current().NumUsers(); got != 100+1+b.N {
		b.Fatalf("reader holds %d users, want %d", got, 100+1+b.N)
	}
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-us/op")
	b.ReportMetric(float64(wall.Microseconds())/float64(b.N), "wall-us/op")
}

// BenchmarkIntegrationFanoutNotModified is a reader's pull that finds the
// DB unchanged (304): what every reader pays for an event about an object
// it already holds.
func BenchmarkIntegrationFanoutNotModified(b *testing.B) {
	for _, kind := range bucketKinds {
		b.Run(kind, func(b *testing.B) { benchFanoutNotModified(b, kind) })
	}
}

func benchFanoutNotModified(b *testing.B, kind string) {
	be := syncBackend(b, false)
	bucket := mustBucket(b, be)
	seedBucket(b, be, bucket, bigState(b, 100))
	r := newNode(b, readerBucket(b, kind, bucket), func(o *configsync.Options) {
		o.BucketName, o.Now, o.Rand = bucket, time.Now, nil
		o.KDF, o.Role = configdb.DefaultKDFParams(), configsync.RoleReader
	})
	mustStart(b, r)
	ctx := context.Background()
	mustSyncNow(b, r)
	c0 := processCPU(b)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		res, err := r.SyncNow(ctx)
		if err != nil || res.Downloaded {
			b.Fatalf("pull: %+v %v", res, err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64((processCPU(b)-c0).Microseconds())/float64(b.N), "cpu-us/op")
}
