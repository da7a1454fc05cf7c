package checkpoint

import (
	"context"
	"fmt"
)

// The source's rebalance hooks (source.Hooks): StartOffsets runs on the
// source's rebalance goroutine without Coordinator.mu (it takes only
// kafkaPartitions.mu), Revoked with it (it checkpoints, or abandons the
// open checkpoint).

// StartOffsets is the source's hook for newly assigned partitions: the
// next offset of each comes from the table, never from the group.
//
// Before reading offsets it claims the partitions and fences every pending
// instant a previous owner opened for them, so that a paused previous owner
// (a zombie) can never commit them again, and the offsets read include
// everything it committed.
func (c *Coordinator) StartOffsets(ctx context.Context, topic string, partitions []int32) (map[int32]int64, error) {
	held, fenced, err := c.cfg.Table.Acquire(ctx, c.cfg.WriterID, topic, partitions)
	if err != nil {
		return nil, err
	}
	for _, r := range fenced {
		c.opts.logger.Warn("fenced a previous owner's instant", "instant", r.Instant, "outcome", r.Outcome, "files_removed", r.FilesRemoved)
	}
	c.kafka.claimed(held)
	out, err := c.cfg.Table.NextOffsets(ctx, topic, partitions)
	if err != nil {
		return nil, err
	}
	c.kafka.assigned(partitions, out)
	c.opts.logger.Info("partitions assigned", "partitions", partitions, "from_table", out)
	return out, nil
}

// notePositionsLocked gives every owned partition without a record yet the
// next offset the source started it at (Source.Positions), so that the
// next commit carries a next offset for every partition this process owns.
// Without it a partition started at "latest" that stays idle is not in the
// table, and every restart or rebalance moves it to the end again,
// skipping what was produced to it meanwhile.
//
// Call it only when everything Poll returned has been taken in (the
// positions are past those records). It skips a partition whose claim is
// not held (revoked, not yet disowned by the source) and one the open
// instant does not list (the next instant will).
func (c *Coordinator) notePositionsLocked() {
	if c.in.stopped || c.kafka.allPositioned() {
		return // the usual case once every partition had a record: no map per batch
	}
	pos := c.src.Positions()
	if len(pos) == 0 {
		return
	}
	c.kafka.notePositions(pos, c.inst.lists)
}

// Revoked is the source's hook for partitions leaving this process. Revoked
// partitions are checkpointed before they move. Lost ones (the group
// session ended on an error: this member was presumed dead, or the group
// coordinator was unreachable) cannot be, as another member may own them
// already: the open checkpoint is abandoned (its instant rolled back, its
// files deleted) and Run goes on; partitions assigned again resume from
// the table's offsets (StartOffsets). Should another member have claimed
// them meanwhile, its claim fences whatever this process still had open.
func (c *Coordinator) Revoked(ctx context.Context, partitions []int32, lost bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed || c.src == nil || c.fatal != nil {
		// Not running, or stopping on an error: nothing may be committed
		// any more; the table holds what was.
		c.kafka.drop(partitions)
		return
	}
	if lost {
		c.loseLocked(partitions)
		return
	}
	// The source waits for AllowRebalance, which Run calls once a batch is
	// taken in (or step failed, and c.fatal is set): the positions are past
	// what was taken in only.
	c.notePositionsLocked()
	if err := c.checkpointLocked(c.run.work); err != nil {
		c.opts.logger.Error("checkpoint at revocation failed", "partitions", partitions, "err", err)
		if c.fatal == nil {
			c.fatal = err
		}
	}
	c.kafka.drop(partitions)
}

// loseLocked abandons the open checkpoint for lost partitions. The rows of
// every partition read since the last commit go with it: the source
// reports every owned partition lost at once (franz-go ends the whole
// group session), and each starts again from the table when assigned
// again. A partition that stays owned while rows of it are abandoned
// would skip them: that cannot be recovered in process, and Run stops.
func (c *Coordinator) loseLocked(partitions []int32) {
	kept := c.kafka.uncommittedBesides(partitions)
	c.stats.lost.Add(1)
	c.opts.logger.Warn("partitions lost: abandoning the open checkpoint; they resume from the table when assigned again",
		"partitions", partitions, "checkpoint", c.inst.id)
	c.abortLocked(c.run.hard)
	// Rows read since the last commit are gone with the checkpoint:
	// never commit offsets past them.
	c.kafka.rewind()
	c.kafka.drop(partitions)
	if len(kept) > 0 {
		c.fatal = fmt.Errorf("partitions %v lost while partitions %v, still owned, had rows in the abandoned checkpoint: restart to resume them from the table", partitions, kept)
	}
}
