package parquetfile

import (
	"errors"
	"fmt"
	"strings"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/encoding/thrift"
	"github.com/parquet-go/parquet-go/format"
)

// order is how a column's values compare for statistics and the page
// index (the Parquet spec's type-defined order).
type order int

const (
	orderSigned   order = iota // INT32, INT64 (also dates, timestamps, INT decimals)
	orderUnsigned              // INT32, INT64 with an unsigned integer logical type
	orderBytes                 // BYTE_ARRAY and FIXED_LEN_BYTE_ARRAY: unsigned lexicographic
	orderDecimal               // FIXED_LEN_BYTE_ARRAY decimal: signed big-endian two's complement
	orderBool                  // BOOLEAN: false < true
	orderFloat                 // FLOAT, DOUBLE: IEEE order without NaN
)

// leaf is one column of a flat schema.
type leaf struct {
	index    int
	path     []string
	kind     parquet.Kind
	typeLen  int // FIXED_LEN_BYTE_ARRAY length
	maxDef   byte
	order    order
	dict     bool // a dictionary, falling back to PLAIN past the size bound
	dictSet  bool // the schema asks for the dictionary: kept even when it does not pay
	typ      parquet.Type
	required bool
	truncate bool // byte array bounds may be truncated (see truncatable)
}

// errNotFlat is wrapped by Supports' errors.
var errNotFlat = errors.New("not a flat schema")

// Supports reports whether Writer can write files of schema: nil, or an
// error naming every column it cannot (repeated columns, INT96, encodings
// other than PLAIN and dictionary, byte array decimals, FLOAT16).
func Supports(schema *parquet.Schema) error {
	_, err := leavesOf(schema, defaultOptions())
	return err
}

// leavesOf returns the leaf columns of schema, in column order.
func leavesOf(schema *parquet.Schema, o options) ([]leaf, error) {
	if schema == nil {
		return nil, errors.New("parquetfile: nil schema")
	}
	var leaves []leaf
	var errs []error
	var walk func(n parquet.Node, path []string, def byte)
	walk = func(n parquet.Node, path []string, def byte) {
		name := strings.Join(path, ".")
		if n.Repeated() {
			errs = append(errs, fmt.Errorf("column %s is repeated", name))
			return
		}
		if n.Optional() {
			def++
		}
		if !n.Leaf() {
			for _, f := range n.Fields() {
				walk(f, append(path[:len(path):len(path)], f.Name()), def)
			}
			return
		}
		l, err := newLeaf(n, len(leaves), path, def, o)
		if err != nil {
			errs = append(errs, fmt.Errorf("column %s: %w", name, err))
		}
		leaves = append(leaves, l)
	}
	for _, f := range schema.Fields() {
		walk(f, []string{f.Name()}, 0)
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("parquetfile: %w: %w", errNotFlat, errors.Join(errs...))
	}
	if len(leaves) == 0 {
		return nil, fmt.Errorf("parquetfile: schema %s has no columns", schema.Name())
	}
	return leaves, nil
}

func newLeaf(n parquet.Node, index int, path []string, def byte, o options) (leaf, error) {
	typ := n.Type()
	l := leaf{index: index, path: path, kind: typ.Kind(), maxDef: def, typ: typ, required: n.Required()}
	lt := typ.LogicalType()
	switch l.kind {
	case parquet.Boolean:
		l.order = orderBool
	case parquet.Int32, parquet.Int64:
		l.order = orderSigned
		if lt != nil {
			if it, ok := lt.Value.(*format.IntType); ok && !it.IsSigned {
				l.order = orderUnsigned
			}
		}
	case parquet.Float, parquet.Double:
		l.order = orderFloat
	case parquet.ByteArray:
		l.order = orderBytes
		if lt != nil {
			if _, ok := lt.Value.(*format.DecimalType); ok {
				return l, errors.New("BYTE_ARRAY decimals are not supported")
			}
		}
		l.truncate = truncatable(lt, typ.ConvertedType())
	case parquet.FixedLenByteArray:
		l.order = orderBytes
		l.typeLen = typ.Length()
		if lt != nil {
			switch lt.Value.(type) {
			case *format.DecimalType:
				l.order = orderDecimal
			case *format.UUIDType:
			default:
				return l, fmt.Errorf("FIXED_LEN_BYTE_ARRAY with logical type %s is not supported", lt)
			}
		}
		if l.typeLen <= 0 {
			return l, fmt.Errorf("FIXED_LEN_BYTE_ARRAY of length %d", l.typeLen)
		}
	default:
		return l, fmt.Errorf("physical type %s is not supported", l.kind)
	}
	switch enc := n.Encoding(); {
	case enc == nil:
		l.dict = o.dictionaryKinds[l.kind]
	case enc.Encoding() == format.Plain:
	case enc.Encoding() == format.RLEDictionary || enc.Encoding() == format.PlainDictionary:
		l.dict, l.dictSet = true, true
	default:
		return l, fmt.Errorf("encoding %s is not supported", enc)
	}
	if l.kind == parquet.Boolean {
		l.dict, l.dictSet = false, false // a dictionary of two values never pays; PLAIN is one bit a value
	}
	return l, nil
}

// schemaElements returns the footer's schema: every node in depth-first
// order, with field IDs, logical and converted types, as parquet-go writes
// it.
func schemaElements(schema *parquet.Schema) []format.SchemaElement {
	var out []format.SchemaElement
	var walk func(name string, n parquet.Node, root bool)
	walk = func(name string, n parquet.Node, root bool) {
		typ := n.Type()
		e := format.SchemaElement{Name: name, FieldID: int32(n.ID())}
		if !root {
			switch {
			case n.Required():
				e.RepetitionType = thrift.New(format.Required)
			case n.Optional():
				e.RepetitionType = thrift.New(format.Optional)
			case n.Repeated():
				e.RepetitionType = thrift.New(format.Repeated)
			}
		}
		if lt := typ.LogicalType(); lt != nil {
			e.LogicalType = *lt
			if d, ok := lt.Value.(*format.DecimalType); ok {
				e.Scale.Set(d.Scale)
				e.Precision.Set(d.Precision)
			}
		}
		if n := int32(typ.Length()); n > 0 {
			e.TypeLength.Set(n)
		}
		if !n.Leaf() {
			e.NumChildren.Set(int32(len(n.Fields())))
		}
		if pt := typ.PhysicalType(); pt != nil {
			e.Type.Set(*pt)
		}
		if ct := typ.ConvertedType(); ct != nil {
			e.ConvertedType.Set(*ct)
		}
		out = append(out, e)
		for _, f := range n.Fields() {
			walk(f.Name(), f, false)
		}
	}
	walk(schema.Name(), schema, true)
	return out
}

// columnOrders returns the footer's column orders: the type-defined order
// of every leaf.
func columnOrders(leaves []leaf) []format.ColumnOrder {
	out := make([]format.ColumnOrder, len(leaves))
	for i, l := range leaves {
		if co := l.typ.ColumnOrder(); co != nil {
			out[i] = *co
		}
	}
	return out
}
