package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"golang.org/x/sync/errgroup"
)

// gatewayOptions are the flags of the gateway command.
type gatewayOptions struct {
	minioURL, accessKey, secretKey string
	duration                       time.Duration
	rounds                         int
	pairedRounds                   int
	concurrency                    int
	largeCount                     int
	largeSize, smallSize           int64
	workloads                      []string
	cpuProfile                     string
	allocs                         bool
	processes                      bool
	verbose                        bool
	args                           []string
}

// roundTime is the length of one small-object round.
func (o gatewayOptions) roundTime() time.Duration { return o.duration / time.Duration(o.rounds) }

func parseGatewayFlags(args []string, stderr io.Writer) (gatewayOptions, error) {
	o := gatewayOptions{args: args}
	fs := flag.NewFlagSet("gateway", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.minioURL, "minio", "", "MinIO endpoint URL, e.g. http://127.0.0.1:9000 (required)")
	fs.StringVar(&o.accessKey, "minio-access-key", "", "MinIO access key (required)")
	fs.StringVar(&o.secretKey, "minio-secret-key", "", "MinIO secret key (required)")
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "measured time per small-object workload and target, split over the rounds")
	fs.IntVar(&o.rounds, "rounds", 5, "interleaved rounds per workload; the report shows the median")
	fs.IntVar(&o.pairedRounds, "paired-rounds", 5, "rounds of each small-object workload in which the bare proxy and dgp run at the same time, for their CPU per request under the same load (each round profiled alone; with --processes, each process's CPU time read around it); 0: none")
	fs.IntVar(&o.concurrency, "concurrency", 8, "workers of the small-object workloads")
	fs.IntVar(&o.largeCount, "large-count", 3, "sequential large transfers per target and round")
	large := fs.String("large-size", "64MiB", "size of the large object")
	small := fs.String("small-size", "4KiB", "size of the small objects")
	wl := fs.String("workloads", strings.Join(allWorkloads, ","), "comma-separated workloads to run (empty: none)")
	fs.StringVar(&o.cpuProfile, "cpuprofile", "", "keep the CPU profile of each workload: FILE.pprof -> FILE.<workload>.pprof")
	fs.BoolVar(&o.processes, "processes", false, "run the bare proxy and dgp each as a child process and read their CPU time per round from /proc (exact, GC included) instead of splitting one process's CPU profile (--cpuprofile then holds the client alone)")
	fs.BoolVar(&o.allocs, "allocs", true, "measure SigV4 verification and allocations per request through dgp's handler")
	fs.BoolVar(&o.verbose, "v", false, "print every round on stderr")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return o, err
		}
		return o, &exitError{code: 2, err: err}
	}
	var problems []string
	if fs.NArg() > 0 {
		problems = append(problems, fmt.Sprintf("unexpected argument %q", fs.Arg(0)))
	}
	if o.minioURL == "" || o.accessKey == "" || o.secretKey == "" {
		problems = append(problems, "--minio, --minio-access-key and --minio-secret-key are required")
	}
	if o.rounds < 1 {
		problems = append(problems, "--rounds must be at least 1")
	}
	if o.pairedRounds < 0 {
		problems = append(problems, "--paired-rounds must not be negative")
	}
	if o.concurrency < 1 {
		problems = append(problems, "--concurrency must be at least 1")
	}
	if o.largeCount < 1 {
		problems = append(problems, "--large-count must be at least 1")
	}
	if o.duration <= 0 || (o.rounds > 0 && o.duration/time.Duration(o.rounds) < 10*time.Millisecond) {
		problems = append(problems, "--duration must give each round at least 10ms")
	}
	var err error
	if o.largeSize, err = parseSize(*large); err != nil {
		problems = append(problems, "--large-size: "+err.Error())
	}
	if o.smallSize, err = parseSize(*small); err != nil {
		problems = append(problems, "--small-size: "+err.Error())
	}
	if o.smallSize > o.largeSize {
		problems = append(problems, "--small-size must not exceed --large-size")
	}
	for w := range strings.SplitSeq(*wl, ",") {
		w = strings.TrimSpace(w)
		if w == "" {
			continue
		}
		known := false
		for _, k := range allWorkloads {
			known = known || k == w
		}
		if !known {
			problems = append(problems, fmt.Sprintf("unknown workload %q (want some of %s)", w, strings.Join(allWorkloads, ",")))
		}
		o.workloads = append(o.workloads, w)
	}
	if len(problems) > 0 {
		return o, usageErr("gateway: %s", strings.Join(problems, "; "))
	}
	return o, nil
}

// commandLine renders the invocation for the report, secret elided.
func (o gatewayOptions) commandLine() string {
	out := []string{"go run ./cmd/dgp-bench gateway"}
	hide := false
	for _, a := range o.args {
		switch {
		case hide:
			a, hide = "…", false
		case a == "--minio-secret-key" || a == "-minio-secret-key":
			hide = true
		case strings.HasPrefix(a, "--minio-secret-key=") || strings.HasPrefix(a, "-minio-secret-key="):
			a = a[:strings.IndexByte(a, '=')+1] + "…"
		}
		out = append(out, a)
	}
	return strings.Join(out, " ")
}

// runGateway runs the gateway bench and prints its report on stdout.
func runGateway(ctx context.Context, o gatewayOptions, stdout, stderr io.Writer) (err error) {
	progress := func(string) {}
	if o.verbose {
		progress = func(s string) { fmt.Fprintln(stderr, s) }
	}
	if o.cpuProfile != "" {
		if st, err := os.Stat(filepath.Dir(o.cpuProfile)); err != nil || !st.IsDir() {
			return usageErr("--cpuprofile: directory %s does not exist", filepath.Dir(o.cpuProfile))
		}
	}
	body, err := newPayload(o.largeSize)
	if err != nil {
		return err
	}
	dataDir, err := os.MkdirTemp("", "dgp-bench-")
	if err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	defer os.RemoveAll(dataDir)

	// In --processes mode the measured servers are child processes; an
	// in-process dgp is still started for the allocation figures.
	var srv *servers
	if !o.processes || o.allocs {
		only := ""
		if o.processes {
			only = roleDGP
		}
		srv, err = startServers(ctx, serversOptions{
			minioURL: o.minioURL, accessKey: o.accessKey, secretKey: o.secretKey,
			dataDir: dataDir, stderr: stderr, only: only,
		})
		if err != nil {
			return err
		}
		defer func() {
			if cerr := srv.Close(); cerr != nil && err == nil {
				err = fmt.Errorf("stop servers: %w", cerr)
			}
		}()
	}

	tr := newClientTransport()
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr}
	targets := []*target{{id: "direct", client: newS3Client(hc, o.minioURL, o.accessKey, o.secretKey)}}
	var proxyURL, dgpURL string
	if o.processes {
		for _, role := range []string{roleProxy, roleDGP} {
			p, err := startTargetProcess(ctx, role, o, stderr)
			if err != nil {
				return err
			}
			defer func() {
				if cerr := p.stop(); cerr != nil && err == nil {
					err = fmt.Errorf("stop the %s process: %w", p.role, cerr)
				}
			}()
			targets = append(targets, &target{id: role, client: newS3Client(hc, p.url, p.ak, p.sk), usage: p.usage})
			if role == roleProxy {
				proxyURL = p.url
			} else {
				dgpURL = p.url
			}
		}
	} else {
		root := srv.dgp.RootCredentials()
		proxyURL, dgpURL = srv.proxyURL, srv.dgp.URL()
		targets = append(targets,
			&target{id: "proxy", client: newS3Client(hc, srv.proxyURL, o.accessKey, o.secretKey)},
			&target{id: "dgp", client: newS3Client(hc, srv.dgp.URL(), root.AccessKeyID, root.SecretAccessKey)})
	}
	direct := targets[0].client

	b := &bench{
		bucket: "dgp-bench-" + randomHex(4), body: body,
		largeSize: o.largeSize, smallSize: o.smallSize, largeCount: o.largeCount,
		concurrency: o.concurrency, roundTime: o.roundTime(),
	}
	if err := b.setup(ctx, direct); err != nil {
		return err
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
		defer cancel()
		if cerr := b.cleanup(cctx, direct); cerr != nil && err == nil {
			err = cerr
		}
	}()
	fmt.Fprintf(stderr, "dgp-bench: bucket %s; MinIO %s, bare proxy %s, dgp %s\n", b.bucket, o.minioURL, proxyURL, dgpURL)

	rep := &report{command: o.commandLine(), machine: readMachine(), opts: o, loadBefore: loadAverage()}
	wls := b.workloads()
	for _, id := range o.workloads {
		fmt.Fprintf(stderr, "dgp-bench: %s...\n", id)
		res, err := runProfiled(ctx, wls[id], targets, o, progress)
		if err != nil {
			return err
		}
		if wls[id].timed && o.pairedRounds > 0 {
			if res.paired, err = runPaired(ctx, wls[id], targets[1], targets[2], o.pairedRounds, progress); err != nil {
				return err
			}
		}
		rep.results = append(rep.results, res)
	}
	if o.cpuProfile != "" && len(o.workloads) > 0 {
		rep.profiled = profilePath(o.cpuProfile, "*")
	}

	if o.allocs {
		root := srv.dgp.RootCredentials()
		fmt.Fprintf(stderr, "dgp-bench: sigv4 verification and allocations...\n")
		r, err := sdkGetRequest(ctx, srv.dgp.URL(), b.bucket, keyLargeSrc, root)
		if err != nil {
			return err
		}
		v, err := benchVerify(r, root)
		if err != nil {
			return err
		}
		rep.verify = &v
		if rep.allocs, err = measureAllocs(ctx, srv.dgp, b.bucket, body, o.smallSize, o.largeSize); err != nil {
			return err
		}
	}
	rep.loadAfter = loadAverage()
	rep.write(stdout)
	return nil
}

// runProfiled runs one workload under the CPU profiler, splits its CPU
// time by role and, with --cpuprofile, keeps the profile.
func runProfiled(ctx context.Context, w workload, targets []*target, o gatewayOptions, progress func(string)) (*result, error) {
	var prof bytes.Buffer
	before := processCPU()
	if err := pprof.StartCPUProfile(&prof); err != nil {
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	res, err := runWorkload(ctx, w, targets, o.rounds, progress)
	pprof.StopCPUProfile()
	used := processCPU() - before
	if err != nil {
		return nil, err
	}
	if res.cpu, err = cpuByLabel(prof.Bytes(), "role"); err != nil {
		return nil, err
	}
	if used > 0 {
		var sampled time.Duration
		for _, d := range res.cpu {
			sampled += d
		}
		res.coverage = float64(sampled) / float64(used)
	}
	if o.cpuProfile != "" {
		if err := os.WriteFile(profilePath(o.cpuProfile, w.id), prof.Bytes(), 0o644); err != nil {
			return nil, fmt.Errorf("cpu profile: %w", err)
		}
	}
	return res, nil
}

// profilePath names the profile of one workload: cpu.pprof -> cpu.get-small.pprof.
func profilePath(base, workload string) string {
	ext := filepath.Ext(base)
	return strings.TrimSuffix(base, ext) + "." + workload + ext
}

// setup creates the bench bucket and the objects the GET workloads read.
func (b *bench) setup(ctx context.Context, c *s3.Client) error {
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(b.bucket)}); err != nil {
		return fmt.Errorf("create bucket %s on minio: %w", b.bucket, err)
	}
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(b.bucket), Key: aws.String(keyLargeSrc),
		Body: b.body.reader(b.largeSize), ContentLength: aws.Int64(b.largeSize),
	}, unsignedPayload); err != nil {
		return fmt.Errorf("put %s: %w", keyLargeSrc, err)
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for i := range smallSrcKeys {
		g.Go(func() error {
			_, err := c.PutObject(gctx, &s3.PutObjectInput{
				Bucket: aws.String(b.bucket), Key: aws.String(smallSrcKey(i)),
				Body: b.body.reader(b.smallSize), ContentLength: aws.Int64(b.smallSize),
			})
			if err != nil {
				return fmt.Errorf("put %s: %w", smallSrcKey(i), err)
			}
			return nil
		})
	}
	return g.Wait()
}

// cleanup deletes every object of the bench bucket, then the bucket.
func (b *bench) cleanup(ctx context.Context, c *s3.Client) error {
	p := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: aws.String(b.bucket)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("clean up bucket %s: %w", b.bucket, err)
		}
		if len(page.Contents) == 0 {
			continue
		}
		ids := make([]types.ObjectIdentifier, 0, len(page.Contents))
		for _, o := range page.Contents {
			ids = append(ids, types.ObjectIdentifier{Key: o.Key})
		}
		if _, err := c.DeleteObjects(ctx, &s3.DeleteObjectsInput{
			Bucket: aws.String(b.bucket), Delete: &types.Delete{Objects: ids, Quiet: aws.Bool(true)},
		}); err != nil {
			return fmt.Errorf("clean up bucket %s: %w", b.bucket, err)
		}
	}
	if _, err := c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String(b.bucket)}); err != nil {
		return fmt.Errorf("delete bucket %s: %w", b.bucket, err)
	}
	return nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
