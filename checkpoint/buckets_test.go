package checkpoint_test

import (
	"testing"
	"time"

	"github.com/lakestream/lakestream/checkpoint"
	"github.com/lakestream/lakestream/internal/objstore"
	"github.com/lakestream/lakestream/writer"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestManyBucketsMakeOneFileEach is the short version of
// BenchmarkManyBuckets: 500 buckets, 2 workers with 2 open files each. The
// buckets without a file are staged and written at the checkpoint, so every
// file below the minimum size is one a checkpoint cut, a bucket has one
// file per worker and checkpoint, and every record is committed once.
func TestManyBucketsMakeOneFileEach(t *testing.T) {
	const (
		buckets = 500
		records = 5000
		minFile = 1 << 20
	)
	root := t.TempDir()
	bucket, err := objstore.NewFilesystem(root)
	if err != nil {
		t.Fatal(err)
	}
	end := time.Now().UTC().Truncate(time.Hour)
	recs := make([]*kgo.Record, records)
	for i := range recs {
		recs[i] = manyBucketRecord(i, buckets, end)
	}
	p := newPipelineWith(t, bucket, 2, recs, "",
		[]writer.Option{writer.WithMaxOpenFiles(2), writer.WithMinFileSize(minFile), writer.WithStageMemory(4 << 20)},
		checkpoint.WithInterval(time.Hour), checkpoint.WithMemoryBudget(1<<20))
	p.run(t)
	st := p.coord.Stats()
	if st.RowsCommitted != records {
		t.Fatalf("committed %d rows, want %d", st.RowsCommitted, records)
	}
	files := baseFiles(t, root)
	if n := smallNotCut(files, minFile); n != 0 {
		t.Errorf("%d files below %d bytes were not cut by a checkpoint", n, minFile)
	}
	perGroup := map[fileGroup]int{}
	for _, f := range files {
		g := f.group()
		if perGroup[g]++; perGroup[g] > 1 {
			t.Errorf("bucket %s has %d files in checkpoint %d of worker %d, want 1", g.partition, perGroup[g], g.checkpoint, g.worker)
		}
	}
	if len(perGroup) < buckets {
		t.Errorf("files in %d buckets, want at least %d", len(perGroup), buckets)
	}
	if st.RowsStaged == 0 || st.RowsStaged >= records {
		t.Errorf("%d of %d rows staged: want most of them (2 open files for 500 buckets), not all", st.RowsStaged, records)
	}
	if st.BudgetFlushes == 0 {
		t.Errorf("no budget flush with a 1 MiB budget: the staged rows are not counted")
	}
	// DuckDB over the snapshot: every record once.
	if rows, distinct := countPositions(t, p, root); rows != records || distinct != records {
		t.Errorf("snapshot has %d rows, %d distinct positions; want %d", rows, distinct, records)
	}
}
