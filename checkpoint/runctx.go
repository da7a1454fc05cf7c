package checkpoint

import (
	"context"
	"errors"
	"time"
)

var (
	errStopped   = errors.New("coordinator stopped")
	errGraceOver = errors.New("shutdown grace period over")
	// errIntakeStopped: a decode retry ended because Run's context did;
	// the batch's records before it were taken in.
	errIntakeStopped = errors.New("intake stopped for shutdown")
)

// runContexts are the contexts the coordinator's work runs on.
//
// hard is made by New and cancelled by Abort and Close: storage work
// stops, nothing is committed. Run sets the others, with Coordinator.mu
// held, and they are read under it (by the intake and the checkpoints, on
// Run's goroutine or in Revoked):
//   - work is what Run's checkpoints run on: hard, also cancelled once the
//     shutdown grace period has passed since Run's context ended, so that a
//     checkpoint that keeps failing cannot hold off a shutdown (graceAfter);
//   - stop is Run's context;
//   - stopWork is work, also cancelled when stop ends: decode retries wait
//     on it (a shutdown does not wait for the schema registry).
type runContexts struct {
	hard       context.Context
	cancelHard context.CancelFunc

	work, stop, stopWork context.Context
}

func newRunContexts() runContexts {
	var r runContexts
	r.hard, r.cancelHard = context.WithCancel(context.Background())
	return r
}

// decodeCtx is what a decode retry waits on: ctx, also ended when Run's
// context ends.
func (r *runContexts) decodeCtx(ctx context.Context) context.Context {
	if r.stopWork != nil && ctx == r.work {
		return r.stopWork
	}
	return ctx
}

// stopping reports whether Run's context ended.
func (r *runContexts) stopping() bool { return r.stop != nil && r.stop.Err() != nil }

// graceAfter cancels work with cause errGraceOver once grace has passed
// since ctx ended (SIGTERM), unless work ends first: a checkpoint in
// progress and the final one get the grace period together. Its goroutine
// ends with work.
func graceAfter(ctx, work context.Context, cancelWork context.CancelCauseFunc, grace time.Duration) {
	go func() {
		select {
		case <-ctx.Done():
		case <-work.Done():
			return
		}
		t := time.NewTimer(grace)
		defer t.Stop()
		select {
		case <-t.C:
			cancelWork(errGraceOver)
		case <-work.Done():
		}
	}()
}
