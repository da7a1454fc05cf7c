package filestats

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/parquet-go/parquet-go/deprecated"
	"github.com/parquet-go/parquet-go/format"
)

// kind is how a leaf column's values compare and how its bounds are
// serialized for Iceberg.
type kind int

const (
	kindBool kind = iota + 1
	kindInt32
	kindInt64
	kindFloat
	kindDouble
	kindBytes   // string, binary, fixed, uuid: unsigned lexicographic
	kindDecimal // two's complement, big-endian in Iceberg
)

// leaf is a primitive column of the file, in column chunk order.
type leaf struct {
	path     string // dotted, for errors
	id       int
	kind     kind
	physical format.Type
	repeated bool // inside a list or a map: no metrics
}

// field is a node of the Iceberg schema being built.
type field struct {
	ID       int    `json:"id"`
	Name     string `json:"name"`
	Required bool   `json:"required"`
	Type     any    `json:"type"`
}

type structType struct {
	Type   string  `json:"type"` // "struct"
	Fields []field `json:"fields"`
}

type listType struct {
	Type            string `json:"type"` // "list"
	ElementID       int    `json:"element-id"`
	Element         any    `json:"element"`
	ElementRequired bool   `json:"element-required"`
}

type mapType struct {
	Type          string `json:"type"` // "map"
	KeyID         int    `json:"key-id"`
	Key           any    `json:"key"`
	ValueID       int    `json:"value-id"`
	Value         any    `json:"value"`
	ValueRequired bool   `json:"value-required"`
}

type schemaJSON struct {
	Type     string  `json:"type"` // "struct"
	SchemaID int     `json:"schema-id"`
	Fields   []field `json:"fields"`
}

// converter walks the flattened Parquet schema (depth first, as the footer
// stores it).
type converter struct {
	elems  []format.SchemaElement
	pos    int
	leaves []leaf
}

// SchemaFromFooter converts the Parquet schema of a footer into an Iceberg
// schema (its JSON form, schema-id 0) that keeps the file's field IDs, and
// describes the leaf columns for FromFooter. Every node but the
// intermediate groups of lists and maps must carry a field ID; INT96,
// unsigned integers, millisecond and nanosecond times and timestamps have
// no Iceberg v2 type and are refused, naming the column.
func SchemaFromFooter(md *format.FileMetaData) (json.RawMessage, error) {
	s, _, err := convertSchema(md.Schema)
	return s, err
}

func convertSchema(elems []format.SchemaElement) (json.RawMessage, []leaf, error) {
	if len(elems) == 0 {
		return nil, nil, fmt.Errorf("parquet schema is empty")
	}
	c := &converter{elems: elems, pos: 1}
	n := int(elems[0].NumChildren.V)
	fields, err := c.fields(n, "", false)
	if err != nil {
		return nil, nil, err
	}
	if c.pos != len(elems) {
		return nil, nil, fmt.Errorf("parquet schema: %d elements, %d used", len(elems), c.pos)
	}
	b, err := json.Marshal(schemaJSON{Type: "struct", Fields: fields})
	if err != nil {
		return nil, nil, err
	}
	return b, c.leaves, nil
}

func (c *converter) next() (*format.SchemaElement, error) {
	if c.pos >= len(c.elems) {
		return nil, fmt.Errorf("parquet schema: truncated")
	}
	e := &c.elems[c.pos]
	c.pos++
	return e, nil
}

func (c *converter) fields(n int, prefix string, repeated bool) ([]field, error) {
	out := make([]field, 0, n)
	for range n {
		e, err := c.next()
		if err != nil {
			return nil, err
		}
		path := prefix + e.Name
		if e.RepetitionType.Valid && e.RepetitionType.V == format.Repeated {
			return nil, fmt.Errorf("column %s: a repeated field outside a LIST or MAP group has no Iceberg type", path)
		}
		if e.FieldID == 0 {
			return nil, fmt.Errorf("column %s has no field ID", path)
		}
		t, err := c.typeOf(e, path, repeated)
		if err != nil {
			return nil, err
		}
		out = append(out, field{ID: int(e.FieldID), Name: e.Name, Required: isRequired(e), Type: t})
	}
	return out, nil
}

func isRequired(e *format.SchemaElement) bool {
	return !e.RepetitionType.Valid || e.RepetitionType.V == format.Required
}

func isGroup(e *format.SchemaElement) bool {
	return e.NumChildren.Valid && e.NumChildren.V > 0 || !e.Type.Valid
}

// typeOf converts the node e (already taken) and its children.
func (c *converter) typeOf(e *format.SchemaElement, path string, repeated bool) (any, error) {
	if !isGroup(e) {
		return c.primitive(e, path, repeated)
	}
	n := int(e.NumChildren.V)
	_, isList := e.LogicalType.Value.(*format.ListType)
	_, isMap := e.LogicalType.Value.(*format.MapType)
	if e.ConvertedType.Valid {
		isList = isList || e.ConvertedType.V == deprecated.List
		isMap = isMap || e.ConvertedType.V == deprecated.Map || e.ConvertedType.V == deprecated.MapKeyValue
	}
	switch {
	case isList:
		return c.list(n, path)
	case isMap:
		return c.mapOf(n, path)
	}
	fields, err := c.fields(n, path+".", repeated)
	if err != nil {
		return nil, err
	}
	return structType{Type: "struct", Fields: fields}, nil
}

// list converts the children of a LIST group: the standard three levels
// (repeated group list { element }) or the legacy two (repeated element).
func (c *converter) list(n int, path string) (any, error) {
	if n != 1 {
		return nil, fmt.Errorf("column %s: LIST group with %d children", path, n)
	}
	rep, err := c.next()
	if err != nil {
		return nil, err
	}
	if !rep.RepetitionType.Valid || rep.RepetitionType.V != format.Repeated {
		return nil, fmt.Errorf("column %s: LIST child is not repeated", path)
	}
	elem := rep
	if isGroup(rep) && rep.NumChildren.V == 1 && rep.FieldID == 0 {
		// Three levels: the repeated group carries no ID, its one child is
		// the element.
		if elem, err = c.next(); err != nil {
			return nil, err
		}
	}
	if elem.FieldID == 0 {
		return nil, fmt.Errorf("column %s: list element has no field ID", path)
	}
	required := elem == rep || isRequired(elem)
	if elem == rep {
		// Two levels: the repeated node is the element itself.
		et, err := c.typeOf(&format.SchemaElement{Name: rep.Name, Type: rep.Type, TypeLength: rep.TypeLength,
			NumChildren: rep.NumChildren, ConvertedType: rep.ConvertedType, Scale: rep.Scale, Precision: rep.Precision,
			FieldID: rep.FieldID, LogicalType: rep.LogicalType}, path+".element", true)
		if err != nil {
			return nil, err
		}
		return listType{Type: "list", ElementID: int(rep.FieldID), Element: et, ElementRequired: required}, nil
	}
	et, err := c.typeOf(elem, path+".element", true)
	if err != nil {
		return nil, err
	}
	return listType{Type: "list", ElementID: int(elem.FieldID), Element: et, ElementRequired: required}, nil
}

// mapOf converts the children of a MAP group: repeated group key_value
// { key; value }.
func (c *converter) mapOf(n int, path string) (any, error) {
	if n != 1 {
		return nil, fmt.Errorf("column %s: MAP group with %d children", path, n)
	}
	kv, err := c.next()
	if err != nil {
		return nil, err
	}
	if !kv.RepetitionType.Valid || kv.RepetitionType.V != format.Repeated || !isGroup(kv) || kv.NumChildren.V != 2 {
		return nil, fmt.Errorf("column %s: MAP child is not a repeated group of key and value", path)
	}
	key, err := c.next()
	if err != nil {
		return nil, err
	}
	if key.FieldID == 0 {
		return nil, fmt.Errorf("column %s: map key has no field ID", path)
	}
	kt, err := c.typeOf(key, path+".key", true)
	if err != nil {
		return nil, err
	}
	val, err := c.next()
	if err != nil {
		return nil, err
	}
	if val.FieldID == 0 {
		return nil, fmt.Errorf("column %s: map value has no field ID", path)
	}
	vt, err := c.typeOf(val, path+".value", true)
	if err != nil {
		return nil, err
	}
	return mapType{Type: "map", KeyID: int(key.FieldID), Key: kt, ValueID: int(val.FieldID), Value: vt,
		ValueRequired: isRequired(val)}, nil
}

// primitive converts a leaf and records it.
func (c *converter) primitive(e *format.SchemaElement, path string, repeated bool) (any, error) {
	t, k, err := primitiveType(e)
	if err != nil {
		return nil, fmt.Errorf("column %s: %w", path, err)
	}
	c.leaves = append(c.leaves, leaf{path: path, id: int(e.FieldID), kind: k, physical: e.Type.V, repeated: repeated})
	return t, nil
}

func primitiveType(e *format.SchemaElement) (string, kind, error) {
	phys := e.Type.V
	switch lt := e.LogicalType.Value.(type) {
	case *format.StringType, *format.EnumType, *format.JsonType:
		if phys == format.ByteArray {
			return "string", kindBytes, nil
		}
	case *format.BsonType:
		if phys == format.ByteArray {
			return "binary", kindBytes, nil
		}
	case *format.UUIDType:
		if phys == format.FixedLenByteArray && e.TypeLength.V == 16 {
			return "uuid", kindBytes, nil
		}
	case *format.DateType:
		if phys == format.Int32 {
			return "date", kindInt32, nil
		}
	case *format.DecimalType:
		return decimalType(phys, lt.Precision, lt.Scale)
	case *format.IntType:
		switch {
		case !lt.IsSigned:
			return "", 0, fmt.Errorf("unsigned INT(%d) has no Iceberg type", lt.BitWidth)
		case phys == format.Int32:
			return "int", kindInt32, nil
		case phys == format.Int64:
			return "long", kindInt64, nil
		}
	case *format.TimestampType:
		if phys != format.Int64 {
			break
		}
		if _, ok := lt.Unit.Value.(*format.MicroSeconds); !ok {
			return "", 0, fmt.Errorf("TIMESTAMP in %s: Iceberg v2 timestamps are microseconds", &lt.Unit)
		}
		if lt.IsAdjustedToUTC {
			return "timestamptz", kindInt64, nil
		}
		return "timestamp", kindInt64, nil
	case *format.TimeType:
		if _, ok := lt.Unit.Value.(*format.MicroSeconds); ok && phys == format.Int64 {
			return "time", kindInt64, nil
		}
		return "", 0, fmt.Errorf("TIME in %s: Iceberg times are microseconds", &lt.Unit)
	case nil:
		return convertedOrPhysical(e)
	}
	return "", 0, fmt.Errorf("logical type %s on %s has no Iceberg type", &e.LogicalType, phys)
}

// convertedOrPhysical types a leaf without a logical type: by its
// converted type (older writers), else by its physical type.
func convertedOrPhysical(e *format.SchemaElement) (string, kind, error) {
	phys := e.Type.V
	if e.ConvertedType.Valid {
		switch ct := e.ConvertedType.V; ct {
		case deprecated.UTF8, deprecated.Enum, deprecated.Json:
			if phys == format.ByteArray {
				return "string", kindBytes, nil
			}
		case deprecated.Bson:
			return "binary", kindBytes, nil
		case deprecated.Decimal:
			return decimalType(phys, e.Precision.V, e.Scale.V)
		case deprecated.Date:
			return "date", kindInt32, nil
		case deprecated.TimestampMicros:
			return "timestamptz", kindInt64, nil
		case deprecated.TimeMicros:
			return "time", kindInt64, nil
		case deprecated.Int8, deprecated.Int16, deprecated.Int32:
			return "int", kindInt32, nil
		case deprecated.Int64:
			return "long", kindInt64, nil
		}
		return "", 0, fmt.Errorf("converted type %v on %s has no Iceberg type", e.ConvertedType.V, phys)
	}
	switch phys {
	case format.Boolean:
		return "boolean", kindBool, nil
	case format.Int32:
		return "int", kindInt32, nil
	case format.Int64:
		return "long", kindInt64, nil
	case format.Float:
		return "float", kindFloat, nil
	case format.Double:
		return "double", kindDouble, nil
	case format.ByteArray:
		return "binary", kindBytes, nil
	case format.FixedLenByteArray:
		return fmt.Sprintf("fixed[%d]", e.TypeLength.V), kindBytes, nil
	}
	return "", 0, fmt.Errorf("physical type %s has no Iceberg type", phys)
}

func decimalType(phys format.Type, precision, scale int32) (string, kind, error) {
	if precision < 1 || precision > 38 || scale < 0 || scale > precision {
		return "", 0, fmt.Errorf("DECIMAL(%d,%d) has no Iceberg type (precision 1..38)", precision, scale)
	}
	switch phys {
	case format.Int32, format.Int64, format.FixedLenByteArray, format.ByteArray:
		return fmt.Sprintf("decimal(%d, %d)", precision, scale), kindDecimal, nil
	}
	return "", 0, fmt.Errorf("DECIMAL on %s", phys)
}

// columnPath is the dotted path of a column chunk, for errors.
func columnPath(p []string) string { return strings.Join(p, ".") }
