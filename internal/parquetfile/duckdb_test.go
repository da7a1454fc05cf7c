package parquetfile

import (
	"database/sql"
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	_ "github.com/duckdb/duckdb-go/v2"
	"github.com/parquet-go/parquet-go"
)

func openDuckDB(t *testing.T) *sql.DB {
	t.Helper()
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func writeTemp(t *testing.T, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestDuckDBReadsWhatParquetGoReads: DuckDB, an independent reader, reads
// our file of generated rows (every type, nested structs, nulls, several
// pages, dictionary fallbacks) as the same rows as parquet-go's file of
// them.
func TestDuckDBReadsWhatParquetGoReads(t *testing.T) {
	db := openDuckDB(t)
	for seed := range 25 {
		r := rand.New(rand.NewPCG(uint64(seed), 11))
		schema, fields := genSchema(r, 2+r.IntN(8))
		rows := make([]parquet.Row, 1+r.IntN(4000))
		for i := range rows {
			rows[i] = genRow(r, fields, nil)
		}
		ours := writeTemp(t, "ours.parquet", writeOurs(t, schema, rows, WithCodec(NewZstd(ZstdDefault)),
			WithPageBufferSize(2048), WithDictionaryMaxBytes(1024)))
		theirs := writeTemp(t, "theirs.parquet", writeParquetGo(t, schema, rows, parquet.Compression(&parquet.Zstd)))
		var n, onlyOurs, onlyTheirs int64
		q := fmt.Sprintf(`SELECT (SELECT count(*) FROM read_parquet('%[1]s')),
			(SELECT count(*) FROM (SELECT * FROM read_parquet('%[1]s') EXCEPT ALL SELECT * FROM read_parquet('%[2]s'))),
			(SELECT count(*) FROM (SELECT * FROM read_parquet('%[2]s') EXCEPT ALL SELECT * FROM read_parquet('%[1]s')))`, ours, theirs)
		if err := db.QueryRow(q).Scan(&n, &onlyOurs, &onlyTheirs); err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		if n != int64(len(rows)) || onlyOurs != 0 || onlyTheirs != 0 {
			t.Fatalf("seed %d: DuckDB reads %d rows (want %d); %d only in ours, %d only in parquet-go's", seed, n, len(rows), onlyOurs, onlyTheirs)
		}
	}
}

// TestDecimalStatisticsAreSigned: a FIXED_LEN_BYTE_ARRAY decimal's bounds
// compare as signed numbers (the Parquet spec), so DuckDB's row group
// pruning finds the negative values. parquet-go compares the bytes
// unsigned: its file's bounds say no row is below zero.
func TestDecimalStatisticsAreSigned(t *testing.T) {
	schema := parquet.NewSchema("d", parquet.Group{"d": parquet.Decimal(2, 38, parquet.FixedLenByteArrayType(16))})
	var rows []parquet.Row
	negative := 0
	for i := range 1000 {
		v := int64(i*7919%2001 - 1000) // -1000 .. 1000
		if v < 0 {
			negative++
		}
		var b [16]byte
		binary.BigEndian.PutUint64(b[8:], uint64(v))
		if v < 0 {
			binary.BigEndian.PutUint64(b[:8], math.MaxUint64)
		}
		rows = append(rows, parquet.Row{parquet.FixedLenByteArrayValue(b[:]).Level(0, 0, 0)})
	}
	db := openDuckDB(t)
	count := func(path string) (below, min, max string) {
		t.Helper()
		q := fmt.Sprintf(`SELECT (SELECT count(*) FROM read_parquet('%[1]s') WHERE d < 0)::VARCHAR,
			(SELECT stats_min_value FROM parquet_metadata('%[1]s')), (SELECT stats_max_value FROM parquet_metadata('%[1]s'))`, path)
		if err := db.QueryRow(q).Scan(&below, &min, &max); err != nil {
			t.Fatal(err)
		}
		return below, min, max
	}
	below, lo, hi := count(writeTemp(t, "ours.parquet", writeOurs(t, schema, rows)))
	if below != fmt.Sprint(negative) || lo != "-10.00" || hi != "10.00" {
		t.Errorf("ours: %s rows below zero, bounds [%s, %s]; want %d, [-10.00, 10.00]", below, lo, hi, negative)
	}
	below, lo, hi = count(writeTemp(t, "theirs.parquet", writeParquetGo(t, schema, rows)))
	t.Logf("parquet-go's file: %s rows below zero (of %d), bounds [%s, %s]", below, negative, lo, hi)
}

// TestEmptyStringsHaveBounds: a chunk of only empty strings has the bounds
// ["", ""], not none (an empty bound must still be written).
func TestEmptyStringsHaveBounds(t *testing.T) {
	schema := parquet.NewSchema("e", parquet.Group{"s": parquet.String()})
	rows := []parquet.Row{{parquet.ByteArrayValue(nil).Level(0, 0, 0)}, {parquet.ByteArrayValue([]byte{}).Level(0, 0, 0)}}
	p := writeTemp(t, "e.parquet", writeOurs(t, schema, rows))
	var lo, hi sql.NullString
	if err := openDuckDB(t).QueryRow(fmt.Sprintf(`SELECT stats_min_value, stats_max_value FROM parquet_metadata('%s')`, p)).Scan(&lo, &hi); err != nil {
		t.Fatal(err)
	}
	if !lo.Valid || !hi.Valid || lo.String != "" || hi.String != "" {
		t.Errorf("bounds %+v %+v, want two empty strings", lo, hi)
	}
}
