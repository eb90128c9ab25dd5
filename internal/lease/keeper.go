package lease

import (
	"context"
	"time"
)

// releaseTimeout bounds the release a Keeper writes when it stops.
const releaseTimeout = 10 * time.Second

// Keeper renews one Lease every heartbeat_interval.
type Keeper struct {
	l *Lease
}

// NewKeeper returns the Keeper of l.
func NewKeeper(l *Lease) *Keeper { return &Keeper{l: l} }

// Run renews the lease every heartbeat (the Manager's After timer) in the
// calling goroutine, so its owner starts it with `go` and waits for it.
// It returns nil when ctx is done, after releasing the lease (so that
// another instance takes it at once), and the lease's error when it is
// no longer held (a renewal lost or missed, the deadline passed, or
// released by someone calling Release).
func (k *Keeper) Run(ctx context.Context) error {
	l := k.l
	for {
		select {
		case <-ctx.Done():
			return k.release(ctx)
		case <-l.Done():
			return l.Err()
		case <-l.m.after(l.m.heartbeat):
		}
		err := l.Renew(ctx)
		if ctx.Err() != nil {
			return k.release(ctx)
		}
		if err != nil {
			return err
		}
	}
}

// release gives the lease back with a context detached from ctx's
// cancellation; a lease no longer held is left as it is.
func (k *Keeper) release(ctx context.Context) error {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), releaseTimeout)
	defer cancel()
	return k.l.Release(rctx)
}
