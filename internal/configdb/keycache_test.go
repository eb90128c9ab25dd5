package configdb

import (
	"runtime/metrics"
	"testing"
)

// TestDerivationLeavesNoHeapGoalBehind: after a derivation with the
// default parameters (a 64 MiB work area), the heap goal is the live
// heap's again, not the one a collection set while the area was live
// (about twice 64 MiB), under which every later allocation of the
// process would land on fresh pages (issue 17).
func TestDerivationLeavesNoHeapGoalBehind(t *testing.T) {
	p := DefaultKDFParams()
	if p.MemoryKiB < collectKDFMemoryKiB {
		t.Fatalf("the default work area (%d KiB) is below the collection threshold", p.MemoryKiB)
	}
	var salt [SaltSize]byte
	for _, c := range []*KeyCache{nil, NewKeyCache(1)} {
		c.Key([]byte("a secret"), salt, p)
		sample := []metrics.Sample{{Name: "/gc/heap/goal:bytes"}}
		metrics.Read(sample)
		if goal := sample[0].Value.Uint64(); goal >= uint64(p.MemoryKiB)<<10 {
			t.Errorf("heap goal %d MiB after a derivation (cache %v): the %d MiB work area still counts", goal>>20, c != nil, p.MemoryKiB>>10)
		}
	}
}
