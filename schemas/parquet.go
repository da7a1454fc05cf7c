package schemas

import (
	"reflect"

	"github.com/parquet-go/parquet-go"
)

// Parquet returns the Parquet schema of the full row: columns in row order
// (parquet.Group would sort them by name), every node with its field ID.
// Strings are BYTE_ARRAY (STRING), timestamps INT64 TIMESTAMP(UTC, MICROS),
// dates INT32 DATE, decimals INT32/INT64/FIXED_LEN_BYTE_ARRAY DECIMAL as
// Spark writes them, lists the standard three-level LIST and maps the
// standard MAP.
func (ts *TableSchema) Parquet() *parquet.Schema { return ts.parquet }

// parquetGroup renders a struct node as an ordered group.
func parquetGroup(n *node) parquet.Node {
	g := &orderedGroup{fields: make([]parquet.Field, len(n.fields))}
	for i, f := range n.fields {
		g.fields[i] = &namedField{Node: parquetNode(f), name: f.name}
	}
	return g
}

// parquetNode renders n with its repetition and field ID.
func parquetNode(n *node) parquet.Node {
	var pn parquet.Node
	switch n.kind {
	case KindBool:
		pn = parquet.Leaf(parquet.BooleanType)
	case KindInt32:
		pn = parquet.Leaf(parquet.Int32Type)
	case KindInt64:
		pn = parquet.Leaf(parquet.Int64Type)
	case KindFloat32:
		pn = parquet.Leaf(parquet.FloatType)
	case KindFloat64:
		pn = parquet.Leaf(parquet.DoubleType)
	case KindString:
		pn = parquet.String()
	case KindBytes:
		pn = parquet.Leaf(parquet.ByteArrayType)
	case KindTimestamp:
		pn = parquet.Timestamp(parquet.Microsecond)
	case KindDate:
		pn = parquet.Date()
	case KindDecimal:
		switch n.decimal.phys {
		case decimalInt32:
			pn = parquet.Decimal(n.scale, n.precision, parquet.Int32Type)
		case decimalInt64:
			pn = parquet.Decimal(n.scale, n.precision, parquet.Int64Type)
		default:
			pn = parquet.Decimal(n.scale, n.precision, parquet.FixedLenByteArrayType(n.decimal.size))
		}
	case KindStruct:
		pn = parquetGroup(n)
	case KindList:
		pn = parquet.List(parquetNode(n.elem))
	case KindMap:
		pn = parquet.Map(parquetNode(n.key), parquetNode(n.val))
	}
	if n.optional {
		pn = parquet.Optional(pn)
	} else {
		pn = parquet.Required(pn)
	}
	return parquet.FieldID(pn, int(n.id))
}

// orderedGroup is a Parquet group whose fields keep their declared order.
// The embedded parquet.Group (empty) supplies the group type and defaults.
type orderedGroup struct {
	parquet.Group
	fields []parquet.Field
}

func (g *orderedGroup) Fields() []parquet.Field { return g.fields }

func (g *orderedGroup) String() string { return parquet.NewSchema("", g).String() }

func (g *orderedGroup) GoType() reflect.Type {
	fields := make([]reflect.StructField, len(g.fields))
	for i, f := range g.fields {
		fields[i] = reflect.StructField{
			Name: "F" + f.Name(),
			Type: f.GoType(),
			Tag:  reflect.StructTag(`parquet:"` + f.Name() + `"`),
		}
	}
	return reflect.StructOf(fields)
}

// namedField names a node inside an orderedGroup.
type namedField struct {
	parquet.Node
	name string
}

func (f *namedField) Name() string { return f.name }

// Value is part of parquet.Field; lakestream never maps Go values onto
// table rows, so it returns the zero Value.
func (f *namedField) Value(reflect.Value) reflect.Value { return reflect.Value{} }
