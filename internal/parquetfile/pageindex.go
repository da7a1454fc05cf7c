package parquetfile

import (
	"encoding/binary"
	"math"

	"github.com/parquet-go/parquet-go/format"
)

// The page index of every input chunk is decoded when a merge opens its
// inputs, and the header of every page it reads: thousands of small Thrift
// structs, which parquet-go's decoder, by reflection, decodes at about a
// microsecond each. decodeOffsetIndex, decodeColumnIndex and
// decodePageHeader decode them directly when they are encoded as Thrift
// writes them (fields of the expected types, each once, the required ones
// there); they report false for anything else, which thrift.Unmarshal then
// decodes (or refuses) as before. What they decode, thrift.Unmarshal
// decodes the same (FuzzPageIndexDecoders, FuzzPageHeaderDecoder).

// compactReader reads Thrift's compact protocol.
type compactReader struct {
	b  []byte
	ok bool
}

func (r *compactReader) byte() byte {
	if len(r.b) == 0 {
		r.ok = false
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *compactReader) varint(min, max int64) int64 {
	v, n := binary.Varint(r.b)
	if n <= 0 || v < min || v > max {
		r.ok = false
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *compactReader) uvarint(max uint64) uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 || v > max {
		r.ok = false
		return 0
	}
	r.b = r.b[n:]
	return v
}

// field returns the next field's ID and type (0, 0 at the struct's end).
func (r *compactReader) field(last int16) (int16, byte) {
	h := r.byte()
	if h == 0 || !r.ok {
		return 0, 0
	}
	if h>>4 != 0 {
		return last + int16(h>>4), h & 0xF
	}
	return int16(r.varint(math.MinInt16, math.MaxInt16)), h & 0xF
}

// list returns the size of a list of elements of type elem (of at most
// minBytes bytes each: the list must fit in what is left).
func (r *compactReader) list(elem byte, minBytes int) int {
	h := r.byte()
	n := uint64(h >> 4)
	if n == 0xF {
		n = r.uvarint(math.MaxInt32)
	}
	if h&0xF != elem || n*uint64(minBytes) > uint64(len(r.b)) {
		r.ok = false
	}
	if !r.ok {
		return 0
	}
	return int(n)
}

// The compact protocol's types.
const (
	ctTrue   = 1
	ctFalse  = 2
	ctI32    = 5
	ctI64    = 6
	ctBinary = 8
	ctList   = 9
	ctStruct = 12
)

func (r *compactReader) i64s() []int64 {
	n := r.list(ctI64, 1)
	v := make([]int64, n)
	for i := range v {
		v[i] = r.varint(math.MinInt64, math.MaxInt64)
	}
	return v
}

// decodeOffsetIndex decodes b into oi (see the comment at the top).
func decodeOffsetIndex(b []byte, oi *format.OffsetIndex) bool {
	r := compactReader{b: b, ok: true}
	var id int16
	var seen [3]bool
	for {
		var t byte
		if id, t = r.field(id); t == 0 || !r.ok {
			break
		}
		switch {
		case id == 1 && t == ctList && !seen[1]:
			n := r.list(ctStruct, 4)
			oi.PageLocations = make([]format.PageLocation, n)
			for i := range n {
				loc := &oi.PageLocations[i]
				var fid int16
				var got [4]bool
				for r.ok {
					var ft byte
					if fid, ft = r.field(fid); ft == 0 || !r.ok {
						break
					}
					switch {
					case fid == 1 && ft == ctI64 && !got[1]:
						loc.Offset = r.varint(math.MinInt64, math.MaxInt64)
					case fid == 2 && ft == ctI32 && !got[2]:
						loc.CompressedPageSize = int32(r.varint(math.MinInt32, math.MaxInt32))
					case fid == 3 && ft == ctI64 && !got[3]:
						loc.FirstRowIndex = r.varint(math.MinInt64, math.MaxInt64)
					default:
						r.ok = false
					}
					if r.ok {
						got[fid] = true
					}
				}
				r.ok = r.ok && got[1] && got[2] && got[3]
			}
		case id == 2 && t == ctList && !seen[2]:
			oi.UnencodedByteArrayDataBytes = r.i64s()
		default:
			return false
		}
		if !r.ok {
			return false
		}
		seen[id] = true
	}
	return r.ok && len(r.b) == 0 && seen[1]
}

// decodeColumnIndex decodes b into ci (see the comment at the top). The
// bounds are copied into one array.
func decodeColumnIndex(b []byte, ci *format.ColumnIndex) bool {
	r := compactReader{b: b, ok: true}
	var id int16
	var seen [8]bool
	var data []byte
	binaries := func() [][]byte {
		n := r.list(ctBinary, 1)
		v := make([][]byte, n)
		for i := range v {
			size := r.uvarint(math.MaxInt32)
			if !r.ok || size > uint64(len(r.b)) {
				r.ok = false
				return nil
			}
			if data == nil {
				data = make([]byte, 0, len(b)) // the bounds of both lists
			}
			start := len(data)
			data = append(data, r.b[:size]...)
			v[i] = data[start:len(data):len(data)]
			r.b = r.b[size:]
		}
		return v
	}
	for {
		var t byte
		if id, t = r.field(id); t == 0 || !r.ok {
			break
		}
		switch {
		case id == 1 && t == ctList && !seen[1]:
			h := byte(0)
			if len(r.b) > 0 {
				h = r.b[0] & 0xF
			}
			if h != ctTrue && h != ctFalse {
				return false
			}
			n := r.list(h, 1)
			ci.NullPages = make([]bool, n)
			for i := range n {
				c := r.byte()
				ci.NullPages[i] = c != 0 && c != 2 // as Thrift reads a bool
			}
		case id == 2 && t == ctList && !seen[2]:
			ci.MinValues = binaries()
		case id == 3 && t == ctList && !seen[3]:
			ci.MaxValues = binaries()
		case id == 4 && t == ctI32 && !seen[4]:
			ci.BoundaryOrder = format.BoundaryOrder(r.varint(math.MinInt32, math.MaxInt32))
		case id == 5 && t == ctList && !seen[5]:
			ci.NullCounts = r.i64s()
		case id == 6 && t == ctList && !seen[6]:
			ci.RepetitionLevelHistogram = r.i64s()
		case id == 7 && t == ctList && !seen[7]:
			ci.DefinitionLevelHistogram = r.i64s()
		default:
			return false
		}
		if !r.ok {
			return false
		}
		seen[id] = true
	}
	return r.ok && len(r.b) == 0 && seen[1] && seen[2] && seen[3] && seen[4]
}

// decodePageHeader decodes the page header at the start of b into h, as
// the encoder writes one (a data page v1 header, its statistics a null
// count at most, or a
// dictionary page header), and returns its size; false for anything else,
// which thrift's decoder then decodes (see the comment at the top).
func decodePageHeader(b []byte, h *format.PageHeader) (int, bool) {
	r := compactReader{b: b, ok: true}
	var id int16
	var seen [8]bool
	i32 := func() int32 { return int32(r.varint(math.MinInt32, math.MaxInt32)) }
	for {
		var t byte
		if id, t = r.field(id); t == 0 || !r.ok {
			break
		}
		switch {
		case id == 1 && t == ctI32 && !seen[1]:
			h.Type = format.PageType(i32())
		case id == 2 && t == ctI32 && !seen[2]:
			h.UncompressedPageSize = i32()
		case id == 3 && t == ctI32 && !seen[3]:
			h.CompressedPageSize = i32()
		case id == 4 && t == ctI32 && !seen[4]:
			h.CRC = i32()
		case id == 5 && t == ctStruct && !seen[5]:
			var d format.DataPageHeader
			var fid int16
			var got [6]bool
			for r.ok {
				var ft byte
				if fid, ft = r.field(fid); ft == 0 || !r.ok {
					break
				}
				switch {
				case fid == 1 && ft == ctI32 && !got[1]:
					d.NumValues = i32()
				case fid == 2 && ft == ctI32 && !got[2]:
					d.Encoding = format.Encoding(i32())
				case fid == 3 && ft == ctI32 && !got[3]:
					d.DefinitionLevelEncoding = format.Encoding(i32())
				case fid == 4 && ft == ctI32 && !got[4]:
					d.RepetitionLevelEncoding = format.Encoding(i32())
				case fid == 5 && ft == ctStruct && !got[5]:
					// Statistics of a null count at most (thrift writes
					// it, 0 too); others thrift decodes.
					sid, st := r.field(0)
					if sid == 3 && st == ctI64 {
						d.Statistics.NullCount = r.varint(math.MinInt64, math.MaxInt64)
						sid, st = r.field(sid)
					}
					if st != 0 {
						r.ok = false
					}
				default:
					r.ok = false
				}
				if r.ok {
					got[fid] = true
				}
			}
			if !r.ok || !got[1] || !got[2] || !got[3] || !got[4] {
				return 0, false
			}
			h.DataPageHeader.V, h.DataPageHeader.Valid = d, true
		case id == 7 && t == ctStruct && !seen[7]:
			var d format.DictionaryPageHeader
			var fid int16
			var got [4]bool
			for r.ok {
				var ft byte
				if fid, ft = r.field(fid); ft == 0 || !r.ok {
					break
				}
				switch {
				case fid == 1 && ft == ctI32 && !got[1]:
					d.NumValues = i32()
				case fid == 2 && ft == ctI32 && !got[2]:
					d.Encoding = format.Encoding(i32())
				case fid == 3 && (ft == ctTrue || ft == ctFalse) && !got[3]:
					d.IsSorted = ft == ctTrue
				default:
					r.ok = false
				}
				if r.ok {
					got[fid] = true
				}
			}
			if !r.ok || !got[1] || !got[2] {
				return 0, false
			}
			h.DictionaryPageHeader.V, h.DictionaryPageHeader.Valid = d, true
		default:
			return 0, false
		}
		if !r.ok {
			return 0, false
		}
		seen[id] = true
	}
	if !r.ok || !seen[1] || !seen[2] || !seen[3] {
		return 0, false
	}
	return len(b) - len(r.b), true
}
