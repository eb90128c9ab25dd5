package backoff

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"testing"
	"time"
)

func TestDelayDoublesUpToTheCap(t *testing.T) {
	p := Policy{First: time.Second, Max: 30 * time.Second}
	want := []time.Duration{0, time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second, 30 * time.Second, 30 * time.Second}
	for n, w := range want {
		if got := p.Delay(n); got != w {
			t.Errorf("Delay(%d) = %v, want %v", n, got, w)
		}
	}
	if got := p.Delay(1000); got != 30*time.Second {
		t.Errorf("Delay(1000) = %v, want the cap", got)
	}
	if got := p.Delay(-1); got != 0 {
		t.Errorf("Delay(-1) = %v, want 0", got)
	}
	if got := (Policy{}).Delay(3); got != 0 {
		t.Errorf("zero Policy: Delay(3) = %v, want 0", got)
	}
}

func TestDelayWithoutCapDoesNotOverflow(t *testing.T) {
	p := Policy{First: time.Nanosecond}
	if got := p.Delay(200); got <= 0 {
		t.Errorf("Delay(200) without a cap = %v, want a positive duration", got)
	}
}

func TestDelayJitter(t *testing.T) {
	for _, tc := range []struct {
		r    float64
		n    int
		want time.Duration
	}{
		{0, 1, 0},
		{0.5, 1, 10 * time.Millisecond},
		{0.5, 3, 40 * time.Millisecond},
		{0.5, 10, 500 * time.Millisecond}, // capped at 1s before the jitter
		{0.999, 10, 999 * time.Millisecond},
	} {
		p := Policy{First: 20 * time.Millisecond, Max: time.Second, Rand: func() float64 { return tc.r }}
		if got := p.Delay(tc.n); got != tc.want {
			t.Errorf("rand %v: Delay(%d) = %v, want %v", tc.r, tc.n, got, tc.want)
		}
	}
}

func TestSleep(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := Sleep(ctx, time.Hour); !errors.Is(err, context.Canceled) {
		t.Errorf("Sleep on a canceled context = %v", err)
	}
	if err := Sleep(ctx, 0); !errors.Is(err, context.Canceled) {
		t.Errorf("Sleep(0) on a canceled context = %v", err)
	}
	if err := Sleep(context.Background(), 0); err != nil {
		t.Errorf("Sleep(0) = %v", err)
	}
	if err := Sleep(context.Background(), time.Nanosecond); err != nil {
		t.Errorf("Sleep(1ns) = %v", err)
	}
}

func TestSleepReturnsWhenTheContextEnds(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Sleep(ctx, time.Hour) }()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Sleep = %v, want context.Canceled", err)
	}
}

func TestNewRandIsReproducibleAndSafe(t *testing.T) {
	a, b := NewRand(rand.NewPCG(1, 2)), NewRand(rand.NewPCG(1, 2))
	for i := range 100 {
		x, y := a(), b()
		if x != y || x < 0 || x >= 1 {
			t.Fatalf("draw %d: %v and %v", i, x, y)
		}
	}
	r := NewSeededRand()
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 1000 {
				if v := r(); v < 0 || v >= 1 {
					t.Errorf("draw %v out of [0, 1)", v)
					return
				}
			}
		})
	}
	wg.Wait()
}
