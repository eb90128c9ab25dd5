// Command dgp-chaos runs dgp's fault matrix over a fleet of containers
// (internal/chaos) and prints the table:
//
//	go run ./cmd/dgp-chaos --faults 500 --seed 42
//
// It needs a Docker engine and the binaries the images are built from:
// --minio-bin (a static MinIO), --nats-bin, --busybox (static), by default
// from DGP_TEST_MINIO_BIN, DGP_TEST_NATS_SERVER_BIN and DGP_TEST_BUSYBOX.
// It exits 1 when a promise did not hold. Without --seed the seed is
// random, and printed.
//
// "dgp-chaos syncproxy" is the sync proxy that runs inside the fleet (the
// harness builds this command into its image).
package main

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/dgp-proxy/dgp/internal/chaos"
	"github.com/dgp-proxy/dgp/internal/testharness/containers"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "syncproxy" {
		if err := syncProxy(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "dgp-chaos syncproxy:", err)
			os.Exit(1)
		}
		return
	}
	ok, err := run(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "dgp-chaos:", err)
		os.Exit(2)
	}
	if !ok {
		os.Exit(1)
	}
}

func run(args []string) (bool, error) {
	fs := flag.NewFlagSet("dgp-chaos", flag.ContinueOnError)
	faults := fs.Int("faults", 200, "faults to inject")
	seed := fs.Uint64("seed", 0, "seed of the fault order (0: random)")
	keep := fs.Bool("keep", false, "leave the containers running at the end")
	lanes := fs.Int("lanes", 4, "faults acting at once")
	poll := fs.Duration("poll", 5*time.Second, "the instances' poll interval")
	minioBin := fs.String("minio-bin", os.Getenv("DGP_TEST_MINIO_BIN"), "static MinIO binary")
	natsBin := fs.String("nats-bin", os.Getenv("DGP_TEST_NATS_SERVER_BIN"), "nats-server binary")
	busybox := fs.String("busybox", os.Getenv("DGP_TEST_BUSYBOX"), "static busybox binary")
	verbose := fs.Bool("v", false, "log every docker command and step")
	kinds := fs.String("kinds", "", "comma-separated fault kinds to draw from (default: all: "+strings.Join(chaos.FaultKinds, ",")+")")
	if err := fs.Parse(args); err != nil {
		return false, err
	}
	if *seed == 0 {
		var b [8]byte
		_, _ = rand.Read(b[:])
		*seed = binary.LittleEndian.Uint64(b[:]) >> 1
	}
	root, err := repoRoot()
	if err != nil {
		return false, err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	logw := os.Stderr
	var dlog *os.File
	if *verbose {
		dlog = os.Stderr
	}
	d := containers.NewDocker(fmt.Sprintf("%d", time.Now().UnixNano()%1e10), nil)
	if dlog != nil {
		d.Log = dlog
	}
	fmt.Fprintf(logw, "seed %d: building images\n", *seed)
	imgs, err := containers.BuildImages(ctx, containers.ImageOptions{RepoRoot: root, MinIOBin: *minioBin, NATSBin: *natsBin, BusyboxBin: *busybox})
	if err != nil {
		return false, err
	}
	proxy, err := chaos.BuildProxyImage(ctx, d, root)
	if err != nil {
		return false, err
	}
	fmt.Fprintf(logw, "running %d faults (seed %d)\n", *faults, *seed)
	var kindList []string
	if *kinds != "" {
		kindList = strings.Split(*kinds, ",")
	}
	rep, err := chaos.Run(ctx, chaos.Options{Docker: d, Images: imgs, ProxyImage: proxy, Faults: *faults, Seed: *seed, Kinds: kindList,
		Lanes: *lanes, PollInterval: *poll, Keep: *keep, Log: logw})
	fmt.Println(rep.Table())
	if err != nil {
		return false, err
	}
	ok, why := rep.OK()
	for _, w := range why {
		fmt.Println("FAILED:", w)
	}
	if *keep {
		fmt.Printf("containers kept: docker ps --filter label=%s\n", d.Label())
	}
	return ok, nil
}

func syncProxy(args []string) error {
	fs := flag.NewFlagSet("syncproxy", flag.ContinueOnError)
	o := chaos.SyncProxyOptions{Log: os.Stdout}
	fs.StringVar(&o.Listen, "listen", ":9000", "data address")
	fs.StringVar(&o.Control, "control", ":9100", "control address")
	fs.StringVar(&o.Upstream, "upstream", "http://minio:9000", "MinIO")
	fs.StringVar(&o.Key, "key", "/dgp-iam-sync/.deltaglider/config.db", "path of the config key")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return chaos.RunSyncProxy(ctx, o)
}

// repoRoot is the directory holding go.mod, from the working directory up.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("run it from the dgp repository (no go.mod found)")
		}
		dir = parent
	}
}
