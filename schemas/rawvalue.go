package schemas

import (
	"math"
	"unsafe"

	"github.com/parquet-go/parquet-go"
)

// Writing values into a row is the hottest path of the decoders, and
// parquet.Value's constructors and Level build a value from byte-wide
// fields that the compiler spills and reloads whole (a store-forwarding
// stall costing a quarter of the decode time). So rows are written through
// rawValue, a mirror of parquet.Value's memory layout, as three word
// stores. rawLayoutOK checks the mirror against parquet-go at run time;
// when it does not match (another parquet-go version), the builder falls
// back to the public API.

// rawValue mirrors parquet.Value: ptr, u64, then kind (int8, stored as
// ^Kind), definition level, repetition level, padding, column index
// (uint16, stored as ^index), padding.
type rawValue struct {
	ptr  unsafe.Pointer
	u64  uint64
	meta uint64
}

// rawMeta packs the third word of a non-null value of kind (or of a null
// when null is set).
func rawMeta(kind parquet.Kind, null bool, def, rep uint8, col int) uint64 {
	var k uint64
	if !null {
		k = uint64(uint8(^int8(kind)))
	}
	return k | uint64(def)<<8 | uint64(rep)<<16 | uint64(^uint16(col))<<32
}

func asRaw(v *parquet.Value) *rawValue { return (*rawValue)(unsafe.Pointer(v)) }

// rawLayoutOK reports whether rawValue matches parquet.Value.
func rawLayoutOK() bool {
	if unsafe.Sizeof(parquet.Value{}) != unsafe.Sizeof(rawValue{}) {
		return false
	}
	data := []byte("xyz")
	minus7 := int64(-7)
	cases := []struct {
		v    parquet.Value
		want rawValue
	}{
		{parquet.Int64Value(-5).Level(3, 4, 700), rawValue{nil, uint64(math.MaxUint64 - 4), rawMeta(parquet.Int64, false, 4, 3, 700)}},
		{parquet.Int32Value(-7).Level(0, 1, 2), rawValue{nil, uint64(minus7), rawMeta(parquet.Int32, false, 1, 0, 2)}},
		{parquet.DoubleValue(1.5).Level(1, 2, 3), rawValue{nil, math.Float64bits(1.5), rawMeta(parquet.Double, false, 2, 1, 3)}},
		{parquet.FloatValue(2.5).Level(1, 2, 3), rawValue{nil, uint64(math.Float32bits(2.5)), rawMeta(parquet.Float, false, 2, 1, 3)}},
		{parquet.BooleanValue(true).Level(0, 0, 65000), rawValue{nil, 1, rawMeta(parquet.Boolean, false, 0, 0, 65000)}},
		{parquet.ByteArrayValue(data).Level(2, 3, 9), rawValue{unsafe.Pointer(&data[0]), 3, rawMeta(parquet.ByteArray, false, 3, 2, 9)}},
		{parquet.FixedLenByteArrayValue(data).Level(2, 3, 9), rawValue{unsafe.Pointer(&data[0]), 3, rawMeta(parquet.FixedLenByteArray, false, 3, 2, 9)}},
		{parquet.Value{}.Level(5, 6, 1), rawValue{nil, 0, rawMeta(0, true, 6, 5, 1)}},
	}
	for _, c := range cases {
		got := *asRaw(&c.v)
		// Compare the meaningful bytes of the third word only: kind, levels
		// and column index (padding is unspecified).
		const mask = 0x0000_ffff_00ff_ffff
		if got.ptr != c.want.ptr || got.u64 != c.want.u64 || got.meta&mask != c.want.meta {
			return false
		}
		var back parquet.Value
		*asRaw(&back) = c.want
		if back.Kind() != c.v.Kind() || back.IsNull() != c.v.IsNull() || back.RepetitionLevel() != c.v.RepetitionLevel() ||
			back.DefinitionLevel() != c.v.DefinitionLevel() || back.Column() != c.v.Column() || !parquet.DeepEqual(back, c.v) {
			return false
		}
	}
	return true
}

// physicalKind is the Parquet physical kind of a leaf node's values.
func physicalKind(n *node) parquet.Kind {
	switch n.kind {
	case KindBool:
		return parquet.Boolean
	case KindInt32, KindDate:
		return parquet.Int32
	case KindInt64, KindTimestamp:
		return parquet.Int64
	case KindFloat32:
		return parquet.Float
	case KindFloat64:
		return parquet.Double
	case KindDecimal:
		switch n.decimal.phys {
		case decimalInt32:
			return parquet.Int32
		case decimalInt64:
			return parquet.Int64
		}
		return parquet.FixedLenByteArray
	}
	return parquet.ByteArray
}

// publicValue builds with the public API what rawValue{ptr, u64} means for
// a value of kind.
func publicValue(kind parquet.Kind, ptr unsafe.Pointer, u64 uint64) parquet.Value {
	switch kind {
	case parquet.Boolean:
		return parquet.BooleanValue(u64 != 0)
	case parquet.Int32:
		return parquet.Int32Value(int32(u64))
	case parquet.Int64:
		return parquet.Int64Value(int64(u64))
	case parquet.Float:
		return parquet.FloatValue(math.Float32frombits(uint32(u64)))
	case parquet.Double:
		return parquet.DoubleValue(math.Float64frombits(u64))
	case parquet.FixedLenByteArray:
		return parquet.FixedLenByteArrayValue(unsafe.Slice((*byte)(ptr), u64))
	}
	return parquet.ByteArrayValue(unsafe.Slice((*byte)(ptr), u64))
}
