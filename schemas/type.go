package schemas

import (
	"strconv"
	"strings"
)

// Type is a column type. Precision and Scale are set for KindDecimal, Fields
// for KindStruct, Elem for KindList and Value for KindMap (map keys are
// always strings). List elements and map values are nullable.
type Type struct {
	Kind             Kind
	Precision, Scale int
	Fields           []Field
	Elem             *Type
	Value            *Type
}

// Field is a named column or nested struct field. ID is its Parquet field
// ID; zero means "assign one" (see NewTableSchema).
type Field struct {
	Name     string
	Type     Type
	Optional bool
	ID       int32
}

// Schema is the user part of a table row: the fields from the table config,
// in declared order.
type Schema struct {
	Fields []Field
}

// String renders the type in the grammar ParseType reads, so that
// ParseType(t.String()) gives t back (without field IDs).
func (t Type) String() string {
	var b strings.Builder
	t.write(&b)
	return b.String()
}

func (t Type) write(b *strings.Builder) {
	switch t.Kind {
	case KindDecimal:
		b.WriteString("decimal(")
		b.WriteString(strconv.Itoa(t.Precision))
		b.WriteByte(',')
		b.WriteString(strconv.Itoa(t.Scale))
		b.WriteByte(')')
	case KindList:
		b.WriteString("list<")
		if t.Elem != nil {
			t.Elem.write(b)
		}
		b.WriteByte('>')
	case KindMap:
		b.WriteString("map<string,")
		if t.Value != nil {
			t.Value.write(b)
		}
		b.WriteByte('>')
	case KindStruct:
		b.WriteString("struct<")
		for i, f := range t.Fields {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(f.Name)
			if f.Optional {
				b.WriteByte('?')
			}
			b.WriteByte(':')
			f.Type.write(b)
		}
		b.WriteByte('>')
	default:
		b.WriteString(t.Kind.String())
	}
}
