package schemas_test

import (
	"database/sql"
	"os"
	"path/filepath"
	"testing"

	_ "github.com/duckdb/duckdb-go/v2"
	"github.com/lakestream/lakestream/schemas"
	"github.com/parquet-go/parquet-go"
)

// TestDuckDBReadsEveryType writes decoded rows with parquet-go and reads
// them with DuckDB (read_parquet): the column types DuckDB sees and the
// values it returns are the ones docs/format/types.md promises.
func TestDuckDBReadsEveryType(t *testing.T) {
	ts := mustTable(t, schemas.TableOptions{IncludeKafkaKey: true, EventTimeField: "ts"},
		[2]string{"b", "bool"},
		[2]string{"i32", "int32"},
		[2]string{"i64", "int64"},
		[2]string{"f32", "float32"},
		[2]string{"f64", "float64"},
		[2]string{"s", "string"},
		[2]string{"by", "bytes"},
		[2]string{"ts", "timestamp"},
		[2]string{"dt", "date"},
		[2]string{"d9", "decimal(9,2)"},
		[2]string{"d18", "decimal(18,3)"},
		[2]string{"d38", "decimal(38,4)"},
		[2]string{"tags", "list<string>"},
		[2]string{"attrs", "map<string,int32>"},
		[2]string{"st", "struct<x:int32,y?:string>"},
		[2]string{"items", "list<struct<sku:string,qty?:int32>>"},
		[2]string{"ms", "map<string,struct<a?:float64>>"},
	)
	inputs := []string{
		`{"b":true,"i32":-7,"i64":9007199254740993,"f32":1.5,"f64":-0.25,"s":"héllo","by":"AAH/","ts":"2026-11-21T07:15:42.123456Z","dt":"2024-02-29",
		  "d9":"-1234567.89","d18":"123456789012345.678","d38":"-1234567890123456789012345678901234.5678",
		  "tags":["a",null],"attrs":{"k":1,"n":null},"st":{"x":1},"items":[{"sku":"p","qty":2},null],"ms":{"m":{"a":0.5},"z":null}}`,
		`{"tags":[],"attrs":{},"st":null,"items":[],"ms":{}}`,
		`{}`,
	}
	dec := schemas.NewJSONDecoder(ts)
	var rows []parquet.Row
	for i, in := range inputs {
		var rec schemas.Record
		if err := dec.Decode([]byte(in), &rec); err != nil {
			t.Fatal(err)
		}
		ts.SetMeta(rec.Row, schemas.MetaCommitTime, []byte("20261121071542123"))
		ts.SetKafka(rec.Row, 2, int64(40+i), 1_700_000_000_000_000, []byte("k"))
		rows = append(rows, append(parquet.Row(nil), rec.Row...))
	}
	path := filepath.Join(t.TempDir(), "all.parquet")
	if err := os.WriteFile(path, writeParquet(t, ts, rows), 0o644); err != nil {
		t.Fatal(err)
	}

	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	query := func(q string) []string {
		t.Helper()
		rs, err := db.Query(q)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		defer rs.Close()
		var out []string
		for rs.Next() {
			var s sql.NullString
			if err := rs.Scan(&s); err != nil {
				t.Fatal(err)
			}
			if s.Valid {
				out = append(out, s.String)
			} else {
				out = append(out, "NULL")
			}
		}
		if err := rs.Err(); err != nil {
			t.Fatal(err)
		}
		return out
	}
	if _, err := db.Exec(`SET TimeZone = 'UTC'`); err != nil {
		t.Fatal(err)
	}
	src := "read_parquet('" + path + "')"
	for _, c := range []struct {
		col, typ string
		values   []string
	}{
		{"_hoodie_commit_time", "VARCHAR", []string{"20261121071542123", "20261121071542123", "20261121071542123"}},
		{"_hoodie_record_key", "VARCHAR", []string{"NULL", "NULL", "NULL"}},
		{"b", "BOOLEAN", []string{"true", "NULL", "NULL"}},
		{"i32", "INTEGER", []string{"-7", "NULL", "NULL"}},
		{"i64", "BIGINT", []string{"9007199254740993", "NULL", "NULL"}},
		{"f32", "FLOAT", []string{"1.5", "NULL", "NULL"}},
		{"f64", "DOUBLE", []string{"-0.25", "NULL", "NULL"}},
		{"s", "VARCHAR", []string{"héllo", "NULL", "NULL"}},
		{"by", "BLOB", []string{`\x00\x01\xFF`, "NULL", "NULL"}},
		{"ts", "TIMESTAMP WITH TIME ZONE", []string{"2026-11-21 07:15:42.123456+00", "NULL", "NULL"}},
		{"dt", "DATE", []string{"2024-02-29", "NULL", "NULL"}},
		{"d9", "DECIMAL(9,2)", []string{"-1234567.89", "NULL", "NULL"}},
		{"d18", "DECIMAL(18,3)", []string{"123456789012345.678", "NULL", "NULL"}},
		{"d38", "DECIMAL(38,4)", []string{"-1234567890123456789012345678901234.5678", "NULL", "NULL"}},
		{"tags", "VARCHAR[]", []string{"[a, NULL]", "[]", "NULL"}},
		{"attrs", "MAP(VARCHAR, INTEGER)", []string{"{k=1, n=NULL}", "{}", "NULL"}},
		{"st", "STRUCT(x INTEGER, y VARCHAR)", []string{"{'x': 1, 'y': NULL}", "NULL", "NULL"}},
		{"items", "STRUCT(sku VARCHAR, qty INTEGER)[]", []string{"[{'sku': p, 'qty': 2}, NULL]", "[]", "NULL"}},
		{"ms", "MAP(VARCHAR, STRUCT(a DOUBLE))", []string{"{m={'a': 0.5}, z=NULL}", "{}", "NULL"}},
		{"_kafka_partition", "INTEGER", []string{"2", "2", "2"}},
		{"_kafka_offset", "BIGINT", []string{"40", "41", "42"}},
		{"_kafka_timestamp", "TIMESTAMP WITH TIME ZONE", []string{"2023-11-14 22:13:20+00", "2023-11-14 22:13:20+00", "2023-11-14 22:13:20+00"}},
		{"_kafka_key", "BLOB", []string{"k", "k", "k"}},
	} {
		if got := query(`SELECT typeof("` + c.col + `") FROM ` + src + ` LIMIT 1`); len(got) != 1 || got[0] != c.typ {
			t.Errorf("%s: DuckDB type %v, want %s", c.col, got, c.typ)
		}
		got := query(`SELECT "` + c.col + `"::VARCHAR FROM ` + src + ` ORDER BY _kafka_offset`)
		if len(got) != len(c.values) {
			t.Errorf("%s: %d values", c.col, len(got))
			continue
		}
		for i := range got {
			if got[i] != c.values[i] {
				t.Errorf("%s row %d: DuckDB reads %q, want %q", c.col, i, got[i], c.values[i])
			}
		}
	}
	// Field IDs reach the file.
	ids := query(`SELECT name || '=' || coalesce(field_id::VARCHAR, '-') FROM parquet_schema('` + path + `') WHERE name IN ('_hoodie_commit_time', 'b', 'element', '_kafka_key')`)
	want := []string{"_hoodie_commit_time=1", "b=6", "element=19", "element=27", "_kafka_key=37"}
	if len(ids) != len(want) {
		t.Fatalf("field ids %v", ids)
	}
	for i := range want {
		if ids[i] != want[i] {
			t.Errorf("field id %s, want %s", ids[i], want[i])
		}
	}
}
