package writer

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/binary"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/lakestream/lakestream/internal/objstore"
	"github.com/parquet-go/parquet-go"
)

// TestLargeValuesHaveBoundedBounds: a value of 8 MiB (a url, with
// max_record_bytes raised) is not in the footer nor in the column index of
// a file of either encoder (a flat schema: parquetfile; with a list:
// parquet-go). Before, the footer held it twice (min and max of its
// chunk's statistics): 16 MiB. Every page index entry still holds its
// page's values (parquet-go wrote 16 bytes of 0xFF as the maximum of
// longer values of 0xFF bytes, below them), and DuckDB's filters on the
// columns return what a scan of every row finds.
func TestLargeValuesHaveBoundedBounds(t *testing.T) {
	for _, list := range []bool{false, true} {
		t.Run(fmt.Sprint("list ", list), func(t *testing.T) { testLargeValuesHaveBoundedBounds(t, list) })
	}
}

func testLargeValuesHaveBoundedBounds(t *testing.T, list bool) {
	ctx := context.Background()
	cols := withMetaColumns(
		namedNode{"url", parquet.FieldID(parquet.String(), 6)},
		namedNode{"blob", parquet.FieldID(parquet.Optional(parquet.Leaf(parquet.ByteArrayType)), 7)},
	)
	if list {
		cols = append(cols, namedNode{"tags", parquet.FieldID(parquet.List(parquet.Int(32)), 8)})
	}
	schema := parquet.NewSchema("large", newOrderedGroup(cols...))
	root := t.TempDir()
	b, err := objstore.NewFilesystem(root)
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewSet(b, schema, 7, WithSpoolDir(t.TempDir()), WithPageBufferSize(4<<10), WithRowGroupBytes(64<<10))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Begin(testInstant, 1); err != nil {
		t.Fatal(err)
	}
	huge := bytes.Repeat([]byte("https://example.org/"), 8<<20/20) // above the other urls: their chunk's max
	const n = 3000
	urls := make([][]byte, n)
	blobs := make([][]byte, n)
	for i := range n {
		urls[i] = fmt.Appendf(nil, "https://example.com/%s/page/%d", bytes.Repeat([]byte("long/"), i%30), i%97)
		if i%4 != 3 { // every fourth null
			// Values that start with 70 bytes of 0xFF: no bound of 64
			// bytes is above them.
			blobs[i] = append(bytes.Repeat([]byte{0xFF}, 70), byte(i))
			if i%3 == 0 {
				blobs[i] = binary.BigEndian.AppendUint32(nil, uint32(i))
			}
		}
	}
	urls[n/2] = huge
	for i := range n {
		null := func(c int) parquet.Value { return parquet.NullValue().Level(0, 0, c) }
		row := parquet.Row{null(0), null(1), parquet.ByteArrayValue(fmt.Appendf(nil, "key-%06d", i)).Level(0, 1, 2), null(3), null(4),
			parquet.ByteArrayValue(urls[i]).Level(0, 0, 5), null(6)}
		if blobs[i] != nil {
			row[6] = parquet.ByteArrayValue(blobs[i]).Level(0, 1, 6)
		}
		if list {
			row = append(row, parquet.Int32Value(int32(i)).Level(0, 1, 7))
		}
		if err := s.Write(ctx, "p", row, NoEventTime); err != nil {
			t.Fatal(err)
		}
	}
	files, err := s.Finish(ctx)
	if err != nil || len(files) != 1 {
		t.Fatalf("Finish = %d files, %v", len(files), err)
	}
	f, data := readFileAny(t, b, files[0].Path)
	footer := binary.LittleEndian.Uint32(data[len(data)-8:])
	var columnIndexes int64
	for _, rg := range f.Metadata().RowGroups {
		for _, cc := range rg.Columns {
			columnIndexes += int64(cc.ColumnIndexLength)
		}
	}
	if len(f.Metadata().RowGroups) < 3 {
		t.Errorf("%d row groups, want several", len(f.Metadata().RowGroups))
	}
	if footer > 32<<10 || columnIndexes > 256<<10 {
		t.Errorf("a value of %d bytes: file of %d bytes, footer of %d, column indexes of %d; want at most 32 KiB and 256 KiB",
			len(huge), len(data), footer, columnIndexes)
	}
	checkPageIndexHolds(t, f)

	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	p := filepath.Join(root, filepath.FromSlash(files[0].Path))
	if _, err := db.Exec(fmt.Sprintf(`CREATE TABLE scanned AS SELECT url, blob FROM read_parquet('%s')`, p)); err != nil {
		t.Fatal(err)
	}
	count := func(from, where string, args ...any) int64 {
		t.Helper()
		var k int64
		if err := db.QueryRow(fmt.Sprintf(`SELECT count(*) FROM %s WHERE %s`, from, where), args...).Scan(&k); err != nil {
			t.Fatalf("WHERE %s: %v", where, err)
		}
		return k
	}
	file := fmt.Sprintf("read_parquet('%s')", p)
	if k := count("scanned", "true"); k != n {
		t.Fatalf("%d rows scanned, want %d", k, n)
	}
	type pred struct {
		where string
		args  []any
	}
	preds := []pred{{"url = ?", []any{string(huge)}}, {"url > ?", []any{string(huge[:100])}}, {"url < ?", []any{string(huge[:100])}}}
	for i := 0; i < n; i += 151 {
		preds = append(preds, []pred{
			{"url = ?", []any{string(urls[i])}},
			{"url < ?", []any{string(urls[i])}},
			{"url > ?", []any{string(urls[i])}},
			{"url BETWEEN ? AND ?", []any{string(urls[i]), string(urls[(i*7)%n])}},
			{"url LIKE ?", []any{string(urls[i][:len(urls[i])/2]) + "%"}},
			{"blob = ?", []any{blobs[i]}},
			{"blob > ?", []any{blobs[i]}},
			{"blob < ?", []any{blobs[i]}},
		}...)
	}
	for _, c := range preds {
		if b, ok := c.args[0].([]byte); ok && b == nil {
			continue // a null blob
		}
		if got, want := count(file, c.where, c.args...), count("scanned", c.where, c.args...); got != want {
			t.Errorf("WHERE %s (%.40q): %d rows from the file, %d in a scan of every row", c.where, c.args[0], got, want)
		}
	}
}

// readFileAny opens a file of any schema.
func readFileAny(t *testing.T, b objstore.Store, key string) (*parquet.File, []byte) {
	t.Helper()
	data, err := objstore.ReadAll(context.Background(), b, key)
	if err != nil {
		t.Fatal(err)
	}
	f, err := parquet.OpenFile(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatalf("open %s: %v", key, err)
	}
	return f, data
}

// checkPageIndexHolds checks that every page's column index bounds hold
// its values.
func checkPageIndexHolds(t *testing.T, f *parquet.File) {
	t.Helper()
	for g, rg := range f.RowGroups() {
		for c, chunk := range rg.ColumnChunks() {
			ci, err := chunk.ColumnIndex()
			if err != nil || ci == nil || ci.NumPages() == 0 {
				continue // none (a maximum without a bounded bound)
			}
			typ := chunk.Type()
			pages := chunk.Pages()
			for p := 0; ; p++ {
				page, err := pages.ReadPage()
				if err != nil {
					break
				}
				if lo, hi, ok := page.Bounds(); ok && p < ci.NumPages() {
					if typ.Compare(ci.MinValue(p), lo) > 0 || typ.Compare(ci.MaxValue(p), hi) < 0 {
						t.Errorf("row group %d column %d page %d: index bounds [%.40q, %.40q] do not hold [%.40q, %.40q]",
							g, c, p, ci.MinValue(p).ByteArray(), ci.MaxValue(p).ByteArray(), lo.ByteArray(), hi.ByteArray())
					}
				}
				parquet.Release(page)
			}
			pages.Close()
		}
	}
}
