package main

import (
	"time"

	"github.com/lakestream/lakestream/bucketing"
	"github.com/lakestream/lakestream/checkpoint"
	"github.com/lakestream/lakestream/source"
)

// pipelineStatus returns the admin endpoint's /status: what every worker
// is doing and holds, every partition's position, lag, event time and pause
// state, the event-time watermark, the hot buckets and the pipeline's
// counters.
func pipelineStatus(coord *checkpoint.Coordinator, reader *source.Reader, router *bucketing.Router) func() any {
	return func() any {
		st := coord.Stats()
		hot := router.HotBuckets()
		if hot == nil {
			hot = []bucketing.HotBucket{}
		}
		out := map[string]any{
			"workers":        coord.WorkerStates(),
			"workerStats":    coord.WorkerStats(),
			"partitions":     reader.PartitionStates(),
			"hotBuckets":     hot,
			"hotSplit":       router.HotSplit(),
			"records":        st.Records,
			"bytes":          st.Bytes,
			"rows":           st.Rows,
			"deadLetters":    st.DeadLetters,
			"lateRecords":    st.LateRecords,
			"lateBatches":    st.LateFlushes,
			"lateBuffered":   st.LateBuffered,
			"checkpoints":    st.Checkpoints,
			"files":          st.Files,
			"rowsCommitted":  st.RowsCommitted,
			"lastInstant":    st.LastInstant,
			"lastCheckpoint": st.LastCheckpoint,
			"lastDuration":   st.LastDuration.String(),
		}
		if wm, ok := reader.Watermark(); ok {
			out["watermark"] = time.UnixMicro(wm).UTC()
		}
		return out
	}
}
