package schemas_test

import (
	"encoding/binary"
	"net/http"
	"testing"
	"time"

	"github.com/lakestream/lakestream/schemas"
	"github.com/lakestream/lakestream/schemas/registrytest"
	"github.com/parquet-go/parquet-go"
)

func newRegistry(t testing.TB, srv *registrytest.Server, opts ...schemas.RegistryOption) *schemas.Registry {
	t.Helper()
	reg, err := schemas.NewRegistry(srv.URL, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return reg
}

func encode(t testing.TB, id uint32, schema string, v map[string]any) []byte {
	t.Helper()
	b, err := registrytest.EncodeConfluent(id, schema, v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

const flatWriterSchema = `{"type":"record","name":"Flat","namespace":"test","fields":[
 {"name":"b","type":"boolean"},
 {"name":"skipRecord","type":{"type":"record","name":"Skipped","fields":[{"name":"x","type":"int"},{"name":"y","type":{"type":"array","items":"string"}}]}},
 {"name":"i","type":"int"},
 {"name":"l","type":["null","int"],"default":null},
 {"name":"f","type":"float"},
 {"name":"d","type":"int"},
 {"name":"skipMap","type":{"type":"map","values":["null","double","Skipped"]}},
 {"name":"s","type":{"type":"enum","name":"Color","symbols":["RED","GREEN"]}},
 {"name":"by","type":"string"},
 {"name":"t","type":{"type":"long","logicalType":"timestamp-millis"}},
 {"name":"dt","type":{"type":"int","logicalType":"date"}},
 {"name":"dec","type":{"type":"bytes","logicalType":"decimal","precision":9,"scale":1}},
 {"name":"dec18","type":{"type":"fixed","name":"F8","size":8,"logicalType":"decimal","precision":18,"scale":6}},
 {"name":"dec38","type":["null",{"type":"fixed","name":"F16","size":16,"logicalType":"decimal","precision":38,"scale":10}]},
 {"name":"skipFixed","type":{"type":"fixed","name":"F3","size":3}},
 {"name":"req","type":"bytes"}]}`

func TestAvroFlatTypes(t *testing.T) {
	ts := flatTable(t)
	srv := registrytest.NewServer(t)
	id := srv.Register("flat-value", flatWriterSchema)
	v := map[string]any{
		"b": true, "skipRecord": map[string]any{"x": 1, "y": []any{"a", "b"}},
		"i": -5, "l": 77, "f": float32(1.5), "d": 3,
		"skipMap": map[string]any{"p": 2.5, "q": nil, "r": map[string]any{"x": 3, "y": []any{}}},
		"s":       "GREEN", "by": "hi",
		"t":         time.Date(2026, 11, 21, 7, 15, 42, 123e6, time.UTC),
		"dt":        time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC),
		"dec":       "-12.5",
		"dec18":     "-123456789012.345600",
		"dec38":     "1234567890123456789012345678.0123456789",
		"skipFixed": []byte{1, 2, 3},
		"req":       []byte("r"),
	}
	v2 := map[string]any{
		"b": false, "skipRecord": map[string]any{"x": 1, "y": []any{}},
		"i": 0, "l": nil, "f": float32(0), "d": 0, "skipMap": map[string]any{},
		"s": "RED", "by": "", "t": time.Unix(0, 0), "dt": time.Unix(0, 0), "dec": "0", "dec18": "0", "dec38": nil,
		"skipFixed": []byte{0, 0, 0}, "req": []byte{},
	}
	dec := schemas.NewAvroDecoder(ts, newRegistry(t, srv))
	got := roundTrip(t, ts, dec, [][]byte{encode(t, id, flatWriterSchema, v), encode(t, id, flatWriterSchema, v2)})
	want := []string{
		`{"b":true,"i":-5,"l":77,"f":1.5,"d":3,"s":"GREEN","by":"b64:aGk=","t":1795245342123000,"dt":19782,
		  "dec":"-12.50","dec18":"-123456789012.3456","dec38":"1234567890123456789012345678.0123456789","req":"r"}`,
		`{"b":false,"i":0,"l":null,"f":0,"d":0,"s":"RED","by":"b64:","t":0,"dt":0,
		  "dec":"0.00","dec18":"0.0000","dec38":null,"req":""}`,
	}
	for i := range want {
		if w := canonical(t, want[i]); got[i] != w {
			t.Errorf("record %d:\n got %s\nwant %s", i, got[i], w)
		}
	}
	if srv.Lookups() != 1 {
		t.Errorf("%d registry lookups for one schema", srv.Lookups())
	}
}

const nestedWriterSchema = `{"type":"record","name":"Order","namespace":"shop","fields":[
 {"name":"id","type":"long"},
 {"name":"tags","type":["null",{"type":"array","items":["null","string"]}],"default":null},
 {"name":"items","type":{"type":"array","items":{"type":"record","name":"Item","fields":[
    {"name":"sku","type":"string"},{"name":"qty","type":["null","int"],"default":null},{"name":"note","type":"string"}]}}},
 {"name":"attrs","type":{"type":"map","values":["null",{"type":"record","name":"Attr","fields":[{"name":"a","type":"int"}]}]}},
 {"name":"nested","type":["null",{"type":"record","name":"Nested","fields":[
    {"name":"y","type":{"type":"array","items":"int"}},
    {"name":"z","type":["null",{"type":"record","name":"Z","fields":[{"name":"w","type":"boolean"}]}]}]}],"default":null},
 {"name":"matrix","type":{"type":"array","items":{"type":"array","items":"long"}}},
 {"name":"next","type":["null","Order"],"default":null}]}`

func TestAvroNested(t *testing.T) {
	ts := nestedTable(t)
	srv := registrytest.NewServer(t)
	id := srv.Register("orders-value", nestedWriterSchema)
	records := []map[string]any{
		{"id": 1, "tags": []any{"a", nil}, "items": []any{map[string]any{"sku": "x", "qty": 2, "note": "n"}, map[string]any{"sku": "y", "note": ""}},
			"attrs": map[string]any{"k1": map[string]any{"a": 1}, "k2": nil}, "nested": map[string]any{"y": []any{1, 2}, "z": map[string]any{"w": true}},
			"matrix": []any{[]any{1, 2}, []any{}},
			"next":   map[string]any{"id": 9, "items": []any{}, "attrs": map[string]any{}, "matrix": []any{}}},
		{"id": 2, "items": []any{}, "attrs": map[string]any{}, "nested": map[string]any{"y": []any{}}, "matrix": []any{}},
	}
	var values [][]byte
	for _, r := range records {
		values = append(values, encode(t, id, nestedWriterSchema, r))
	}
	got := roundTrip(t, ts, schemas.NewAvroDecoder(ts, newRegistry(t, srv)), values)
	want := []string{
		`{"id":1,"tags":["a",null],"items":[{"sku":"x","qty":2},{"sku":"y","qty":null}],"attrs":{"k1":{"a":1,"b":null},"k2":null},
		  "nested":{"x":null,"y":[1,2],"z":{"w":true}},"matrix":[[1,2],[]],"mm":null}`,
		`{"id":2,"tags":null,"items":[],"attrs":{},"nested":{"x":null,"y":[],"z":null},"matrix":[],"mm":null}`,
	}
	for i := range want {
		if w := canonical(t, want[i]); got[i] != w {
			t.Errorf("record %d:\n got %s\nwant %s", i, got[i], w)
		}
	}
}

func TestAvroErrors(t *testing.T) {
	ts := flatTable(t)
	srv := registrytest.NewServer(t)
	reg := newRegistry(t, srv)
	schemaOf := func(fields string) string {
		return `{"type":"record","name":"R","fields":[` + fields + `]}`
	}
	good := schemaOf(`{"name":"req","type":"string"},{"name":"i","type":"int"},{"name":"t","type":["null",{"type":"long","logicalType":"timestamp-micros"}]}`)
	goodID := srv.Register("s", good)
	goodValue := encode(t, goodID, good, map[string]any{"req": "x", "i": 1, "t": nil})

	noReq := schemaOf(`{"name":"i","type":"int"}`)
	wrongType := schemaOf(`{"name":"req","type":"string"},{"name":"i","type":"string"}`)
	nullReq := schemaOf(`{"name":"req","type":["null","string"]}`)
	narrowing := schemaOf(`{"name":"req","type":"string"},{"name":"i","type":"long"}`)
	inexact := schemaOf(`{"name":"req","type":"string"},{"name":"dec","type":{"type":"bytes","logicalType":"decimal","precision":10,"scale":3}}`)
	plainLongTime := schemaOf(`{"name":"req","type":"string"},{"name":"t","type":"long"}`)

	type tc struct {
		name          string
		value         []byte
		reason, field string
	}
	cases := []tc{
		{"empty", nil, schemas.ReasonBadMagic, ""},
		{"short", []byte{0, 0, 0}, schemas.ReasonBadMagic, ""},
		{"json", []byte(`{"req":"x"}`), schemas.ReasonBadMagic, ""},
		{"unknown id", []byte{0, 0, 0, 0x30, 0x39, 2, 'x'}, schemas.ReasonUnknownSchemaID, ""},
		{"truncated", goodValue[:len(goodValue)-1], schemas.ReasonInvalidAvro, "t"},
		{"trailing", append(append([]byte{}, goodValue...), 0), schemas.ReasonInvalidAvro, ""},
		{"bad union index", append(append([]byte{}, goodValue[:len(goodValue)-1]...), 4), schemas.ReasonInvalidAvro, "t"},
		{"required missing in writer", encode(t, srv.Register("s", noReq), noReq, map[string]any{"i": 1}), schemas.ReasonSchemaMismatch, "req"},
		{"wrong type", encode(t, srv.Register("s", wrongType), wrongType, map[string]any{"req": "x", "i": "1"}), schemas.ReasonSchemaMismatch, "i"},
		{"null into required", encode(t, srv.Register("s", nullReq), nullReq, map[string]any{"req": nil}), schemas.ReasonMissingField, "req"},
		{"long into int32", encode(t, srv.Register("s", narrowing), narrowing, map[string]any{"req": "x", "i": 1}), schemas.ReasonSchemaMismatch, "i"},
		{"inexact decimal", encode(t, srv.Register("s", inexact), inexact, map[string]any{"req": "x", "dec": "1.234"}), schemas.ReasonSchemaMismatch, "dec"},
		{"plain long event time", encode(t, srv.Register("s", plainLongTime), plainLongTime, map[string]any{"req": "x", "t": 5}), schemas.ReasonBadTimestamp, "t"},
		{"not a record", encode(t, srv.Register("s", `"string"`), `{"type":"record","name":"W","fields":[{"name":"v","type":"string"}]}`, map[string]any{"v": "x"}), schemas.ReasonSchemaMismatch, ""},
	}
	srv.SetRaw(999, `{"type":"nonsense"}`)
	cases = append(cases, tc{"unusable schema", []byte{0, 0, 0, 0x03, 0xe7, 0}, schemas.ReasonInvalidAvro, ""})
	badUTF8 := encode(t, goodID, good, map[string]any{"req": "\xff", "i": 1, "t": nil})
	cases = append(cases, tc{"invalid utf-8", badUTF8, schemas.ReasonInvalidAvro, "req"})
	hugeArray := schemaOf(`{"name":"req","type":"string"},{"name":"u","type":{"type":"array","items":"null"}}`)
	hugeID := srv.Register("s", hugeArray)
	huge := []byte{0, 0, 0, 0, 0, 2, 'x', 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, 0}
	binary.BigEndian.PutUint32(huge[1:5], hugeID)
	cases = append(cases, tc{"huge block count", huge, schemas.ReasonInvalidAvro, ""})

	// A varint whose tenth byte holds more than the 64th bit does not fit a
	// long: 82 80.. 02 was read as 1.
	overflow := append([]byte{0, 0, 0, 0, 0, 2, 'x'}, 0x82, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x02, 0)
	binary.BigEndian.PutUint32(overflow[1:5], goodID)
	cases = append(cases, tc{"varint past 64 bits", overflow, schemas.ReasonInvalidAvro, "i"})
	// A time of day is not a date.
	timeOfDay := schemaOf(`{"name":"req","type":"string"},{"name":"dt","type":{"type":"int","logicalType":"time-millis"}}`)
	cases = append(cases, tc{"time-millis into date", encode(t, srv.Register("s", timeOfDay), timeOfDay, map[string]any{"req": "x", "dt": 3600000}), schemas.ReasonSchemaMismatch, "dt"})
	// -2^128 in 17 bytes (FF 00..00) fits no decimal(38): it was read as 0.
	wide := schemaOf(`{"name":"req","type":"string"},{"name":"dec38","type":{"type":"bytes","logicalType":"decimal","precision":40,"scale":10}}`)
	wideValue := append([]byte{0, 0, 0, 0, 0, 2, 'x', 34, 0xff}, make([]byte, 16)...)
	binary.BigEndian.PutUint32(wideValue[1:5], srv.Register("s", wide))
	cases = append(cases, tc{"-2^128", wideValue, schemas.ReasonSchemaMismatch, "dec38"})
	// A union may hold each type once (named types by name).
	srv.SetRaw(998, `{"type":"record","name":"R","fields":[{"name":"req","type":["null","string","string"]}]}`)
	cases = append(cases, tc{"union of one type twice", []byte{0, 0, 0, 0x03, 0xe6, 2, 2, 'x'}, schemas.ReasonInvalidAvro, ""})

	dec := schemas.NewAvroDecoder(ts, reg)
	for _, c := range cases {
		rec := schemas.Record{Row: make(parquet.Row, 2)}
		err := dec.Decode(c.value, &rec)
		if err == nil {
			t.Errorf("%s: no error", c.name)
			continue
		}
		t.Run(c.name, func(t *testing.T) { wantReason(t, err, c.reason, c.field) })
		if schemas.IsRetryable(err) {
			t.Errorf("%s: %v is retryable", c.name, err)
		}
		if len(rec.Row) != 0 {
			t.Errorf("%s: failed decode left %d values", c.name, len(rec.Row))
		}
	}
	var rec schemas.Record
	if err := dec.Decode(goodValue, &rec); err != nil {
		t.Errorf("good value after errors: %v", err)
	}
}

func TestAvroRegistryUnavailable(t *testing.T) {
	ts := flatTable(t)
	srv := registrytest.NewServer(t)
	w := `{"type":"record","name":"R","fields":[{"name":"req","type":"string"}]}`
	id := srv.Register("s", w)
	value := encode(t, id, w, map[string]any{"req": "x"})
	dec := schemas.NewAvroDecoder(ts, newRegistry(t, srv))
	var rec schemas.Record
	for _, status := range []int{http.StatusServiceUnavailable, http.StatusInternalServerError, http.StatusUnauthorized} {
		srv.FailWith(status)
		err := dec.Decode(value, &rec)
		wantReason(t, err, schemas.ReasonRegistryUnavailable, "")
		if !schemas.IsRetryable(err) {
			t.Errorf("HTTP %d: %v is not retryable", status, err)
		}
	}
	srv.FailWith(0)
	if err := dec.Decode(value, &rec); err != nil {
		t.Fatalf("after the registry recovered: %v", err)
	}

	// A registry that does not answer in time is unavailable too.
	release := srv.Hold()
	defer release()
	w2 := `{"type":"record","name":"R2","fields":[{"name":"req","type":"string"}]}`
	id2 := srv.Register("s", w2)
	dec = schemas.NewAvroDecoder(ts, newRegistry(t, srv), schemas.WithRegistryTimeout(50*time.Millisecond))
	err := dec.Decode(encode(t, id2, w2, map[string]any{"req": "x"}), &rec)
	wantReason(t, err, schemas.ReasonRegistryUnavailable, "")
	release()
}

func TestAvroDecodeAllocs(t *testing.T) {
	if testing.Short() {
		t.Skip("allocation counts")
	}
	ts := nestedTable(t)
	srv := registrytest.NewServer(t)
	id := srv.Register("orders-value", nestedWriterSchema)
	value := encode(t, id, nestedWriterSchema, map[string]any{"id": 1, "tags": []any{"a", nil},
		"items": []any{map[string]any{"sku": "x", "qty": 2, "note": "n"}}, "attrs": map[string]any{"k1": map[string]any{"a": 1}},
		"matrix": []any{[]any{1, 2}, []any{}}})
	dec := schemas.NewAvroDecoder(ts, newRegistry(t, srv))
	var rec schemas.Record
	if err := dec.Decode(value, &rec); err != nil {
		t.Fatal(err)
	}
	if allocs := testing.AllocsPerRun(1000, func() {
		if err := dec.Decode(value, &rec); err != nil {
			t.Fatal(err)
		}
	}); allocs != 0 {
		t.Errorf("%v allocations per record", allocs)
	}
}
