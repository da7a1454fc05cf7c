package parquetfile

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
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
		var err error
		if dst, err = remapGroups(dst, src, int(keep), from, width, n-done, remap); err != nil {
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
