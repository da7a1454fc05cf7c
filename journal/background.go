package journal

import (
	"fmt"
	"sync"
	"time"

	"github.com/cockroachdb/pebble/v2"
)

// backgroundLogEvery is the least time between two logs of pebble's
// background errors: the ones in between are counted, and the next log
// says how many there were.
const backgroundLogEvery = 10 * time.Second

// backgroundErrors rate-limits the logs of pebble's background errors and
// spaces pebble's retries of a failed flush.
type backgroundErrors struct {
	mu         sync.Mutex
	now        func() time.Time
	nextLog    time.Time // no log before
	suppressed int       // errors not logged since the last log
	wait       time.Duration
	retryMax   time.Duration
}

func (b *backgroundErrors) init(o options) {
	b.now = time.Now
	b.wait = o.retryMin
	b.retryMax = max(o.retryMin, o.retryMax)
}

// logNow reports whether to log a background error now and, if so, how
// many were not logged since the last one.
func (b *backgroundErrors) logNow() (ok bool, suppressed int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.now()
	if now.Before(b.nextLog) {
		b.suppressed++
		return false, 0
	}
	suppressed, b.suppressed = b.suppressed, 0
	b.nextLog = now.Add(backgroundLogEvery)
	return true, suppressed
}

// nextWait returns the wait before pebble retries: from retryMin, doubling
// up to retryMax.
func (b *backgroundErrors) nextWait() time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	d := b.wait
	b.wait = min(2*b.wait, b.retryMax)
	return d
}

// backgroundError is pebble's EventListener.BackgroundError: a flush or a
// compaction failed (a full disk, an I/O error), or pebble could not read
// the free space of the volume.
//
// While the journal opens, it tells OpenContext, which gives up on
// the open (unless pebble says the journal is corrupt, which the
// read-through finds); once open, the journal fails (ErrFailed). pebble
// retries a failed flush as soon as this returns, with no limit (and its
// Open waits for that flush): it waits before returning, from retryMin
// doubling up to retryMax, or until Close, so that the retries do not
// spin. pebble holds its mutex while it waits; a journal that failed does
// not call pebble any more, and one that is opening is abandoned.
func (j *Journal) backgroundError(err error) {
	if ok, suppressed := j.bg.logNow(); ok {
		// err.Error(): pebble's errors print their stacks with %+v.
		j.log.Warn("journal: pebble background error", "dir", j.dir, "err", err.Error(), "suppressed", suppressed)
	}
	switch {
	case j.opening.Load() && pebble.IsCorruptionError(err):
		// pebble does not retry it at once; the read-through, or the
		// event DataCorruption, finds the journal corrupt.
	case j.opening.Load():
		select {
		case j.trouble <- err:
		default:
		}
	default:
		j.fail(fmt.Errorf("journal: %w: pebble failed in the background: %w", ErrFailed, err))
	}
	t := time.NewTimer(j.bg.nextWait())
	defer t.Stop()
	select {
	case <-t.C:
	case <-j.stop:
	}
}
