package checkpoint

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/lakestream/lakestream/writer"
)

// A worker owns one writer.Set: the open files of the buckets routed to it.
// It takes messages in order from its inbox, so a barrier arrives after
// every row sent before it.
type worker struct {
	id                 int
	set                *writer.Set
	log                *slog.Logger
	inbox              chan workerMsg
	free               chan *rowBatch // batches handed back for reuse
	done               chan struct{}
	retryMin, retryMax time.Duration
	// state for the admin endpoint and slow-operation logs
	state workerState // string; also its /debug/tasks line (tasks.go)
	stats atomic.Pointer[WorkerStats]
	// the memory budget shared by all workers, and this worker's share of
	// its total as last reported
	budget   *memoryBudget
	reported int64
	// health records failed and retried uploads (shared with the
	// coordinator; touched only when an operation fails or recovers)
	health *health
	// err is the sticky error of the current checkpoint, always fatal:
	// rows sent after it are dropped, and the checkpoint's Finish returns
	// it, so the checkpoint is never committed without them (a restart
	// replays it). A retriable error must never stick: Finish would fail
	// the same way forever.
	err error
}

type msgKind int

const (
	msgRows msgKind = iota
	msgBegin
	msgFinish
	msgAbort
)

type workerMsg struct {
	kind       msgKind
	batch      *rowBatch
	instant    string
	checkpoint int64
	reply      chan workerReply
}

type workerReply struct {
	files  []writer.File
	staged int64 // rows of the checkpoint that were staged (writer.Set.StagedBuckets)
	err    error
}

const batchesPerWorker = 4

func newWorker(id int, set *writer.Set, log *slog.Logger) *worker {
	w := &worker{id: id, set: set, log: log, inbox: make(chan workerMsg, batchesPerWorker), free: make(chan *rowBatch, batchesPerWorker), done: make(chan struct{}),
		health: newHealth(time.Now)} // the coordinator's replaces it
	for range batchesPerWorker {
		w.free <- &rowBatch{}
	}
	w.state.Store(stateIdle)
	return w
}

// run processes messages until the inbox is closed. Idle files are rolled
// on a timer.
func (w *worker) run(ctx context.Context, rollEvery time.Duration) {
	defer close(w.done)
	tick := time.NewTicker(rollEvery)
	defer tick.Stop()
	for {
		select {
		case m, ok := <-w.inbox:
			if !ok {
				return
			}
			w.handle(ctx, m)
		case <-tick.C:
			w.rollIdle(ctx)
		}
	}
}

// rollIdle rolls the files open for the maximum file age. A failed upload
// is left to the Set (writer.Set keeps the file spooled and pending, and
// the next write or the checkpoint's Finish uploads it again, with the
// checkpoint's retries): it is not the checkpoint's failure. Only a Set
// that lost rows sticks.
func (w *worker) rollIdle(ctx context.Context) {
	if w.err != nil {
		return
	}
	w.state.Store("rolling idle files")
	if err := w.set.RollIdle(ctx); err != nil {
		if lost := w.set.Failed(); lost != nil {
			w.err = fatal(fmt.Errorf("worker %d: roll idle files: %w", w.id, lost))
		} else {
			msg := w.health.failed(fmt.Sprintf("roll idle files of worker %d", w.id), PhaseRoll, w.id, err, false)
			w.log.Warn("rolling idle files failed; the checkpoint uploads them again", "worker", w.id, "err", msg)
		}
	}
	w.forgetBudget()
	w.publishStats()
	w.state.Store(stateIdle)
}

func (w *worker) handle(ctx context.Context, m workerMsg) {
	switch m.kind {
	case msgBegin:
		w.err = nil
		if err := w.set.Begin(m.instant, m.checkpoint); err != nil {
			// The previous checkpoint was not settled: a bug, not storage.
			w.err = fatal(fmt.Errorf("worker %d: begin %s: %w", w.id, m.instant, err))
		}
		m.reply <- workerReply{err: w.err}
	case msgRows:
		w.state.Store(fmt.Sprintf("writing %d rows", m.batch.len()))
		if w.err == nil {
			w.err = w.writeBatch(ctx, m.batch)
		} // else the checkpoint is lost already: Finish fails with w.err
		m.batch.reset()
		w.free <- m.batch
	case msgFinish:
		w.state.Store("closing files for checkpoint")
		if w.err != nil {
			m.reply <- workerReply{err: w.err}
			break
		}
		files, err := w.set.Finish(ctx)
		if err != nil {
			err = fmt.Errorf("worker %d: finish: %w", w.id, err)
			if lost := w.set.Failed(); lost != nil {
				err = fatal(err)
			}
		}
		_, staged := w.set.StagedBuckets()
		m.reply <- workerReply{files: files, staged: staged, err: err}
	case msgAbort:
		w.state.Store("aborting checkpoint")
		err := w.set.Abort(ctx)
		w.err = nil
		m.reply <- workerReply{err: err}
	}
	if w.err == nil && m.kind == msgRows {
		if err := w.enforceBudget(ctx); err != nil {
			w.err = fatal(err)
		}
	} else {
		w.forgetBudget()
	}
	w.publishStats()
	w.state.Store(stateIdle)
}

// writeBatch writes a batch's rows, retrying failed uploads with backoff.
// A row whose write keeps failing, or a writer that lost rows, is fatal:
// the checkpoint cannot be completed, and a restart replays from the table.
func (w *worker) writeBatch(ctx context.Context, b *rowBatch) error {
	rows := b.rowViews()
	done, attempt := 0, 0
	var op string // set once a write failed: the operation Health lists
	for done < len(rows) {
		n, err := w.set.WriteBatch(ctx, b.buckets[done:], rows[done:], b.times[done:])
		done += n
		if err == nil {
			continue
		}
		if op == "" {
			op = fmt.Sprintf("write of worker %d", w.id)
			defer func() { w.health.recovered(op) }() // recovered, or failed for good
		}
		if n > 0 {
			attempt = 0 // the attempts are of the row that failed
		}
		if lost := w.set.Failed(); lost != nil {
			err = fatal(fmt.Errorf("worker %d: %w", w.id, lost))
			w.health.failed(op, PhaseWrite, w.id, err, false)
			return err
		}
		bucket := "" // the bucket of the row that failed
		if done < len(rows) {
			bucket = b.buckets[done]
		}
		if attempt+1 >= maxWriteAttempts || ctx.Err() != nil {
			err = fatal(fmt.Errorf("worker %d: write to %s after %d attempts: %w", w.id, bucket, attempt+1, err))
			w.health.failed(op, PhaseWrite, w.id, err, false)
			return err
		}
		msg := w.health.failed(op, PhaseWrite, w.id, err, true)
		w.state.Store(fmt.Sprintf("retrying a write to %s (attempt %d of %d): %s", bucket, attempt+2, maxWriteAttempts, msg))
		if serr := sleepCtx(ctx, backoff(w.retryMin, w.retryMax, attempt)); serr != nil {
			return fatal(serr)
		}
		attempt++
	}
	return nil
}

// call sends a control message and waits for its reply.
func (w *worker) call(ctx context.Context, m workerMsg) workerReply {
	m.reply = make(chan workerReply, 1)
	select {
	case w.inbox <- m:
	case <-ctx.Done():
		return workerReply{err: ctx.Err()}
	}
	select {
	case r := <-m.reply:
		return r
	case <-ctx.Done():
		return workerReply{err: ctx.Err()}
	}
}

// errFatal is matched by errors that retrying cannot clear: the process
// must stop so that a restart replays from the table.
var errFatal = errors.New("fatal")

type fatalError struct{ err error }

func (e *fatalError) Error() string        { return e.err.Error() }
func (e *fatalError) Unwrap() error        { return e.err }
func (e *fatalError) Is(target error) bool { return target == errFatal }

func fatal(err error) error { return &fatalError{err: err} }

// maxWriteAttempts bounds the retries of one row's write (uploads of
// rolled files happen inside Write).
const maxWriteAttempts = 8
