package gcfloor

import (
	"runtime"
	"runtime/debug"
	"sync"
	"testing"
	"time"
)

func TestPercentFor(t *testing.T) {
	const mib = 1 << 20
	cases := []struct {
		live, floor uint64
		base, want  int
	}{
		{3 * mib, 64 * mib, 100, 2134},  // ⌈6400/3⌉
		{64 * mib, 64 * mib, 100, 100},  // floor reached: the base
		{200 * mib, 64 * mib, 100, 100}, // above it: the base
		{32 * mib, 64 * mib, 100, 200},  // exact
		{32 * mib, 64 * mib, 300, 300},  // a higher base stays
		{1, 64 * mib, 100, MaxPercent},  // bounded
		{0, 64 * mib, 100, MaxPercent},  // nothing live
		{0, 64 * mib, 20000, 20000},     // a base above the bound stays
		{33 * mib, 64 * mib, 100, 194},  // ⌈193.9⌉
	}
	for _, c := range cases {
		if got := percentFor(c.live, c.floor, c.base); got != c.want {
			t.Errorf("percentFor(%d, %d, %d) = %d, want %d", c.live, c.floor, c.base, got, c.want)
		}
	}
}

// recorder stands in for debug.SetGCPercent, passing every call through
// (the collector must really run with it) and keeping the values set.
type recorder struct {
	mu  sync.Mutex
	set []int
}

func (r *recorder) setGCPercent(p int) int {
	r.mu.Lock()
	r.set = append(r.set, p)
	r.mu.Unlock()
	return debug.SetGCPercent(p)
}

func (r *recorder) last() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.set[len(r.set)-1]
}

// TestFloorFollowsCollections: after a real collection the floor sets the
// percent that puts the goal a floor above this small test heap, and Stop
// puts the base back and stops following.
func TestFloorFollowsCollections(t *testing.T) {
	base := debug.SetGCPercent(100)
	defer debug.SetGCPercent(base)
	r := &recorder{}
	f := start(256<<20, r.setGCPercent)
	if f == nil || f.Percent() != 100 {
		t.Fatalf("start: %+v", f)
	}
	waitPercent(t, f, func(p int) bool { return p > 1000 }) // a test binary's heap is a few MiB
	if got := r.last(); got != f.Percent() {
		t.Fatalf("percent set %d, floor says %d", got, f.Percent())
	}
	if cur := debug.SetGCPercent(f.Percent()); cur != f.Percent() {
		t.Fatalf("the process runs with %d, the floor set %d", cur, f.Percent())
	}

	f.Stop()
	f.Stop()
	if cur := debug.SetGCPercent(100); cur != 100 || f.Percent() != 100 {
		t.Fatalf("after Stop: the process runs with %d, floor %d; want 100", cur, f.Percent())
	}
	n := len(r.set)
	runtime.GC()
	runtime.GC()
	time.Sleep(50 * time.Millisecond) // a pending cleanup would run meanwhile
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.set) != n {
		t.Fatalf("the floor set the percent after Stop: %v", r.set[n:])
	}
}

// TestNoFloorWithGCOff: with the collector off there is nothing to floor.
func TestNoFloorWithGCOff(t *testing.T) {
	base := debug.SetGCPercent(-1)
	defer debug.SetGCPercent(base)
	if f := start(0, debug.SetGCPercent); f != nil {
		f.Stop()
		t.Fatal("a floor with GOGC=off")
	}
	var nilFloor *Floor
	nilFloor.Stop()
}

// TestGOGCInEnvironmentWins: an operator's GOGC is kept.
func TestGOGCInEnvironmentWins(t *testing.T) {
	t.Setenv("GOGC", "100")
	if f := Start(0); f != nil {
		f.Stop()
		t.Fatal("a floor over GOGC from the environment")
	}
}

// waitPercent collects until the floor's percent satisfies ok.
func waitPercent(t *testing.T, f *Floor, ok func(int) bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !ok(f.Percent()) {
		if time.Now().After(deadline) {
			t.Fatalf("percent %d after 10 s of collections", f.Percent())
		}
		runtime.GC()
		time.Sleep(5 * time.Millisecond)
	}
}
