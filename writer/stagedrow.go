package writer

// The encoding of a staged row, in the stage's memory and spill file
// (docs/format/stage.md).

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/deprecated"
)

// A staged row, in the stage's memory and spill file:
//
//	uvarint  number of values
//	varint   event time (microseconds; NoEventTime if none)
//	per value:
//	  uvarint column index
//	  byte    repetition level
//	  byte    definition level
//	  byte    0 for null, else parquet.Kind + 1
//	  payload by kind: boolean 1 byte; int32 and float 4 bytes, int64 and
//	          double 8 bytes, int96 12 bytes (little endian); byte arrays
//	          uvarint length then the bytes
func appendStagedRow(dst []byte, row parquet.Row, eventTime int64) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(row)))
	dst = binary.AppendVarint(dst, eventTime)
	for _, v := range row {
		dst = binary.AppendUvarint(dst, uint64(v.Column()))
		dst = append(dst, byte(v.RepetitionLevel()), byte(v.DefinitionLevel()))
		if v.IsNull() {
			dst = append(dst, 0)
			continue
		}
		k := v.Kind()
		dst = append(dst, byte(k)+1)
		switch k {
		case parquet.Boolean:
			b := byte(0)
			if v.Boolean() {
				b = 1
			}
			dst = append(dst, b)
		case parquet.Int32:
			dst = binary.LittleEndian.AppendUint32(dst, uint32(v.Int32()))
		case parquet.Float:
			dst = binary.LittleEndian.AppendUint32(dst, math.Float32bits(v.Float()))
		case parquet.Int64:
			dst = binary.LittleEndian.AppendUint64(dst, uint64(v.Int64()))
		case parquet.Double:
			dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(v.Double()))
		case parquet.Int96:
			i := v.Int96()
			dst = binary.LittleEndian.AppendUint32(dst, i[0])
			dst = binary.LittleEndian.AppendUint32(dst, i[1])
			dst = binary.LittleEndian.AppendUint32(dst, i[2])
		default: // ByteArray, FixedLenByteArray
			b := v.ByteArray()
			dst = binary.AppendUvarint(dst, uint64(len(b)))
			dst = append(dst, b...)
		}
	}
	return dst
}

var errStagedRow = errors.New("corrupt staged row")

// decodeStagedRow appends the values of the row at the start of data to
// values and returns them with the row's event time and the rest of data.
// Byte array values point into data.
func decodeStagedRow(values []parquet.Value, data []byte) ([]parquet.Value, int64, []byte, error) {
	n, k := binary.Uvarint(data)
	if k <= 0 || n > uint64(len(data)) {
		return values, 0, data, fmt.Errorf("%w: value count", errStagedRow)
	}
	data = data[k:]
	evt, k := binary.Varint(data)
	if k <= 0 {
		return values, 0, data, fmt.Errorf("%w: event time", errStagedRow)
	}
	data = data[k:]
	for range n {
		col, k := binary.Uvarint(data)
		if k <= 0 || col > parquet.MaxColumnIndex || len(data) < k+3 {
			return values, 0, data, fmt.Errorf("%w: value header", errStagedRow)
		}
		rep, def, tag := int(data[k]), int(data[k+1]), data[k+2]
		data = data[k+3:]
		var v parquet.Value
		width := 0
		switch parquet.Kind(tag) - 1 {
		case -1:
			v = parquet.NullValue()
		case parquet.Boolean:
			width = 1
		case parquet.Int32, parquet.Float:
			width = 4
		case parquet.Int64, parquet.Double:
			width = 8
		case parquet.Int96:
			width = 12
		case parquet.ByteArray, parquet.FixedLenByteArray:
			l, k := binary.Uvarint(data)
			if k <= 0 || l > uint64(len(data)-k) {
				return values, 0, data, fmt.Errorf("%w: byte array length", errStagedRow)
			}
			b := data[k : k+int(l) : k+int(l)]
			data = data[k+int(l):]
			if parquet.Kind(tag)-1 == parquet.ByteArray {
				v = parquet.ByteArrayValue(b)
			} else {
				v = parquet.FixedLenByteArrayValue(b)
			}
		default:
			return values, 0, data, fmt.Errorf("%w: kind tag %d", errStagedRow, tag)
		}
		if width > 0 {
			if len(data) < width {
				return values, 0, data, fmt.Errorf("%w: truncated value", errStagedRow)
			}
			p := data[:width]
			data = data[width:]
			switch parquet.Kind(tag) - 1 {
			case parquet.Boolean:
				v = parquet.BooleanValue(p[0] != 0)
			case parquet.Int32:
				v = parquet.Int32Value(int32(binary.LittleEndian.Uint32(p)))
			case parquet.Float:
				v = parquet.FloatValue(math.Float32frombits(binary.LittleEndian.Uint32(p)))
			case parquet.Int64:
				v = parquet.Int64Value(int64(binary.LittleEndian.Uint64(p)))
			case parquet.Double:
				v = parquet.DoubleValue(math.Float64frombits(binary.LittleEndian.Uint64(p)))
			case parquet.Int96:
				v = parquet.Int96Value(deprecated.Int96{binary.LittleEndian.Uint32(p), binary.LittleEndian.Uint32(p[4:]), binary.LittleEndian.Uint32(p[8:])})
			}
		}
		values = append(values, v.Level(rep, def, int(col)))
	}
	return values, evt, data, nil
}
