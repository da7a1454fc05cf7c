package schemas_test

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/lakestream/lakestream/schemas"
	"github.com/parquet-go/parquet-go"
)

func nestedTable(tb testing.TB) *schemas.TableSchema {
	return mustTable(tb, schemas.TableOptions{},
		[2]string{"id!", "int64"},
		[2]string{"tags", "list<string>"},
		[2]string{"items", "list<struct<sku:string, qty?:int32>>"},
		[2]string{"attrs", "map<string,struct<a?:int32,b?:string>>"},
		[2]string{"nested", "struct<x?:int32, y?:list<int32>, z?:struct<w?:bool>>"},
		[2]string{"matrix", "list<list<int64>>"},
		[2]string{"mm", "map<string,list<string>>"},
	)
}

func flatTable(tb testing.TB) *schemas.TableSchema {
	return mustTable(tb, schemas.TableOptions{IncludeKafkaKey: true, EventTimeField: "t"},
		[2]string{"b", "bool"},
		[2]string{"i", "int32"},
		[2]string{"l", "int64"},
		[2]string{"f", "float32"},
		[2]string{"d", "float64"},
		[2]string{"s", "string"},
		[2]string{"by", "bytes"},
		[2]string{"t", "timestamp"},
		[2]string{"dt", "date"},
		[2]string{"dec", "decimal(10,2)"},
		[2]string{"dec18", "decimal(18,4)"},
		[2]string{"dec38", "decimal(38,10)"},
		[2]string{"req!", "string"},
	)
}

// roundTrip decodes each input, writes the rows to a Parquet file,
// reads them back and returns the user fields of each as JSON.
func roundTrip(t *testing.T, ts *schemas.TableSchema, dec schemas.Decoder, inputs [][]byte) []string {
	t.Helper()
	var rows []parquet.Row
	for i, in := range inputs {
		var rec schemas.Record
		if err := dec.Decode(in, &rec); err != nil {
			t.Fatalf("input %d: %v", i, err)
		}
		ts.SetKafka(rec.Row, int32(i), int64(100+i), 1_000_000, nil)
		rows = append(rows, rec.Row)
	}
	var out []string
	for _, r := range readBack(t, writeParquet(t, ts, rows)) {
		out = append(out, userJSON(t, r))
	}
	return out
}

func TestJSONNestedRoundTrip(t *testing.T) {
	ts := nestedTable(t)
	cases := []struct{ name, in, want string }{
		{"everything",
			`{"id":1,"tags":["a","b"],"items":[{"sku":"x","qty":2},{"sku":"y"}],"attrs":{"k1":{"a":1,"b":"B"},"k2":{}},
			  "nested":{"x":5,"y":[1,2,3],"z":{"w":true}},"matrix":[[1,2],[3]],"mm":{"m":["p","q"]}}`,
			`{"id":1,"tags":["a","b"],"items":[{"sku":"x","qty":2},{"sku":"y","qty":null}],"attrs":{"k1":{"a":1,"b":"B"},"k2":{"a":null,"b":null}},
			  "nested":{"x":5,"y":[1,2,3],"z":{"w":true}},"matrix":[[1,2],[3]],"mm":{"m":["p","q"]}}`},
		{"empty collections",
			`{"id":2,"tags":[],"items":[],"attrs":{},"nested":{"y":[]},"matrix":[[],[]],"mm":{"e":[]}}`,
			`{"id":2,"tags":[],"items":[],"attrs":{},"nested":{"x":null,"y":[],"z":null},"matrix":[[],[]],"mm":{"e":[]}}`},
		{"null collections",
			`{"id":3,"tags":null,"items":null,"attrs":null,"nested":null,"matrix":null,"mm":null}`,
			`{"id":3,"tags":null,"items":null,"attrs":null,"nested":null,"matrix":null,"mm":null}`},
		{"absent fields", `{"id":4}`,
			`{"id":4,"tags":null,"items":null,"attrs":null,"nested":null,"matrix":null,"mm":null}`},
		{"struct with null fields vs null struct",
			`{"id":5,"nested":{"x":null,"y":null,"z":null}}`,
			`{"id":5,"tags":null,"items":null,"attrs":null,"nested":{"x":null,"y":null,"z":null},"matrix":null,"mm":null}`},
		{"null elements",
			`{"id":6,"tags":["a",null,"c"],"items":[null,{"sku":"s"}],"attrs":{"k":null},"matrix":[null,[null,7]],"mm":{"n":null,"o":[null]}}`,
			`{"id":6,"tags":["a",null,"c"],"items":[null,{"sku":"s","qty":null}],"attrs":{"k":null},"nested":null,"matrix":[null,[null,7]],"mm":{"n":null,"o":[null]}}`},
		{"reordered fields and unknown ones",
			`{"zzz":{"deep":[1,{"a":[]}]},"nested":{"z":{"w":false},"x":1},"id":7,"unknown":"u"}`,
			`{"id":7,"tags":null,"items":null,"attrs":null,"nested":{"x":1,"y":null,"z":{"w":false}},"matrix":null,"mm":null}`},
	}
	var inputs [][]byte
	for _, c := range cases {
		inputs = append(inputs, []byte(c.in))
	}
	got := roundTrip(t, ts, schemas.NewJSONDecoder(ts), inputs)
	for i, c := range cases {
		if want := canonical(t, c.want); got[i] != want {
			t.Errorf("%s:\n got %s\nwant %s", c.name, got[i], want)
		}
	}
}

func TestJSONFlatTypes(t *testing.T) {
	ts := flatTable(t)
	cases := []struct{ name, in, want string }{
		{"typical",
			`{"b":true,"i":-5,"l":1234567890123,"f":1.5,"d":-2.25e3,"s":"héllo","by":"aGVsbG8=","t":"2026-11-21T07:15:42.123Z","dt":"2024-02-29",
			  "dec":"-12.5","dec18":12345678901234.5678,"dec38":"-1234567890123456789012345678.0123456789","req":"r"}`,
			`{"b":true,"i":-5,"l":1234567890123,"f":1.5,"d":-2250,"s":"héllo","by":"b64:aGVsbG8=","t":1795245342123000,"dt":19782,
			  "dec":"-12.50","dec18":"12345678901234.5678","dec38":"-1234567890123456789012345678.0123456789","req":"r"}`},
		{"other accepted forms",
			`{"b":false,"i":2147483647,"l":-9007199254740991,"f":-0,"d":1E2,"s":"a\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00","by":"aGVsbG8","t":1795245342123,"dt":-1,
			  "dec":99999999.99,"dec18":"-0.0001","dec38":"1e27","req":""}`,
			`{"b":false,"i":2147483647,"l":-9007199254740991,"f":-0,"d":100,"s":"a\"\\/\b\f\n\r\té😀","by":"b64:aGVsbG8=","t":1795245342123000,"dt":-1,
			  "dec":"99999999.99","dec18":"-0.0001","dec38":"1000000000000000000000000000.0000000000","req":""}`},
		{"offsets and fractions",
			`{"t":"2026-11-21T08:15:42.123456789+01:00","dec":"1.200","dec18":"5e-4","dec38":0,"req":"x"}`,
			`{"b":null,"i":null,"l":null,"f":null,"d":null,"s":null,"by":null,"t":1795245342123456,"dt":null,
			  "dec":"1.20","dec18":"0.0005","dec38":"0.0000000000","req":"x"}`},
		{"long digits, long exponents",
			`{"dec":0.` + strings.Repeat("0", 99999) + `5e100001,"dec18":"1` + strings.Repeat("0", 100000) + `e-99996","req":"e"}`,
			`{"b":null,"i":null,"l":null,"f":null,"d":null,"s":null,"by":null,"t":null,"dt":null,"dec":"50.00","dec18":"10000.0000","dec38":null,"req":"e"}`},
		{"nulls", `{"b":null,"t":null,"req":"n"}`,
			`{"b":null,"i":null,"l":null,"f":null,"d":null,"s":null,"by":null,"t":null,"dt":null,"dec":null,"dec18":null,"dec38":null,"req":"n"}`},
	}
	var inputs [][]byte
	for _, c := range cases {
		inputs = append(inputs, []byte(c.in))
	}
	got := roundTrip(t, ts, schemas.NewJSONDecoder(ts), inputs)
	for i, c := range cases {
		if want := canonical(t, c.want); got[i] != want {
			t.Errorf("%s:\n got %s\nwant %s", c.name, got[i], want)
		}
	}
}

func TestJSONEventTime(t *testing.T) {
	ts := flatTable(t)
	dec := schemas.NewJSONDecoder(ts)
	var rec schemas.Record
	for _, c := range []struct {
		in   string
		want int64
		has  bool
	}{
		{`{"t":"1970-01-01T00:00:01.5Z","req":""}`, 1_500_000, true},
		{`{"t":-1500,"req":""}`, -1_500_000, true},
		{`{"t":"1969-12-31T23:59:59.999999Z","req":""}`, -1, true},
		{`{"t":null,"req":""}`, 0, false},
		{`{"req":""}`, 0, false},
	} {
		if err := dec.Decode([]byte(c.in), &rec); err != nil {
			t.Fatalf("%s: %v", c.in, err)
		}
		if rec.EventTime != c.want || rec.HasEventTime != c.has {
			t.Errorf("%s: event time %d %v, want %d %v", c.in, rec.EventTime, rec.HasEventTime, c.want, c.has)
		}
	}

	ms := mustTable(t, schemas.TableOptions{EventTimeField: "ts"}, [2]string{"ts", "int64"})
	dec = schemas.NewJSONDecoder(ms)
	if err := dec.Decode([]byte(`{"ts":1700000000123}`), &rec); err != nil {
		t.Fatal(err)
	}
	if rec.EventTime != 1700000000123000 || !rec.HasEventTime {
		t.Errorf("int64 event time: %d %v", rec.EventTime, rec.HasEventTime)
	}
	err := dec.Decode([]byte(`{"ts":9223372036854776}`), &rec)
	wantReason(t, err, schemas.ReasonBadTimestamp, "ts")
	err = dec.Decode([]byte(`{"ts":"soon"}`), &rec)
	wantReason(t, err, schemas.ReasonBadTimestamp, "ts")
}

func wantReason(t *testing.T, err error, reason, field string) {
	t.Helper()
	var de *schemas.DecodeError
	if !errors.As(err, &de) {
		t.Fatalf("error %v: want a *DecodeError with reason %s", err, reason)
	}
	if de.Reason != reason || de.Field != field {
		t.Errorf("error %q: reason %q field %q, want %q %q", err, de.Reason, de.Field, reason, field)
	}
	if !strings.Contains(err.Error(), reason) {
		t.Errorf("error %q does not name its reason", err)
	}
}

func TestJSONErrors(t *testing.T) {
	flat := flatTable(t)
	nested := nestedTable(t)
	cases := []struct {
		ts            *schemas.TableSchema
		in            string
		reason, field string
	}{
		{flat, ``, schemas.ReasonInvalidJSON, ""},
		{flat, `[1]`, schemas.ReasonInvalidJSON, ""},
		{flat, `"x"`, schemas.ReasonInvalidJSON, ""},
		{flat, `{"req":"x"} {}`, schemas.ReasonInvalidJSON, ""},
		{flat, `{"req":"x",}`, schemas.ReasonInvalidJSON, ""},
		{flat, `{"req":"x"`, schemas.ReasonInvalidJSON, ""},
		{flat, `{"req":"x","u":[1,2}`, schemas.ReasonInvalidJSON, ""},
		{flat, `{"req":"x","u":tru}`, schemas.ReasonInvalidJSON, ""},
		{flat, `{"req":"x","u":"\q"}`, schemas.ReasonInvalidJSON, ""},
		{flat, `{"req":"x","u":01}`, schemas.ReasonInvalidJSON, ""},
		{flat, `{"req":"a` + "\x01" + `"}`, schemas.ReasonInvalidJSON, "req"},
		{flat, `{"req":"` + "\xff" + `"}`, schemas.ReasonInvalidJSON, "req"},
		{flat, `{"req":"x","req":"y"}`, schemas.ReasonInvalidJSON, "req"},
		{flat, `{"req":"x","i":"1"}`, schemas.ReasonSchemaMismatch, "i"},
		{flat, `{"req":"x","i":{"a":[}}`, schemas.ReasonInvalidJSON, "i"},
		{flat, `{"req":"x","i":2147483648}`, schemas.ReasonSchemaMismatch, "i"},
		{flat, `{"req":"x","i":1.0}`, schemas.ReasonSchemaMismatch, "i"},
		{flat, `{"req":"x","l":9223372036854775808}`, schemas.ReasonSchemaMismatch, "l"},
		{flat, `{"req":"x","b":1}`, schemas.ReasonSchemaMismatch, "b"},
		{flat, `{"req":"x","f":1e39}`, schemas.ReasonSchemaMismatch, "f"},
		{flat, `{"req":"x","f":"1.5"}`, schemas.ReasonSchemaMismatch, "f"},
		{flat, `{"req":"x","s":5}`, schemas.ReasonSchemaMismatch, "s"},
		{flat, `{"req":"x","by":"%%%"}`, schemas.ReasonSchemaMismatch, "by"},
		{flat, `{"req":"x","dt":"2023-02-29"}`, schemas.ReasonSchemaMismatch, "dt"},
		{flat, `{"req":"x","dt":2147483648}`, schemas.ReasonSchemaMismatch, "dt"},
		{flat, `{"req":"x","dec":"1.234"}`, schemas.ReasonSchemaMismatch, "dec"},
		{flat, `{"req":"x","dec":123456789}`, schemas.ReasonSchemaMismatch, "dec"},
		{flat, `{"req":"x","dec":"abc"}`, schemas.ReasonSchemaMismatch, "dec"},
		{flat, `{"req":"x","dec38":"1e28"}`, schemas.ReasonSchemaMismatch, "dec38"},
		{flat, `{"req":"x","t":"2026-11-21 07:15"}`, schemas.ReasonBadTimestamp, "t"},
		{flat, `{"req":"x","t":"2026-11-21T07:15:42"}`, schemas.ReasonBadTimestamp, "t"},
		{flat, `{"req":"x","t":1.5}`, schemas.ReasonBadTimestamp, "t"},
		{flat, `{"req":"x","t":true}`, schemas.ReasonBadTimestamp, "t"},
		{flat, `{}`, schemas.ReasonMissingField, "req"},
		{flat, `{"req":null}`, schemas.ReasonMissingField, "req"},
		{nested, `{"tags":[]}`, schemas.ReasonMissingField, "id"},
		{nested, `{"id":1,"items":[{"qty":1}]}`, schemas.ReasonMissingField, "items[].sku"},
		{nested, `{"id":1,"items":[{"sku":null}]}`, schemas.ReasonMissingField, "items[].sku"},
		{nested, `{"id":1,"tags":"a"}`, schemas.ReasonSchemaMismatch, "tags"},
		{nested, `{"id":1,"tags":[1]}`, schemas.ReasonSchemaMismatch, "tags[]"},
		{nested, `{"id":1,"attrs":[]}`, schemas.ReasonSchemaMismatch, "attrs"},
		{nested, `{"id":1,"attrs":{"k":{"a":"x"}}}`, schemas.ReasonSchemaMismatch, "attrs{}.a"},
		{nested, `{"id":1,"attrs":{"k":{"a":1},}}`, schemas.ReasonInvalidJSON, "attrs"},
		{nested, `{"id":1,"nested":{"x":1,"x":2}}`, schemas.ReasonInvalidJSON, "nested.x"},
		{nested, `{"id":1,"matrix":[[1],2]}`, schemas.ReasonSchemaMismatch, "matrix[]"},
		{nested, `{"id":1,"u":` + strings.Repeat("[", 300) + strings.Repeat("]", 300) + `}`, schemas.ReasonInvalidJSON, ""},
		// A lone UTF-16 surrogate is no character: refused, not made U+FFFD.
		{flat, `{"req":"a\ud800b"}`, schemas.ReasonInvalidJSON, "req"},
		{flat, `{"req":"\udc00"}`, schemas.ReasonInvalidJSON, "req"},
		{flat, `{"req":"\ud800\u0041"}`, schemas.ReasonInvalidJSON, "req"},
		{flat, `{"req":"x","dec":"\ud800"}`, schemas.ReasonInvalidJSON, "dec"},
		{flat, `{"\ud800":1,"req":"x"}`, schemas.ReasonInvalidJSON, ""},
		// base64 is strict: one text per value.
		{flat, `{"req":"x","by":"QR=="}`, schemas.ReasonSchemaMismatch, "by"},
		{flat, `{"req":"x","by":"QR"}`, schemas.ReasonSchemaMismatch, "by"},
		{flat, `{"req":"x","by":"QU\nJD"}`, schemas.ReasonSchemaMismatch, "by"},
		// Exponents past any saturation point still decide: 1e900000
		// overflows, 1e-900000 is inexact (they were stored as 1.00).
		{flat, `{"req":"x","dec":0.` + strings.Repeat("0", 99999) + `1e1000000}`, schemas.ReasonSchemaMismatch, "dec"},
		{flat, `{"req":"x","dec":"1` + strings.Repeat("0", 100000) + `e-1000000"}`, schemas.ReasonSchemaMismatch, "dec"},
		{flat, `{"req":"x","dec":1e99999999999999999999999}`, schemas.ReasonSchemaMismatch, "dec"},
	}
	for _, c := range cases {
		dec := schemas.NewJSONDecoder(c.ts)
		rec := schemas.Record{Row: make(parquet.Row, 3)}
		err := dec.Decode([]byte(c.in), &rec)
		if err == nil {
			t.Errorf("%s: no error", c.in)
			continue
		}
		t.Run("", func(t *testing.T) { wantReason(t, err, c.reason, c.field) })
		if len(rec.Row) != 0 || rec.HasEventTime {
			t.Errorf("%s: failed decode left a row of %d values", c.in, len(rec.Row))
		}
	}

	dec := schemas.NewJSONDecoder(flat, schemas.WithRejectUnknownFields())
	var rec schemas.Record
	wantReason(t, dec.Decode([]byte(`{"req":"x","extra":1}`), &rec), schemas.ReasonSchemaMismatch, "extra")
	if err := dec.Decode([]byte(`{"req":"x"}`), &rec); err != nil {
		t.Errorf("known fields only: %v", err)
	}
}

func TestJSONFloatSpecials(t *testing.T) {
	ts := flatTable(t)
	dec := schemas.NewJSONDecoder(ts)
	var rec schemas.Record
	if err := dec.Decode([]byte(`{"req":"","d":"NaN","f":"-Infinity"}`), &rec); err != nil {
		t.Fatal(err)
	}
	var d, f parquet.Value
	for _, v := range rec.Row {
		switch ts.Columns()[v.Column()][0] {
		case "d":
			d = v
		case "f":
			f = v
		}
	}
	if !math.IsNaN(d.Double()) || !math.IsInf(float64(f.Float()), -1) {
		t.Errorf("NaN and -Infinity: got %v %v", d, f)
	}
}

// Unescaped strings alias the input; escaped ones are copied.
func TestJSONStringsAliasInput(t *testing.T) {
	ts := flatTable(t)
	dec := schemas.NewJSONDecoder(ts)
	in := []byte(`{"req":"plain","s":"esc\n"}`)
	var rec schemas.Record
	if err := dec.Decode(in, &rec); err != nil {
		t.Fatal(err)
	}
	for _, v := range rec.Row {
		switch ts.Columns()[v.Column()][0] {
		case "req":
			if &v.ByteArray()[0] != &in[8] {
				t.Error("unescaped string does not alias the input")
			}
		case "s":
			if string(v.ByteArray()) != "esc\n" {
				t.Errorf("escaped string %q", v.ByteArray())
			}
		}
	}
}

func TestJSONDecodeAllocs(t *testing.T) {
	if testing.Short() {
		t.Skip("allocation counts")
	}
	for _, c := range []struct {
		name string
		ts   *schemas.TableSchema
		in   string
	}{
		{"pageview", pageviewTable(t), pageviewJSON},
		{"nested", nestedTable(t), `{"id":1,"tags":["a","b"],"items":[{"sku":"x","qty":2}],"attrs":{"k1":{"a":1}},"matrix":[[1,2],[3]]}`},
		{"escapes and decimals", flatTable(t), `{"req":"a\u00e9","dec38":"1.5","by":"aGVsbG8="}`},
	} {
		dec := schemas.NewJSONDecoder(c.ts)
		var rec schemas.Record
		in := []byte(c.in)
		allocs := testing.AllocsPerRun(1000, func() {
			if err := dec.Decode(in, &rec); err != nil {
				t.Fatal(err)
			}
		})
		if allocs != 0 {
			t.Errorf("%s: %v allocations per record", c.name, allocs)
		}
	}
}

func TestMetaAndKafkaColumns(t *testing.T) {
	for _, withKey := range []bool{false, true} {
		ts := mustTable(t, schemas.TableOptions{IncludeKafkaKey: withKey},
			[2]string{"a", "list<int32>"}, [2]string{"b", "string"})
		dec := schemas.NewJSONDecoder(ts)
		var rec schemas.Record
		if err := dec.Decode([]byte(`{"a":[1,2,3],"b":"x"}`), &rec); err != nil {
			t.Fatal(err)
		}
		ts.SetMeta(rec.Row, schemas.MetaCommitTime, []byte("20261121071542123"))
		ts.SetMeta(rec.Row, schemas.MetaSeqNo, []byte("20261121071542123_0_1"))
		ts.SetMeta(rec.Row, schemas.MetaRecordKey, []byte("k"))
		ts.SetMeta(rec.Row, schemas.MetaPartitionPath, []byte(""))
		ts.SetMeta(rec.Row, schemas.MetaFileName, nil)
		ts.SetKafka(rec.Row, 7, 99, 1_700_000_000_000_000, []byte("key"))
		rows := readBack(t, writeParquet(t, ts, []parquet.Row{rec.Row}))
		got := rows[0]
		want := map[string]any{
			"_hoodie_commit_time": "20261121071542123", "_hoodie_commit_seqno": "20261121071542123_0_1",
			"_hoodie_record_key": "k", "_hoodie_partition_path": "", "_hoodie_file_name": nil,
			"_kafka_partition": float64(7), "_kafka_offset": float64(99), "_kafka_timestamp": float64(1_700_000_000_000_000),
		}
		if withKey {
			want["_kafka_key"] = "b64:a2V5"
		}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("key=%v: %s = %v, want %v", withKey, k, got[k], v)
			}
		}
		if _, has := got["_kafka_key"]; has != withKey {
			t.Errorf("key=%v: _kafka_key present: %v", withKey, has)
		}
		if n := ts.NumKafkaColumns(); n != 3+map[bool]int{false: 0, true: 1}[withKey] {
			t.Errorf("NumKafkaColumns = %d", n)
		}
	}
}

// TestJSONFieldNameForms checks that a field is found whatever the form of
// its name: plain in schema order (the fast path), out of order, escaped,
// or sharing a prefix with another name; and that a repeated field is
// caught on either path.
func TestJSONFieldNameForms(t *testing.T) {
	ts := flatTable(t)
	dec := schemas.NewJSONDecoder(ts)
	same := []struct{ name, in, want string }{
		{"schema order", `{"b":true,"i":5,"l":7,"req":"r"}`, `{"b":true,"i":5,"l":7,"req":"r"}`},
		{"out of order", `{"req":"r","l":7,"i":5,"b":true}`, `{"b":true,"i":5,"l":7,"req":"r"}`},
		{"escaped", `{"\u0062":true,"\u0069":5,"l":7,"r\u0065q":"r"}`, `{"b":true,"i":5,"l":7,"req":"r"}`},
		{"prefixes", `{"b":true,"iX":9,"i":5,"dt":"2024-01-02","dec18":"1.5","dec":"2.25","req":"r"}`,
			`{"b":true,"i":5,"dt":"2024-01-02","dec18":"1.5","dec":"2.25","req":"r"}`},
		{"blanks", "{ \"b\" : true ,\n\"i\"\t:5 , \"req\":\"r\" }", `{"b":true,"i":5,"req":"r"}`},
	}
	for _, c := range same {
		got := roundTrip(t, ts, dec, [][]byte{[]byte(c.in)})
		want := roundTrip(t, ts, dec, [][]byte{[]byte(c.want)})
		if got[0] != want[0] {
			t.Errorf("%s: %s decodes to %s, want %s", c.name, c.in, got[0], want[0])
		}
	}
	var rec schemas.Record
	// "i" comes second in the schema: after "b" it is the expected field.
	wantReason(t, dec.Decode([]byte(`{"i":1,"b":true,"i":2,"req":"r"}`), &rec), schemas.ReasonInvalidJSON, "i")
	wantReason(t, dec.Decode([]byte(`{"b":true,"b":false,"req":"r"}`), &rec), schemas.ReasonInvalidJSON, "b")
	for _, in := range []string{`{"b"`, `{"b":true,"i`, `{"b":true,"i"`} {
		if err := dec.Decode([]byte(in), &rec); err == nil {
			t.Errorf("%s: no error", in)
		}
	}
}

// A value in the Schema Registry wire format sent to a JSON table is
// dead-lettered with a detail that says so, not "empty value"; JSON sent to
// an Avro table likewise.
func TestWrongFormatDetail(t *testing.T) {
	flat := flatTable(t)
	framed := []byte{0, 0, 0, 0x30, 0x39, 2, 'x'}
	for _, c := range []struct {
		dec    schemas.Decoder
		in     []byte
		reason string
		want   string
	}{
		{schemas.NewJSONDecoder(flat), framed, schemas.ReasonInvalidJSON, "Schema Registry framed record"},
		{schemas.NewJSONDecoder(flat), framed, schemas.ReasonInvalidJSON, "schema id 12345"},
		{schemas.NewJSONDecoder(flat), nil, schemas.ReasonInvalidJSON, "empty value"},
		{schemas.NewJSONDecoder(flat), []byte{0, 1}, schemas.ReasonInvalidJSON, "not a JSON object"},
		{schemas.NewAvroDecoder(flat, nil), []byte(` {"req":"x"}`), schemas.ReasonBadMagic, "first byte 0x20"},
		{schemas.NewAvroDecoder(flat, nil), []byte(`{"req":"x"}`), schemas.ReasonBadMagic, "looks like JSON"},
		{schemas.NewAvroDecoder(flat, nil), nil, schemas.ReasonBadMagic, "empty value"},
		{schemas.NewAvroDecoder(flat, nil), []byte{0, 0}, schemas.ReasonBadMagic, "too short"},
	} {
		var rec schemas.Record
		err := c.dec.Decode(c.in, &rec)
		var de *schemas.DecodeError
		if !errors.As(err, &de) || de.Reason != c.reason || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Decode(%q) = %v, want reason %s and %q in the detail", c.in, err, c.reason, c.want)
		}
	}
}
