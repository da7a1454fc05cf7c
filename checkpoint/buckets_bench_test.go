package checkpoint

import (
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lakestream/lakestream/internal/objstore"
	"github.com/lakestream/lakestream/writer"
	"github.com/twmb/franz-go/pkg/kgo"
)

// manyBucketRecords makes n pageview records spread round-robin over
// buckets distinct event hours (so as many dt=/hr= buckets); the Kafka
// timestamp is the event time, so the event-time bounds accept them.
func manyBucketRecords(n, buckets int, end time.Time) []*kgo.Record {
	recs := make([]*kgo.Record, n)
	next := map[int32]int64{}
	for i := range recs {
		p := int32(i % 8)
		at := end.Add(-time.Duration(i%buckets)*time.Hour - time.Duration(i%3600)*time.Second)
		v := fmt.Sprintf(`{"userId":%d,"sessionNumber":%d,"pageNumber":%d,"url":"https://shop.example.com/products/%d?ref=home","referrer":"https://www.google.com/search?q=shoes+%d","userAgent":"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36","eventTime":"%s"}`,
			100000+i*7919%900000, i%50, i%30, i%10000, i%1000, at.UTC().Format("2006-01-02T15:04:05.000Z"))
		recs[i] = &kgo.Record{Topic: "pageviews", Partition: p, Offset: next[p], Value: []byte(v), Timestamp: at}
		next[p]++
	}
	return recs
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
// MiB memory budget, 2 workers; reports the peak RSS of the process, the
// files written and their sizes. One op is one record.
func BenchmarkManyBuckets(b *testing.B) {
	for _, c := range []struct {
		open int
		page int
	}{{16, writer.DefaultPageBufferSize}, {16, 64 << 10}, {64, 64 << 10}} {
		b.Run(fmt.Sprintf("open=%d/page=%dKiB", c.open, c.page>>10), func(b *testing.B) {
			manyBuckets(b, []writer.Option{writer.WithMaxOpenFiles(c.open), writer.WithPageBufferSize(c.page)})
		})
	}
}

func manyBuckets(b *testing.B, wopts []writer.Option) {
	const buckets = 10_000
	recs := manyBucketRecords(b.N, buckets, time.Now().UTC().Truncate(time.Hour))
	root := b.TempDir()
	bucket, err := objstore.NewFilesystem(root)
	if err != nil {
		b.Fatal(err)
	}
	p := newPipelineWith(b, bucket, 2, recs, nil, wopts,
		WithInterval(10*time.Second), WithMemoryBudget(64<<20))
	resetPeakRSS(b)
	b.ResetTimer()
	p.run(b)
	b.StopTimer()
	rss := peakRSS(b)
	sizes := fileSizes(b, root)
	sort.Slice(sizes, func(i, j int) bool { return sizes[i] < sizes[j] })
	var total int64
	small := 0
	for _, s := range sizes {
		total += s
		if s < 1<<20 {
			small++
		}
	}
	st := p.coord.Stats()
	b.ReportMetric(float64(rss)/(1<<20), "peak-RSS-MiB")
	b.ReportMetric(float64(len(sizes)), "files")
	if len(sizes) > 0 {
		b.ReportMetric(float64(sizes[len(sizes)/2]), "median-file-B")
		b.ReportMetric(float64(small)/float64(len(sizes)), "files<1MiB-fraction")
	}
	b.ReportMetric(float64(st.BudgetFlushes), "budget-flushes")
	b.ReportMetric(float64(st.Checkpoints), "checkpoints")
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
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
