package checkpoint_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/lakestream/lakestream/checkpoint"
	"github.com/lakestream/lakestream/internal/objstore"
)

// BenchmarkCheckpointStorageLatency: a checkpoint's duration when every
// upload of a base file takes 30 ms (an object store, not a local disk), 4
// workers with a file each per checkpoint. The workers close and upload
// their files at the same time, so a checkpoint costs about one upload,
// not one per worker. One op is one checkpoint of 4,000 records.
func BenchmarkCheckpointStorageLatency(b *testing.B) {
	const workers, perCheckpoint = 4, 4000
	for _, latency := range []time.Duration{30 * time.Millisecond} {
		b.Run(fmt.Sprintf("put=%v", latency), func(b *testing.B) {
			recs := hotBucketRecords(b.N * perCheckpoint)
			bucket := objstore.NewFaulty(objstore.NewMemory(), objstore.WithLatency(latency, objstore.OpPut))
			p := newPipeline(b, bucket, workers, recs, checkpoint.WithInterval(time.Millisecond))
			p.src.batch = perCheckpoint
			b.ResetTimer()
			p.run(b)
			b.StopTimer()
			st := p.coord.Stats()
			if st.Checkpoints > 0 {
				b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(st.Checkpoints), "ms/checkpoint")
				b.ReportMetric(float64(st.Files)/float64(st.Checkpoints), "files/checkpoint")
			}
		})
	}
}
