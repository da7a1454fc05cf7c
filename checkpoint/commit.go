package checkpoint

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/lakestream/lakestream/internal/failpoint"
	"github.com/lakestream/lakestream/table"
	"github.com/lakestream/lakestream/table/fence"
	"github.com/lakestream/lakestream/writer"
)

// finishWorkers has every worker close and upload its files, all at once
// (the uploads wait on storage, not on the CPU), each retried with backoff,
// and returns the files in worker order with the rows that were staged.
func (c *Coordinator) finishWorkers(ctx context.Context) ([]writer.File, int64, error) {
	replies := make([]workerReply, len(c.workers))
	errs := make([]error, len(c.workers))
	var wg sync.WaitGroup
	for i, w := range c.workers {
		wg.Go(func() {
			span := c.startCloseUpload(w.id)
			errs[i] = c.retry(ctx, PhaseUpload, fmt.Sprintf("close files of worker %d", w.id), w.id, func() error {
				replies[i] = w.call(ctx, workerMsg{kind: msgFinish})
				return replies[i].err
			})
			endCloseUpload(span, replies[i].files, errs[i])
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, 0, err
	}
	var files []writer.File
	var staged int64
	for _, r := range replies {
		files = append(files, r.files...)
		staged += r.staged
	}
	return files, staged, nil
}

// checkpointLocked makes one checkpoint: a barrier behind every row sent so
// far, every worker closes and uploads its files, the dead-letter queue is
// flushed, and one commit publishes the files with the checkpoint ID and the
// next offset of every partition. Storage errors are retried with backoff;
// nothing is committed until every file and dead letter is durable.
func (c *Coordinator) checkpointLocked(ctx context.Context) error {
	start := c.opts.now()
	defer func() { c.nextDue = c.opts.now().Add(c.opts.interval) }()
	if c.txn == nil && !offsetsMoved(c.next, c.committed) {
		// Nothing read since the last checkpoint: the table is current.
		c.health.completed(start, false)
		return nil
	}
	defer c.health.left() // a no-op once completed
	c.health.enter(PhaseBegin)
	if err := c.ensureTxn(ctx); err != nil {
		return err
	}
	c.health.enter(PhaseBarrier)
	if err := c.flushLateLocked(ctx); err != nil {
		return c.failed(PhaseBarrier, err)
	}
	c.stats.lateBuffered.Store(0)
	for w := range c.workers {
		if err := c.send(ctx, w); err != nil {
			return c.failed(PhaseBarrier, err)
		}
	}
	c.health.enter(PhaseUpload)
	files, staged, err := c.finishWorkers(ctx)
	if err != nil {
		return err
	}
	if err := c.opts.failpoints.Hit(failpoint.AfterFileWrite); err != nil {
		return c.failed(PhaseUpload, err)
	}
	// The dead-letter producer already retried each record until its
	// delivery timeout, and its error is sticky: stop, and a restart
	// replays from the table with a new producer.
	c.health.enter(PhaseDeadLetters)
	if err := c.cfg.DeadLetters.Flush(ctx); err != nil {
		return c.failed(PhaseDeadLetters, fatal(fmt.Errorf("flush dead letters: %w", err)))
	}
	req := table.CommitRequest{
		Schema:       c.cfg.Schema,
		CheckpointID: c.checkpoint,
		Topic:        c.cfg.Topic,
		Next:         cloneOffsets(c.next),
		Claims:       c.heldClaims(),
	}
	var rows int64
	for _, f := range files {
		req.Files = append(req.Files, f.Stat())
		rows += f.Records
	}
	c.health.enter(PhaseCommit)
	err = c.retry(ctx, PhaseCommit, "commit", -1, func() error {
		return c.txn.Commit(ctx, req)
	})
	if errors.Is(err, table.ErrFenced) {
		c.journalSettled(c.txn.Instant()) // the fenced instant removed its files
	}
	if err != nil {
		return err
	}
	instant := c.txn.Instant()
	c.journalSettled(instant)
	c.txn = nil
	c.committed = cloneOffsets(c.next)
	c.traceCommitted(instant, files, rows, staged)
	c.health.completed(c.opts.now(), true)
	if err := c.opts.failpoints.Hit(failpoint.BeforeGroupCommit); err != nil {
		return c.failed(PhaseCommit, err)
	}
	// The table is the source of truth; the group only feeds lag tools.
	c.src.QueueGroupOffsets(cloneOffsets(c.next))
	elapsed := c.opts.now().Sub(start)
	c.stats.committed(instant, c.checkpoint, len(files), rows, staged, elapsed)
	c.opts.logger.Info("checkpoint committed", "checkpoint", c.checkpoint, "instant", instant,
		"files", len(files), "rows", rows, "staged_rows", staged, "offsets", fence.Offsets{Topic: req.Topic, Next: req.Next}.String(), "took", elapsed)
	c.logSlowCommit(instant, files, elapsed)
	if elapsed > c.opts.interval/2 {
		c.opts.logger.Warn("slow checkpoint", "checkpoint", c.checkpoint, "took", elapsed, "interval", c.opts.interval, "workers", c.WorkerStates())
	}
	if len(c.opts.publishers) > 0 {
		c.toPublish = append(c.toPublish, table.Commit{Instant: instant, WriterID: c.cfg.WriterID, CheckpointID: c.checkpoint,
			Topic: c.cfg.Topic, Next: cloneOffsets(c.next), Files: len(files), Rows: rows})
	}
	c.checkpoint++
	if c.opts.maintainEvery > 0 && c.checkpoint%int64(c.opts.maintainEvery) == 0 {
		c.maintainDue = true // Run does it outside the lock, never in a rebalance hook
	}
	return nil
}

// publish hands the commits made since the last call to every publisher,
// in order, outside the lock (a commit made in a rebalance hook waits for
// Run's next turn). A failure is logged and counted in phase publish and
// is not retried: the commit stands, and the publisher catches up at the
// next one (table.Publisher).
func (c *Coordinator) publish(ctx context.Context) {
	c.mu.Lock()
	commits := c.toPublish
	c.toPublish = nil
	c.mu.Unlock()
	for _, cm := range commits {
		span := c.startPublish(ctx, cm)
		for i, p := range c.opts.publishers {
			if err := p.Publish(ctx, cm); err != nil {
				op := fmt.Sprintf("publisher %d: publish instant %s", i, cm.Instant)
				msg := c.health.failed(op, PhasePublish, -1, err, false)
				publishFailed(span, i, ErrorClass(err), msg)
				c.opts.logger.Warn("publish commit: the commit stands, the publisher catches up later", "publisher", i, "instant", cm.Instant, "err", msg)
			}
		}
		span.End()
	}
}

// maintain bounds the active timeline: instants of dead writers are rolled
// back and old completed instants archived. Failures are logged: the next
// round tries again.
func (c *Coordinator) maintain(ctx context.Context) {
	if res, err := c.cfg.Table.RollbackFailed(ctx, c.cfg.WriterID); err != nil {
		msg := c.health.failed("roll back dead writers' instants", PhaseMaintenance, -1, err, false)
		c.opts.logger.Warn("roll back dead writers' instants", "err", msg)
	} else {
		for _, r := range res {
			if r.Outcome != table.OutcomeLive {
				c.opts.logger.Info("settled a dead writer's instant", "instant", r.Instant, "outcome", r.Outcome)
			}
		}
	}
	res, err := c.cfg.Table.Archive(ctx, c.opts.keepInstants)
	if err != nil {
		msg := c.health.failed("archive timeline", PhaseMaintenance, -1, err, false)
		c.opts.logger.Warn("archive timeline", "err", msg)
		return
	}
	if len(res.Instants) > 0 || res.FilesRemoved > 0 {
		c.opts.logger.Info("archived instants", "count", len(res.Instants), "file", res.File, "files_removed", res.FilesRemoved)
	}
}

// abortLocked abandons the open checkpoint, if there is one: its instant is
// rolled back first and only then are the workers' files deleted, so that
// files of an instant that turns out committed (its commit was decided
// before the abort) are never touched. With no open instant the workers
// hold only committed files: they are left alone.
func (c *Coordinator) abortLocked(ctx context.Context) {
	c.late.reset() // read again from the table's offsets, like the rest
	c.stats.lateBuffered.Store(0)
	for w := range c.filling {
		if b := c.filling[w]; b != nil {
			b.reset()
			c.workers[w].free <- b
			c.filling[w] = nil
		}
	}
	if c.txn == nil {
		return
	}
	txn := c.txn
	c.txn = nil
	if err := c.abortTxn(ctx, txn); err != nil {
		// The store is unreachable (or the instant was committed after
		// all): the files stay, and so does the workers' checkpoint. The
		// next checkpoint tries again before it begins (ensureTxn); a
		// restart would settle the instant from the table.
		c.opts.logger.Warn("abort instant: tried again before the next checkpoint", "instant", txn.Instant(), "err", err)
		c.abandoned = txn
	}
}

// abortTxn rolls txn back, then has every worker delete its files. Run
// again after a failure, it goes on where it stopped (both steps are
// idempotent).
func (c *Coordinator) abortTxn(ctx context.Context, txn table.Txn) error {
	instant := txn.Instant()
	if err := txn.Abort(ctx); err != nil {
		if strings.Contains(err.Error(), "already committed") {
			// Its files are the table's now: never delete them.
			return fatal(err)
		}
		return err
	}
	c.journalSettled(instant)
	var errs []error
	for _, w := range c.workers {
		if r := w.call(ctx, workerMsg{kind: msgAbort}); r.err != nil {
			c.opts.logger.Warn("abort worker files", "worker", w.id, "err", r.err)
			errs = append(errs, r.err)
		}
	}
	return errors.Join(errs...)
}

// settleAbandonedLocked finishes the abort of an instant abandoned when
// partitions were lost while the store was unreachable, retried with
// backoff, before a new instant begins.
func (c *Coordinator) settleAbandonedLocked(ctx context.Context) error {
	if c.abandoned == nil {
		return nil
	}
	txn := c.abandoned
	err := c.retry(ctx, PhaseBegin, "abort abandoned instant "+txn.Instant(), -1, func() error { return c.abortTxn(ctx, txn) })
	if err != nil {
		return err
	}
	c.abandoned = nil
	return nil
}

// journalSettled records in the journal that an instant is settled
// (committed, aborted or fenced). A failure only costs a needless rollback
// attempt at the next start.
func (c *Coordinator) journalSettled(instant string) {
	if j := c.cfg.Journal; j != nil {
		if err := j.Settled(instant); err != nil {
			c.opts.logger.Warn("journal: forget settled instant", "instant", instant, "err", err)
		}
	}
}

func offsetsMoved(next, committed map[int32]int64) bool {
	for p, n := range next {
		if committed[p] != n {
			return true
		}
	}
	return false
}
