package checkpoint

import (
	"context"
	"fmt"
	"sync/atomic"
)

// memoryBudget bounds the column data buffered by all workers together
// (writer.Set.BufferedBytes). Each worker reports its own figure after
// every batch; while the total is over the limit, the worker that reports
// flushes its largest buffers (row groups written to their spool files:
// the files stay open, only their memory is released). A worker flushes
// only its own files, so no lock is shared on the write path.
type memoryBudget struct {
	limit   int64 // 0: no budget (the total is still tracked, for metrics)
	total   atomic.Int64
	flushes atomic.Int64
}

// enforceBudget reports the worker's buffered bytes and, while the budget
// is exceeded, flushes the worker's largest buffer.
func (w *worker) enforceBudget(ctx context.Context) error {
	b := w.budget
	if b == nil {
		return nil
	}
	cur := w.set.BufferedBytes()
	b.total.Add(cur - w.reported)
	w.reported = cur
	for b.limit > 0 && cur > 0 && b.total.Load() > b.limit {
		w.state.Store(fmt.Sprintf("flushing buffers for the memory budget (%d bytes buffered by all workers, budget %d)", b.total.Load(), b.limit))
		if err := w.set.FlushLargest(ctx); err != nil {
			return fmt.Errorf("worker %d: flush for the memory budget: %w", w.id, err)
		}
		b.flushes.Add(1)
		next := w.set.BufferedBytes()
		b.total.Add(next - cur)
		w.reported = next
		if next >= cur {
			break // nothing left to flush
		}
		cur = next
	}
	return nil
}

// forgetBudget removes the worker's share once its files are closed
// (Finish, Abort).
func (w *worker) forgetBudget() {
	if w.budget == nil {
		return
	}
	cur := w.set.BufferedBytes()
	w.budget.total.Add(cur - w.reported)
	w.reported = cur
}
