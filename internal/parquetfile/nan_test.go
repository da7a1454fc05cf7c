package parquetfile

import (
	"bytes"
	"fmt"
	"math"
	"testing"

	"github.com/parquet-go/parquet-go"
)

// TestNaNRowsAreNotSkipped: DuckDB compares NaN as larger than every
// number, so a chunk of 5 and NaN bounded [5, 5] would be skipped for
// "f > 7", which its NaN row matches. A chunk with a NaN has no bounds and
// no column index, the others keep theirs.
func TestNaNRowsAreNotSkipped(t *testing.T) {
	schema := parquet.NewSchema("n", newOrderedGroup([]string{"f", "g"},
		[]parquet.Node{parquet.Leaf(parquet.DoubleType), parquet.Leaf(parquet.FloatType)}))
	w, err := NewWriter(schema, WithPageBufferSize(64))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	w.Reset(&buf)
	f := func(v float64) parquet.Value { return parquet.DoubleValue(v).Level(0, 0, 0) }
	g := func(v float32) parquet.Value { return parquet.FloatValue(v).Level(0, 0, 1) }
	// Row group 0: f holds 5, 6 and NaN; g only numbers. Row group 1: f
	// only NaN, g 1 and NaN.
	groups := [][][]parquet.Value{
		{{f(5), f(6), f(5), f(math.NaN()), f(6)}, {g(1), g(2), g(3), g(4), g(5)}},
		{{f(math.NaN()), f(math.NaN())}, {g(1), g(float32(math.NaN()))}},
	}
	for _, cols := range groups {
		if err := w.WriteColumns(cols); err != nil {
			t.Fatal(err)
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	md := footer(t, buf.Bytes())
	for rg, c := range [][2]int{{0, 0}, {1, 0}, {1, 1}} {
		cc := md.RowGroups[c[0]].Columns[c[1]]
		if st := cc.MetaData.Statistics; st.MinValue != nil || st.MaxValue != nil || cc.ColumnIndexOffset != 0 {
			t.Errorf("chunk %d (row group %d column %d) has a NaN, but bounds %x %x or a column index at %d", rg, c[0], c[1], st.MinValue, st.MaxValue, cc.ColumnIndexOffset)
		}
	}
	if cc := md.RowGroups[0].Columns[1]; cc.MetaData.Statistics.MinValue == nil || cc.ColumnIndexOffset == 0 {
		t.Errorf("a chunk without NaN lost its bounds or column index")
	}
	db := openDuckDB(t)
	p := writeTemp(t, "n.parquet", buf.Bytes())
	for q, want := range map[string]int64{
		"f > 7":            3,
		"isnan(f)":         3,
		"f < 5.5":          2,
		"g > 4":            2, // 5 and NaN
		"g < 1.5":          2,
		"f = 'NaN'":        3,
		"f >= 5 AND g > 2": 4,
	} {
		var got int64
		if err := db.QueryRow(fmt.Sprintf(`SELECT count(*) FROM read_parquet('%s') WHERE %s`, p, q)).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("WHERE %s: %d rows, want %d", q, got, want)
		}
	}
}
