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
	replies := make([]workerReply, len(c.pool.workers))
	errs := make([]error, len(c.pool.workers))
	var wg sync.WaitGroup
	for i, w := range c.pool.workers {
		wg.Go(func() {
			span := c.startCloseUpload(w.id)
			errs[i] = c.retry.do(ctx, PhaseUpload, fmt.Sprintf("close files of worker %d", w.id), w.id, func() error {
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
	defer c.sched.ended()
	if c.inst.txn == nil && !c.kafka.moved() {
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
	if err := c.pool.sendAll(ctx); err != nil {
		return c.failed(PhaseBarrier, err)
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
		CheckpointID: c.inst.id,
		Topic:        c.cfg.Topic,
		Next:         c.kafka.nextOffsets(),
		Claims:       c.kafka.heldClaims(),
	}
	var rows int64
	for _, f := range files {
		req.Files = append(req.Files, f.Stat())
		rows += f.Records
	}
	c.health.enter(PhaseCommit)
	txn := c.inst.txn
	err = c.retry.do(ctx, PhaseCommit, "commit", -1, func() error {
		return txn.Commit(ctx, req)
	})
	if errors.Is(err, table.ErrFenced) {
		c.journalSettled(txn.Instant()) // the fenced instant removed its files
	}
	if err != nil {
		return err
	}
	instant := txn.Instant()
	c.journalSettled(instant)
	c.inst.take()
	c.kafka.markCommitted()
	c.traceCommitted(instant, files, rows, staged)
	c.health.completed(c.opts.now(), true)
	if err := c.opts.failpoints.Hit(failpoint.BeforeGroupCommit); err != nil {
		return c.failed(PhaseCommit, err)
	}
	// The table is the source of truth; the group only feeds lag tools.
	c.src.QueueGroupOffsets(c.kafka.nextOffsets())
	elapsed := c.opts.now().Sub(start)
	c.stats.committed(instant, req.CheckpointID, len(files), rows, staged, elapsed)
	c.opts.logger.Info("checkpoint committed", "checkpoint", req.CheckpointID, "instant", instant,
		"files", len(files), "rows", rows, "staged_rows", staged, "offsets", fence.Offsets{Topic: req.Topic, Next: req.Next}.String(), "took", elapsed)
	c.logSlowCommit(instant, files, elapsed)
	if c.sched.slow(elapsed) {
		c.opts.logger.Warn("slow checkpoint", "checkpoint", req.CheckpointID, "took", elapsed, "interval", c.opts.interval, "workers", c.WorkerStates())
	}
	if c.pub.enabled() {
		c.pub.add(table.Commit{Instant: instant, WriterID: c.cfg.WriterID, CheckpointID: req.CheckpointID,
			Topic: c.cfg.Topic, Next: c.kafka.nextOffsets(), Files: len(files), Rows: rows})
	}
	c.inst.id++                  // the next checkpoint
	c.sched.committed(c.inst.id) // maintenance: Run does it outside the lock, never in a rebalance hook
	return nil
}

// ensureTxn opens the checkpoint's instant at its first row, so that idle
// intervals leave no pending instant behind: it finishes the abort of an
// abandoned instant first, begins the instant listing the Kafka partitions
// whose claims are held, journals it, and has every worker begin its files.
func (c *Coordinator) ensureTxn(ctx context.Context) error {
	if c.inst.txn != nil {
		return nil
	}
	if err := c.settleAbandonedLocked(ctx); err != nil {
		return err
	}
	var txn table.Txn
	err := c.retry.do(ctx, PhaseBegin, "begin instant", -1, func() error {
		var err error
		o := table.BeginOptions{WriterID: c.cfg.WriterID, Topic: c.cfg.Topic}
		o.Partitions = c.inst.list(c.kafka.heldClaims())
		txn, err = c.cfg.Table.Begin(ctx, o)
		return err
	})
	if err != nil {
		return err
	}
	c.inst.begun(txn)
	if j := c.cfg.Journal; j != nil {
		if err := c.retry.do(ctx, PhaseBegin, "journal checkpoint", -1, func() error { return j.BeginCheckpoint(txn.Instant(), c.inst.id) }); err != nil {
			return err
		}
	}
	for _, w := range c.pool.workers {
		if r := w.call(ctx, workerMsg{kind: msgBegin, instant: txn.Instant(), checkpoint: c.inst.id}); r.err != nil {
			return c.failed(PhaseBegin, r.err)
		}
	}
	return nil
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
	c.in.late.reset() // read again from the table's offsets, like the rest
	c.stats.lateBuffered.Store(0)
	c.pool.discardFilling()
	txn := c.inst.take()
	if txn == nil {
		return
	}
	if err := c.abortTxn(ctx, txn); err != nil {
		// The store is unreachable (or the instant was committed after
		// all): the files stay, and so does the workers' checkpoint. The
		// next checkpoint tries again before it begins (ensureTxn); a
		// restart would settle the instant from the table.
		c.opts.logger.Warn("abort instant: tried again before the next checkpoint", "instant", txn.Instant(), "err", err)
		c.inst.abandoned = txn
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
	for _, w := range c.pool.workers {
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
	txn := c.inst.abandoned
	if txn == nil {
		return nil
	}
	err := c.retry.do(ctx, PhaseBegin, "abort abandoned instant "+txn.Instant(), -1, func() error { return c.abortTxn(ctx, txn) })
	if err != nil {
		return err
	}
	c.inst.abandoned = nil
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
