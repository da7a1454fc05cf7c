package schemas_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"unicode/utf8"

	"github.com/lakestream/lakestream/schemas"
	"github.com/lakestream/lakestream/schemas/registrytest"
	"github.com/parquet-go/parquet-go"
)

func FuzzParseType(f *testing.F) {
	for _, s := range []string{"int32", "decimal(38,10)", "list<map<string,struct<a:int32,b?:list<bytes>>>>", "struct<x:timestamp,y?:date>", "map<string,", "struct<a?:"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		typ, err := schemas.ParseType(s)
		if err != nil {
			var te *schemas.TypeError
			if !errors.As(err, &te) || te.Pos < 0 || te.Pos > len(s) {
				t.Fatalf("%q: error %v without a valid position", s, err)
			}
			return
		}
		again, err := schemas.ParseType(typ.String())
		if err != nil || !reflect.DeepEqual(again, typ) {
			t.Fatalf("%q: String() %q does not parse back: %v", s, typ.String(), err)
		}
	})
}

// checkRow checks what a successful Decode promises: a row that
// parquet-go writes and reads back unchanged.
func checkRow(t *testing.T, ts *schemas.TableSchema, row parquet.Row) {
	t.Helper()
	if len(row) < ts.NumColumns() {
		t.Fatalf("row of %d values for %d columns", len(row), ts.NumColumns())
	}
	last := -1
	for _, v := range row {
		if v.Column() < last {
			t.Fatalf("values out of column order: %v", row)
		}
		last = v.Column()
		if v.Kind() == parquet.ByteArray && ts.Columns()[v.Column()][len(ts.Columns()[v.Column()])-1] != "by" && !utf8.Valid(v.ByteArray()) {
			t.Fatalf("invalid UTF-8 in column %v", ts.Columns()[v.Column()])
		}
	}
	ts.SetKafka(row, 1, 2, 3, nil)
	got := readBack(t, writeParquet(t, ts, []parquet.Row{row}))
	if len(got) != 1 {
		t.Fatalf("%d rows read back", len(got))
	}
}

func FuzzJSONDecode(f *testing.F) {
	for _, s := range []string{
		pageviewJSON,
		`{"id":1,"tags":["a",null],"items":[{"sku":"x","qty":2},null],"attrs":{"k":{"a":1,"b":"B"}},"nested":{"x":5,"y":[1],"z":{"w":true}},"matrix":[[1],[]],"mm":{"m":["p"]}}`,
		`{"b":true,"i":-5,"l":1,"f":1.5,"d":-2.25e3,"s":"h\u00e9\n","by":"aGVsbG8=","t":"2026-11-21T07:15:42.123Z","dt":"2024-02-29","dec":"-12.5","dec18":1.5,"dec38":"1e20","req":"r"}`,
		`{"req":"x","t":1795245342123,"dt":-1,"unknown":[{"a":[]}]}`,
		`{"id":1,"tags":[]}`, `{}`, `[]`, `{"a":}`,
	} {
		f.Add([]byte(s))
	}
	tables := []*schemas.TableSchema{flatTable(f), nestedTable(f), pageviewTable(f)}
	decoders := make([]schemas.Decoder, len(tables))
	for i, ts := range tables {
		decoders[i] = schemas.NewJSONDecoder(ts)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		valid := json.Valid(data)
		for i, dec := range decoders {
			var rec schemas.Record
			err := dec.Decode(data, &rec)
			if err != nil {
				var de *schemas.DecodeError
				if !errors.As(err, &de) || de.Reason == "" {
					t.Fatalf("error %v is not a DecodeError", err)
				}
				continue
			}
			if !valid {
				t.Fatalf("decoded invalid JSON %q", data)
			}
			checkRow(t, tables[i], rec.Row)
		}
	})
}

func FuzzAvroDecode(f *testing.F) {
	srv := registrytest.NewServer(f)
	id := srv.Register("orders-value", nestedWriterSchema)
	reg, err := schemas.NewRegistry(srv.URL)
	if err != nil {
		f.Fatal(err)
	}
	ts := nestedTable(f)
	dec := schemas.NewAvroDecoder(ts, reg)
	seed, err := registrytest.EncodeConfluent(id, nestedWriterSchema, map[string]any{"id": 1, "tags": []any{"a", nil},
		"items": []any{map[string]any{"sku": "x", "qty": 2, "note": "n"}}, "attrs": map[string]any{"k1": map[string]any{"a": 1}, "k2": nil},
		"nested": map[string]any{"y": []any{1, 2}, "z": map[string]any{"w": true}}, "matrix": []any{[]any{1, 2}, []any{}},
		"next": map[string]any{"id": 9, "items": []any{}, "attrs": map[string]any{}, "matrix": []any{}}})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed[5:])
	f.Add([]byte{2, 0, 0, 0, 0, 0})
	f.Add([]byte{2, 2, 3, 2, 'a', 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, body []byte) {
		value := append(append([]byte{}, seed[:5]...), body...)
		var rec schemas.Record
		if err := dec.Decode(value, &rec); err != nil {
			var de *schemas.DecodeError
			if !errors.As(err, &de) || de.Reason == schemas.ReasonRegistryUnavailable {
				t.Fatalf("error %v", err)
			}
			return
		}
		checkRow(t, ts, rec.Row)
	})
}

func FuzzParseAvroSchema(f *testing.F) {
	for _, s := range []string{nestedWriterSchema, flatWriterSchema, pageviewAvroSchema, `"int"`, `["null","string"]`,
		`{"type":"record","name":"L","fields":[{"name":"next","type":["null","L"]}]}`, `{"type":"fixed","name":"F","size":4,"logicalType":"decimal","precision":9}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sch, err := schemas.ParseAvroSchema(s)
		if err == nil && sch.String() != s {
			t.Fatal("String() is not the parsed text")
		}
	})
}
