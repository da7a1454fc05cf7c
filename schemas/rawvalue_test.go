package schemas

import (
	"testing"

	"github.com/parquet-go/parquet-go"
)

// The decoders write rows through rawValue; a parquet-go upgrade that
// changes parquet.Value's layout must be noticed (decoders then fall back
// to the public API, slower).
func TestRawLayoutMatchesParquetGo(t *testing.T) {
	if !rawLayoutOK() {
		t.Fatal("rawValue no longer mirrors parquet.Value: update rawvalue.go")
	}
}

// Rows written through rawValue equal rows built with the public API.
func TestRawAndPublicRowsAgree(t *testing.T) {
	user, err := SchemaFromSpecs([]FieldSpec{
		{Name: "b", Type: "bool"}, {Name: "i", Type: "int32"}, {Name: "l", Type: "int64"},
		{Name: "f", Type: "float32"}, {Name: "d", Type: "float64"}, {Name: "s", Type: "string"},
		{Name: "by", Type: "bytes"}, {Name: "t", Type: "timestamp"}, {Name: "dt", Type: "date"},
		{Name: "d9", Type: "decimal(9,2)"}, {Name: "d38", Type: "decimal(38,2)"},
		{Name: "ls", Type: "list<struct<a?:int32,m?:map<string,float64>>>"},
	})
	if err != nil {
		t.Fatal(err)
	}
	ts, err := NewTableSchema(user, TableOptions{IncludeKafkaKey: true})
	if err != nil {
		t.Fatal(err)
	}
	in := []byte(`{"b":true,"i":-3,"l":-4,"f":1.25,"d":-2.5,"s":"x\n","by":"AAE=","t":"2026-01-01T00:00:00Z","dt":3,
		"d9":"-1.5","d38":"-12345678901234567890.25","ls":[{"a":1,"m":{"k":1.5,"n":null}},null,{}]}`)
	raw := NewJSONDecoder(ts).(*jsonDecoder)
	public := NewJSONDecoder(ts).(*jsonDecoder)
	public.b.raw = false
	var r1, r2 Record
	if err := raw.Decode(in, &r1); err != nil {
		t.Fatal(err)
	}
	if err := public.Decode(in, &r2); err != nil {
		t.Fatal(err)
	}
	// The meta and Kafka columns too.
	for _, c := range []struct {
		row parquet.Row
		raw bool
	}{{r1.Row, true}, {r2.Row, false}} {
		ts.raw = c.raw
		ts.SetMeta(c.row, MetaRecordKey, []byte("k-1"))
		ts.SetMeta(c.row, MetaFileName, nil)
		ts.SetMeta(c.row, MetaPartitionPath, []byte{})
		ts.SetKafka(c.row, -2, 1<<40, -5, []byte("key"))
	}
	ts.raw = true
	if len(r1.Row) != len(r2.Row) {
		t.Fatalf("%d values and %d values", len(r1.Row), len(r2.Row))
	}
	for i := range r1.Row {
		a, b := r1.Row[i], r2.Row[i]
		if !parquet.DeepEqual(a, b) || a.Column() != b.Column() || a.DefinitionLevel() != b.DefinitionLevel() ||
			a.RepetitionLevel() != b.RepetitionLevel() || a.IsNull() != b.IsNull() {
			t.Errorf("value %d: raw %#v, public %#v", i, a, b)
		}
	}
	var key parquet.Value
	ts.SetKafka(r1.Row, 0, 0, 0, nil)
	if key = r1.Row[len(r1.Row)-1]; !key.IsNull() || key.Column() != ts.NumColumns()-1 {
		t.Errorf("nil Kafka key: %#v", key)
	}
}
