package parquetfile

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"
)

// writeParquetGo writes rows with parquet-go's writer, as the writer
// package configures it, in one row group.
func writeParquetGo(t testing.TB, schema *parquet.Schema, rows []parquet.Row, opts ...parquet.WriterOption) []byte {
	t.Helper()
	var buf bytes.Buffer
	pw := parquet.NewWriter(&buf, append([]parquet.WriterOption{schema, parquet.DataPageVersion(1),
		parquet.DefaultEncodingFor(parquet.ByteArray, &parquet.RLEDictionary), parquet.CreatedBy("lakestream", "test", "x")}, opts...)...)
	if _, err := pw.WriteRows(rows); err != nil {
		t.Fatal(err)
	}
	if err := pw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func writeOurs(t testing.TB, schema *parquet.Schema, rows []parquet.Row, opts ...Option) []byte {
	t.Helper()
	w, err := NewWriter(schema, opts...)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	w.Reset(&buf)
	if err := w.WriteRows(rows); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func footer(t testing.TB, data []byte) *format.FileMetaData {
	t.Helper()
	f, err := parquet.OpenFile(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	return f.Metadata()
}

// TestFooterMatchesParquetGo: for generated schemas, the footer says what
// parquet-go's says of the same rows: the schema (names, types, logical and
// converted types, repetition, field IDs), the column orders, each chunk's
// type, path, codec, value and null counts, and which encodings its pages
// use.
func TestFooterMatchesParquetGo(t *testing.T) {
	for seed := range 40 {
		r := rand.New(rand.NewPCG(uint64(seed), 7))
		schema, fields := genSchema(r, 1+r.IntN(8))
		rows := make([]parquet.Row, 1+r.IntN(500))
		for i := range rows {
			rows[i] = genRow(r, fields, nil)
		}
		theirs := footer(t, writeParquetGo(t, schema, rows, parquet.Compression(&parquet.Zstd)))
		ours := footer(t, writeOurs(t, schema, rows, WithCodec(NewZstd(ZstdDefault))))
		if !reflect.DeepEqual(ours.Schema, theirs.Schema) {
			t.Fatalf("seed %d: schema\n ours %+v\ntheirs %+v", seed, ours.Schema, theirs.Schema)
		}
		if !reflect.DeepEqual(ours.ColumnOrders, theirs.ColumnOrders) || ours.Version != theirs.Version || ours.NumRows != theirs.NumRows {
			t.Fatalf("seed %d: column orders %v, version %d, rows %d; parquet-go %v, %d, %d", seed,
				ours.ColumnOrders, ours.Version, ours.NumRows, theirs.ColumnOrders, theirs.Version, theirs.NumRows)
		}
		for c := range ours.RowGroups[0].Columns {
			o, p := ours.RowGroups[0].Columns[c].MetaData, theirs.RowGroups[0].Columns[c].MetaData
			if o.Type != p.Type || !slices.Equal(o.PathInSchema, p.PathInSchema) || o.Codec != p.Codec || o.NumValues != p.NumValues ||
				o.Statistics.NullCount != p.Statistics.NullCount || !sameEncodings(o, p) {
				t.Fatalf("seed %d column %v:\n ours %s\ntheirs %s", seed, o.PathInSchema, chunkSummary(o), chunkSummary(p))
			}
		}
	}
}

// sameEncodings compares the data page encodings of two chunks and whether
// they have a dictionary page.
func sameEncodings(a, b format.ColumnMetaData) bool {
	return (a.DictionaryPageOffset != 0) == (b.DictionaryPageOffset != 0) && slices.Equal(a.Encoding, b.Encoding)
}

func chunkSummary(m format.ColumnMetaData) string {
	return fmt.Sprintf("type %v codec %v values %d nulls %d encodings %v stats %v dict@%d", m.Type, m.Codec, m.NumValues,
		m.Statistics.NullCount, m.Encoding, m.EncodingStats, m.DictionaryPageOffset)
}
