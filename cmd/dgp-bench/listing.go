package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/dgp-proxy/dgp/internal/storage"
	"github.com/dgp-proxy/dgp/internal/storage/fsbackend"
)

const listingUsage = `  dgp-bench listing [--minio URL --minio-access-key KEY --minio-secret-key SECRET]
                    [--n 50000] [--targets minio,minio-sa,dgp-minio,dgp-dir,dir-api] [--layouts flat,deep]
                    [--rounds 5] [--full-rounds 1] [--data-dir DIR] [--bucket NAME]
                    [--cpuprofile FILE] [--cold-rounds 0] [--versions] [--drop-caches]
  (dgp-bench listing -h describes every flag)
`

// Listing targets: MinIO directly, dgp in front of that MinIO, dgp on its
// directory backend (all over HTTP with the SDK), and the directory
// backend's ListObjects called in-process (its time and allocations alone).
const (
	tgtMinio    = "minio"
	tgtDGPMinio = "dgp-minio"
	tgtDGPDir   = "dgp-dir"
	tgtDirAPI   = "dir-api"
	// tgtMinioSA is MinIO directly, paging with start-after (the last key
	// of the previous page) instead of continuation tokens, as dgp pages
	// its backend.
	tgtMinioSA = "minio-sa"
)

var allListingTargets = []string{tgtMinio, tgtMinioSA, tgtDGPMinio, tgtDGPDir, tgtDirAPI}

type listingOptions struct {
	args                           []string
	minioURL, accessKey, secretKey string
	n                              int
	targets, layouts               []string
	rounds, fullRounds             int
	dataDir, bucket                string
	cpuProfile                     string
	fillWorkers                    int
	coldRounds                     int
	versions                       bool // list with ListObjectVersions
	dropCaches                     bool // drop the page cache before each full listing
}

func parseListingFlags(args []string, stderr io.Writer) (listingOptions, error) {
	o := listingOptions{args: args}
	fs := flag.NewFlagSet("listing", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.minioURL, "minio", os.Getenv("DGP_TEST_MINIO"), "MinIO endpoint URL (default $DGP_TEST_MINIO)")
	fs.StringVar(&o.accessKey, "minio-access-key", os.Getenv("DGP_TEST_MINIO_ACCESS_KEY"), "MinIO access key")
	fs.StringVar(&o.secretKey, "minio-secret-key", os.Getenv("DGP_TEST_MINIO_SECRET_KEY"), "MinIO secret key")
	fs.IntVar(&o.n, "n", 50000, "keys per layout")
	tg := fs.String("targets", strings.Join(allListingTargets, ","), "comma-separated targets")
	ly := fs.String("layouts", layoutFlat+","+layoutDeep, "comma-separated key layouts (flat, deep)")
	fs.IntVar(&o.rounds, "rounds", 5, "interleaved rounds of the first-page and middle-page cases; the report shows the median")
	fs.IntVar(&o.fullRounds, "full-rounds", 1, "rounds of the full listings")
	fs.StringVar(&o.dataDir, "data-dir", "", "dgp's data directory for the directory backend; kept, and reused filled (default: a temporary one)")
	fs.StringVar(&o.bucket, "bucket", "", "bucket name (default dgp-listing-N); a MinIO bucket already filled is reused and kept")
	fs.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of the measured listings to FILE")
	fs.IntVar(&o.fillWorkers, "fill-workers", 16, "concurrent PUTs filling MinIO")
	fs.IntVar(&o.coldRounds, "cold-rounds", 0, "rounds of the directory backend's cold and after-a-write cases (flat layout, in-process; needs target dir-api), after the others")
	fs.BoolVar(&o.versions, "versions", false, "list with ListObjectVersions instead of ListObjectsV2 (targets minio, dgp-minio, dgp-dir)")
	fs.BoolVar(&o.dropCaches, "drop-caches", false, "before each full listing, write dirty pages back and drop the kernel's page cache (Linux, as root), so that every target reads its files from disk")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return o, err
		}
		return o, &exitError{code: 2, err: err}
	}
	var problems []string
	if o.versions && (contains(splitList(*tg), tgtMinioSA) || contains(splitList(*tg), tgtDirAPI)) {
		problems = append(problems, "--versions lists through S3 only: targets minio, dgp-minio, dgp-dir")
	}
	if fs.NArg() > 0 {
		problems = append(problems, fmt.Sprintf("unexpected argument %q", fs.Arg(0)))
	}
	o.targets = splitList(*tg)
	o.layouts = splitList(*ly)
	for _, t := range o.targets {
		if !contains(allListingTargets, t) {
			problems = append(problems, fmt.Sprintf("unknown target %q", t))
		}
		if (t == tgtMinio || t == tgtMinioSA || t == tgtDGPMinio) && (o.minioURL == "" || o.accessKey == "" || o.secretKey == "") {
			problems = append(problems, "target "+t+" needs --minio, --minio-access-key and --minio-secret-key")
		}
	}
	for _, l := range o.layouts {
		if l != layoutFlat && l != layoutDeep {
			problems = append(problems, fmt.Sprintf("unknown layout %q", l))
		}
	}
	if o.n < 2 || o.n > 9_999_999 {
		problems = append(problems, "--n must be within 2..9999999")
	}
	if o.coldRounds > 0 && (!contains(o.targets, tgtDirAPI) || !contains(o.layouts, layoutFlat)) {
		problems = append(problems, "--cold-rounds needs target dir-api and layout flat")
	}
	if o.rounds < 1 || o.fullRounds < 0 || o.fillWorkers < 1 || o.coldRounds < 0 {
		problems = append(problems, "--rounds and --fill-workers must be at least 1, --full-rounds at least 0")
	}
	if o.bucket == "" {
		o.bucket = fmt.Sprintf("dgp-listing-%d", o.n)
	}
	if len(problems) > 0 {
		return o, usageErr("listing: %s", strings.Join(problems, "; "))
	}
	return o, nil
}

func splitList(s string) []string {
	var out []string
	for v := range strings.SplitSeq(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

func contains(xs []string, x string) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

// pageLister lists one page: after is a start-after key ("" = from the
// start), token a continuation token from the previous page (S3 targets).
type pageLister func(ctx context.Context, q pageQuery) (pageAnswer, error)

type pageQuery struct {
	prefix, delimiter, startAfter, token string
	maxKeys                              int
}

type pageAnswer struct {
	entries   int // keys and common prefixes
	truncated bool
	next      string // continuation token or marker for the next page
}

// s3Lister lists with ListObjectsV2; with startAfter, it pages by the last
// key or common prefix of the previous page instead of the continuation
// token.
func s3Lister(c *s3.Client, bucket string, startAfter bool) pageLister {
	return func(ctx context.Context, q pageQuery) (pageAnswer, error) {
		if startAfter && q.token != "" {
			q.startAfter, q.token = q.token, ""
		}
		in := &s3.ListObjectsV2Input{
			Bucket: aws.String(bucket), Prefix: aws.String(q.prefix), MaxKeys: aws.Int32(int32(q.maxKeys)),
		}
		if q.delimiter != "" {
			in.Delimiter = aws.String(q.delimiter)
		}
		if q.startAfter != "" {
			in.StartAfter = aws.String(q.startAfter)
		}
		if q.token != "" {
			in.ContinuationToken = aws.String(q.token)
		}
		out, err := c.ListObjectsV2(ctx, in)
		if err != nil {
			return pageAnswer{}, err
		}
		a := pageAnswer{
			entries:   len(out.Contents) + len(out.CommonPrefixes),
			truncated: aws.ToBool(out.IsTruncated),
			next:      aws.ToString(out.NextContinuationToken),
		}
		if startAfter {
			a.next = ""
			if n := len(out.Contents); n > 0 {
				a.next = aws.ToString(out.Contents[n-1].Key)
			}
			if n := len(out.CommonPrefixes); n > 0 && aws.ToString(out.CommonPrefixes[n-1].Prefix) > a.next {
				a.next = aws.ToString(out.CommonPrefixes[n-1].Prefix)
			}
		}
		return a, nil
	}
}

func backendLister(b storage.Backend, bucket string) pageLister {
	return func(ctx context.Context, q pageQuery) (pageAnswer, error) {
		marker := q.startAfter
		if q.token != "" {
			marker = q.token
		}
		res, err := b.ListObjects(ctx, bucket, storage.ListOptions{
			Prefix: q.prefix, Delimiter: q.delimiter, Marker: marker, MaxKeys: q.maxKeys,
		})
		if err != nil {
			return pageAnswer{}, err
		}
		a := pageAnswer{entries: len(res.Objects) + len(res.CommonPrefixes), truncated: res.IsTruncated}
		if a.truncated {
			a.next = res.NextMarker
			if a.next == "" && len(res.Objects) > 0 {
				a.next = res.Objects[len(res.Objects)-1].Key
			}
		}
		return a, nil
	}
}

// listingCase is one listing: its first page of maxKeys, a page after the
// middle key, or every page.
type listingCase struct {
	layout, kind string // kind: first, middle or full
	delimiter    string
}

func (c listingCase) title() string {
	d := "no delimiter"
	if c.delimiter != "" {
		d = "delimiter '/'"
	}
	switch c.kind {
	case "first":
		return fmt.Sprintf("%s, MaxKeys=1, %s", c.layout, d)
	case "middle":
		return fmt.Sprintf("%s, 1000 after the middle key, %s", c.layout, d)
	}
	return fmt.Sprintf("%s, full listing (1000 a page), %s", c.layout, d)
}

// measurement is one run of a case on a target.
type measurement struct {
	wall    time.Duration
	pages   int
	entries int
	alloc   uint64 // bytes allocated by the whole process meanwhile
}

// runCase runs a first-page or middle-page case once.
func runCase(ctx context.Context, l pageLister, c listingCase, n int) (measurement, error) {
	q := pageQuery{prefix: c.layout + "/", delimiter: c.delimiter, maxKeys: 1000}
	switch c.kind {
	case "first":
		q.maxKeys = 1
	case "middle":
		q.startAfter = listingKey(c.layout, n/2)
	}
	var ms0, ms1 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	start := time.Now()
	var m measurement
	for {
		a, err := l(ctx, q)
		if err != nil {
			return m, fmt.Errorf("%s: %w", c.title(), err)
		}
		m.pages++
		m.entries += a.entries
		if c.kind != "full" || !a.truncated {
			break
		}
		if a.next == "" {
			return m, fmt.Errorf("%s: truncated page without a continuation", c.title())
		}
		q.token = a.next
	}
	m.wall = time.Since(start)
	runtime.ReadMemStats(&ms1)
	m.alloc = ms1.TotalAlloc - ms0.TotalAlloc
	return m, nil
}

func runListing(ctx context.Context, o listingOptions, stdout, stderr io.Writer) (err error) {
	dataDir := o.dataDir
	if dataDir == "" {
		if dataDir, err = os.MkdirTemp("", "dgp-bench-listing-"); err != nil {
			return fmt.Errorf("data dir: %w", err)
		}
		defer os.RemoveAll(dataDir)
	}
	listers := map[string]pageLister{}
	tr := newClientTransport()
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr}

	if contains(o.targets, tgtMinio) || contains(o.targets, tgtMinioSA) || contains(o.targets, tgtDGPMinio) {
		direct := newS3Client(hc, o.minioURL, o.accessKey, o.secretKey)
		if err := fillBucket(ctx, direct, o.bucket, o.n, o.layouts, o.fillWorkers, stderr); err != nil {
			return err
		}
		listers[tgtMinio] = o.s3PageLister(direct, false)
		listers[tgtMinioSA] = o.s3PageLister(direct, true)
		if contains(o.targets, tgtDGPMinio) {
			srv, err := startServers(ctx, serversOptions{
				minioURL: o.minioURL, accessKey: o.accessKey, secretKey: o.secretKey,
				dataDir: filepath.Join(dataDir, "gw"), stderr: stderr,
			})
			if err != nil {
				return err
			}
			defer func() {
				if cerr := srv.Close(); cerr != nil && err == nil {
					err = fmt.Errorf("stop dgp: %w", cerr)
				}
			}()
			root := srv.dgp.RootCredentials()
			listers[tgtDGPMinio] = o.s3PageLister(newS3Client(hc, srv.dgp.URL(), root.AccessKeyID, root.SecretAccessKey), false)
		}
	}
	if contains(o.targets, tgtDGPDir) || contains(o.targets, tgtDirAPI) {
		dirData := filepath.Join(dataDir, "dir")
		d, err := startDirDGP(ctx, dirData)
		if err != nil {
			return err
		}
		defer func() {
			if cerr := d.Close(); cerr != nil && err == nil {
				err = fmt.Errorf("stop dgp: %w", cerr)
			}
		}()
		root := d.app.RootCredentials()
		c := newS3Client(hc, d.app.URL(), root.AccessKeyID, root.SecretAccessKey)
		if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(o.bucket)}); err != nil &&
			!strings.Contains(err.Error(), "BucketAlreadyOwnedByYou") {
			return fmt.Errorf("create bucket on dgp: %w", err)
		}
		objects := filepath.Join(dirData, "objects")
		if err := fillDirectory(ctx, filepath.Join(objects, o.bucket), o.n, o.layouts, stderr); err != nil {
			return err
		}
		listers[tgtDGPDir] = o.s3PageLister(c, false)
		if contains(o.targets, tgtDirAPI) {
			be, err := fsbackend.New("bench", objects, nil)
			if err != nil {
				return err
			}
			defer be.Close()
			listers[tgtDirAPI] = backendLister(be, o.bucket)
		}
	}

	var cases []listingCase
	for _, l := range o.layouts {
		for _, kind := range []string{"first", "middle", "full"} {
			for _, d := range []string{"", "/"} {
				cases = append(cases, listingCase{layout: l, kind: kind, delimiter: d})
			}
		}
	}
	if o.cpuProfile != "" {
		f, err := os.Create(o.cpuProfile)
		if err != nil {
			return fmt.Errorf("cpu profile: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("cpu profile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	rep := &listingReport{opts: o, machine: readMachine(), loadBefore: loadAverage(), results: map[string]map[string][]measurement{}}
	for _, c := range cases {
		rounds := o.rounds
		if c.kind == "full" {
			rounds = o.fullRounds
		}
		for range rounds {
			if c.kind == "full" {
				if o.dropCaches {
					if err := dropPageCache(); err != nil {
						return err
					}
				}
				// Every target's next page in turn, so that they share
				// the machine's noise page by page.
				resetPeakRSS()
				ms, err := runFullLockstep(ctx, o.targets, listers, c)
				if err != nil {
					return err
				}
				for i, t := range o.targets {
					if want := expectedEntries(c, o.n); ms[i].entries != want {
						return fmt.Errorf("%s: %s: %d entries, want %d", t, c.title(), ms[i].entries, want)
					}
					rep.add(c.title(), t, ms[i], peakRSS())
					fmt.Fprintf(stderr, "dgp-bench: %-9s %-55s %4d pages %10s\n", t, c.title(), ms[i].pages, ms[i].wall.Round(10*time.Microsecond))
				}
				continue
			}
			for _, t := range o.targets {
				resetPeakRSS()
				m, err := runCase(ctx, listers[t], c, o.n)
				if err != nil {
					return fmt.Errorf("%s: %w", t, err)
				}
				if want := expectedEntries(c, o.n); want >= 0 && m.entries != want {
					return fmt.Errorf("%s: %s: %d entries, want %d", t, c.title(), m.entries, want)
				}
				rep.add(c.title(), t, m, peakRSS())
				fmt.Fprintf(stderr, "dgp-bench: %-9s %-55s %4d pages %10s\n", t, c.title(), m.pages, m.wall.Round(10*time.Microsecond))
			}
		}
		rep.order = append(rep.order, c.title())
	}
	rep.loadAfter = loadAverage()
	rep.write(stdout)
	if o.coldRounds > 0 {
		objects := filepath.Join(dataDir, "dir", "objects")
		if err := runColdListing(ctx, objects, o.bucket, o.n, o.coldRounds, stdout, stderr); err != nil {
			return fmt.Errorf("cold listings: %w", err)
		}
		fmt.Fprintf(stdout, "\nLoad after the cold cases: %s\n", loadAverage())
	}
	return nil
}

// runFullLockstep lists every page of c from each target, asking each
// target for its next page in turn (the first one rotating); a target's
// wall time is the sum of its pages' times.
func runFullLockstep(ctx context.Context, targets []string, listers map[string]pageLister, c listingCase) ([]measurement, error) {
	ms := make([]measurement, len(targets))
	qs := make([]pageQuery, len(targets))
	done := make([]bool, len(targets))
	for i := range qs {
		qs[i] = pageQuery{prefix: c.layout + "/", delimiter: c.delimiter, maxKeys: 1000}
	}
	var before, after runtime.MemStats
	for round := 0; ; round++ {
		left := 0
		for _, d := range done {
			if !d {
				left++
			}
		}
		if left == 0 {
			return ms, nil
		}
		// The first target of each round rotates: a server that caches a
		// listing it was just asked for would otherwise favour the ones
		// asked after it.
		for j := range targets {
			i := (round + j) % len(targets)
			t := targets[i]
			if done[i] {
				continue
			}
			runtime.ReadMemStats(&before)
			start := time.Now()
			a, err := listers[t](ctx, qs[i])
			ms[i].wall += time.Since(start)
			runtime.ReadMemStats(&after)
			if err != nil {
				return nil, fmt.Errorf("%s: %s: %w", t, c.title(), err)
			}
			ms[i].alloc += after.TotalAlloc - before.TotalAlloc
			ms[i].pages++
			ms[i].entries += a.entries
			if !a.truncated {
				done[i] = true
				continue
			}
			if a.next == "" {
				return nil, fmt.Errorf("%s: %s: truncated page without a continuation", t, c.title())
			}
			qs[i].token = a.next
		}
	}
}

// expectedEntries is the number of keys and common prefixes a case
// returns (-1: not checked).
func expectedEntries(c listingCase, n int) int {
	if c.kind == "first" {
		return 1
	}
	if c.delimiter != "" && c.layout == layoutDeep {
		if c.kind == "middle" {
			return -1 // servers differ on repeating the start-after key's prefix
		}
		return (n-1)/100000 + 1 // deep/00/ .. deep/XX/ (the first two digits)
	}
	if c.kind == "middle" {
		return min(1000, n-n/2-1)
	}
	return n
}

// listingCmd runs the listing bench.
func listingCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parseListingFlags(args, stderr)
	if err != nil {
		return err
	}
	return runListing(ctx, o, stdout, stderr)
}
