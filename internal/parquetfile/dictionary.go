package parquetfile

import (
	"encoding/binary"
	"hash/maphash"
	"math"
)

// dictionary maps the distinct values of a column chunk to their indexes:
// an open-addressing hash table (linear probing, load at most 1/2) over the
// values stored back to back. The table keeps its memory across chunks, so a
// new file's dictionary does not grow (and rehash) from nothing the way a
// fresh Go map does; that growth was most of parquet-go's dictionary cost.
//
// Values are byte strings: byte arrays as they are, fixed-width types as
// their little-endian PLAIN bytes.
type dictionary struct {
	slots []uint64 // 0: empty; else the hash's high 32 bits << 32 | (index+1)
	ends  []uint32 // value i is data[ends[i-1]:ends[i]] (ends[-1] = 0)
	data  []byte
	seed  maphash.Seed
	// fixed is the width of every value (fixed-width types), or 0 for
	// byte arrays: their PLAIN form has a 4-byte length before each value.
	fixed int
}

const minDictionarySlots = 1 << 6

func newDictionary(fixed int) *dictionary {
	return &dictionary{seed: maphash.MakeSeed(), fixed: fixed}
}

// len returns the number of values.
func (d *dictionary) len() int { return len(d.ends) }

// plainSize returns the size of the dictionary page's PLAIN encoding.
func (d *dictionary) plainSize() int {
	if d.fixed > 0 {
		return len(d.data)
	}
	return len(d.data) + 4*len(d.ends)
}

// value returns value i.
func (d *dictionary) value(i int32) []byte {
	start := uint32(0)
	if i > 0 {
		start = d.ends[i-1]
	}
	return d.data[start:d.ends[i]:d.ends[i]]
}

// init allocates the table on first use.
func (d *dictionary) init() {
	if d.slots == nil {
		d.slots = make([]uint64, minDictionarySlots)
	}
}

// insert returns the index of v, adding it if it is new. The dictionary
// copies v.
func (d *dictionary) insert(v []byte) int32 {
	d.init()
	return d.insertHashed(v, maphash.Bytes(d.seed, v))
}

// insertHashed is insert with v's hash, maphash.Bytes(d.seed, v), given.
func (d *dictionary) insertHashed(v []byte, h uint64) int32 {
	tag := h >> 32 << 32
	mask := uint64(len(d.slots) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		s := d.slots[i]
		if s == 0 {
			return d.add(i, tag, v)
		}
		if s&^math.MaxUint32 == tag {
			if idx := int32(uint32(s) - 1); string(d.value(idx)) == string(v) {
				return idx
			}
		}
	}
}

// add stores v as a new value in empty slot i.
func (d *dictionary) add(i, tag uint64, v []byte) int32 {
	idx := int32(len(d.ends))
	d.data = append(reserve(d.data, len(v)), v...)
	d.ends = append(reserve(d.ends, 1), uint32(len(d.data)))
	d.slots[i] = tag | uint64(idx+1)
	if 2*len(d.ends) > len(d.slots) {
		d.rehash(2 * len(d.slots))
	}
	return idx
}

// rehash rebuilds the table with n slots (a power of two).
func (d *dictionary) rehash(n int) {
	if cap(d.slots) >= n {
		d.slots = d.slots[:n]
		clear(d.slots)
	} else {
		d.slots = make([]uint64, n)
	}
	mask := uint64(n - 1)
	for idx := range d.ends {
		h := maphash.Bytes(d.seed, d.value(int32(idx)))
		i := h & mask
		for d.slots[i] != 0 {
			i = (i + 1) & mask
		}
		d.slots[i] = h>>32<<32 | uint64(idx+1)
	}
}

// reset empties the dictionary for a new column chunk. The table keeps its
// size unless the last chunk used far less of it.
func (d *dictionary) reset() {
	if len(d.ends) == 0 {
		return
	}
	n := len(d.slots)
	for n > minDictionarySlots && 8*len(d.ends) < n {
		n /= 2
	}
	if n < len(d.slots) {
		d.slots = make([]uint64, n)
	} else {
		clear(d.slots)
	}
	d.ends = d.ends[:0]
	d.data = d.data[:0]
}

// appendPlain appends the dictionary page's PLAIN encoding of the values.
func (d *dictionary) appendPlain(dst []byte) []byte {
	if d.fixed > 0 {
		return append(dst, d.data...)
	}
	start := uint32(0)
	for _, end := range d.ends {
		dst = binary.LittleEndian.AppendUint32(dst, end-start)
		dst = append(dst, d.data[start:end]...)
		start = end
	}
	return dst
}

// memoryBytes is the capacity of the dictionary's table and values.
func (d *dictionary) memoryBytes() int {
	return 8*cap(d.slots) + 4*cap(d.ends) + cap(d.data)
}
