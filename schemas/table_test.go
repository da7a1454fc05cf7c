package schemas_test

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"io"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/lakestream/lakestream/internal/hudifixtures"
	"github.com/lakestream/lakestream/schemas"
	"github.com/parquet-go/parquet-go"
)

func TestSchemaFromSpecsReportsEverything(t *testing.T) {
	no := false
	_, err := schemas.SchemaFromSpecs([]schemas.FieldSpec{
		{Name: "ok", Type: "int32"},
		{Name: "bad-name", Type: "int32"},
		{Name: "OK", Type: "string"},
		{Name: "_hoodie_x", Type: "string"},
		{Name: "_Kafka_offset", Type: "string", Optional: &no},
		{Name: "price", Type: "decimal(40,2)"},
		{Name: "ratio", Type: "decimal(5,6)"},
		{Name: "broken", Type: "list<"},
		{Name: "s", Type: "struct<a:int32,a:string,zero:decimal(0,0)>"},
		{Name: "id1", Type: "int64", ID: 3},
		{Name: "id2", Type: "int64", ID: 100},
		{Name: "id3", Type: "int64", ID: 100},
		{Name: "neg", Type: "int64", ID: -1},
	})
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{
		`"bad-name": name must match`,
		`"OK": differs from field "ok" only in case`,
		`"_hoodie_x": names starting with _hoodie_ or _kafka_ are reserved`,
		`"_Kafka_offset": names starting`,
		`"price": decimal precision 40`,
		`"ratio": decimal scale 6`,
		`field 8 ("broken"): type "list<"`,
		`"s.a": declared twice`,
		`"s.zero": decimal precision 0`,
		`"id1": field id 3 is reserved`,
		`"id3": field id 100 is also the id of "id2"`,
		`"neg": field id -1 is negative`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not report %s:\n%v", want, err)
		}
	}
}

func TestNewTableSchemaEventTime(t *testing.T) {
	user, err := schemas.SchemaFromSpecs([]schemas.FieldSpec{{Name: "a", Type: "string"}, {Name: "t", Type: "timestamp"}, {Name: "ms", Type: "int64"}})
	if err != nil {
		t.Fatal(err)
	}
	for field, ok := range map[string]bool{"t": true, "ms": true, "a": false, "missing": false, "": true} {
		ts, err := schemas.NewTableSchema(user, schemas.TableOptions{EventTimeField: field})
		if (err == nil) != ok {
			t.Errorf("event time %q: %v", field, err)
		}
		if err == nil && ts.EventTimeField() != field {
			t.Errorf("EventTimeField() = %q", ts.EventTimeField())
		}
	}
	// Nested event-time fields are not allowed, and problems add up.
	bad := schemas.Schema{Fields: []schemas.Field{{Name: "1x", Type: schemas.Type{Kind: schemas.KindInt32}}}}
	_, err = schemas.NewTableSchema(bad, schemas.TableOptions{EventTimeField: "s.t"})
	if err == nil || !strings.Contains(err.Error(), "name must match") || !strings.Contains(err.Error(), "not a top-level field") {
		t.Errorf("want both problems: %v", err)
	}
}

// fieldIDs lists "path=id" for every node of a Parquet schema.
func fieldIDs(n parquet.Node, prefix string, out []string) []string {
	for _, f := range n.Fields() {
		p := prefix + f.Name()
		if f.ID() != 0 {
			out = append(out, p+"="+itoa(f.ID()))
		}
		out = fieldIDs(f, p+".", out)
	}
	return out
}

func itoa(i int) string { b, _ := json.Marshal(i); return string(b) }

func TestFieldIDs(t *testing.T) {
	build := func() *schemas.TableSchema {
		user, err := schemas.SchemaFromSpecs([]schemas.FieldSpec{
			{Name: "a", Type: "int32"},
			{Name: "b", Type: "list<struct<x:int32,y?:string>>", ID: 7},
			{Name: "c", Type: "map<string,list<int64>>"},
			{Name: "d", Type: "string", ID: 9},
		})
		if err != nil {
			t.Fatal(err)
		}
		ts, err := schemas.NewTableSchema(user, schemas.TableOptions{IncludeKafkaKey: true})
		if err != nil {
			t.Fatal(err)
		}
		return ts
	}
	ts := build()
	got := fieldIDs(ts.Parquet(), "", nil)
	want := []string{
		"_hoodie_commit_time=1", "_hoodie_commit_seqno=2", "_hoodie_record_key=3", "_hoodie_partition_path=4", "_hoodie_file_name=5",
		"a=6", "b=7", "b.list.element=8", "b.list.element.x=10", "b.list.element.y=11",
		"c=12", "c.key_value.key=13", "c.key_value.value=14", "c.key_value.value.list.element=15",
		"d=9",
		"_kafka_partition=16", "_kafka_offset=17", "_kafka_timestamp=18", "_kafka_key=19",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("field ids:\n got %v\nwant %v", got, want)
	}
	if again := fieldIDs(build().Parquet(), "", nil); !reflect.DeepEqual(again, got) {
		t.Errorf("the same schema gave other ids: %v", again)
	}
	var top []int32
	for _, f := range ts.Fields() {
		top = append(top, f.ID)
	}
	if !reflect.DeepEqual(top, []int32{1, 2, 3, 4, 5, 6, 7, 12, 9, 16, 17, 18, 19}) {
		t.Errorf("Fields() ids: %v", top)
	}
}

func TestParquetSchema(t *testing.T) {
	ts := mustTable(t, schemas.TableOptions{},
		[2]string{"zeta!", "int64"},
		[2]string{"alpha", "string"},
		[2]string{"flags", "struct<b:bool,f?:float32,d?:float64,raw?:bytes>"},
		[2]string{"when", "timestamp"},
		[2]string{"day", "date"},
		[2]string{"d9", "decimal(9,2)"},
		[2]string{"d18", "decimal(18,3)"},
		[2]string{"d38", "decimal(38,4)"},
		[2]string{"tags", "list<string>"},
		[2]string{"attrs", "map<string,int32>"},
	)
	want := `message lakestream_record {
	optional binary _hoodie_commit_time (STRING) = 1;
	optional binary _hoodie_commit_seqno (STRING) = 2;
	optional binary _hoodie_record_key (STRING) = 3;
	optional binary _hoodie_partition_path (STRING) = 4;
	optional binary _hoodie_file_name (STRING) = 5;
	required int64 zeta (INT(64,true)) = 6;
	optional binary alpha (STRING) = 7;
	optional group flags = 8 {
		required boolean b = 9;
		optional float f = 10;
		optional double d = 11;
		optional binary raw = 12;
	}
	optional int64 when (TIMESTAMP(isAdjustedToUTC=true,unit=MICROS)) = 13;
	optional int32 day (DATE) = 14;
	optional int32 d9 (DECIMAL(9,2)) = 15;
	optional int64 d18 (DECIMAL(18,3)) = 16;
	optional fixed_len_byte_array(16) d38 (DECIMAL(38,4)) = 17;
	optional group tags (LIST) = 18 {
		repeated group list {
			optional binary element (STRING) = 19;
		}
	}
	optional group attrs (MAP) = 20 {
		repeated group key_value {
			required binary key (STRING) = 21;
			optional int32 value (INT(32,true)) = 22;
		}
	}
	required int32 _kafka_partition (INT(32,true)) = 23;
	required int64 _kafka_offset (INT(64,true)) = 24;
	required int64 _kafka_timestamp (TIMESTAMP(isAdjustedToUTC=true,unit=MICROS)) = 25;
}`
	if got := ts.Parquet().String(); got != want {
		t.Errorf("Parquet schema:\n%s\nwant\n%s", got, want)
	}
	wantCols := [][]string{
		{"_hoodie_commit_time"}, {"_hoodie_commit_seqno"}, {"_hoodie_record_key"}, {"_hoodie_partition_path"}, {"_hoodie_file_name"},
		{"zeta"}, {"alpha"}, {"flags", "b"}, {"flags", "f"}, {"flags", "d"}, {"flags", "raw"}, {"when"}, {"day"},
		{"d9"}, {"d18"}, {"d38"}, {"tags", "list", "element"}, {"attrs", "key_value", "key"}, {"attrs", "key_value", "value"},
		{"_kafka_partition"}, {"_kafka_offset"}, {"_kafka_timestamp"},
	}
	if !reflect.DeepEqual(ts.Columns(), wantCols) || ts.NumColumns() != len(wantCols) {
		t.Errorf("Columns() = %v", ts.Columns())
	}
	if !reflect.DeepEqual(ts.Parquet().Columns(), wantCols) {
		t.Errorf("parquet-go sees columns %v", ts.Parquet().Columns())
	}
}

// The Avro schema of a table equal to the Spark-written fixture
// v6_nonpartitioned is the one Hudi wrote into the fixture's Parquet footer
// (parquet.avro.schema) and commit metadata, plus the Kafka columns.
func TestAvroMatchesHudi(t *testing.T) {
	zr, err := zip.OpenReader(filepath.Join(hudifixtures.Dir(), "v6_nonpartitioned.zip"))
	if err != nil {
		t.Skipf("fixture: %v", err)
	}
	defer zr.Close()
	var footerSchema, commitSchema string
	for _, f := range zr.File {
		if strings.HasPrefix(f.Name, "__MACOSX") {
			continue
		}
		switch {
		case strings.HasSuffix(f.Name, "20240418173551906.parquet"):
			data := readZip(t, f)
			pf, err := parquet.OpenFile(bytes.NewReader(data), int64(len(data)))
			if err != nil {
				t.Fatal(err)
			}
			footerSchema, _ = pf.Lookup("parquet.avro.schema")
		case strings.HasSuffix(f.Name, ".hoodie/20240418173551906.commit"):
			var meta struct {
				ExtraMetadata map[string]string `json:"extraMetadata"`
			}
			if err := json.Unmarshal(readZip(t, f), &meta); err != nil {
				t.Fatal(err)
			}
			commitSchema = meta.ExtraMetadata["schema"]
		}
	}
	ts := mustTable(t, schemas.TableOptions{IncludeKafkaKey: true},
		[2]string{"id", "int32"}, [2]string{"name", "string"}, [2]string{"isActive", "bool"},
		[2]string{"byteField", "int32"}, [2]string{"shortField", "int32"}, [2]string{"intField", "int32"},
		[2]string{"longField", "int64"}, [2]string{"floatField", "float32"}, [2]string{"doubleField", "float64"},
		[2]string{"decimalField", "decimal(10,5)"}, [2]string{"dateField", "date"}, [2]string{"timestampField", "timestamp"},
		[2]string{"binaryField", "bytes"},
		[2]string{"arrayField", "list<struct<arr_struct_f1?:string,arr_struct_f2?:int32>>"},
		[2]string{"mapField", "map<string,struct<map_field_value_struct_f1?:float64,map_field_value_struct_f2?:bool>>"},
		[2]string{"structField", "struct<field1?:string,field2?:int32,child_struct?:struct<child_field1?:float64,child_field2?:bool>>"},
	)
	got := ts.FileAvro("v6_nonpartitioned_record", "hoodie.v6_nonpartitioned")
	commit := ts.Avro("v6_nonpartitioned_record", "hoodie.v6_nonpartitioned")
	if strings.Contains(commit, `"_hoodie_`) {
		t.Errorf("the commit schema lists meta columns (Hudi 0.15's incremental query then adds them twice): %s", commit)
	}
	var gotDoc map[string]any
	if err := json.Unmarshal([]byte(got), &gotDoc); err != nil {
		t.Fatalf("Avro() is not JSON: %v\n%s", err, got)
	}
	fields := gotDoc["fields"].([]any)
	kafka := fields[len(fields)-4:]
	wantKafka := `[{"name":"_kafka_partition","type":"int"},{"name":"_kafka_offset","type":"long"},` +
		`{"name":"_kafka_timestamp","type":{"type":"long","logicalType":"timestamp-micros"}},` +
		`{"name":"_kafka_key","type":["null","bytes"],"default":null}]`
	if b, _ := json.Marshal(kafka); canonical(t, string(b)) != canonical(t, wantKafka) {
		t.Errorf("Kafka fields: %s", b)
	}
	gotDoc["fields"] = fields[:len(fields)-4]
	var userOnly map[string]any
	if err := json.Unmarshal([]byte(commit), &userOnly); err != nil {
		t.Fatalf("Avro() is not JSON: %v\n%s", err, commit)
	}
	if cf := userOnly["fields"].([]any); len(cf) != len(fields)-5 {
		t.Errorf("Avro() has %d fields, want the %d columns after the meta columns", len(cf), len(fields)-5)
	} else {
		userOnly["fields"] = cf[:len(cf)-4] // the fixture has no Kafka columns
	}

	for _, c := range []struct {
		name, want string
		doc        map[string]any
	}{
		{"footer", footerSchema, gotDoc},
		{"commit", commitSchema, userOnly},
	} {
		if c.want == "" {
			t.Errorf("fixture has no %s schema", c.name)
			continue
		}
		b, _ := json.Marshal(c.doc)
		if g, w := canonical(t, string(b)), canonical(t, c.want); g != w {
			t.Errorf("%s schema differs:\n got %s\nwant %s", c.name, g, w)
		}
	}
	if _, err := schemas.ParseAvroSchema(got); err != nil {
		t.Errorf("Avro() does not parse as Avro: %v", err)
	}
}

func readZip(t *testing.T, f *zip.File) []byte {
	t.Helper()
	rc, err := f.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestPartitionColumns: partition columns end the row, after the Kafka
// columns (whose field IDs do not move); decoders leave them null, SetKafka
// still finds the Kafka columns; the Avro schema (Hudi's) lists them; a
// name that is a user field, reserved or invalid is refused.
func TestPartitionColumns(t *testing.T) {
	user, err := schemas.SchemaFromSpecs([]schemas.FieldSpec{{Name: "a", Type: "int32"}, {Name: "tags", Type: "list<string>"}})
	if err != nil {
		t.Fatal(err)
	}
	ts, err := schemas.NewTableSchema(user, schemas.TableOptions{IncludeKafkaKey: true, PartitionColumns: []string{"dt", "hr"}})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"_hoodie_commit_time=1", "_hoodie_commit_seqno=2", "_hoodie_record_key=3", "_hoodie_partition_path=4", "_hoodie_file_name=5",
		"a=6", "tags=7", "tags.list.element=8",
		"_kafka_partition=9", "_kafka_offset=10", "_kafka_timestamp=11", "_kafka_key=12",
		"dt=13", "hr=14",
	}
	if got := fieldIDs(ts.Parquet(), "", nil); !reflect.DeepEqual(got, want) {
		t.Errorf("field ids:\n got %v\nwant %v", got, want)
	}
	var rec schemas.Record
	if err := schemas.NewJSONDecoder(ts).Decode([]byte(`{"a":1,"tags":["x","y"],"dt":"not read"}`), &rec); err != nil {
		t.Fatal(err)
	}
	ts.SetKafka(rec.Row, 3, 42, 1_000_000, []byte("k"))
	n := len(rec.Row)
	kafka, part := rec.Row[n-6:n-2], rec.Row[n-2:]
	if kafka[0].Int32() != 3 || kafka[1].Int64() != 42 || kafka[2].Int64() != 1_000_000 || string(kafka[3].ByteArray()) != "k" {
		t.Errorf("Kafka columns %v", kafka)
	}
	if !part[0].IsNull() || !part[1].IsNull() || part[0].Column() != 11 || part[1].Column() != 12 {
		t.Errorf("partition columns %v: want nulls of columns 11 and 12 (the writer sets them)", part)
	}
	if avro := ts.Avro("t_record", "hoodie.t"); !strings.Contains(avro, `"name":"dt"`) || !strings.Contains(avro, `"name":"hr"`) {
		t.Errorf("Avro schema has no dt: %s", avro)
	}
	for _, bad := range [][]string{{"a"}, {"_hoodie_x"}, {"dt", "dt"}, {"9x"}} {
		if _, err := schemas.NewTableSchema(user, schemas.TableOptions{PartitionColumns: bad}); err == nil {
			t.Errorf("partition columns %q: no error", bad)
		}
		if err := schemas.CheckPartitionColumns(user, bad); err == nil {
			t.Errorf("CheckPartitionColumns(%q): no error", bad)
		}
	}
}
