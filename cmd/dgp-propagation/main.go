// Command dgp-propagation measures how fast an IAM change made on a dgp
// writer reaches the readers of its fleet: for each of M mutations (a user
// created through the admin API), the time from the writer's
// acknowledgement (201: the sync bucket holds the change) until each of N
// readers accepts the new user's key on a signed S3 request. Writer and
// readers are in-process dgp instances on 127.0.0.1:0 sharing one MinIO.
//
//	dgp-propagation --minio-bin PATH --nats-server-bin PATH [flags]
//	    self-contained: starts its own nats-server and MinIO (with a core
//	    NATS target, a JetStream target and a webhook target feeding an
//	    in-process goaws SNS topic with one SQS queue per reader)
//	dgp-propagation --minio URL --minio-access-key K --minio-secret-key S
//	    --nats-url URL --nats-subject S --minio-nats-arn ARN [flags]
//	    a MinIO and NATS started elsewhere (modes nats-core and poll)
//
// With --processes every reader is a `dgp serve` process of its own (and
// its CPU is read from /proc); --floor runs this binary's floor reader
// (`dgp-propagation floor-reader`, floor.go) as those processes instead,
// the least a reader of dgp's design can do per change.
//
// It prints a markdown report on stdout. It asserts nothing about speed;
// a reader that never accepts the key within --timeout is counted.
// Exit codes: 0 success, 1 a setup failed, 2 bad usage.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Modes.
const (
	modeNATSCore      = "nats-core"
	modeNATSJetStream = "nats-jetstream"
	modeSQS           = "sqs"
	modePoll          = "poll"
)

// allModes returns every mode, in the order they run.
func allModes() []string { return []string{modeNATSCore, modeNATSJetStream, modeSQS, modePoll} }

// exitError carries an exit code through to main.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func usageErr(format string, args ...any) error {
	return &exitError{code: 2, err: fmt.Errorf(format, args...)}
}

// options are the parsed flags.
type options struct {
	minioURL, minioAccess, minioSecret string
	natsURL, natsSubject, minioNATSARN string
	minioBin, natsServerBin            string

	modes         []string
	readers       []int
	mutations     int
	warmup        int // mutations before the measured ones, not measured
	pollInterval  time.Duration
	probeInterval time.Duration // 0: automatic, see probe
	probeFinal    bool          // --probes final: no probe while measured, one per reader after
	timeout       time.Duration
	pause         time.Duration
	workDir       string
	cpuProfile    string
	perf          string // --perf: perf record of the reader processes into FILE.<mode>-<readers>
	perfBin       string
	trace         bool
	users         int      // users in the DB before the measured mutations
	processes     bool     // readers run as dgp processes
	dgpBin        string   // the dgp binary of those processes (built when empty)
	readerEnv     []string // extra KEY=VALUE for those processes
	floor         bool     // those processes are floor readers (runFloorReader), not dgp
	floorEvents   bool     // --floor-events-only: the floor readers send no GET
	dgpBinB       string   // --dgp-bin-b: every second reader process runs this binary

	hc *http.Client
}

// probe is the interval between S3 probes of one reader in a mode
// (besides the probe sent when the reader logs the apply): 1 ms, or 0.1 ms
// per reader when that is more, so that probing 100 readers does not eat
// the CPU the readers need; 10 ms at least in the poll mode, whose
// latencies are in hundreds of milliseconds.
func (o options) probe(mode string, readers int) time.Duration {
	if o.probeInterval > 0 {
		return o.probeInterval
	}
	d := max(time.Millisecond, time.Duration(readers)*100*time.Microsecond)
	if mode == modePoll {
		d = max(d, 10*time.Millisecond)
	}
	return d
}

func main() {
	if isFloorReader(os.Args) {
		os.Exit(floorReaderMain())
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return
	}
	code := 1
	var ee *exitError
	if errors.As(err, &ee) {
		code = ee.code
	}
	fmt.Fprintln(os.Stderr, "dgp-propagation:", err)
	os.Exit(code)
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("dgp-propagation", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.minioURL, "minio", "", "MinIO endpoint (with --nats-url), unless --minio-bin starts one")
	fs.StringVar(&o.minioAccess, "minio-access-key", "minioadmin", "MinIO access key")
	fs.StringVar(&o.minioSecret, "minio-secret-key", "minioadmin", "MinIO secret key")
	fs.StringVar(&o.natsURL, "nats-url", "", "NATS URL MinIO publishes to (with --minio)")
	fs.StringVar(&o.natsSubject, "nats-subject", "dgp.config-sync", "subject of MinIO's NATS target (with --minio)")
	fs.StringVar(&o.minioNATSARN, "minio-nats-arn", "arn:minio:sqs::PRIMARY:nats", "ARN of MinIO's NATS target (with --minio)")
	fs.StringVar(&o.minioBin, "minio-bin", "", "MinIO binary: start a private MinIO (self-contained)")
	fs.StringVar(&o.natsServerBin, "nats-server-bin", "", "nats-server binary: start a private NATS (self-contained)")
	mode := fs.String("mode", "all", "comma-separated: nats-core, nats-jetstream, sqs, poll, or all")
	readers := fs.String("readers", "1,5,10,100", "comma-separated reader counts")
	fs.IntVar(&o.mutations, "mutations", 30, "mutations per (mode, readers)")
	fs.IntVar(&o.warmup, "warmup", 100, "mutations before the measured ones (a user created, then deleted, in turn: the DB keeps its --users users), each awaited on every reader and not measured, so that the readers are measured in their steady state (a process just started first grows its heap: fresh pages, each a page fault)")
	fs.DurationVar(&o.pollInterval, "poll-interval", time.Second, "poll interval of the readers in the poll mode")
	fs.DurationVar(&o.probeInterval, "probe-interval", 0, "interval of S3 probes per reader (0: max(1ms, 0.1ms x readers), at least 10ms in the poll mode)")
	probes := fs.String("probes", "every", "every: probe each reader with each new key until it accepts it (accept latency); final: while measured, only watch the readers' \"config db applied\" log lines (no S3 request reaches a reader, so its CPU is the propagation's alone), then probe each reader once with the last key, which it must accept")
	fs.DurationVar(&o.timeout, "timeout", 30*time.Second, "give up on a reader after this long")
	fs.DurationVar(&o.pause, "pause", 100*time.Millisecond, "pause between mutations")
	fs.StringVar(&o.workDir, "work-dir", "", "directory for data dirs and server logs (default: a temporary one)")
	fs.BoolVar(&o.trace, "trace", false, "readers log at debug level, so the time their event source hands over the hint is reported (costs some CPU)")
	fs.IntVar(&o.users, "users", 100, "users in the config DB before the measured mutations (each mutation adds one)")
	fs.BoolVar(&o.processes, "processes", false, "run every reader as its own `dgp serve` process (built from this tree with go build, or --dgp-bin) and measure each reader's CPU from /proc")
	fs.StringVar(&o.dgpBin, "dgp-bin", "", "dgp binary for --processes (default: go build ./cmd/dgp into the work dir)")
	fs.Func("reader-env", "KEY=VALUE added to the environment of the reader processes (--processes; repeatable), e.g. GOMAXPROCS=1", func(v string) error {
		if k, _, ok := strings.Cut(v, "="); !ok || k == "" {
			return fmt.Errorf("%q is not KEY=VALUE", v)
		}
		o.readerEnv = append(o.readerEnv, v)
		return nil
	})
	fs.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of each measured phase (writer, readers and probes; not MinIO nor NATS) to FILE.<mode>-<readers>")
	fs.BoolVar(&o.floor, "floor", false, "with --processes, --mode nats-core and --probes final: the readers are this tool's floor reader (on every event the conditional GET dgp sends, the DB header read, nothing else) instead of dgp: the CPU per change any Go process of this design costs on this machine")
	fs.StringVar(&o.dgpBinB, "dgp-bin-b", "", "with --processes and --probes final: every second reader process (reader-001, -003, ...) runs this dgp binary instead of --dgp-bin's, and the CPU table has a row for each, measured over the same changes at the same time (an A/B comparison that the machine's drift between runs does not blur)")
	fs.BoolVar(&o.floorEvents, "floor-events-only", false, "with --floor: the floor reader only takes each event (no GET, no parse) and logs the next generation: the CPU per change of a process's wake-up for a bucket event alone, half of the least a reader of this design does")
	fs.StringVar(&o.perf, "perf", "", "with --processes: record the reader processes' CPU with `perf record -e cpu-clock -g` over each measured phase into FILE.<mode>-<readers> (read it with perf report -i)")
	fs.StringVar(&o.perfBin, "perf-bin", "perf", "perf binary for --perf")
	if err := fs.Parse(args); err != nil {
		return o, &exitError{code: 2, err: err}
	}
	if fs.NArg() > 0 {
		return o, usageErr("unexpected argument %q", fs.Arg(0))
	}
	switch *probes {
	case "every":
	case "final":
		o.probeFinal = true
	default:
		return o, usageErr("--probes: %q is neither every nor final", *probes)
	}
	selfContained := o.minioBin != "" || o.natsServerBin != ""
	switch {
	case selfContained && (o.minioBin == "" || o.natsServerBin == ""):
		return o, usageErr("--minio-bin and --nats-server-bin go together")
	case !selfContained && o.minioURL == "":
		return o, usageErr("give --minio-bin and --nats-server-bin, or --minio (and --nats-url)")
	}
	if *mode == "all" {
		o.modes = allModes()
		if !selfContained {
			o.modes = []string{modeNATSCore, modePoll}
		}
	} else {
		for m := range strings.SplitSeq(*mode, ",") {
			m = strings.TrimSpace(m)
			if !slices.Contains(allModes(), m) {
				return o, usageErr("unknown mode %q (want %s)", m, strings.Join(allModes(), ", "))
			}
			if !selfContained && (m == modeNATSJetStream || m == modeSQS) {
				return o, usageErr("mode %s: %v", m, errNoSQS)
			}
			o.modes = append(o.modes, m)
		}
	}
	if !selfContained && slices.Contains(o.modes, modeNATSCore) && (o.natsURL == "" || o.natsSubject == "" || o.minioNATSARN == "") {
		return o, usageErr("mode nats-core with --minio needs --nats-url, --nats-subject and --minio-nats-arn")
	}
	for r := range strings.SplitSeq(*readers, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(r))
		if err != nil || n < 1 || n > 1000 {
			return o, usageErr("--readers: %q is not a count from 1 to 1000", r)
		}
		o.readers = append(o.readers, n)
	}
	if (o.dgpBin != "" || len(o.readerEnv) > 0) && !o.processes {
		return o, usageErr("--dgp-bin and --reader-env go with --processes")
	}
	if o.floor && (!o.processes || !o.probeFinal || !slices.Equal(o.modes, []string{modeNATSCore})) {
		return o, usageErr("--floor goes with --processes, --probes final and --mode nats-core alone")
	}
	if o.dgpBinB != "" && (!o.processes || !o.probeFinal || o.floor) {
		return o, usageErr("--dgp-bin-b goes with --processes and --probes final, not --floor")
	}
	if o.floorEvents && !o.floor {
		return o, usageErr("--floor-events-only goes with --floor")
	}
	if o.perf != "" && !o.processes {
		return o, usageErr("--perf goes with --processes (in process, use --cpuprofile)")
	}
	if o.users < 1 || o.users > 100000 {
		return o, usageErr("--users: from 1 to 100000")
	}
	if o.mutations < 1 || o.timeout <= 0 || o.pause < 0 || o.probeInterval < 0 {
		return o, usageErr("--mutations and --timeout must be positive")
	}
	if o.warmup < 0 {
		return o, usageErr("--warmup must not be negative")
	}
	if o.pollInterval < time.Second {
		return o, usageErr("--poll-interval: dgp polls at most every second")
	}
	return o, nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	machine := describeMachine()
	o.hc = &http.Client{Transport: &http.Transport{
		MaxIdleConns: 4096, MaxIdleConnsPerHost: 64, IdleConnTimeout: time.Minute,
	}}
	defer o.hc.CloseIdleConnections()

	work, cleanup, err := tempDir(o.workDir, "dgp-propagation-")
	if err != nil {
		return err
	}
	defer cleanup()
	if o.processes && o.dgpBin == "" {
		fmt.Fprintln(stderr, "dgp-propagation: building dgp for the reader processes")
		if o.dgpBin, err = buildDGP(ctx, work); err != nil {
			return err
		}
	}
	var e *env
	if o.minioBin != "" {
		e, err = startEnv(ctx, o, work, slices.Contains(o.modes, modeSQS))
	} else {
		e, err = externalEnv(o)
	}
	if err != nil {
		return err
	}
	defer e.Close()
	if slices.Contains(o.modes, modeSQS) {
		// dgp's SQS client takes its credentials from the AWS default
		// chain; goaws accepts any.
		for k, v := range map[string]string{"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_EC2_METADATA_DISABLED": "true"} {
			os.Setenv(k, v)
		}
	}

	var results []*measurement
	for _, mode := range o.modes {
		for _, n := range o.readers {
			fmt.Fprintf(stderr, "dgp-propagation: %s, %d readers, %d mutations\n", mode, n, o.mutations)
			m, err := measure(ctx, o, e, mode, n)
			if err != nil {
				return fmt.Errorf("%s with %d readers: %w", mode, n, err)
			}
			results = append(results, m)
		}
	}
	writeReport(stdout, machine, "go run ./cmd/dgp-propagation "+strings.Join(args, " "), results)
	return nil
}

// profile starts a CPU profile of one measured phase when --cpuprofile is
// set; the returned function stops it.
func (o options) profile(mode string, readers int) (func(), error) {
	if o.cpuProfile == "" {
		return func() {}, nil
	}
	f, err := os.Create(fmt.Sprintf("%s.%s-%d", o.cpuProfile, mode, readers))
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			pprof.StopCPUProfile()
			f.Close()
		})
	}, nil
}

// tempDir creates a directory under base (or the system's temporary
// directory) and returns it with a function that removes it.
func tempDir(base, prefix string) (string, func(), error) {
	dir, err := os.MkdirTemp(base, prefix)
	if err != nil {
		return "", nil, err
	}
	return dir, func() { _ = os.RemoveAll(dir) }, nil
}
