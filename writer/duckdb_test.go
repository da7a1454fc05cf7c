package writer

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"

	_ "github.com/duckdb/duckdb-go/v2"
	"github.com/lakestream/lakestream/internal/objstore"
)

// TestDuckDBReadsFiles checks that an independent reader (DuckDB's Parquet
// reader) reads the files: counts, meta columns, a timestamp and nulls.
// TestDuckDBReadsFiles has DuckDB read files written by Write and by
// WriteBatch, with each zstd level.
func TestDuckDBReadsFiles(t *testing.T) {
	for _, c := range []struct {
		name, compression string
		batch             bool
	}{{"write", "zstd", false}, {"batch", "zstd", true}, {"batch zstd-fast", "zstd-fast", true}} {
		t.Run(c.name, func(t *testing.T) { testDuckDBReadsFiles(t, c.compression, c.batch) })
	}
}

func testDuckDBReadsFiles(t *testing.T, compression string, batch bool) {
	ctx := context.Background()
	root := t.TempDir()
	b, err := objstore.NewFilesystem(root)
	if err != nil {
		t.Fatal(err)
	}
	// Small pages and row groups so that the file has several of each, and
	// a dictionary bound the unique columns exceed (dictionary then PLAIN
	// pages in one chunk).
	s := newTestSet(t, b, WithPageBufferSize(4<<10), WithRowGroupBytes(32<<10), WithDictionaryMaxBytes(8<<10), WithCompression(compression))
	if err := s.Begin(testInstant, 5); err != nil {
		t.Fatal(err)
	}
	const n = 5000
	if batch {
		writeAll(t, s, n, 1000, func(int) string { return "dt=2026-11-01" })
	} else {
		for i := range n {
			r := testRec(i)
			if err := s.Write(ctx, "dt=2026-11-01", makeRow(r), r.eventTime); err != nil {
				t.Fatal(err)
			}
		}
	}
	files, err := s.Finish(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 1 {
		t.Fatalf("%d files, want 1", len(files))
	}
	f := files[0]

	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	p := filepath.Join(root, filepath.FromSlash(f.Path))
	var (
		count                             int64
		minSeqno, fileName, partitionPath string
		commitTimes, seqnos, referrers    int64
		minTS, maxTS                      int64
		sumUser                           int64
	)
	q := fmt.Sprintf(`SELECT count(*), min(_hoodie_commit_seqno), any_value(_hoodie_file_name),
		any_value(_hoodie_partition_path), count(DISTINCT _hoodie_commit_time), count(DISTINCT _hoodie_commit_seqno),
		count(referrer), epoch_us(min(eventTime)), epoch_us(max(eventTime)), sum(userId)
		FROM read_parquet('%s')`, p)
	if err := db.QueryRowContext(ctx, q).Scan(&count, &minSeqno, &fileName, &partitionPath, &commitTimes, &seqnos,
		&referrers, &minTS, &maxTS, &sumUser); err != nil {
		t.Fatal(err)
	}
	var wantRefs, wantSum int64
	for i := range n {
		r := testRec(i)
		if r.referrer != nil {
			wantRefs++
		}
		wantSum += r.userID
	}
	if count != n || count != f.Records {
		t.Errorf("count(*) = %d, want %d", count, n)
	}
	if want := testInstant + "_7_0"; minSeqno != want {
		t.Errorf("min(_hoodie_commit_seqno) = %q, want %q", minSeqno, want)
	}
	if fileName != filepath.Base(p) || partitionPath != "dt=2026-11-01" || commitTimes != 1 || seqnos != n {
		t.Errorf("file %q partition %q, %d commit times, %d seqnos", fileName, partitionPath, commitTimes, seqnos)
	}
	if referrers != wantRefs || sumUser != wantSum {
		t.Errorf("count(referrer) = %d, sum(userId) = %d; want %d, %d", referrers, sumUser, wantRefs, wantSum)
	}
	if minTS != f.MinEventTime || maxTS != f.MaxEventTime {
		t.Errorf("eventTime [%d, %d], File says [%d, %d]", minTS, maxTS, f.MinEventTime, f.MaxEventTime)
	}
	// DuckDB sees the field IDs and several row groups.
	var rowGroups int64
	if err := db.QueryRowContext(ctx, fmt.Sprintf(`SELECT count(DISTINCT row_group_id) FROM parquet_metadata('%s')`, p)).Scan(&rowGroups); err != nil {
		t.Fatal(err)
	}
	if rowGroups < 2 {
		t.Errorf("%d row groups", rowGroups)
	}
	var fieldID sql.NullInt64
	if err := db.QueryRowContext(ctx, fmt.Sprintf(`SELECT field_id FROM parquet_schema('%s') WHERE name = 'eventTime'`, p)).Scan(&fieldID); err != nil {
		t.Fatal(err)
	}
	if !fieldID.Valid || fieldID.Int64 != 10 {
		t.Errorf("eventTime field_id = %v, want 10", fieldID)
	}
}
