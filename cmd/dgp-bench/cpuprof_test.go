package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"runtime/pprof"
	"testing"
)

// spin does n rounds of CPU work (a fixed amount, however busy the
// machine is) and returns a result so the work is not optimised away.
func spin(n int) byte {
	sum := sha256.Sum256(nil)
	for range n {
		sum = sha256.Sum256(sum[:])
	}
	return sum[0]
}

func TestCPUByLabel(t *testing.T) {
	var buf bytes.Buffer
	if err := pprof.StartCPUProfile(&buf); err != nil {
		t.Skipf("cpu profiler busy: %v", err)
	}
	var sink byte
	pprof.Do(t.Context(), pprof.Labels("role", "heavy"), func(context.Context) { sink += spin(8_000_000) })
	pprof.Do(t.Context(), pprof.Labels("role", "light", "other", "x"), func(context.Context) { sink += spin(2_000_000) })
	_ = sink
	pprof.StopCPUProfile()

	got, err := cpuByLabel(buf.Bytes(), "role")
	if err != nil {
		t.Fatal(err)
	}
	// Sampling is coarse (10 ms): check the order only; heavy did four
	// times the work of light.
	if got["light"] <= 0 || got["heavy"] <= got["light"] {
		t.Errorf("cpu by role = %v; want heavy above light, both sampled", got)
	}
	if _, ok := got["x"]; ok {
		t.Errorf("a value of another label was counted as a role: %v", got)
	}
}

func TestCPUByLabelRejectsGarbage(t *testing.T) {
	if _, err := cpuByLabel([]byte("not gzip"), "role"); err == nil {
		t.Error("accepted a non-gzip profile")
	}
}
