package checkpoint

import (
	"bufio"
	"database/sql"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/lakestream/lakestream/internal/objstore"
)

// BenchmarkPipeline measures the pipeline in process: records already
// fetched (JSON pageviews of about 300 bytes) are decoded, bucketed by event
// hour and written as zstd Parquet to the local filesystem, with a commit
// every 250ms and a final one. One op is one record. Run with -cpu 1,2.
// file-B/record is the size of the table's Parquet files per record: it
// grows with the number of commits (more, smaller files), so compare it
// between runs with the same number of commits.
func BenchmarkPipeline(b *testing.B) {
	recs := pageviewRecords(b.N, time.Now().UTC())
	var bytes int64
	for _, r := range recs {
		bytes += int64(len(r.Value))
	}
	root := b.TempDir()
	bucket, err := objstore.NewFilesystem(root)
	if err != nil {
		b.Fatal(err)
	}
	p := newPipeline(b, bucket, runtime.GOMAXPROCS(0), recs, WithInterval(250*time.Millisecond), WithEventTimeBounds(0, 0))
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	p.run(b)
	elapsed := time.Since(start)
	b.StopTimer()
	st := p.coord.Stats()
	if st.RowsCommitted != int64(b.N) {
		b.Fatalf("committed %d rows, want %d", st.RowsCommitted, b.N)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "records/s")
	b.ReportMetric(float64(bytes)/elapsed.Seconds()/1e6, "MB/s")
	b.ReportMetric(float64(st.Checkpoints), "commits")
	b.ReportMetric(float64(parquetBytes(b, root))/float64(b.N), "file-B/record")
}

// parquetBytes returns the total size of the Parquet files under root.
func parquetBytes(tb testing.TB, root string) int64 {
	tb.Helper()
	var n int64
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || filepath.Ext(path) != ".parquet" {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		n += info.Size()
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	return n
}

// BenchmarkDuckDBReference is the reference for BenchmarkPipeline: DuckDB
// converting the same records, as a JSON-lines file, to zstd Parquet with
// as many threads as GOMAXPROCS. One op is one record.
func BenchmarkDuckDBReference(b *testing.B) {
	recs := pageviewRecords(b.N, time.Now().UTC())
	dir := b.TempDir()
	in := filepath.Join(dir, "pageviews.jsonl")
	f, err := os.Create(in)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriter(f)
	var bytes int64
	for _, r := range recs {
		w.Write(r.Value)
		w.WriteByte('\n')
		bytes += int64(len(r.Value))
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	f.Close()
	db, err := sql.Open("duckdb", "")
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if _, err := db.Exec(fmt.Sprintf("SET threads = %d", runtime.GOMAXPROCS(0))); err != nil {
		b.Fatal(err)
	}
	q := fmt.Sprintf(`COPY (SELECT * FROM read_json('%s', format = 'newline_delimited', columns = {userId: 'BIGINT', sessionNumber: 'INTEGER',
		pageNumber: 'INTEGER', url: 'VARCHAR', referrer: 'VARCHAR', userAgent: 'VARCHAR', eventTime: 'TIMESTAMPTZ'}))
		TO '%s' (FORMAT parquet, COMPRESSION zstd)`, in, filepath.Join(dir, "out.parquet"))
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	if _, err := db.Exec(q); err != nil {
		b.Fatal(err)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "records/s")
	b.ReportMetric(float64(bytes)/elapsed.Seconds()/1e6, "MB/s")
}
