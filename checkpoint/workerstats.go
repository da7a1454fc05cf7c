package checkpoint

// WorkerStats is what one worker holds: its open files (one per bucket it
// writes), the buckets whose rows are staged until the checkpoint (no file
// free for them), and the data they buffer in memory. Updated after each
// message the worker handles.
type WorkerStats struct {
	Worker        int
	OpenFiles     int
	StagedBuckets int
	StagedRows    int64
	BufferedBytes int64
	State         string
}

// publishStats records the worker's stats for WorkerStats; called on the
// worker's goroutine, the only one that touches its writer set.
func (w *worker) publishStats() {
	buckets, rows := w.set.StagedBuckets()
	w.stats.Store(&WorkerStats{Worker: w.id, OpenFiles: w.set.OpenFiles(), StagedBuckets: buckets, StagedRows: rows,
		BufferedBytes: w.set.BufferedBytes()})
}

// WorkerStats returns each worker's open files and buffered bytes, as of
// the last message it handled, and what it is doing now (as WorkerStates).
func (c *Coordinator) WorkerStats() []WorkerStats {
	out := make([]WorkerStats, len(c.pool.workers))
	retrying, now := c.health.retryingList(), c.opts.now()
	for i, w := range c.pool.workers {
		out[i].Worker = i
		if s := w.stats.Load(); s != nil {
			out[i] = *s
		}
		state, _ := w.state.Load().(string)
		out[i].State = describeWorker(state, w.id, retrying, now)
	}
	return out
}
