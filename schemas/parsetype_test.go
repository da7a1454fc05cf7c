package schemas_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/lakestream/lakestream/schemas"
)

func TestParseType(t *testing.T) {
	i32 := schemas.Type{Kind: schemas.KindInt32}
	str := schemas.Type{Kind: schemas.KindString}
	for _, c := range []struct {
		in   string
		want schemas.Type
	}{
		{"bool", schemas.Type{Kind: schemas.KindBool}},
		{" INT64 ", schemas.Type{Kind: schemas.KindInt64}},
		{"timestamp", schemas.Type{Kind: schemas.KindTimestamp}},
		{"decimal( 10 , 2 )", schemas.Type{Kind: schemas.KindDecimal, Precision: 10, Scale: 2}},
		{"list<int32>", schemas.Type{Kind: schemas.KindList, Elem: &i32}},
		{"map<string, string>", schemas.Type{Kind: schemas.KindMap, Value: &str}},
		{"struct<a:int32, b?:string>", schemas.Type{Kind: schemas.KindStruct, Fields: []schemas.Field{
			{Name: "a", Type: i32}, {Name: "b", Type: str, Optional: true}}}},
	} {
		got, err := schemas.ParseType(c.in)
		if err != nil {
			t.Errorf("%q: %v", c.in, err)
			continue
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("%q: got %+v, want %+v", c.in, got, c.want)
		}
		again, err := schemas.ParseType(got.String())
		if err != nil || !reflect.DeepEqual(again, got) {
			t.Errorf("%q: String() %q does not parse back: %v", c.in, got.String(), err)
		}
	}
}

func TestParseTypeErrors(t *testing.T) {
	for _, c := range []struct {
		in   string
		pos  int
		text string
	}{
		{"", 0, "want a type"},
		{"int", 0, `unknown type "int"`},
		{"list<int32", 10, `want '>'`},
		{"list<int32>>", 11, "after the type"},
		{"map<int32,string>", 4, "map keys must be string"},
		{"decimal(10)", 10, `want ','`},
		{"decimal(x,1)", 8, "precision"},
		{"struct<>", 7, "at least one field"},
		{"struct<a int32>", 9, `want ':'`},
		{"struct<a:int32,>", 15, "field name"},
		{"struct<1a:int32>", 7, "field name"},
		{strings.Repeat("list<", 40) + "int32" + strings.Repeat(">", 40), 160, "deeper"},
	} {
		_, err := schemas.ParseType(c.in)
		var te *schemas.TypeError
		if !errors.As(err, &te) {
			t.Errorf("%q: error %v, want a *TypeError", c.in, err)
			continue
		}
		if te.Pos != c.pos || !strings.Contains(err.Error(), c.text) {
			t.Errorf("%q: %v (pos %d), want pos %d and %q", c.in, err, te.Pos, c.pos, c.text)
		}
	}
}
