package checkpoint_test

import (
	"os"
	"runtime"
	"runtime/pprof"
	"testing"
	"time"

	"github.com/lakestream/lakestream/checkpoint"
	"github.com/lakestream/lakestream/internal/objstore"
	"github.com/lakestream/lakestream/writer"
	"github.com/twmb/franz-go/pkg/kgo"
)

// BenchmarkBigCheckpoint: one checkpoint that closes and commits a file
// for each of 100,000 buckets (one record each, every record in its own
// event hour), on the local filesystem, with ingestd's default writer
// settings and memory budget (256 MiB, 2 workers). Reports the peak RSS
// and the time of the checkpoint. One op is one record: run it with
// -benchtime 100000x.
func BenchmarkBigCheckpoint(b *testing.B) {
	const (
		buckets = 100_000
		budget  = 256 << 20
		workers = 2
	)
	end := time.Now().UTC().Truncate(time.Hour)
	root := b.TempDir()
	bucket, err := objstore.NewFilesystem(root)
	if err != nil {
		b.Fatal(err)
	}
	wopts := []writer.Option{writer.WithMinFileSize(16 << 20), writer.WithWriterMemory(budget / workers / 2)}
	p := newPipelineWith(b, bucket, workers, nil, "", wopts, checkpoint.WithInterval(time.Hour), checkpoint.WithMemoryBudget(budget), checkpoint.WithShutdownGrace(time.Hour))
	p.src.gen = func(i int) *kgo.Record { return manyBucketRecord(i, buckets, end) }
	p.src.n = b.N
	resetPeakRSS(b)
	stop := profileHeapPeak(b, os.Getenv("LAKESTREAM_HEAP_PEAK_PROFILE"))
	b.ResetTimer()
	p.run(b)
	b.StopTimer()
	stop()
	st := p.coord.Stats()
	b.ReportMetric(float64(peakRSS(b))/(1<<20), "peak-RSS-MiB")
	b.ReportMetric(st.LastDuration.Seconds(), "checkpoint-s")
	b.ReportMetric(float64(st.Files), "files")
	b.ReportMetric(float64(st.Checkpoints), "checkpoints")
}

// profileHeapPeak writes a heap profile to path (if not empty) each time
// the heap in use reaches a new high, checked every 200ms, so that the
// profile left at the end shows what was live at the peak. The returned
// function stops it.
func profileHeapPeak(tb testing.TB, path string) func() {
	if path == "" {
		return func() {}
	}
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		var high uint64
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
			}
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse < high+high/10 {
				continue
			}
			high = ms.HeapInuse
			f, err := os.Create(path)
			if err != nil {
				tb.Error(err)
				return
			}
			if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
				tb.Error(err)
			}
			f.Close()
			tb.Logf("heap in use %d MiB, sys %d MiB: profile written", ms.HeapInuse>>20, ms.Sys>>20)
		}
	}()
	return func() { close(done); <-stopped }
}
