package parquetfile

import (
	"bytes"
	"testing"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"
)

// TestDictionaryKeptWhilePays: with a dictionary for every kind, a column
// of unique values writes PLAIN after its first chunk shows the dictionary
// does not pay (for dictionaryRetry chunks, then tries again), while a
// column of repeating values keeps it; a column the schema asks a
// dictionary of keeps it whatever it costs; a chunk of fewer than
// minJudgedValues values is not judged.
func TestDictionaryKeptWhilePays(t *testing.T) {
	schema := parquet.NewSchema("d", newOrderedGroup([]string{"unique", "repeats", "asked"},
		[]parquet.Node{parquet.Int(64), parquet.Int(64), parquet.Encoded(parquet.Int(64), &parquet.RLEDictionary)}))
	w, err := NewWriter(schema, WithDictionary(parquet.Int64))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	w.Reset(&buf)
	const chunks, rows = dictionaryRetry + 3, minJudgedValues
	for g := range chunks {
		cols := make([][]parquet.Value, 3)
		for i := range rows {
			n := int64(g*rows + i)
			cols[0] = append(cols[0], parquet.Int64Value(n).Level(0, 0, 0))
			cols[1] = append(cols[1], parquet.Int64Value(n%10).Level(0, 0, 1))
			cols[2] = append(cols[2], parquet.Int64Value(n).Level(0, 0, 2))
		}
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
	hasDict := func(g, c int) bool { return md.RowGroups[g].Columns[c].MetaData.DictionaryPageOffset != 0 }
	for g := range chunks {
		// Chunk 0 tries the dictionary; the next dictionaryRetry are PLAIN;
		// then it tries again.
		if want := g == 0 || g == dictionaryRetry+1; hasDict(g, 0) != want {
			t.Errorf("row group %d: unique column has a dictionary %t, want %t", g, hasDict(g, 0), want)
		}
		if !hasDict(g, 1) || !hasDict(g, 2) {
			t.Errorf("row group %d: repeating column dictionary %t, asked-for dictionary %t; want both", g, hasDict(g, 1), hasDict(g, 2))
		}
		if enc := md.RowGroups[g].Columns[0].MetaData.Encoding; !hasDict(g, 0) && len(enc) != 1 || !hasDict(g, 0) && enc[0] != format.Plain {
			t.Errorf("row group %d: PLAIN chunk lists encodings %v", g, enc)
		}
	}
}

// TestSmallChunksAreNotJudged: chunks of fewer than minJudgedValues unique
// values (files cut short by a checkpoint) keep their dictionary: they say
// little about the column.
func TestSmallChunksAreNotJudged(t *testing.T) {
	schema := parquet.NewSchema("d", parquet.Group{"s": parquet.String()})
	w, err := NewWriter(schema)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	w.Reset(&buf)
	for g := range 3 {
		var col []parquet.Value
		for i := range 100 {
			col = append(col, parquet.ByteArrayValue([]byte{byte(g), byte(i)}).Level(0, 0, 0))
		}
		if err := w.WriteColumns([][]parquet.Value{col}); err != nil {
			t.Fatal(err)
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	for g, rg := range footer(t, buf.Bytes()).RowGroups {
		if rg.Columns[0].MetaData.DictionaryPageOffset == 0 {
			t.Errorf("row group %d: no dictionary after small chunks", g)
		}
	}
}

// TestNullPagesDoNotCountAgainstTheDictionary: pages of only nulls are
// PLAIN (they have no index to write), but a chunk of repeating values
// between them paid for its dictionary and keeps it in the next chunk.
func TestNullPagesDoNotCountAgainstTheDictionary(t *testing.T) {
	schema := parquet.NewSchema("d", parquet.Group{"s": parquet.Optional(parquet.String())})
	w, err := NewWriter(schema, WithPageBufferSize(4<<10))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	w.Reset(&buf)
	for range 3 {
		// A run of nulls long enough to fill pages of its own, then values
		// of ten kinds.
		var col []parquet.Value
		for range 40_000 {
			col = append(col, parquet.NullValue().Level(0, 0, 0))
		}
		for i := range 2 * minJudgedValues {
			col = append(col, parquet.ByteArrayValue([]byte{'v', byte('0' + i%10)}).Level(0, 1, 0))
		}
		if err := w.WriteColumns([][]parquet.Value{col}); err != nil {
			t.Fatal(err)
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	for g, rg := range footer(t, buf.Bytes()).RowGroups {
		md := rg.Columns[0].MetaData
		plainPages := 0
		for _, st := range md.EncodingStats {
			if st.PageType == format.DataPage && st.Encoding == format.Plain {
				plainPages += int(st.Count)
			}
		}
		if plainPages == 0 {
			t.Fatalf("row group %d: no PLAIN page of nulls; the test does not test what it says", g)
		}
		if md.DictionaryPageOffset == 0 {
			t.Errorf("row group %d: no dictionary (encoding stats %v)", g, md.EncodingStats)
		}
	}
}
