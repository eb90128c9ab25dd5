package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/dgp-proxy/dgp/internal/config"
	"github.com/dgp-proxy/dgp/internal/jobs"
	"github.com/dgp-proxy/dgp/internal/testharness/dgpfleet"
)

const replicationUsage = `  dgp-bench replication --minio URL --minio-access-key KEY --minio-secret-key SECRET
                    [--rclone PATH] [--small-count 2000] [--small-size 64KiB]
                    [--large-count 20] [--large-size 64MiB] [--workloads small,large]
                    [--rclone-transfers 8] [--rounds 1] [--cpuprofile FILE]
`

// replOptions are the flags of dgp-bench replication.
type replOptions struct {
	minioURL, accessKey, secretKey string
	rclone                         string
	smallCount, largeCount         int
	smallSize, largeSize           int64
	workloads                      []string
	transfers, rounds              int
	cpuProfile                     string
}

func parseReplicationFlags(args []string, stderr io.Writer) (replOptions, error) {
	var o replOptions
	fs := flag.NewFlagSet("replication", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.minioURL, "minio", os.Getenv("DGP_TEST_MINIO"), "MinIO endpoint URL (default $DGP_TEST_MINIO)")
	fs.StringVar(&o.accessKey, "minio-access-key", os.Getenv("DGP_TEST_MINIO_ACCESS_KEY"), "MinIO access key")
	fs.StringVar(&o.secretKey, "minio-secret-key", os.Getenv("DGP_TEST_MINIO_SECRET_KEY"), "MinIO secret key")
	fs.StringVar(&o.rclone, "rclone", os.Getenv("DGP_TEST_RCLONE"), "rclone binary (default $DGP_TEST_RCLONE, else rclone on PATH)")
	fs.IntVar(&o.smallCount, "small-count", 2000, "objects of the small workload")
	fs.IntVar(&o.largeCount, "large-count", 20, "objects of the large workload")
	ss := fs.String("small-size", "64KiB", "size of the small objects")
	ls := fs.String("large-size", "64MiB", "size of the large objects")
	wl := fs.String("workloads", "small,large", "comma-separated workloads")
	fs.IntVar(&o.transfers, "rclone-transfers", jobs.DefaultConcurrency, "rclone --transfers (dgp copies "+fmt.Sprint(jobs.DefaultConcurrency)+" objects at once)")
	fs.IntVar(&o.rounds, "rounds", 1, "rounds of each workload (dgp, then rclone, each round)")
	fs.StringVar(&o.cpuProfile, "cpuprofile", "", "CPU profile of dgp's first run of each workload: FILE.pprof -> FILE.<workload>.pprof")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return o, err
		}
		return o, &exitError{code: 2, err: err}
	}
	var err error
	if o.smallSize, err = parseSize(*ss); err != nil {
		return o, usageErr("--small-size: %v", err)
	}
	if o.largeSize, err = parseSize(*ls); err != nil {
		return o, usageErr("--large-size: %v", err)
	}
	o.workloads = splitList(*wl)
	if o.minioURL == "" {
		return o, usageErr("--minio (or DGP_TEST_MINIO) is required\n%s", replicationUsage)
	}
	if o.rclone == "" {
		if o.rclone, err = exec.LookPath("rclone"); err != nil {
			return o, usageErr("no rclone: set --rclone or DGP_TEST_RCLONE")
		}
	}
	return o, nil
}

func replicationCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parseReplicationFlags(args, stderr)
	if err != nil {
		return err
	}
	return runReplication(ctx, o, stdout, stderr)
}

// replResult is one measured copy of a workload.
type replResult struct {
	tool    string
	objects int
	bytes   int64
	took    time.Duration
}

func (r replResult) objPerSec() float64 { return float64(r.objects) / r.took.Seconds() }
func (r replResult) mibPerSec() float64 { return float64(r.bytes) / (1 << 20) / r.took.Seconds() }

// replBench is one workload's setup: a directory backend bucket (src) and
// a MinIO bucket (dst) behind one dgp.
type replBench struct {
	o        replOptions
	root     string
	objects  string // the directory backend's path
	drBucket string // the destination's name on MinIO
	stderr   io.Writer
	hc       *http.Client
}

// spec is the dgp instance: withRule adds the replication rule src -> dst.
func (b *replBench) spec(dataDir string, withRule bool) dgpfleet.Spec {
	return dgpfleet.Spec{DataDir: dataDir, NodeID: "bench", Configure: func(c *config.Config) {
		c.Storage.Backends = []config.BackendConfig{
			{Name: "local", Type: config.BackendFilesystem, Path: b.objects},
			{Name: "minio", Type: config.BackendS3, S3Settings: config.S3Settings{Endpoint: b.o.minioURL, Region: benchRegion,
				AccessKeyID: b.o.accessKey, SecretAccessKey: b.o.secretKey, ForcePathStyle: true}},
		}
		c.Storage.DefaultBackend = "local"
		c.Storage.Buckets = map[string]config.BucketRoute{"dst": {Backend: "minio", Alias: b.drBucket}}
		c.Advanced.LogLevel = config.LogLevelWarn
		if withRule {
			r := config.NewReplicationRule("bench", config.JobLocation{Bucket: "src"}, config.JobLocation{Bucket: "dst"})
			r.BatchSize = 1000
			c.Storage.Replication.TickInterval = time.Second
			c.Storage.Replication.Rules = []config.ReplicationRule{r}
		}
	}}
}

func runReplication(ctx context.Context, o replOptions, stdout, stderr io.Writer) error {
	root, err := os.MkdirTemp("", "dgp-bench-replication-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(root)
	tr := newClientTransport()
	defer tr.CloseIdleConnections()
	b := &replBench{o: o, root: root, stderr: stderr, hc: &http.Client{Transport: tr}}
	direct := newS3Client(b.hc, o.minioURL, o.accessKey, o.secretKey)
	var all [][2]replResult
	var names []string
	for _, w := range o.workloads {
		n, size := o.smallCount, o.smallSize
		if w == "large" {
			n, size = o.largeCount, o.largeSize
		} else if w != "small" {
			return usageErr("unknown workload %q (small, large)", w)
		}
		b.objects = filepath.Join(root, w, "objects")
		b.drBucket = fmt.Sprintf("dgp-bench-repl-%s-%d", w, time.Now().UnixNano())
		if err := b.fill(ctx, n, size); err != nil {
			return err
		}
		for round := range o.rounds {
			stop := func() error { return nil }
			if o.cpuProfile != "" && round == 0 {
				if stop, err = startProfile(o.cpuProfile, w); err != nil {
					return err
				}
			}
			dr, err := b.dgpRun(ctx, filepath.Join(root, w, fmt.Sprintf("rule-%d", round)), n, size)
			if perr := stop(); err == nil {
				err = perr
			}
			if err != nil {
				return fmt.Errorf("%s, dgp: %w", w, err)
			}
			if err := emptyBucket(ctx, direct, b.drBucket); err != nil {
				return err
			}
			rr, err := b.rcloneRun(ctx, filepath.Join(root, w, "plain"), n, size)
			if err != nil {
				return fmt.Errorf("%s, rclone: %w", w, err)
			}
			if err := emptyBucket(ctx, direct, b.drBucket); err != nil {
				return err
			}
			all = append(all, [2]replResult{dr, rr})
			names = append(names, fmt.Sprintf("%d x %s", n, fmtSize(size)))
			fmt.Fprintf(stderr, "dgp-bench: %s round %d: dgp %s, rclone %s\n", w, round+1, dr.took.Round(time.Millisecond), rr.took.Round(time.Millisecond))
		}
		_, _ = direct.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String(b.drBucket)})
	}
	fmt.Fprintf(stdout, "## Replication: dgp's rule vs rclone sync (directory backend -> MinIO, through one dgp)\n\n")
	fmt.Fprintf(stdout, "dgp: one full reconcile of a replication rule (%d copies in flight); rclone: `rclone sync dgp:src dgp:dst --transfers %d` through the same dgp (%s).\n\n",
		jobs.DefaultConcurrency, o.transfers, rcloneVersion(o.rclone))
	fmt.Fprintln(stdout, "| workload | tool | time | objects/s | MiB/s | dgp / rclone |")
	fmt.Fprintln(stdout, "|---|---|---|---|---|---|")
	for i, pair := range all {
		for _, r := range pair {
			ratio := ""
			if r.tool == "dgp" {
				ratio = fmt.Sprintf("%.2fx", pair[1].took.Seconds()/pair[0].took.Seconds())
			}
			fmt.Fprintf(stdout, "| %s | %s | %s | %.0f | %.1f | %s |\n", names[i], r.tool, r.took.Round(time.Millisecond),
				r.objPerSec(), r.mibPerSec(), ratio)
		}
	}
	writeReplMedians(stdout, names, all)
	return nil
}

// writeReplMedians prints, per workload, the median time of each tool
// over the rounds and the median of the rounds' ratios (each round's pair
// ran back to back: the ratio shares the machine's noise of its moment).
func writeReplMedians(w io.Writer, names []string, all [][2]replResult) {
	var order []string
	by := map[string][][2]replResult{}
	for i, n := range names {
		if _, ok := by[n]; !ok {
			order = append(order, n)
		}
		by[n] = append(by[n], all[i])
	}
	fmt.Fprint(w, "\nMedians over the rounds:\n\n")
	fmt.Fprintln(w, "| workload | rounds | dgp | rclone | dgp MiB/s | rclone MiB/s | median of the rounds' dgp / rclone |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|")
	for _, n := range order {
		var d, r, ratios []float64
		var bytes int64
		for _, p := range by[n] {
			d = append(d, p[0].took.Seconds())
			r = append(r, p[1].took.Seconds())
			ratios = append(ratios, p[1].took.Seconds()/p[0].took.Seconds())
			bytes = p[0].bytes
		}
		md, mr := median(d), median(r)
		mib := float64(bytes) / (1 << 20)
		fmt.Fprintf(w, "| %s | %d | %.3fs | %.3fs | %.1f | %.1f | %.2fx |\n", n, len(d), md, mr, mib/md, mib/mr, median(ratios))
	}
}

// startProfile starts the CPU profile of workload w into FILE.<w>.pprof
// (FILE.pprof the flag's value); stop ends it.
func startProfile(file, w string) (stop func() error, err error) {
	name := strings.TrimSuffix(file, ".pprof") + "." + w + ".pprof"
	f, err := os.Create(name)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() error {
		pprof.StopCPUProfile()
		return f.Close()
	}, nil
}

func fmtSize(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d B", n)
}

// withInstance runs f against a dgp started from spec, then stops it.
func withInstance(ctx context.Context, spec dgpfleet.Spec, f func(in *dgpfleet.Instance) error) error {
	in, err := dgpfleet.Start(ctx, spec)
	if err != nil {
		return err
	}
	ferr := f(in)
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return errors.Join(ferr, in.Stop(sctx))
}

// fill creates both buckets and writes n objects of size into src through
// a dgp without the rule.
func (b *replBench) fill(ctx context.Context, n int, size int64) error {
	return withInstance(ctx, b.spec(filepath.Join(b.root, "fill-"+fmt.Sprint(size)), false), func(in *dgpfleet.Instance) error {
		c := newS3Client(b.hc, in.URL(), in.Root().AccessKeyID, in.Root().SecretAccessKey)
		for _, bk := range []string{"src", "dst"} {
			if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bk)}); err != nil {
				return fmt.Errorf("create %s: %w", bk, err)
			}
		}
		body := make([]byte, size)
		_, _ = rand.Read(body)
		start := time.Now()
		keys := make(chan string)
		var wg sync.WaitGroup
		var mu sync.Mutex
		var firstErr error
		for range 16 {
			wg.Go(func() {
				for k := range keys {
					_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("src"), Key: aws.String(k),
						Body: bytes.NewReader(body), ContentLength: aws.Int64(size), ContentType: aws.String("application/octet-stream"),
						Metadata: map[string]string{"bench": "1"}})
					if err != nil {
						mu.Lock()
						firstErr = cmpErr(firstErr, err)
						mu.Unlock()
					}
				}
			})
		}
		for i := range n {
			keys <- fmt.Sprintf("d%02d/obj-%06d", i%50, i)
		}
		close(keys)
		wg.Wait()
		fmt.Fprintf(b.stderr, "dgp-bench: filled src with %d x %s in %s\n", n, fmtSize(size), time.Since(start).Round(time.Millisecond))
		return firstErr
	})
}

func cmpErr(first, err error) error {
	if first != nil {
		return first
	}
	return err
}

// dgpRun starts a dgp with the rule on a fresh data dir (no job state:
// its first run is a full reconcile) and times that run from its record.
func (b *replBench) dgpRun(ctx context.Context, dataDir string, n int, size int64) (replResult, error) {
	res := replResult{tool: "dgp", objects: n, bytes: int64(n) * size}
	err := withInstance(ctx, b.spec(dataDir, true), func(in *dgpfleet.Instance) error {
		jar, _ := cookiejar.New(nil)
		hc := &http.Client{Jar: jar, Transport: b.hc.Transport}
		api := in.URL() + "/_/api/admin"
		login, _ := json.Marshal(map[string]string{"password": dgpfleet.DefaultBootstrapPassword})
		resp, err := hc.Post(api+"/login", "application/json", bytes.NewReader(login))
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("login: %s", resp.Status)
		}
		deadline := time.Now().Add(30 * time.Minute)
		for time.Now().Before(deadline) {
			var runs []jobs.Run
			if err := getJSON(ctx, hc, api+"/jobs/replication:bench/runs", &runs); err != nil {
				return err
			}
			for _, r := range runs {
				if r.Status == jobs.StatusRunning {
					continue
				}
				if r.Status != jobs.StatusSucceeded || r.Counts.Copied != int64(n) {
					return fmt.Errorf("run %s: %s, %d copied (want %d): %s", r.ID, r.Status, r.Counts.Copied, n, r.Error)
				}
				res.took = r.Finished.Sub(r.Started)
				return nil
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(200 * time.Millisecond):
			}
		}
		return errors.New("the rule's first run did not finish in 30 minutes")
	})
	return res, err
}

func getJSON(ctx context.Context, hc *http.Client, url string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s %s", url, resp.Status, data)
	}
	return json.Unmarshal(data, v)
}

// rcloneRun times `rclone sync dgp:src dgp:dst` through a dgp without the
// rule, then checks the destination's object count.
func (b *replBench) rcloneRun(ctx context.Context, dataDir string, n int, size int64) (replResult, error) {
	res := replResult{tool: "rclone", objects: n, bytes: int64(n) * size}
	err := withInstance(ctx, b.spec(dataDir, false), func(in *dgpfleet.Instance) error {
		cmd := exec.CommandContext(ctx, b.o.rclone, "sync", "dgp:src", "dgp:dst",
			"--transfers", fmt.Sprint(b.o.transfers), "--s3-no-check-bucket", "--retries", "1")
		cmd.Env = append(envWithout("AWS_", "RCLONE_"),
			"RCLONE_CONFIG_DGP_TYPE=s3", "RCLONE_CONFIG_DGP_PROVIDER=Other",
			"RCLONE_CONFIG_DGP_ENDPOINT="+in.URL(), "RCLONE_CONFIG_DGP_REGION="+benchRegion,
			"RCLONE_CONFIG_DGP_ACCESS_KEY_ID="+in.Root().AccessKeyID,
			"RCLONE_CONFIG_DGP_SECRET_ACCESS_KEY="+in.Root().SecretAccessKey,
			"RCLONE_CONFIG_DGP_FORCE_PATH_STYLE=true", "RCLONE_CONFIG=/dev/null")
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		start := time.Now()
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("%v: %s", err, tailString(out.String(), 2000))
		}
		res.took = time.Since(start)
		c := newS3Client(b.hc, in.URL(), in.Root().AccessKeyID, in.Root().SecretAccessKey)
		got, err := countObjects(ctx, c, "dst")
		if err != nil {
			return err
		}
		if got != n {
			return fmt.Errorf("rclone left %d objects in dst, want %d", got, n)
		}
		return nil
	})
	return res, err
}

func tailString(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

func countObjects(ctx context.Context, c *s3.Client, bucket string) (int, error) {
	n := 0
	p := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return 0, err
		}
		n += len(page.Contents)
	}
	return n, nil
}

// emptyBucket deletes every object of a MinIO bucket (batches of 1,000).
func emptyBucket(ctx context.Context, c *s3.Client, bucket string) error {
	p := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return err
		}
		if len(page.Contents) == 0 {
			continue
		}
		ids := make([]types.ObjectIdentifier, 0, len(page.Contents))
		for _, o := range page.Contents {
			ids = append(ids, types.ObjectIdentifier{Key: o.Key})
		}
		if _, err := c.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String(bucket), Delete: &types.Delete{Objects: ids, Quiet: aws.Bool(true)}}); err != nil {
			return err
		}
	}
	return nil
}

func rcloneVersion(bin string) string {
	out, err := exec.Command(bin, "version").Output()
	if err != nil {
		return "rclone"
	}
	line, _, _ := strings.Cut(string(out), "\n")
	return line
}

// envWithout is the environment without the variables of the prefixes
// (an AWS_CA_BUNDLE, say, would change how rclone connects).
func envWithout(prefixes ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		keep := true
		for _, p := range prefixes {
			if strings.HasPrefix(kv, p) {
				keep = false
			}
		}
		if keep {
			env = append(env, kv)
		}
	}
	return env
}
