package source

import (
	"context"
	"maps"
	"sync"
	"time"
)

// DefaultGroupCommitTimeout bounds one commit of offsets to the consumer
// group. The group's offsets only feed lag tools, so a commit that cannot
// finish in time (the group is rebalancing) is given up: the next table
// commit queues newer offsets.
const DefaultGroupCommitTimeout = 5 * time.Second

// groupCommitter commits queued offsets to the consumer group in the
// background, so that a table commit never waits for the group: franz-go's
// synchronous commit waits for a join in progress, and a join waits for the
// members that are still checkpointing. Only the newest queued offsets are
// committed; older ones are superseded.
type groupCommitter struct {
	mu      sync.Mutex
	pending map[int32]int64
	kick    chan struct{}
	stop    chan struct{}
	done    chan struct{}
	flushMu sync.Mutex // one commit at a time, in queue order
	once    sync.Once
}

func newGroupCommitter() *groupCommitter {
	return &groupCommitter{kick: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
}

// QueueGroupOffsets queues next offsets for a background commit to the
// consumer group and returns at once; offsets queued before and not yet
// committed are replaced (per partition). Partitions this member does not
// own when the commit runs are skipped, as with CommitGroupOffsets. Failures
// are logged: the table, not the group, decides where a partition starts.
func (r *Reader) QueueGroupOffsets(next map[int32]int64) {
	g := r.groupCommits
	g.mu.Lock()
	if g.pending == nil {
		g.pending = make(map[int32]int64, len(next))
	}
	maps.Copy(g.pending, next)
	g.mu.Unlock()
	select {
	case g.kick <- struct{}{}:
	default:
	}
}

// runGroupCommits commits queued offsets until the Reader closes.
func (r *Reader) runGroupCommits() {
	g := r.groupCommits
	defer close(g.done)
	for {
		select {
		case <-g.stop:
			return
		case <-g.kick:
			r.flushGroupOffsets(nil)
		}
	}
}

// flushGroupOffsets commits the queued offsets (only those of parts, if
// parts is not nil; the others stay queued) within the group commit timeout.
func (r *Reader) flushGroupOffsets(parts []int32) {
	g := r.groupCommits
	g.flushMu.Lock()
	defer g.flushMu.Unlock()
	g.mu.Lock()
	var next map[int32]int64
	if parts == nil {
		next, g.pending = g.pending, nil
	} else {
		for _, p := range parts {
			if off, ok := g.pending[p]; ok {
				if next == nil {
					next = make(map[int32]int64, len(parts))
				}
				next[p] = off
				delete(g.pending, p)
			}
		}
	}
	g.mu.Unlock()
	if len(next) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), r.cfg.GroupCommitTimeout)
	defer cancel()
	start := time.Now()
	if err := r.CommitGroupOffsets(ctx, next); err != nil {
		r.log.Warn("commit offsets to the consumer group (for lag tools only; the table holds the offsets)",
			"partitions", len(next), "took", time.Since(start).Round(time.Millisecond), "err", err)
	}
}

// stopGroupCommits stops the background committer and commits what is
// still queued, once.
func (r *Reader) stopGroupCommits() {
	g := r.groupCommits
	g.once.Do(func() {
		close(g.stop)
		<-g.done
		r.flushGroupOffsets(nil)
	})
}
