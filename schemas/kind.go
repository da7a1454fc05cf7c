package schemas

// Kind is the kind of a column type.
type Kind uint8

// The kinds of column types. The zero Kind is invalid.
const (
	KindInvalid   Kind = iota
	KindBool           // boolean
	KindInt32          // 32-bit signed integer
	KindInt64          // 64-bit signed integer
	KindFloat32        // IEEE 754 single precision
	KindFloat64        // IEEE 754 double precision
	KindString         // UTF-8 text
	KindBytes          // opaque bytes
	KindTimestamp      // instant, microseconds since the Unix epoch, UTC
	KindDate           // calendar date, days since 1970-01-01
	KindDecimal        // exact decimal with Type.Precision and Type.Scale
	KindStruct         // nested record with Type.Fields
	KindList           // list of Type.Elem
	KindMap            // map from string keys to Type.Value
)

// String returns the kind's name in the type grammar of ParseType.
func (k Kind) String() string {
	switch k {
	case KindBool:
		return "bool"
	case KindInt32:
		return "int32"
	case KindInt64:
		return "int64"
	case KindFloat32:
		return "float32"
	case KindFloat64:
		return "float64"
	case KindString:
		return "string"
	case KindBytes:
		return "bytes"
	case KindTimestamp:
		return "timestamp"
	case KindDate:
		return "date"
	case KindDecimal:
		return "decimal"
	case KindStruct:
		return "struct"
	case KindList:
		return "list"
	case KindMap:
		return "map"
	}
	return "invalid"
}

// primitive reports whether the kind is a leaf (not struct, list or map).
func (k Kind) primitive() bool { return k >= KindBool && k <= KindDecimal }
