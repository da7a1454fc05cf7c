package parquetfile

import (
	"reflect"
	"testing"

	"github.com/parquet-go/parquet-go/format"
)

// TestSameElement: sameElement says what reflect.DeepEqual says of schema
// elements differing in each field, the logical type included.
func TestSameElement(t *testing.T) {
	base := func() format.SchemaElement {
		e := format.SchemaElement{Name: "url", FieldID: 9}
		e.Type.Set(format.ByteArray)
		e.RepetitionType.Set(format.Optional)
		e.LogicalType.Value = &format.StringType{}
		return e
	}
	changes := []func(*format.SchemaElement){
		func(e *format.SchemaElement) {},
		func(e *format.SchemaElement) { e.Name = "uri" },
		func(e *format.SchemaElement) { e.FieldID = 10 },
		func(e *format.SchemaElement) { e.Type.Set(format.Int32) },
		func(e *format.SchemaElement) { e.RepetitionType.Set(format.Required) },
		func(e *format.SchemaElement) { e.TypeLength.Set(4) },
		func(e *format.SchemaElement) { e.NumChildren.Set(0) },
		func(e *format.SchemaElement) { e.Scale.Set(2) },
		func(e *format.SchemaElement) { e.Precision.Set(9) },
		func(e *format.SchemaElement) { e.LogicalType.Value = nil },
		func(e *format.SchemaElement) { e.LogicalType.Value = &format.JsonType{} },
		func(e *format.SchemaElement) {
			e.LogicalType.Value = &format.DecimalType{Scale: 2, Precision: 9}
		},
	}
	for i, change := range changes {
		a, b := base(), base()
		change(&b)
		if got, want := sameElement(&a, &b), reflect.DeepEqual(a, b); got != want {
			t.Errorf("change %d: sameElement %t, reflect.DeepEqual %t", i, got, want)
		}
		if i > 0 && sameElement(&a, &b) {
			t.Errorf("change %d: equal", i)
		}
	}
	x, y := base(), base()
	x.LogicalType.Value = &format.DecimalType{Scale: 2, Precision: 9}
	y.LogicalType.Value = &format.DecimalType{Scale: 2, Precision: 9}
	if !sameElement(&x, &y) {
		t.Error("equal logical types of two pointers: not equal")
	}
}
