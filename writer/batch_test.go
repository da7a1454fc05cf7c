package writer

import (
	"context"
	"errors"
	"path"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/lakestream/lakestream/internal/objstore"
	"github.com/lakestream/lakestream/table/hudi/hudimeta"
	"github.com/parquet-go/parquet-go"
)

// batchOf returns the rows, buckets and event times of records lo..hi-1,
// record i going to part(i).
func batchOf(lo, hi int, part func(i int) string) ([]string, []parquet.Row, []int64) {
	var parts []string
	var rows []parquet.Row
	var times []int64
	for i := lo; i < hi; i++ {
		r := testRec(i)
		parts = append(parts, part(i))
		rows = append(rows, makeRow(r))
		times = append(times, r.eventTime)
	}
	return parts, rows, times
}

// writeAll writes records 0..n-1 with WriteBatch, size rows a call.
func writeAll(t *testing.T, s *Set, n, size int, part func(i int) string) {
	t.Helper()
	for lo := 0; lo < n; lo += size {
		parts, rows, times := batchOf(lo, min(lo+size, n), part)
		before := make([]parquet.Row, len(rows))
		for i, row := range rows {
			before[i] = row.Clone()
		}
		got, err := s.WriteBatch(context.Background(), parts, rows, times)
		if err != nil || got != len(rows) {
			t.Fatalf("WriteBatch of %d rows = %d, %v", len(rows), got, err)
		}
		for i, row := range rows {
			if !row.Equal(before[i]) {
				t.Fatalf("WriteBatch modified the caller's row %d", lo+i)
			}
		}
	}
}

// readByBucket reads files back: bucket -> records in file order,
// the file name column checked against the file and then cleared (file
// names hold a random file ID).
func readByBucket(t *testing.T, b objstore.Store, files []File) map[string][]rec {
	t.Helper()
	out := map[string][]rec{}
	for _, f := range files {
		pf, recs := readFile(t, b, f.Path)
		for i := range recs {
			if recs[i].fileName != path.Base(f.Path) {
				t.Errorf("%s: row %s has file name %q", f.Path, recs[i].key, recs[i].fileName)
			}
			recs[i].fileName = ""
		}
		out[f.PartitionPath] = append(out[f.PartitionPath], recs...)
		for _, k := range []string{hudimeta.MinRecordKey, hudimeta.MaxRecordKey} {
			v, _ := footerValue(pf.Metadata(), k)
			keys := make([]string, len(recs))
			for i, r := range recs {
				keys[i] = r.key
			}
			want := slices.Min(keys)
			if k == hudimeta.MaxRecordKey {
				want = slices.Max(keys)
			}
			if v != want {
				t.Errorf("%s: footer %s = %q, want %q", f.Path, k, v, want)
			}
		}
	}
	return out
}

// TestWriteBatchMatchesWrite writes the same records with Write and with
// WriteBatch (runs of a bucket, interleaved rows, batch sizes that cut
// runs) and compares the rows and the File descriptions read back.
func TestWriteBatchMatchesWrite(t *testing.T) {
	ctx := context.Background()
	parts := []string{"dt=2026-11-01/hour=10", "dt=2026-11-01/hour=11", "dt=2026-11-02/hour=00"}
	// Runs of 300 rows, then every row in another bucket, then runs
	// of 250 rows.
	part := func(i int) string {
		switch {
		case i < 1500:
			return parts[i/300%len(parts)]
		case i < 2000:
			return parts[i%len(parts)]
		}
		return parts[i/250%len(parts)]
	}
	const n = 2500
	for _, size := range []int{1, 7, 1024, n} {
		rowB, batchB := objstore.NewMemory(), objstore.NewMemory()
		rowS, batchS := newTestSet(t, rowB), newTestSet(t, batchB)
		for _, s := range []*Set{rowS, batchS} {
			if err := s.Begin(testInstant, 3); err != nil {
				t.Fatal(err)
			}
		}
		for i := range n {
			writeRec(t, rowS, part(i), i)
		}
		writeAll(t, batchS, n, size, part)
		rowFiles, err := rowS.Finish(ctx)
		if err != nil {
			t.Fatal(err)
		}
		batchFiles, err := batchS.Finish(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(rowFiles) != len(parts) || len(batchFiles) != len(parts) {
			t.Fatalf("batch size %d: %d files by Write, %d by WriteBatch, want %d", size, len(rowFiles), len(batchFiles), len(parts))
		}
		for i := range rowFiles {
			rf, bf := rowFiles[i], batchFiles[i]
			// Same files but for the random file ID in names.
			rf.Path, rf.FileID, rf.SizeBytes = "", "", 0
			bf.Path, bf.FileID, bf.SizeBytes = "", "", 0
			if rf != bf {
				t.Errorf("batch size %d: file %d is %+v by Write, %+v by WriteBatch", size, i, rf, bf)
			}
		}
		want, got := readByBucket(t, rowB, rowFiles), readByBucket(t, batchB, batchFiles)
		for _, p := range parts {
			if len(want[p]) == 0 || !slices.EqualFunc(want[p], got[p], recEqual) {
				t.Errorf("batch size %d: bucket %s: %d rows by Write, %d by WriteBatch, or they differ", size, p, len(want[p]), len(got[p]))
			}
		}
	}
}

func recEqual(a, b rec) bool {
	ra, rb := a.referrer, b.referrer
	a.referrer, b.referrer = nil, nil
	return a == b && (ra == nil) == (rb == nil) && (ra == nil || *ra == *rb)
}

// TestWriteBatchRollBySize checks that WriteBatch rolls files and flushes
// row groups near their sizes although it checks them between runs, and
// that sequence numbers count the rows of each file.
func TestWriteBatchRollBySize(t *testing.T) {
	ctx := context.Background()
	b := objstore.NewMemory()
	s := newTestSet(t, b, WithTargetFileSize(32<<10), WithRowGroupBytes(8<<10), WithPageBufferSize(2<<10))
	if err := s.Begin(testInstant, 1); err != nil {
		t.Fatal(err)
	}
	const n = 6000
	for lo := 0; lo < n; lo += 1000 {
		parts, rows, times := batchOf(lo, lo+1000, func(int) string { return "p" })
		if got, err := s.WriteBatch(ctx, parts, rows, times); err != nil || got != len(rows) {
			t.Fatalf("WriteBatch = %d, %v", got, err)
		}
		if bb := bufferedRowGroups(s); bb > 8<<10+32<<10 {
			t.Fatalf("row groups of %d bytes buffered: they are not flushed", bb)
		}
	}
	files := finishRolledBySize(t, s, 32<<10/4)
	checkAllRows(t, b, files, n, func(int) string { return "p" })
	for _, f := range files {
		pf, recs := readFile(t, b, f.Path)
		for i, r := range recs {
			if want := testInstant + "_7_" + strconv.Itoa(i); r.seqno != want {
				t.Fatalf("%s: row %d has sequence number %q, want %q", f.Path, i, r.seqno, want)
			}
		}
		if f.SizeBytes > 16<<10 && len(pf.RowGroups()) < 2 {
			t.Errorf("%d row groups in a file of %d bytes with 8 KiB row groups", len(pf.RowGroups()), f.SizeBytes)
		}
	}
}

// TestWriteBatchBadRow checks that a batch stops at an invalid row: the
// rows before it are written, it and the rows after it are not.
func TestWriteBatchBadRow(t *testing.T) {
	ctx := context.Background()
	b := objstore.NewMemory()
	s := newTestSet(t, b)
	if err := s.Begin(testInstant, 1); err != nil {
		t.Fatal(err)
	}
	parts, rows, times := batchOf(0, 10, func(int) string { return "p" })
	rows[4] = rows[4][:5] // short
	n, err := s.WriteBatch(ctx, parts, rows, times)
	if n != 4 || err == nil {
		t.Fatalf("WriteBatch with row 4 bad = %d, %v; want 4 and an error", n, err)
	}
	// The first row bad: nothing is written, no file opened.
	if n, err := s.WriteBatch(ctx, []string{"q"}, rows[4:5], times[4:5]); n != 0 || err == nil {
		t.Fatalf("WriteBatch of a bad row = %d, %v", n, err)
	}
	if s.OpenFiles() != 1 {
		t.Errorf("%d open files, want 1", s.OpenFiles())
	}
	if n, err := s.WriteBatch(ctx, parts[5:], rows[5:], times[5:]); n != 5 || err != nil {
		t.Fatalf("WriteBatch of the rest = %d, %v", n, err)
	}
	if n, err := s.WriteBatch(ctx, parts[:1], rows, times); n != 0 || err == nil {
		t.Errorf("WriteBatch with slices of different lengths = %d, %v", n, err)
	}
	files, err := s.Finish(ctx)
	if err != nil || len(files) != 1 || files[0].Records != 9 {
		t.Fatalf("Finish = %+v, %v; want one file of 9 records", files, err)
	}
	_, recs := readFile(t, b, files[0].Path)
	for _, r := range recs {
		if r.key == testRec(4).key {
			t.Errorf("the bad row was written")
		}
	}
}

// TestWriteBatchUploadFailure checks that an upload error stops a batch
// and that writing the rest later writes every row once.
func TestWriteBatchUploadFailure(t *testing.T) {
	ctx := context.Background()
	s, _, mem := newFlakyUploadSet(t)
	const n = 3000
	part := func(i int) string { return []string{"x", "y", "z"}[i/100%3] }
	parts, rows, times := batchOf(0, n, part)
	failures := 0
	for done := 0; done < n; {
		k, err := s.WriteBatch(ctx, parts[done:], rows[done:], times[done:])
		done += k
		if errors.Is(err, objstore.ErrInjected) {
			failures++
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if done != n {
			t.Fatalf("WriteBatch wrote %d rows of %d without an error", k, n-done+k)
		}
	}
	if failures == 0 {
		t.Fatalf("no upload failed during the writes")
	}
	files := finishRetrying(t, s)
	checkAllRows(t, mem, files, n, part)
}

// TestWriteBatchRepeatedColumn covers schemas with a repeated column, whose
// rows WriteBatch splits by column: the rows read back are the rows
// written by Write.
func TestWriteBatchRepeatedColumn(t *testing.T) {
	ctx := context.Background()
	schema := parquet.NewSchema("tagged", newOrderedGroup(withMetaColumns(
		namedNode{"tags", parquet.FieldID(parquet.Repeated(parquet.Int(64)), 6)},
		namedNode{"n", parquet.FieldID(parquet.Int(32), 7)},
	)...))
	makeTagged := func(i int) parquet.Row {
		null := func(c int) parquet.Value { return parquet.NullValue().Level(0, 0, c) }
		row := parquet.Row{null(0), null(1), parquet.ByteArrayValue([]byte(testRec(i).key)).Level(0, 1, 2), null(3), null(4)}
		if i%4 == 0 {
			row = append(row, parquet.NullValue().Level(0, 0, 5)) // no tags
		}
		for k := range i % 4 {
			rep := 1
			if k == 0 {
				rep = 0
			}
			row = append(row, parquet.Int64Value(int64(i*10+k)).Level(rep, 1, 5))
		}
		return append(row, parquet.Int32Value(int32(i)).Level(0, 0, 6))
	}
	const n = 500
	read := func(s *Set, b objstore.Store) []parquet.Row {
		files, err := s.Finish(ctx)
		if err != nil || len(files) != 1 {
			t.Fatalf("Finish = %d files, %v", len(files), err)
		}
		data, err := objstore.ReadAll(ctx, b, files[0].Path)
		if err != nil {
			t.Fatal(err)
		}
		r := parquet.NewReader(strings.NewReader(string(data)))
		defer r.Close()
		var rows []parquet.Row
		for {
			buf := make([]parquet.Row, 16)
			k, err := r.ReadRows(buf)
			for _, row := range buf[:k] {
				row[4] = parquet.Value{} // the file name
				rows = append(rows, row)
			}
			if err != nil {
				break
			}
		}
		return rows
	}
	var sets [2]*Set
	var buckets [2]objstore.Store
	for k := range sets {
		buckets[k] = objstore.NewMemory()
		var err error
		if sets[k], err = NewSet(buckets[k], schema, 7, WithSpoolDir(t.TempDir())); err != nil {
			t.Fatal(err)
		}
		defer sets[k].Close()
		if err := sets[k].Begin(testInstant, 1); err != nil {
			t.Fatal(err)
		}
	}
	var parts []string
	var rows []parquet.Row
	var times []int64
	for i := range n {
		if err := sets[0].Write(ctx, "p", makeTagged(i), NoEventTime); err != nil {
			t.Fatal(err)
		}
		parts, rows, times = append(parts, "p"), append(rows, makeTagged(i)), append(times, NoEventTime)
	}
	if k, err := sets[1].WriteBatch(ctx, parts, rows, times); k != n || err != nil {
		t.Fatalf("WriteBatch = %d, %v", k, err)
	}
	want, got := read(sets[0], buckets[0]), read(sets[1], buckets[1])
	if len(want) != n || !slices.EqualFunc(want, got, parquet.Row.Equal) {
		t.Fatalf("%d rows by Write, %d by WriteBatch, or they differ", len(want), len(got))
	}
	if got[5][5].Int64() != 50 || len(got[7]) != 5+3+1 {
		t.Errorf("rows read back do not hold the tags: %v, %v", got[5], got[7])
	}
}
