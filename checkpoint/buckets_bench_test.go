package checkpoint_test

import (
	"fmt"
	"os"
	"path"
	"runtime"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lakestream/lakestream/checkpoint"
	"github.com/lakestream/lakestream/internal/objstore"
	"github.com/lakestream/lakestream/table/hudi"
	"github.com/lakestream/lakestream/writer"
	"github.com/twmb/franz-go/pkg/kgo"
)

// manyBucketRecord makes record i of a stream spread round-robin over
// buckets distinct event hours (so as many dt=/hr= buckets), ending at end;
// 8 partitions, offsets in order. The Kafka timestamp is the event time, so
// the event-time bounds accept the records.
func manyBucketRecord(i, buckets int, end time.Time) *kgo.Record {
	p := int32(i % 8)
	at := end.Add(-time.Duration(i%buckets)*time.Hour - time.Duration(i%3600)*time.Second)
	v := fmt.Sprintf(`{"userId":%d,"sessionNumber":%d,"pageNumber":%d,"url":"https://shop.example.com/products/%d?ref=home","referrer":"https://www.google.com/search?q=shoes+%d","userAgent":"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36","eventTime":"%s"}`,
		100000+i*7919%900000, i%50, i%30, i%10000, i%1000, at.UTC().Format("2006-01-02T15:04:05.000Z"))
	return &kgo.Record{Topic: "pageviews", Partition: p, Offset: int64(i / 8), Value: []byte(v), Timestamp: at}
}

// peakRSS returns the process's peak resident set (VmHWM), in bytes.
func peakRSS(tb testing.TB) int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		tb.Skipf("no /proc/self/status: %v", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmHWM:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	tb.Skip("no VmHWM")
	return 0
}

// resetPeakRSS returns freed memory to the OS, then resets VmHWM to the
// current RSS (Linux: clear_refs 5), so that an earlier sub-benchmark's
// garbage does not count.
func resetPeakRSS(tb testing.TB) {
	runtime.GC()
	debug.FreeOSMemory()
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		tb.Logf("cannot reset the peak RSS (%v): it includes earlier work", err)
	}
}

// BenchmarkManyBuckets: records spread over 10,000 distinct buckets, a 64
// MiB memory budget, 2 workers, 16 or 64 open files per worker and a 1 MiB
// minimum file size; reports the peak RSS of the process, the files
// written, their sizes, and the files below the minimum size that a
// checkpoint did not cut (want 0). One op is one record.
//
// A file is cut by a checkpoint if it is the last file of its bucket in its
// worker's checkpoint: the highest <n> of the write token
// <worker>-<checkpoint>-<n> among the files of that bucket, worker and
// checkpoint. Every other file was rolled (size, open-file bound) and must
// have reached the minimum.
func BenchmarkManyBuckets(b *testing.B) {
	const (
		minFile = 1 << 20
		budget  = 64 << 20
		workers = 2
	)
	for _, c := range []struct {
		open, page int
	}{{16, writer.DefaultPageBufferSize}, {16, 256 << 10}} {
		b.Run(fmt.Sprintf("open=%d/page=%dKiB", c.open, c.page>>10), func(b *testing.B) {
			// As ingestd sets them: half of each worker's share of the
			// budget for the writers' page buffers.
			manyBuckets(b, minFile, []writer.Option{writer.WithMaxOpenFiles(c.open), writer.WithPageBufferSize(c.page),
				writer.WithMinFileSize(minFile), writer.WithWriterMemory(budget / workers / 2)})
		})
	}
}

func manyBuckets(b *testing.B, minFile int64, wopts []writer.Option) {
	const buckets = 10_000
	end := time.Now().UTC().Truncate(time.Hour)
	root := b.TempDir()
	bucket, err := objstore.NewFilesystem(root)
	if err != nil {
		b.Fatal(err)
	}
	p := newPipelineWith(b, bucket, 2, nil, "", wopts,
		checkpoint.WithInterval(10*time.Second), checkpoint.WithMemoryBudget(64<<20))
	// Records are made batch by batch: the input is in Kafka, not in
	// ingestd's memory.
	p.src.gen = func(i int) *kgo.Record { return manyBucketRecord(i, buckets, end) }
	p.src.n = b.N
	resetPeakRSS(b)
	startRSS := peakRSS(b)
	b.ResetTimer()
	p.run(b)
	b.StopTimer()
	rss := peakRSS(b)
	files := baseFiles(b, root)
	sizes := make([]int64, len(files))
	for i, f := range files {
		sizes[i] = f.size
	}
	sort.Slice(sizes, func(i, j int) bool { return sizes[i] < sizes[j] })
	st := p.coord.Stats()
	b.ReportMetric(float64(rss)/(1<<20), "peak-RSS-MiB")
	b.ReportMetric(float64(startRSS)/(1<<20), "start-RSS-MiB")
	b.ReportMetric(float64(p.coord.MaxOpenFilesOfWorker(0)), "open-files-per-worker")
	b.ReportMetric(float64(len(files)), "files")
	if len(sizes) > 0 {
		b.ReportMetric(float64(sizes[len(sizes)/2]), "median-file-B")
	}
	b.ReportMetric(float64(smallNotCut(files, minFile)), "small-not-cut-files")
	b.ReportMetric(float64(st.BudgetFlushes), "budget-flushes")
	b.ReportMetric(float64(st.Checkpoints), "checkpoints")
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

// baseFile is one base file found under the table root.
type baseFile struct {
	partition string // directory, relative to the root
	token     writeToken
	size      int64
}

// writeToken is a parsed <worker>-<checkpoint>-<n> (hudi.WriteToken).
type writeToken struct{ worker, checkpoint, seq int64 }

func parseWriteToken(s string) (writeToken, bool) {
	f := strings.Split(s, "-")
	if len(f) != 3 {
		return writeToken{}, false
	}
	var t writeToken
	var errs [3]error
	t.worker, errs[0] = strconv.ParseInt(f[0], 10, 64)
	t.checkpoint, errs[1] = strconv.ParseInt(f[1], 10, 64)
	t.seq, errs[2] = strconv.ParseInt(f[2], 10, 64)
	return t, errs[0] == nil && errs[1] == nil && errs[2] == nil
}

// baseFiles lists the base files under root with their write tokens.
func baseFiles(tb testing.TB, root string) []baseFile {
	tb.Helper()
	var out []baseFile
	err := walkFiles(root, func(p string, size int64) {
		if !strings.HasSuffix(p, ".parquet") {
			return
		}
		_, token, _, ok := hudi.ParseBaseFileName(path.Base(p))
		parts, tokOK := parseWriteToken(token)
		if !ok || !tokOK {
			tb.Fatalf("%s: not a base file name with a write token", p)
		}
		out = append(out, baseFile{partition: path.Dir(p), token: parts, size: size})
	})
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

// fileGroup is a bucket's files in one worker's checkpoint.
type fileGroup struct {
	partition          string
	worker, checkpoint int64
}

func (f baseFile) group() fileGroup {
	return fileGroup{f.partition, f.token.worker, f.token.checkpoint}
}

// smallNotCut counts the files below minSize that are not the last file of
// their bucket in their worker's checkpoint.
func smallNotCut(files []baseFile, minSize int64) int {
	last := map[fileGroup]int64{}
	for _, f := range files {
		last[f.group()] = max(last[f.group()], f.token.seq)
	}
	n := 0
	for _, f := range files {
		if f.size < minSize && f.token.seq != last[f.group()] {
			n++
		}
	}
	return n
}

func fileSizes(tb testing.TB, root string) []int64 {
	tb.Helper()
	var out []int64
	err := walkFiles(root, func(path string, size int64) {
		if strings.HasSuffix(path, ".parquet") {
			out = append(out, size)
		}
	})
	if err != nil {
		tb.Fatal(err)
	}
	return out
}
