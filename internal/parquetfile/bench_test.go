package parquetfile

import (
	"io"
	"strconv"
	"testing"

	"github.com/parquet-go/parquet-go"
)

// benchSchema is the pipeline benchmark's table: the five Hudi meta columns
// (three constants as dictionaries, the sequence number and record key
// PLAIN), seven pageview columns and three Kafka columns.
func benchSchema() *parquet.Schema {
	ostr := func() parquet.Node { return parquet.Optional(parquet.String()) }
	dict := func() parquet.Node {
		return parquet.Encoded(parquet.Optional(parquet.String()), &parquet.RLEDictionary)
	}
	plain := func() parquet.Node { return parquet.Encoded(parquet.Optional(parquet.String()), &parquet.Plain) }
	names := []string{"_hoodie_commit_time", "_hoodie_commit_seqno", "_hoodie_record_key", "_hoodie_partition_path", "_hoodie_file_name",
		"userId", "sessionNumber", "pageNumber", "url", "referrer", "userAgent", "eventTime", "_kafka_partition", "_kafka_offset", "_kafka_timestamp"}
	nodes := []parquet.Node{dict(), plain(), plain(), dict(), dict(),
		parquet.Int(64), parquet.Optional(parquet.Int(32)), parquet.Optional(parquet.Int(32)), ostr(), ostr(), ostr(),
		parquet.Timestamp(parquet.Microsecond), parquet.Int(32), parquet.Int(64), parquet.Timestamp(parquet.Microsecond)}
	for i := range nodes {
		nodes[i] = parquet.FieldID(nodes[i], i+1)
	}
	return parquet.NewSchema("pageviews", newOrderedGroup(names, nodes))
}

// benchRows makes n rows of one hour's file of the pipeline benchmark
// (pageviewRecord in package checkpoint), the meta columns filled.
func benchRows(n int) []parquet.Row {
	rows := make([]parquet.Row, n)
	str := func(s string, c int) parquet.Value { return parquet.ByteArrayValue([]byte(s)).Level(0, 1, c) }
	const instant = "20261205120000000"
	for i := range rows {
		at := int64(1764932400000000) - int64(i%3600)*1000000
		rows[i] = parquet.Row{
			str(instant, 0), str(instant+"_0_"+strconv.Itoa(i), 1), str("pageviews-"+strconv.Itoa(i%8)+"-"+strconv.Itoa(i/8), 2),
			str("dt=2026-12-05/hr=11", 3), str("f0000000-0000-0000-0000-000000000000-0_0-1-0_"+instant+".parquet", 4),
			parquet.Int64Value(int64(100000+i*7919%900000)).Level(0, 0, 5),
			parquet.Int32Value(int32(i%50)).Level(0, 1, 6), parquet.Int32Value(int32(i%30)).Level(0, 1, 7),
			str("https://shop.example.com/products/"+strconv.Itoa(i%10000)+"?ref=home", 8),
			str("https://www.google.com/search?q=shoes+"+strconv.Itoa(i%1000), 9),
			str("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36", 10),
			parquet.Int64Value(at).Level(0, 0, 11), parquet.Int32Value(int32(i%8)).Level(0, 0, 12),
			parquet.Int64Value(int64(i/8)).Level(0, 0, 13), parquet.Int64Value(at).Level(0, 0, 14),
		}
	}
	return rows
}

const benchFileRows = 50000

// BenchmarkWriteColumns writes the pipeline benchmark's rows, in runs of
// 256 rows given column by column, to files of 50,000 rows, zstd
// compressed. One op is one row. In "generated", the writer makes the
// commit time, partition path and file name (constants) and the sequence
// number itself, as package writer has it do.
//
//	go test -run '^$' -bench 'BenchmarkWriteColumns|BenchmarkParquetGoWriteRows' -benchtime 2000000x ./internal/parquetfile
func BenchmarkWriteColumns(b *testing.B) {
	b.Run("given", func(b *testing.B) { benchmarkWriteColumns(b, false) })
	b.Run("generated", func(b *testing.B) { benchmarkWriteColumns(b, true) })
}

func benchmarkWriteColumns(b *testing.B, generate bool) {
	rows := benchRows(benchFileRows)
	w, err := NewWriter(benchSchema(), WithCodec(NewZstd(ZstdDefault)), WithValidatedValues())
	if err != nil {
		b.Fatal(err)
	}
	cols := make([][]parquet.Value, w.NumColumns())
	b.ReportAllocs()
	b.ResetTimer()
	for done := 0; done < b.N; {
		w.Reset(io.Discard)
		if generate {
			for _, c := range []int{0, 3, 4} {
				if err := w.SetConstant(c, rows[0][c]); err != nil {
					b.Fatal(err)
				}
			}
			if err := w.SetSequence(1, []byte("20261205120000000_0_"), 0); err != nil {
				b.Fatal(err)
			}
		}
		for start := 0; start < benchFileRows && done < b.N; start += 256 {
			run := rows[start:min(start+256, benchFileRows, start+b.N-done)]
			for c := range cols {
				cols[c] = cols[c][:0]
				if generate && (c < 2 || c == 3 || c == 4) && c != 2 {
					cols[c] = nil
					continue
				}
				for _, row := range run {
					cols[c] = append(cols[c], row[c])
				}
			}
			if err := w.WriteColumns(cols); err != nil {
				b.Fatal(err)
			}
			done += len(run)
		}
		if err := w.Close(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParquetGoWriteRows is BenchmarkWriteColumns through parquet-go's
// writer, configured as package writer configures it for the schemas
// parquetfile does not support, writing the runs column by column.
func BenchmarkParquetGoWriteRows(b *testing.B) {
	rows := benchRows(benchFileRows)
	pw := parquet.NewWriter(io.Discard, benchSchema(), parquet.Compression(&parquet.Zstd), parquet.DataPageVersion(1),
		parquet.DataPageStatistics(false), parquet.WriteBufferSize(0), parquet.DictionaryMaxBytes(1<<20),
		parquet.DefaultEncodingFor(parquet.ByteArray, &parquet.RLEDictionary))
	cols := make([][]parquet.Value, len(rows[0]))
	b.ReportAllocs()
	b.ResetTimer()
	for done := 0; done < b.N; {
		pw.Reset(io.Discard)
		for start := 0; start < benchFileRows && done < b.N; start += 256 {
			run := rows[start:min(start+256, benchFileRows, start+b.N-done)]
			for c := range cols {
				cols[c] = cols[c][:0]
				for _, row := range run {
					cols[c] = append(cols[c], row[c])
				}
			}
			writers := pw.ColumnWriters()
			for c, values := range cols {
				if _, err := writers[c].WriteRowValues(values); err != nil {
					b.Fatal(err)
				}
			}
			done += len(run)
		}
		if err := pw.Close(); err != nil {
			b.Fatal(err)
		}
	}
}
