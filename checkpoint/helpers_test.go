package checkpoint_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/lakestream/lakestream/internal/objstore"
	"github.com/lakestream/lakestream/table/hudi"
)

// openTable opens the table stored in b, failing the test on error.
func openTable(t *testing.T, b objstore.Store) *hudi.Table {
	t.Helper()
	tbl, err := hudi.Open(context.Background(), b)
	if err != nil {
		t.Fatal(err)
	}
	return tbl
}

// committedRows sums the rows written by the commits of instants.
func committedRows(t *testing.T, tbl *hudi.Table, instants []hudi.TimelineEntry) int64 {
	t.Helper()
	var rows int64
	for _, e := range instants {
		m, err := tbl.ReadCommitMetadata(context.Background(), e)
		if err != nil {
			t.Fatal(err)
		}
		for _, stats := range m.PartitionToWriteStats {
			for _, s := range stats {
				rows += s.NumWrites
			}
		}
	}
	return rows
}

// abortAfterCheckpoints aborts p's coordinator, from another goroutine,
// once it has made n checkpoints.
func abortAfterCheckpoints(p *pipeline, n int64) {
	go func() {
		for p.coord.Stats().Checkpoints < n {
			time.Sleep(time.Millisecond)
		}
		p.coord.Abort()
	}()
}

// storedParquetFiles counts the Parquet files under dt= in b.
func storedParquetFiles(b objstore.Store) int {
	var files int
	b.List(context.Background(), "dt=", func(o objstore.ObjectInfo) error {
		if strings.HasSuffix(o.Key, ".parquet") {
			files++
		}
		return nil
	})
	return files
}
