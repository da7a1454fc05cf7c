package writer

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/lakestream/lakestream/internal/objstore"
	"github.com/lakestream/lakestream/table/hudi/hudimeta"
	"github.com/parquet-go/parquet-go"
)

// partValues is a partition path's values for columns dt and hr:
// "dt=<dt>/hr=<hr>"; "null" stands for a null.
func partValues(bucket string) ([][]byte, error) {
	dt, hr, ok := strings.Cut(bucket, "/")
	if !ok {
		return nil, errors.New("not dt=/hr=")
	}
	var out [][]byte
	for _, seg := range []string{dt, hr} {
		_, v, _ := strings.Cut(seg, "=")
		if v == "null" {
			out = append(out, nil)
			continue
		}
		out = append(out, []byte(v))
	}
	return out, nil
}

// TestPartitionColumnsHoldThePathValues: each file's partition columns hold
// its partition path's values in every row, whatever the rows held, through
// Write, WriteBatch and the stage, with parquetfile (flat) and parquet-go
// (a repeated column).
func TestPartitionColumnsHoldThePathValues(t *testing.T) {
	ctx := context.Background()
	str := func(id int) parquet.Node { return parquet.FieldID(parquet.Optional(parquet.String()), id) }
	for _, repeated := range []bool{false, true} {
		cols := []namedNode{{"n", parquet.FieldID(parquet.Int(32), 6)}}
		if repeated {
			cols = append(cols, namedNode{"tags", parquet.FieldID(parquet.Repeated(parquet.Int(64)), 7)})
		}
		cols = append(cols, namedNode{"dt", str(8)}, namedNode{"hr", str(9)})
		schema := parquet.NewSchema("p", newOrderedGroup(withMetaColumns(cols...)...))
		makeRow := func(i int) parquet.Row {
			null := func(c int) parquet.Value { return parquet.NullValue().Level(0, 0, c) }
			row := parquet.Row{null(0), null(1), parquet.ByteArrayValue([]byte(testRec(i).key)).Level(0, 1, 2), null(3), null(4),
				parquet.Int32Value(int32(i)).Level(0, 0, 5)}
			c := 6
			if repeated {
				row = append(row, parquet.Int64Value(int64(i)).Level(0, 1, 6), parquet.Int64Value(int64(i+1)).Level(1, 1, 6))
				c = 7
			}
			// What a decoder leaves: a null, or (a record's own field of
			// that name) anything: the path's value wins.
			return append(row, null(c), parquet.ByteArrayValue([]byte("ignored")).Level(0, 1, c+1))
		}
		b := objstore.NewMemory()
		s, err := NewSet(b, schema, 7, WithSpoolDir(t.TempDir()), WithPartitionColumns([]string{"dt", "hr"}, partValues),
			WithMaxOpenFiles(1), WithMinFileSize(1<<30)) // a second bucket is staged
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if err := s.Begin(testInstant, 1); err != nil {
			t.Fatal(err)
		}
		paths := []string{"dt=2026-12-05/hr=07", "dt=2026-12-05/hr=null", "dt=2026-12-06/hr=08"}
		var parts []string
		var rows []parquet.Row
		var times []int64
		for i := range 300 {
			p := paths[i%3]
			if i < 100 {
				if err := s.Write(ctx, p, makeRow(i), NoEventTime); err != nil {
					t.Fatal(err)
				}
				continue
			}
			parts, rows, times = append(parts, p), append(rows, makeRow(i)), append(times, NoEventTime)
		}
		if k, err := s.WriteBatch(ctx, parts, rows, times); k != len(rows) || err != nil {
			t.Fatalf("WriteBatch = %d, %v", k, err)
		}
		files, err := s.Finish(ctx)
		if err != nil {
			t.Fatal(err)
		}
		seen := 0
		for _, f := range files {
			data, err := objstore.ReadAll(ctx, b, f.Path)
			if err != nil {
				t.Fatal(err)
			}
			v, _ := partValues(f.PartitionPath)
			wantDt, wantHr := string(v[0]), string(v[1])
			r := parquet.NewReader(strings.NewReader(string(data)))
			dtCol, hrCol := len(hudimeta.Columns)+len(cols)-2, len(hudimeta.Columns)+len(cols)-1 // the last two leaves
			for {
				buf := make([]parquet.Row, 32)
				k, err := r.ReadRows(buf)
				for _, row := range buf[:k] {
					seen++
					dt, hr := row[len(row)-2], row[len(row)-1]
					if dt.Column() != dtCol || hr.Column() != hrCol {
						t.Fatalf("partition columns at %d and %d, want %d and %d", dt.Column(), hr.Column(), dtCol, hrCol)
					}
					if string(dt.ByteArray()) != wantDt || hr.IsNull() != (v[1] == nil) || string(hr.ByteArray()) != wantHr {
						t.Fatalf("repeated %t: file of %s: row with dt %v hr %v", repeated, f.PartitionPath, dt, hr)
					}
				}
				if err != nil {
					break
				}
			}
			r.Close()
		}
		if seen != 300 {
			t.Fatalf("repeated %t: %d rows read back, want 300", repeated, seen)
		}
	}
}
