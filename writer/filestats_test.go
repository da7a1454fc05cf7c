package writer

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"sync"
	"testing"

	"github.com/parquet-go/parquet-go"

	"github.com/lakestream/lakestream/iceberg/filestats"
	"github.com/lakestream/lakestream/internal/objstore"
)

// TestFileStats: with WithFileStats, every file carries the Iceberg schema
// and column metrics of the footer it was uploaded with (as the publisher
// would read them back: filestats.ReadFooter of the stored file), for
// both encoders (parquetfile's, flat schemas; parquet-go's, a repeated
// list) and files with several row groups; WithAfterUpload sees each
// uploaded file once, with its metrics. Without WithFileStats, no metrics.
func TestFileStats(t *testing.T) {
	ctx := context.Background()
	repeated := parquet.NewSchema("tagged", newOrderedGroup(withMetaColumns(
		namedNode{"tags", parquet.FieldID(parquet.List(parquet.FieldID(parquet.Int(64), 8)), 6)},
		namedNode{"n", parquet.FieldID(parquet.Optional(parquet.Int(32)), 7)},
	)...))
	taggedRow := func(i int) parquet.Row {
		null := func(c int) parquet.Value { return parquet.NullValue().Level(0, 0, c) }
		row := parquet.Row{null(0), null(1), parquet.ByteArrayValue([]byte(testRec(i).key)).Level(0, 1, 2), null(3), null(4)}
		row = append(row, parquet.Int64Value(int64(i)).Level(0, 1, 5))
		if i%5 == 0 {
			return append(row, null(6))
		}
		return append(row, parquet.Int32Value(int32(i)).Level(0, 1, 6))
	}
	for _, c := range []struct {
		name   string
		schema *parquet.Schema
		row    func(i int) parquet.Row
		stats  bool
	}{
		{"flat", testSchema(), func(i int) parquet.Row { return makeRow(testRec(i)) }, true},
		{"parquet-go", repeated, taggedRow, true},
		{"off", testSchema(), func(i int) parquet.Row { return makeRow(testRec(i)) }, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := objstore.NewMemory()
			var mu sync.Mutex
			seen := map[string]File{}
			s, err := NewSet(b, c.schema, 3, WithSpoolDir(t.TempDir()), WithFileStats(c.stats), WithRowGroupBytes(8<<10), WithPageBufferSize(2<<10),
				WithTargetFileSize(32<<10), WithAfterUpload(func(f File) {
					mu.Lock()
					defer mu.Unlock()
					if _, ok := seen[f.Path]; ok {
						t.Errorf("%s: after-upload hook called twice", f.Path)
					}
					seen[f.Path] = f
				}))
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if err := s.Begin(testInstant, 1); err != nil {
				t.Fatal(err)
			}
			for i := range 6000 {
				if err := s.Write(ctx, fmt.Sprintf("p=%d", i%2), c.row(i), NoEventTime); err != nil {
					t.Fatal(err)
				}
			}
			files, err := s.Finish(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(files) < 4 || len(seen) != len(files) {
				t.Fatalf("%d files, the after-upload hook saw %d; want at least 4, all seen", len(files), len(seen))
			}
			rowGroups := 0
			for _, f := range files {
				if !reflect.DeepEqual(seen[f.Path], f) {
					t.Errorf("%s: the hook saw %+v, Finish returned %+v", f.Path, seen[f.Path], f)
				}
				if !c.stats {
					if f.Stats != nil {
						t.Errorf("%s: stats without WithFileStats", f.Path)
					}
					continue
				}
				md, err := filestats.ReadFooter(ctx, b, f.Path, f.SizeBytes)
				if err != nil {
					t.Fatal(err)
				}
				rowGroups += len(md.RowGroups)
				schema, cols, err := filestats.FromFooter(md)
				if err != nil {
					t.Fatal(err)
				}
				if f.Stats == nil {
					t.Fatalf("%s: no stats", f.Path)
				}
				if !json.Valid(f.Stats.Schema) || string(f.Stats.Schema) != string(schema) {
					t.Errorf("%s: schema\n%s\nthe footer's\n%s", f.Path, f.Stats.Schema, schema)
				}
				if !reflect.DeepEqual(f.Stats.Columns, cols) {
					t.Errorf("%s: columns\n%+v\nthe footer's\n%+v", f.Path, f.Stats.Columns, cols)
				}
				if len(cols) == 0 {
					t.Errorf("%s: no columns", f.Path)
				}
			}
			if c.stats && rowGroups <= len(files) {
				t.Errorf("%d row groups in %d files: want files of several row groups", rowGroups, len(files))
			}
		})
	}
}
