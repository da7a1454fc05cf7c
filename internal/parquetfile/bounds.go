package parquetfile

import (
	"bytes"
	"encoding/binary"
	"math"
	"unicode"
	"unicode/utf8"

	"github.com/parquet-go/parquet-go"
)

// bounds are the smallest and largest values seen, in a column's order.
// Integers are kept as int64 keys whose signed order is the column's order
// (intKey), floats as float64 (NaN left out, but remembered), the others
// as their PLAIN bytes (booleans as one byte 0 or 1).
type bounds struct {
	has        bool // a value other than NaN was seen
	nan        bool // a NaN was seen
	imin, imax int64
	fmin, fmax float64
	min, max   []byte
}

func (b *bounds) reset() {
	b.has, b.nan = false, false
	b.min, b.max = b.min[:0], b.max[:0]
}

// intKey maps an integer to a key whose signed order is the column's order.
func intKey(o order, u uint64, kind parquet.Kind) int64 {
	switch {
	case o == orderSigned && kind == parquet.Int32:
		return int64(int32(u))
	case o == orderSigned:
		return int64(u)
	case kind == parquet.Int32:
		return int64(uint32(u))
	default:
		return int64(u ^ 1<<63)
	}
}

// fromIntKey inverts intKey.
func fromIntKey(o order, k int64, kind parquet.Kind) uint64 {
	if o == orderUnsigned && kind == parquet.Int64 {
		return uint64(k) ^ 1<<63
	}
	return uint64(k)
}

func (b *bounds) int(k int64) {
	if !b.has {
		b.has, b.imin, b.imax = true, k, k
		return
	}
	if k < b.imin {
		b.imin = k
	}
	if k > b.imax {
		b.imax = k
	}
}

func (b *bounds) float(f float64) {
	if f != f {
		b.nan = true
		return
	}
	if !b.has {
		b.has, b.fmin, b.fmax = true, f, f
		return
	}
	if f < b.fmin {
		b.fmin = f
	}
	if f > b.fmax {
		b.fmax = f
	}
}

// bytes observes a byte string in order o (orderBytes, orderDecimal or
// orderBool). It copies v if it becomes a bound.
func (b *bounds) bytes(v []byte, o order) {
	if !b.has {
		b.has = true
		b.min = append(b.min[:0], v...)
		b.max = append(b.max[:0], v...)
		return
	}
	if compareBytes(o, v, b.min) < 0 {
		b.min = append(b.min[:0], v...)
	} else if compareBytes(o, v, b.max) > 0 {
		b.max = append(b.max[:0], v...)
	}
}

func compareBytes(o order, a, b []byte) int {
	if o == orderDecimal {
		return compareDecimal(a, b)
	}
	return bytes.Compare(a, b)
}

// compareDecimal compares big-endian two's complement integers of equal
// length.
func compareDecimal(a, b []byte) int {
	if len(a) > 0 && len(b) > 0 && int8(a[0]) != int8(b[0]) {
		if int8(a[0]) < int8(b[0]) {
			return -1
		}
		return 1
	}
	return bytes.Compare(a, b)
}

// plain observes a value given in its PLAIN form (without the length of a
// byte array): dictionary values and the types without a fast path.
func (b *bounds) plain(l *leaf, v []byte) {
	switch l.kind {
	case parquet.Int32:
		b.int(intKey(l.order, uint64(binary.LittleEndian.Uint32(v)), l.kind))
	case parquet.Int64:
		b.int(intKey(l.order, binary.LittleEndian.Uint64(v), l.kind))
	case parquet.Float:
		b.float(float64(math.Float32frombits(binary.LittleEndian.Uint32(v))))
	case parquet.Double:
		b.float(math.Float64frombits(binary.LittleEndian.Uint64(v)))
	default:
		b.bytes(v, l.order)
	}
}

// merge adds the bounds of o (of the same column).
func (b *bounds) merge(l *leaf, o *bounds) {
	b.nan = b.nan || o.nan
	if !o.has {
		return
	}
	switch l.kind {
	case parquet.Int32, parquet.Int64:
		b.int(o.imin)
		b.int(o.imax)
	case parquet.Float, parquet.Double:
		b.float(o.fmin)
		b.float(o.fmax)
	default:
		b.bytes(o.min, l.order)
		b.bytes(o.max, l.order)
	}
}

// encode appends the PLAIN bytes of the bounds to dst (min, then max) and
// returns them, or ok false if no value was seen. A float column of only
// NaN has NaN bounds, as parquet-go writes them (the chunk leaves them out
// of the file: see flushChunk); a zero minimum is written -0 and a zero
// maximum +0, as the Parquet spec asks. Empty byte array bounds are
// returned non-nil: a nil bound is not written at all.
func (b *bounds) encode(l *leaf, dst []byte) (out, min, max []byte, ok bool) {
	if !b.has && !b.nan {
		return dst, nil, nil, false
	}
	if dst == nil {
		dst = make([]byte, 0, 16)
	}
	start := len(dst)
	switch l.kind {
	case parquet.Int32:
		dst = binary.LittleEndian.AppendUint32(dst, uint32(fromIntKey(l.order, b.imin, l.kind)))
		dst = binary.LittleEndian.AppendUint32(dst, uint32(fromIntKey(l.order, b.imax, l.kind)))
	case parquet.Int64:
		dst = binary.LittleEndian.AppendUint64(dst, fromIntKey(l.order, b.imin, l.kind))
		dst = binary.LittleEndian.AppendUint64(dst, fromIntKey(l.order, b.imax, l.kind))
	case parquet.Float, parquet.Double:
		lo, hi := b.fmin, b.fmax
		switch {
		case !b.has:
			lo, hi = math.NaN(), math.NaN()
		default:
			if lo == 0 {
				lo = math.Copysign(0, -1)
			}
			if hi == 0 {
				hi = 0
			}
		}
		if l.kind == parquet.Float {
			dst = binary.LittleEndian.AppendUint32(dst, math.Float32bits(float32(lo)))
			dst = binary.LittleEndian.AppendUint32(dst, math.Float32bits(float32(hi)))
		} else {
			dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(lo))
			dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(hi))
		}
	default:
		dst = append(dst, b.min...)
		dst = append(dst, b.max...)
		mid := start + len(b.min)
		return dst, dst[start:mid:mid], dst[mid:], true
	}
	mid := start + (len(dst)-start)/2
	return dst, dst[start:mid:mid], dst[mid:], true
}

// Byte array bounds longer than a size limit are truncated, as parquet-java's
// BinaryTruncator does: the minimum to a prefix, the maximum to a prefix
// with its last character incremented. Both are cut before a UTF-8
// sequence rather than inside it, and the maximum's increment is a code
// point's (U+10FFFF is dropped, as 0xFF is), so that a bound of a valid
// UTF-8 string is valid UTF-8 too; bytes that are not UTF-8 are incremented
// as bytes. Each bound is worked out once per page or chunk, never per
// value.

// truncatedLen returns the length a bound v longer than n bytes is cut to:
// n, or less so as not to cut a UTF-8 sequence (its start is at most 3
// bytes before n). n must be positive and less than len(v).
func truncatedLen(v []byte, n int) int {
	for k := n; k >= 0 && k > n-utf8.UTFMax; k-- {
		if utf8.RuneStart(v[k]) {
			return k
		}
	}
	return n
}

// truncateMin returns a lower bound of v of at most n bytes (n <= 0: no
// limit), and whether it is v itself: v, or a prefix of v.
func truncateMin(v []byte, n int) (lo []byte, exact bool) {
	if n <= 0 || len(v) <= n {
		return v, true
	}
	k := truncatedLen(v, n)
	return v[:k:k], false
}

// appendMax appends to dst an upper bound of v of at most n bytes (n <= 0:
// no limit) and reports whether it is v itself: v, or the shortest
// increment of a prefix of v, which is larger than v. ok is false if there
// is none: the prefix holds only 0xFF bytes and U+10FFFF (or, below 4
// bytes, code points whose successor does not fit).
func appendMax(dst, v []byte, n int) (out []byte, exact, ok bool) {
	if n <= 0 || len(v) <= n {
		return append(dst, v...), true, true
	}
	p := v[:truncatedLen(v, n)]
	for len(p) > 0 {
		r, size := utf8.DecodeLastRune(p)
		last := len(p) - size
		if r == utf8.RuneError && size == 1 { // a byte that is not UTF-8
			if b := p[last]; b != 0xFF {
				return append(append(dst, p[:last]...), b+1), false, true
			}
		} else if r++; r <= unicode.MaxRune {
			if r == 0xD800 { // surrogates are not code points
				r = 0xE000
			}
			if last+utf8.RuneLen(r) <= n {
				return utf8.AppendRune(append(dst, p[:last]...), r), false, true
			}
		}
		p = p[:last]
	}
	return dst, false, false
}
