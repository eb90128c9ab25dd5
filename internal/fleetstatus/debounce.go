package fleetstatus

import (
	"context"
	"time"
)

// debounce decides, at each check of Run, whether a changed status is
// published: once it stayed the same for settleChecks checks in a row,
// or at the latest maxChecks checks after the first unpublished change.
// Counting checks rather than reading the clock keeps it to the ticker
// that calls it. It is used by Run's goroutine alone.
type debounce struct {
	f                       *Fleet
	settleChecks, maxChecks int

	seen    *Status // the last unpublished status seen (UpdatedAt zeroed), nil when none
	same    int     // checks in a row that saw seen
	pending int     // checks since the first unpublished change
}

func (f *Fleet) newDebounce() *debounce {
	return &debounce{f: f, settleChecks: checks(f.o.Settle, f.o.Watch), maxChecks: checks(f.o.MaxDelay, f.o.Watch)}
}

// checks is how many checks every watch span d (at least one).
func checks(d, watch time.Duration) int {
	return max(1, int((d+watch-1)/watch))
}

// reset forgets the pending change (a publish just wrote the status).
func (d *debounce) reset() { d.seen, d.same, d.pending = nil, 0, 0 }

// check compares the local status with the last published one and
// publishes it when its change settled; it reports whether it wrote.
func (d *debounce) check(ctx context.Context) (bool, error) {
	f := d.f
	if f.o.Store == nil {
		return false, nil
	}
	st, differs := f.unpublished()
	if !differs {
		d.reset()
		return false, nil
	}
	d.pending++
	if d.seen != nil && equalIgnoringTime(*d.seen, st) {
		d.same++
	} else {
		seen := st
		d.seen, d.same = &seen, 0
	}
	if d.same < d.settleChecks && d.pending < d.maxChecks {
		return false, nil
	}
	d.reset()
	return true, f.publish(ctx, st)
}
