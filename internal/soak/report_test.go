package soak

import (
	"strings"
	"testing"
	"time"
)

// series makes samples of one instance, one every 5 s, with the resources
// given per sample by f.
func series(n int, f func(i int) Sample) []Sample {
	out := make([]Sample, n)
	for i := range out {
		s := f(i)
		s.At, s.Instance = time.Duration(i)*5*time.Second, "writer"
		out[i] = s
	}
	return out
}

func verdict(t *testing.T, fl []Flatness, resource string) Flatness {
	t.Helper()
	for _, f := range fl {
		if f.Resource == resource {
			return f
		}
	}
	t.Fatalf("no verdict on %s in %+v", resource, fl)
	return Flatness{}
}

func TestJudge(t *testing.T) {
	steady := func(i int) Sample {
		return Sample{RSSKiB: 30<<10 + int64(i%3)<<10, FDs: 23, Goroutines: 38, HeapKiB: 6 << 10}
	}
	// A warm-up spike (the key derivation) is left out; the rest is flat.
	spike := series(18, func(i int) Sample {
		s := steady(i)
		if i == 0 {
			s.RSSKiB, s.HeapKiB = 145<<10, 125<<10
		}
		return s
	})
	for _, f := range judge(spike, 5*time.Second) {
		if !f.Flat {
			t.Errorf("steady %s judged not flat: %+v", f.Resource, f)
		}
	}
	// A leak of descriptors and goroutines, and memory that keeps growing.
	leak := series(18, func(i int) Sample {
		s := steady(i)
		s.FDs += 10 * i
		s.Goroutines += 50 * i
		s.RSSKiB += int64(i) * 20 << 10
		return s
	})
	fl := judge(leak, 5*time.Second)
	for _, r := range []string{"FDs", "goroutines", "RSS"} {
		if verdict(t, fl, r).Flat {
			t.Errorf("a growing %s judged flat: %+v", r, verdict(t, fl, r))
		}
	}
	if !verdict(t, fl, "Go heap").Flat {
		t.Error("the steady heap judged growing")
	}
	res := &Result{Flatness: fl}
	if err := res.Failed(); err == nil || !strings.Contains(err.Error(), "writer FDs grew") {
		t.Fatalf("Failed = %v", err)
	}
	// Too few samples after the warm-up show nothing: not flat.
	if fl := judge(series(2, steady), 0); len(fl) == 0 || fl[0].Flat {
		t.Fatalf("two samples judged flat: %+v", fl)
	}
	if err := (&Result{}).Failed(); err == nil {
		t.Fatal("a soak without samples passed")
	}
	if err := (&Result{Flatness: judge(spike, 5*time.Second), Unexpected: 1}).Failed(); err == nil {
		t.Fatal("an unexpected failure passed")
	}
}

func TestSummarize(t *testing.T) {
	var ds []time.Duration
	for i := 1; i <= 100; i++ {
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	s := summarize(ds)
	if s.N != 100 || s.P50 != 51*time.Millisecond || s.P99 != 100*time.Millisecond || s.Max != 100*time.Millisecond {
		t.Fatalf("summary %+v", s)
	}
	if (summarize(nil) != LatencySummary{}) {
		t.Fatal("empty summary")
	}
}
