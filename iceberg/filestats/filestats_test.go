package filestats

import (
	"bytes"
	"context"
	"encoding/json"
	"math/big"
	"reflect"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"

	"github.com/lakestream/lakestream/internal/objstore"
)

func TestTwosComplement(t *testing.T) {
	for _, c := range []struct {
		n    int64
		want []byte
	}{{0, []byte{0}}, {1, []byte{1}}, {127, []byte{0x7f}}, {128, []byte{0, 0x80}}, {-1, []byte{0xff}},
		{-128, []byte{0x80}}, {-129, []byte{0xff, 0x7f}}, {-256, []byte{0xff, 0x00}}, {1234567, []byte{0x12, 0xd6, 0x87}}} {
		if got := twosComplement(big.NewInt(c.n)); !bytes.Equal(got, c.want) {
			t.Errorf("%d: % x, want % x", c.n, got, c.want)
		}
	}
}

// footerOf writes rows of schema with parquet-go and reads the footer back.
func footerOf(t *testing.T, schema *parquet.Schema, rows []any) (json.RawMessage, []Column) {
	t.Helper()
	var buf bytes.Buffer
	w := parquet.NewWriter(&buf, schema)
	for _, r := range rows {
		if err := w.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	b := objstore.NewMemory()
	ctx := context.Background()
	if err := b.Put(ctx, "f.parquet", bytes.NewReader(buf.Bytes())); err != nil {
		t.Fatal(err)
	}
	md, err := ReadFooter(ctx, b, "f.parquet", int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	// The same footer from a local file and from the end of the bytes.
	at, err := ReadFooterAt(bytes.NewReader(buf.Bytes()), int64(buf.Len()), "f.parquet")
	if err != nil || !reflect.DeepEqual(at, md) {
		t.Fatalf("ReadFooterAt: %v, %v", at, err)
	}
	fromTail, err := FooterFromTail(buf.Bytes()[4:])
	if err != nil || !reflect.DeepEqual(fromTail, md) {
		t.Fatalf("FooterFromTail: %v, %v", fromTail, err)
	}
	if _, err := FooterFromTail(buf.Bytes()[buf.Len()-9:]); err == nil {
		t.Fatal("FooterFromTail of a cut tail: no error")
	}
	s, cols, err := FromFooter(md)
	if err != nil {
		t.Fatal(err)
	}
	return s, cols
}

func TestSchemaAndBounds(t *testing.T) {
	type row struct {
		ID    int64            `parquet:"id"`
		Name  *string          `parquet:"name,optional"`
		Tags  []string         `parquet:"tags,list"`
		Attrs map[string]int32 `parquet:"attrs"`
	}
	g := parquet.Group{
		"id":    parquet.FieldID(parquet.Int(64), 1),
		"name":  parquet.FieldID(parquet.Optional(parquet.String()), 2),
		"tags":  parquet.FieldID(parquet.List(parquet.FieldID(parquet.String(), 4)), 3),
		"attrs": parquet.FieldID(parquet.Map(parquet.FieldID(parquet.String(), 6), parquet.FieldID(parquet.Int(32), 7)), 5),
	}
	a, b := "b", "a"
	s, cols := footerOf(t, parquet.NewSchema("r", g), []any{
		row{ID: -5, Name: &a, Tags: []string{"x"}, Attrs: map[string]int32{"k": 1}},
		row{ID: 7, Name: &b},
		row{ID: 3},
	})
	for _, want := range []string{`"id":1,"name":"id","required":true,"type":"long"`, `"type":"list","element-id":4,"element":"string","element-required":true`,
		`"type":"map","key-id":6,"key":"string","value-id":7,"value":"int","value-required":true`} {
		if !strings.Contains(string(s), want) {
			t.Errorf("schema %s lacks %s", s, want)
		}
	}
	// Metrics for the top-level columns only (parquet.Group orders fields
	// by name: attrs, id, name, tags).
	byID := map[int]Column{}
	for _, c := range cols {
		byID[c.ID] = c
	}
	if len(byID) != 2 {
		t.Fatalf("metrics of %d columns, want id and name only: %+v", len(byID), cols)
	}
	id := byID[1]
	if id.Values != 3 || *id.Nulls != 0 || !bytes.Equal(id.Lower, []byte{0xfb, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}) || id.Upper[0] != 7 {
		t.Errorf("id metrics %+v", id)
	}
	name := byID[2]
	if name.Values != 3 || *name.Nulls != 1 || string(name.Lower) != "a" || string(name.Upper) != "b" {
		t.Errorf("name metrics %+v", name)
	}
}

func TestUnsupportedTypes(t *testing.T) {
	for name, node := range map[string]parquet.Node{
		"millis":   parquet.Timestamp(parquet.Millisecond),
		"unsigned": parquet.Uint(32),
	} {
		g := parquet.Group{"c": parquet.FieldID(node, 1)}
		var buf bytes.Buffer
		w := parquet.NewWriter(&buf, parquet.NewSchema("r", g))
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		f, err := parquet.OpenFile(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
		if err != nil {
			t.Fatal(err)
		}
		md := f.Metadata()
		if _, err := SchemaFromFooter(md); err == nil || !strings.Contains(err.Error(), "column c") {
			t.Errorf("%s: error %v, want one naming column c", name, err)
		}
	}
	g := parquet.Group{"c": parquet.Int(64)}
	var buf bytes.Buffer
	w := parquet.NewWriter(&buf, parquet.NewSchema("r", g))
	w.Close()
	f, _ := parquet.OpenFile(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if _, err := SchemaFromFooter(f.Metadata()); err == nil || !strings.Contains(err.Error(), "no field ID") {
		t.Errorf("no field ID: error %v", err)
	}
}

func TestSidecarRoundTrip(t *testing.T) {
	ctx := context.Background()
	b := objstore.NewMemory()
	n := int64(3)
	in := &Instant{Schema: json.RawMessage(`{"type":"struct","schema-id":0,"fields":[]}`), Files: []File{
		{Path: "dt=x/a.parquet", Records: 10, Size: 100, Columns: []Column{{ID: 1, Size: 5, Values: 10, Nulls: &n, Lower: []byte{0}, Upper: []byte{9}}}},
		{Path: "dt=x/b.parquet", Records: 0, Size: 12},
	}}
	if err := WriteSidecar(ctx, b, "20260314092653589", in); err != nil {
		t.Fatal(err)
	}
	out, err := ReadSidecar(ctx, b, "20260314092653589")
	if err != nil {
		t.Fatal(err)
	}
	x, _ := json.Marshal(in.Files)
	y, _ := json.Marshal(out.Files)
	if !bytes.Equal(x, y) || string(out.Schema) != string(in.Schema) {
		t.Fatalf("round trip:\n%s\n%s", x, y)
	}
	// A truncated sidecar is refused.
	data, _ := objstore.ReadAll(ctx, b, SidecarKey("20260314092653589"))
	cut := data[:bytes.LastIndexByte(data[:len(data)-1], '\n')+1]
	b.Put(ctx, SidecarKey("20260314092653589"), bytes.NewReader(cut))
	if _, err := ReadSidecar(ctx, b, "20260314092653589"); err == nil || !strings.Contains(err.Error(), "truncated") {
		t.Fatalf("truncated sidecar: %v", err)
	}
}
