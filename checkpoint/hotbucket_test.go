package checkpoint_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/lakestream/lakestream/checkpoint"
	"github.com/lakestream/lakestream/internal/objstore"
	"github.com/twmb/franz-go/pkg/kgo"
)

// BenchmarkHotBucket: every record in one event hour (one bucket), 1 and 2
// workers. With the hot-bucket split the bucket is written by every
// worker, so throughput can scale with workers; reports records/s and
// files per checkpoint. Run with -cpu 2. One op is one record.
func BenchmarkHotBucket(b *testing.B) {
	for _, workers := range []int{1, 2} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			recs := hotBucketRecords(b.N)
			root := b.TempDir()
			bucket, err := objstore.NewFilesystem(root)
			if err != nil {
				b.Fatal(err)
			}
			p := newPipeline(b, bucket, workers, recs, checkpoint.WithInterval(250*time.Millisecond))
			b.ResetTimer()
			p.run(b)
			b.StopTimer()
			st := p.coord.Stats()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
			if st.Checkpoints > 0 {
				b.ReportMetric(float64(st.Files)/float64(st.Checkpoints), "files/checkpoint")
			}
			b.ReportMetric(float64(len(p.router.HotBuckets())), "hot-buckets")
		})
	}
}

// hotBucketRecords makes n pageview records whose event times all fall in
// the current hour: one bucket.
func hotBucketRecords(n int) []*kgo.Record {
	end := time.Now().UTC().Truncate(time.Hour).Add(59 * time.Minute)
	recs := pageviewRecords(n, end)
	for i, r := range recs {
		at := end.Add(-time.Duration(i%3000) * time.Second)
		r.Value = []byte(fmt.Sprintf(`{"userId":%d,"sessionNumber":%d,"pageNumber":%d,"url":"https://shop.example.com/products/%d?ref=home","referrer":"https://www.google.com/search?q=shoes+%d","userAgent":"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36","eventTime":"%s"}`,
			100000+i*7919%900000, i%50, i%30, i%10000, i%1000, at.UTC().Format("2006-01-02T15:04:05.000Z")))
		r.Timestamp = at
	}
	return recs
}

// TestHotBucketIsWrittenByEveryWorker is the short version of
// BenchmarkHotBucket: with every record in one bucket, both workers write
// a file of it (the bucket is split, not serialized onto its key group's
// worker), and every record is committed once.
func TestHotBucketIsWrittenByEveryWorker(t *testing.T) {
	const n = 20000
	root := t.TempDir()
	bucket, err := objstore.NewFilesystem(root)
	if err != nil {
		t.Fatal(err)
	}
	p := newPipeline(t, bucket, 2, hotBucketRecords(n), checkpoint.WithInterval(time.Hour))
	p.run(t)
	filesBy := map[int64]int{}
	partitions := map[string]bool{}
	for _, f := range baseFiles(t, root) {
		filesBy[f.token.worker]++
		partitions[f.partition] = true
	}
	if len(partitions) != 1 || filesBy[0] == 0 || filesBy[1] == 0 {
		t.Errorf("files by worker %v in %d buckets; want files of both workers in 1 bucket", filesBy, len(partitions))
	}
	if rows, distinct := countPositions(t, p, root); rows != n || distinct != n {
		t.Errorf("snapshot has %d rows, %d distinct positions; want %d", rows, distinct, n)
	}
}
