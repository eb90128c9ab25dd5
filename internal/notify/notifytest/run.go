package notifytest

import (
	"context"
	"sync"
	"testing"
	"time"
)

// Start calls run (an event source's Run) in a goroutine and returns a
// function that cancels its context and waits for it, failing t when Run
// returned an error or did not return within 30 s. The stop function is also
// registered with t.Cleanup; calling it more than once is fine.
func Start(t testing.TB, run func(context.Context) error) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run returned %v", err)
				}
			case <-time.After(30 * time.Second):
				t.Error("Run did not return after cancel")
			}
		})
	}
	t.Cleanup(stop)
	return stop
}
