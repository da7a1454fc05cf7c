package parquetfile

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"slices"

	"github.com/parquet-go/bitpack"
)

// The RLE/bit-packed hybrid encoding, as the merge needs it: dictionary
// indexes remapped run by run (an RLE run stays one run of the new index,
// a bit-packed run is unpacked, remapped and packed again at the new bit
// width), and definition levels counted. No value is decoded.

var errHybridShort = errors.New("RLE/bit-packed data ends early")

// remapIndexes appends to dst the values of an RLE_DICTIONARY data page,
// src (a bit width byte, then the RLE/bit-packed hybrid of n indexes), with
// every index i replaced by remap[i] and written at bit width width, which
// must hold every value of remap. Bytes after the n indexes (the padding of
// a last bit-packed run) are dropped.
func remapIndexes(dst, src []byte, n int, remap []int32, width int) ([]byte, error) {
	return remapIndexesWith(dst, src, n, remap, width, nil)
}

// remapIndexesWith is remapIndexes with a remap table padded for the
// page's bit width kept in tab (nil: made for this page), for the pages
// of one remap.
func remapIndexesWith(dst, src []byte, n int, remap []int32, width int, tab *remapTable) ([]byte, error) {
	if len(src) == 0 {
		if n == 0 {
			return append(dst, byte(width)), nil
		}
		return dst, errors.New("dictionary indexes: no bit width")
	}
	from := int(src[0])
	if from > 32 {
		return dst, fmt.Errorf("dictionary indexes: bit width %d", from)
	}
	src = src[1:]
	dst = append(dst, byte(width))
	fromBytes, toBytes := (from+7)/8, (width+7)/8
	for done := 0; done < n; {
		h, k := binary.Uvarint(src)
		if k <= 0 {
			return dst, fmt.Errorf("dictionary indexes: run header: %w", errHybridShort)
		}
		src = src[k:]
		if h&1 == 0 { // an RLE run: its count, then its value
			if len(src) < fromBytes {
				return dst, fmt.Errorf("dictionary indexes: RLE run value: %w", errHybridShort)
			}
			var v uint32
			for i := range fromBytes {
				v |= uint32(src[i]) << (8 * i)
			}
			src = src[fromBytes:]
			count := h >> 1
			if count == 0 {
				continue
			}
			if int64(v) >= int64(len(remap)) {
				return dst, fmt.Errorf("dictionary index %d: the dictionary has %d values", v, len(remap))
			}
			take := min(count, uint64(n-done))
			dst = binary.AppendUvarint(dst, take<<1)
			dst = appendLittleEndian(dst, uint32(remap[v]), toBytes)
			done += int(take)
			continue
		}
		// A bit-packed run of groups of 8 values.
		groups := h >> 1
		if groups == 0 {
			continue
		}
		if from > 0 && groups > uint64(len(src)/from) {
			return dst, fmt.Errorf("dictionary indexes: bit-packed run of %d groups: %w", groups, errHybridShort)
		}
		keep := min(groups, uint64((n-done+7)/8)) // groups past n are padding
		dst = binary.AppendUvarint(dst, keep<<1|1)
		// The groups of 8 indexes whose loads stay in src, by table; the
		// rest (and a group of padding) value by value.
		var err error
		fast := 0
		if from > 0 && width <= 32 && len(src) >= 16+from {
			fast = min(int(keep), (n-done)/8, (len(src)-16)/from)
		}
		if fast > 0 {
			if tab == nil {
				tab = new(remapTable)
			}
			if t := tab.get(remap, from); t != nil {
				var ok bool
				switch {
				case from == width && (from <= 6 || from == 8):
					// The same width: translated in place, two indexes
					// (or a byte) a lookup.
					dst, ok = remapGroupsSameWidth(dst, src, fast, from, tab.sameWidth())
				default:
					dst, ok = remapGroupsTable(dst, src, fast, from, width, t, &tab.buf)
				}
				if !ok {
					// An index past the dictionary: the checked path
					// names it.
					dst = dst[:len(dst)-fast*width]
					fast = 0
				}
			} else {
				fast = 0
			}
		}
		if dst, err = remapGroups(dst, src[fast*from:], int(keep)-fast, from, width, n-done-8*fast, remap); err != nil {
			return dst, err
		}
		done = min(n, done+8*int(keep))
		src = src[int(keep)*from:]
		if skip := groups - keep; skip > 0 {
			src = src[int(skip)*from:]
		}
	}
	return dst, nil
}

// remapGroups appends groups of 8 bit-packed indexes of src, at bit width
// from, remapped and packed at bit width to; of the values, the first n
// are indexes, the others padding (written 0). Each value is read with a
// 64-bit load at its first byte (its bit offset in the byte and its width,
// at most 32, fit in 64 bits); the output is gathered in a register and
// written 32 bits at a time.
func remapGroups(dst, src []byte, groups, from, to, n int, remap []int32) ([]byte, error) {
	inBytes := groups * from
	src = src[:inBytes]
	inMask := uint64(1)<<from - 1
	size := uint64(len(remap))
	values := 8 * groups
	n = min(n, values)
	var acc uint64 // bits not yet written, the first at bit 0
	have := 0
	// The values whose 8-byte load stays in src, then the others.
	fast := 0
	if inBytes >= 8 && from > 0 {
		fast = min(n, ((inBytes-8)*8)/from+1)
	}
	for i := range fast {
		bit := i * from
		v := binary.LittleEndian.Uint64(src[bit>>3:]) >> (bit & 7) & inMask
		if v >= size {
			return dst, fmt.Errorf("dictionary index %d: the dictionary has %d values", v, size)
		}
		acc |= uint64(remap[v]) << have
		if have += to; have >= 32 {
			dst = binary.LittleEndian.AppendUint32(dst, uint32(acc))
			acc >>= 32
			have -= 32
		}
	}
	var tail [16]byte
	for i := fast; i < values; i++ {
		var m uint64
		if i < n {
			bit := i * from
			copy(tail[:], src[min(bit>>3, inBytes):])
			v := binary.LittleEndian.Uint64(tail[:]) >> (bit & 7) & inMask
			tail = [16]byte{}
			if v >= size {
				return dst, fmt.Errorf("dictionary index %d: the dictionary has %d values", v, size)
			}
			m = uint64(remap[v])
		}
		acc |= m << have
		if have += to; have >= 32 {
			dst = binary.LittleEndian.AppendUint32(dst, uint32(acc))
			acc >>= 32
			have -= 32
		}
	}
	// 8 values of to bits are to bytes: what is left is whole bytes.
	for ; have > 0; have -= 8 {
		dst = append(dst, byte(acc))
		acc >>= 8
	}
	return dst, nil
}

// remapTable is a remap table padded to the 1<<from indexes of a bit
// width, an index past the dictionary marked badIndex: remapGroupsTable
// looks indexes up without a bounds check of its own. It is kept for the
// pages of one remap, which must not change meanwhile: whoever reuses a
// remap's array sets remap to nil.
type remapTable struct {
	remap []int32 // the remap it was made of
	from  int
	tab   []uint32
	buf   []uint32 // remapGroupsTable's
	pairs []uint16 // sameWidth's, of from, or nil
}

const badIndex = 1 << 31 // above every remapped index (int32)

// get returns the table of remap for bit width from, made if needed; nil
// if it would be much larger than remap (a bit width wider than the
// dictionary needs).
func (t *remapTable) get(remap []int32, from int) []uint32 {
	if t.tab != nil && t.from == from && len(t.remap) == len(remap) && len(remap) > 0 && &t.remap[0] == &remap[0] {
		return t.tab
	}
	size := 1 << from
	if from > 24 || size > 4*len(remap)+256 {
		return nil
	}
	if cap(t.tab) < size {
		t.tab = make([]uint32, size)
	}
	t.tab = t.tab[:size]
	for i, v := range remap[:min(len(remap), size)] {
		t.tab[i] = uint32(v)
	}
	for i := min(len(remap), size); i < size; i++ {
		t.tab[i] = badIndex
	}
	t.remap, t.from = remap, from
	t.pairs = t.pairs[:0]
	return t.tab
}

// sameWidth returns, for the bit width of the table (at most 6, or 8),
// the remap of a pair of indexes as they are packed (2*from bits: the
// first index the low bits), or of a byte (8 bits, one index); an entry
// with an index past the dictionary has bit 15 set.
func (t *remapTable) sameWidth() []uint16 {
	if len(t.pairs) > 0 {
		return t.pairs
	}
	bits := 2 * t.from
	if t.from == 8 {
		bits = 8
	}
	n := 1 << bits
	if cap(t.pairs) < 1<<12 {
		t.pairs = make([]uint16, 1<<12) // remapGroupsSameWidth indexes 12 bits
	}
	t.pairs = t.pairs[:n]
	if t.from == 8 {
		for i := range t.pairs {
			t.pairs[i] = uint16(t.tab[i]) | uint16(t.tab[i]>>16) // badIndex sets bit 15
		}
		return t.pairs
	}
	mask := uint32(1)<<t.from - 1
	for i := range t.pairs {
		lo, hi := t.tab[uint32(i)&mask], t.tab[uint32(i)>>t.from]
		if (lo|hi)&badIndex != 0 {
			t.pairs[i] = 1 << 15
		} else {
			t.pairs[i] = uint16(lo | hi<<t.from)
		}
	}
	return t.pairs
}

// remapGroupsSameWidth appends groups of 8 bit-packed indexes of src at
// bit width w (at most 6, or 8), remapped to the same width by pairs
// (sameWidth's): a group is w bytes in and out, read as a 64-bit word (src
// holds 8 bytes past each group's start) and translated two indexes (or a
// byte) a lookup. It reports false if an index is past the dictionary
// (what it appended is then garbage, groups*w bytes).
func remapGroupsSameWidth(dst, src []byte, groups, w int, pairs []uint16) ([]byte, bool) {
	start := len(dst)
	dst = slices.Grow(dst, groups*w+8)[:start+groups*w+8]
	out := dst[start:]
	var bad uint16
	if w == 8 {
		tab := (*[256]uint16)(pairs) // a byte indexes it: no bounds check
		in := src[:groups*8]
		out = out[:len(in)]
		for i, c := range in {
			e := tab[c]
			bad |= e
			out[i] = byte(e)
		}
		return dst[:start+groups*8], bad&(1<<15) == 0
	}
	tab := (*[1 << 12]uint16)(pairs[:1<<12]) // indexes masked to 12 bits: no bounds check
	b1, b2, b3 := uint(2*w)&63, uint(4*w)&63, uint(6*w)&63
	mask := uint64(1)<<(2*w) - 1
	for g := 0; g < groups; g++ {
		x := binary.LittleEndian.Uint64(src[g*w:])
		p0, p1, p2, p3 := tab[x&mask&0xFFF], tab[x>>b1&mask&0xFFF], tab[x>>b2&mask&0xFFF], tab[x>>b3&mask&0xFFF]
		bad |= p0 | p1 | p2 | p3
		binary.LittleEndian.PutUint64(out[g*w:], uint64(p0)|uint64(p1)<<b1|uint64(p2)<<b2|uint64(p3)<<b3)
	}
	return dst[:start+groups*w], bad&(1<<15) == 0
}

// remapGroupsTable appends groups of 8 bit-packed indexes of src, at bit
// width from, remapped by tab (1<<from entries) and packed at bit width
// to (at most 32). Every value is an index; src holds 16 bytes past the
// groups (bitpack.Unpack's padding). It reports false if an index is past
// the dictionary (what it appended is then garbage, groups*to bytes).
//
// The indexes are unpacked at once (bitpack, with SIMD where it has it),
// looked up, and packed again 8, 4 or 2 at a time: a unit of 64 bits at
// most, written through a 64-bit accumulator.
func remapGroupsTable(dst, src []byte, groups, from, to int, tab []uint32, buf *[]uint32) ([]byte, bool) {
	n := 8 * groups
	if cap(*buf) < n {
		*buf = make([]uint32, n)
	}
	v := (*buf)[:n]
	bitpack.Unpack(v, src, uint(from))
	var bad uint32
	mask := uint32(len(tab) - 1)
	start := len(dst)
	dst = slices.Grow(dst, groups*to+8)[:start+groups*to+8]
	out := dst[start:]
	o := 0
	w := uint(to)
	var acc uint64
	var have uint
	switch {
	case to <= 8:
		// A group is to bytes: stored at once (its high bytes zero, the
		// next group's to come).
		s1, s2, s3, s4, s5, s6, s7 := w, 2*w, 3*w, 4*w, 5*w, 6*w, 7*w&63
		for i := 0; i+8 <= n; i += 8 {
			q := v[i : i+8 : i+8]
			r0, r1, r2, r3 := tab[q[0]&mask], tab[q[1]&mask], tab[q[2]&mask], tab[q[3]&mask]
			r4, r5, r6, r7 := tab[q[4]&mask], tab[q[5]&mask], tab[q[6]&mask], tab[q[7]&mask]
			bad |= r0 | r1 | r2 | r3 | r4 | r5 | r6 | r7
			u := uint64(r0) | uint64(r1)<<s1 | uint64(r2)<<s2 | uint64(r3)<<s3 |
				uint64(r4)<<s4 | uint64(r5)<<s5 | uint64(r6)<<s6 | uint64(r7)<<s7
			binary.LittleEndian.PutUint64(out[o:], u)
			o += to
		}
	case to <= 16:
		k := 4 * w
		s1, s2, s3 := w, 2*w, 3*w&63
		for i := 0; i+4 <= n; i += 4 {
			q := v[i : i+4 : i+4]
			r0, r1, r2, r3 := tab[q[0]&mask], tab[q[1]&mask], tab[q[2]&mask], tab[q[3]&mask]
			bad |= r0 | r1 | r2 | r3
			u := uint64(r0) | uint64(r1)<<s1 | uint64(r2)<<s2 | uint64(r3)<<s3
			acc |= u << (have & 63)
			if have += k; have >= 64 {
				binary.LittleEndian.PutUint64(out[o:], acc)
				o += 8
				have -= 64
				acc = u >> (k - have)
			}
		}
	default:
		k := 2 * w
		s1 := w & 63
		for i := 0; i+2 <= n; i += 2 {
			q := v[i : i+2 : i+2]
			r0, r1 := tab[q[0]&mask], tab[q[1]&mask]
			bad |= r0 | r1
			u := uint64(r0) | uint64(r1)<<s1
			acc |= u << (have & 63)
			if have += k; have >= 64 {
				binary.LittleEndian.PutUint64(out[o:], acc)
				o += 8
				have -= 64
				acc = u >> (k - have)
			}
		}
	}
	for ; have > 0; have -= 8 { // whole bytes: 8 values of to bits
		out[o] = byte(acc)
		acc >>= 8
		o++
	}
	return dst[:start+o], bad&badIndex == 0
}

// countLevels returns how many of the first n values of src, an
// RLE/bit-packed hybrid of definition levels at bit width width (no length
// prefix, no width byte), equal level.
func countLevels(src []byte, width, n int, level byte) (int, error) {
	if width > 8 {
		return 0, fmt.Errorf("definition levels: bit width %d", width)
	}
	var vals [8]uint32
	count := 0
	byteWidth := (width + 7) / 8
	for done := 0; done < n; {
		h, k := binary.Uvarint(src)
		if k <= 0 {
			return 0, fmt.Errorf("definition levels: run header: %w", errHybridShort)
		}
		src = src[k:]
		if h&1 == 0 {
			if len(src) < byteWidth {
				return 0, fmt.Errorf("definition levels: RLE run value: %w", errHybridShort)
			}
			v := byte(0)
			if byteWidth > 0 {
				v = src[0]
			}
			src = src[byteWidth:]
			take := int(min(h>>1, uint64(n-done)))
			if v == level {
				count += take
			}
			done += take
			continue
		}
		groups := h >> 1
		if width > 0 && groups > uint64(len(src)/width) {
			return 0, fmt.Errorf("definition levels: bit-packed run of %d groups: %w", groups, errHybridShort)
		}
		if width == 1 && level <= 1 {
			// One bit a level: count the ones.
			vals := int(min(groups*8, uint64(n-done)))
			nb, ones := (vals+7)/8, 0
			for i := 0; i+8 <= nb; i += 8 {
				ones += bits.OnesCount64(binary.LittleEndian.Uint64(src[i:]))
			}
			for i := nb &^ 7; i < nb; i++ {
				x := src[i]
				if r := vals - 8*i; r < 8 {
					x &= 1<<r - 1 // the padding of the last group
				}
				ones += bits.OnesCount8(x)
			}
			if level == 1 {
				count += ones
			} else {
				count += vals - ones
			}
			done += vals
			src = src[groups:]
			continue
		}
		for g := uint64(0); g < groups && done < n; g++ {
			unpack8(&vals, src, width)
			src = src[width:]
			for _, v := range vals[:min(8, n-done)] {
				if byte(v) == level {
					count++
				}
			}
			done += min(8, n-done)
		}
	}
	return count, nil
}

// unpack8 reads 8 values of width bits (LSB first) from the first width
// bytes of src.
func unpack8(vals *[8]uint32, src []byte, width int) {
	if width == 0 {
		*vals = [8]uint32{}
		return
	}
	var acc uint64
	have := 0
	mask := uint64(1)<<width - 1
	for i := range vals {
		for have < width {
			acc |= uint64(src[0]) << have
			src = src[1:]
			have += 8
		}
		vals[i] = uint32(acc & mask)
		acc >>= width
		have -= width
	}
}

// pack8 appends 8 values at width bits each (LSB first): width bytes.
func pack8(dst []byte, vals *[8]uint32, width int) []byte {
	if width == 0 {
		return dst
	}
	var acc uint64
	have := 0
	for _, v := range vals {
		acc |= uint64(v) << have
		have += width
		for have >= 8 {
			dst = append(dst, byte(acc))
			acc >>= 8
			have -= 8
		}
	}
	return dst
}

func appendLittleEndian(dst []byte, v uint32, n int) []byte {
	for i := range n {
		dst = append(dst, byte(v>>(8*i)))
	}
	return dst
}

// bitWidth returns the bits needed by the largest value of remap.
func bitWidth(remap []int32) int {
	var m int32
	for _, v := range remap {
		m = max(m, v)
	}
	return bits.Len32(uint32(m))
}
