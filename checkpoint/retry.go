package checkpoint

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/lakestream/lakestream/journal"
	"github.com/lakestream/lakestream/table"
)

// retrier retries the coordinator's storage operations (begin, upload,
// commit, the journal, an abandoned instant's rollback) with exponential
// backoff, recording every failure in the health state. It holds no
// mutable state: it runs on whichever goroutine calls it (Run's, a
// rebalance hook's, finishWorkers' per-worker goroutines).
type retrier struct {
	health   *health
	log      *slog.Logger
	min, max time.Duration
}

// do runs op with exponential backoff until it succeeds, ctx ends, or it
// fails with a fencing, journal or fatal error. Every failure is recorded
// in the health state under phase (and worker, -1 for the coordinator's
// operations); while op is retried, Health lists it as what.
func (r retrier) do(ctx context.Context, phase, what string, worker int, op func() error) error {
	for attempt := 0; ; attempt++ {
		err := op()
		if err == nil {
			if attempt > 0 {
				r.health.recovered(what)
				r.log.Info("recovered", "op", what, "phase", phase, "failed_attempts", attempt)
			}
			return nil
		}
		if errors.Is(err, table.ErrFenced) || errors.Is(err, journal.ErrFailed) || errors.Is(err, errFatal) || ctx.Err() != nil {
			r.health.failed(what, phase, worker, err, false)
			return fmt.Errorf("%s: %w", what, err)
		}
		msg := r.health.failed(what, phase, worker, err, true)
		d := backoff(r.min, r.max, attempt)
		r.log.Warn("retrying", "op", what, "phase", phase, "class", ErrorClass(err), "attempt", attempt+1, "in", d, "err", msg)
		if err := sleepCtx(ctx, d); err != nil {
			r.health.recovered(what) // given up
			return fmt.Errorf("%s: %w", what, err)
		}
	}
}

// backoff is the wait before attempt+1: min doubled per attempt up to max,
// with 20% jitter either way.
func backoff(min, max time.Duration, attempt int) time.Duration {
	d := min
	for i := 0; i < attempt && d < max; i++ {
		d *= 2
	}
	return time.Duration(float64(d) * (0.8 + 0.4*jitter()))
}

func jitter() float64 { return rand.Float64() }

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
