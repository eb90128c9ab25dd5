package notify

import (
	"context"
	"time"
)

// Backoff is the wait after the (failures+1)th consecutive failure: first,
// doubled for each earlier failure, capped at limit.
func Backoff(failures int, first, limit time.Duration) time.Duration {
	d := first
	for i := 0; i < failures && d < limit; i++ {
		d *= 2
	}
	return min(d, limit)
}

// SleepContext waits d, or until ctx is done and then returns ctx.Err().
func SleepContext(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
