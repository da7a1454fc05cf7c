package hudi

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lakestream/lakestream/internal/objstore"
)

// BenchmarkCommitManyFiles commits one instant of 100,000 base files, one
// per partition (a checkpoint of 100,000 buckets), on the filesystem store
// in a memory-backed directory (/dev/shm where there is one: the store's
// fsyncs cost nothing there, and the store itself holds nothing in the
// heap), and reports the heap in use at its highest during the commit above what
// was in use before (sampled every millisecond) and the bytes allocated.
// The commit file is about 100 MB of JSON.
func BenchmarkCommitManyFiles(b *testing.B) {
	const files = 100_000
	ctx := context.Background()
	for range b.N {
		b.StopTimer()
		mem, err := objstore.NewFilesystem(memDir(b))
		if err != nil {
			b.Fatal(err)
		}
		tbl, err := Create(ctx, mem, Config{Name: "t", RecordKeyFields: []string{"k"}})
		if err != nil {
			b.Fatal(err)
		}
		x, err := tbl.Begin(ctx, BeginOptions{WriterID: "w"})
		if err != nil {
			b.Fatal(err)
		}
		req := CommitRequest{Checkpoint: &Checkpoint{ID: 1, Offsets: Offsets{Topic: "t", Next: map[int32]int64{0: files}}}}
		for i := range files {
			path := fmt.Sprintf("dt=%d/hr=%02d/%s", 2000+i/24, i%24, BaseFileName(NewFileID(), WriteToken(0, 1, i), x.Instant()))
			if err := mem.Put(ctx, path, strings.NewReader("PAR1")); err != nil {
				b.Fatal(err)
			}
			evt := int64(i)
			req.Files = append(req.Files, FileStat{Path: path, NumRecords: 1, MinEventTime: &evt, MaxEventTime: &evt})
		}
		runtime.GC()
		var before runtime.MemStats
		runtime.ReadMemStats(&before)
		var peak atomic.Uint64
		done := make(chan struct{})
		go func() {
			tick := time.NewTicker(time.Millisecond)
			defer tick.Stop()
			for {
				var ms runtime.MemStats
				runtime.ReadMemStats(&ms)
				if ms.HeapInuse > peak.Load() {
					peak.Store(ms.HeapInuse)
				}
				select {
				case <-done:
					return
				case <-tick.C:
				}
			}
		}()
		b.StartTimer()
		if _, err := x.Commit(ctx, req); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		close(done)
		var after runtime.MemStats
		runtime.ReadMemStats(&after)
		info, err := mem.Stat(ctx, MetaDir+"/"+completedFileName(x.Instant(), ActionCommit))
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(info.Size)/(1<<20), "commit-file-MiB")
		b.ReportMetric(float64(peak.Load()-before.HeapInuse)/(1<<20), "peak-heap-MiB")
		b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/(1<<20), "alloc-MiB")
		b.StartTimer()
	}
}

// memDir is a new directory in /dev/shm if it exists, else in the
// test's temporary directory.
func memDir(b *testing.B) string {
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
		dir, err := os.MkdirTemp("/dev/shm", "lakestream-bench-")
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { os.RemoveAll(dir) })
		return dir
	}
	return b.TempDir()
}
