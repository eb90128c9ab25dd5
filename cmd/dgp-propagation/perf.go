package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// perfArgs is the perf command line recording the reader processes pids
// into out: CPU-clock samples with call graphs (Go binaries keep frame
// pointers), so `perf report -i out` shows where the readers' CPU went,
// the Go runtime's share included, which a runtime/pprof profile of one
// process would not separate from the probes' serving.
func perfArgs(out string, pids []int) []string {
	ps := make([]string, len(pids))
	for i, p := range pids {
		ps[i] = strconv.Itoa(p)
	}
	return []string{"record", "-e", "cpu-clock", "-g", "-q", "-o", out, "-p", strings.Join(ps, ",")}
}

// perfReaders starts perf recording the reader processes over the
// measured phase when --perf is set; the returned function stops it
// (SIGINT, as perf expects) and waits for it to write its file.
func (o options) perfReaders(ctx context.Context, mode string, readers []*node) (func() error, error) {
	if o.perf == "" {
		return func() error { return nil }, nil
	}
	pids := make([]int, 0, len(readers))
	for _, r := range readers {
		pids = append(pids, r.pid)
	}
	out := fmt.Sprintf("%s.%s-%d", o.perf, mode, len(readers))
	cmd := exec.CommandContext(ctx, o.perfBin, perfArgs(out, pids)...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGINT) }
	cmd.WaitDelay = 30 * time.Second
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("perf: %w", err)
	}
	done := false
	return func() error {
		if done {
			return nil
		}
		done = true
		_ = cmd.Process.Signal(syscall.SIGINT)
		if err := cmd.Wait(); err != nil && !isInterrupt(err) {
			return fmt.Errorf("perf record: %w", err)
		}
		return nil
	}, nil
}

// isInterrupt reports whether perf ended because of the SIGINT that
// stopped it (perf exits 0 then, or dies of the signal).
func isInterrupt(err error) bool {
	ee, ok := err.(*exec.ExitError)
	if !ok {
		return false
	}
	ws, ok := ee.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && ws.Signal() == syscall.SIGINT
}
