package parquetfile

import (
	"encoding/binary"
	"hash/maphash"
	"math"
)

// dictionary interns byte strings: it maps each distinct value to an
// index, in an open-addressing hash table (linear probing, load at most
// 3/4: the table is what a lookup misses the cache on, so it is kept
// small) over the values stored back to back. A Shared keeps one per
// dictionary column for all its Writers' files (see chunkDict): a new
// file's dictionary neither grows (and rehashes) a table from nothing, the
// way a fresh Go map does (most of parquet-go's dictionary cost), nor
// brings a table of its own into the cache.
//
// Values are byte arrays as they are, fixed-width types as their
// little-endian PLAIN bytes.
type dictionary struct {
	slots []uint64 // 0: empty; else the hash's high 32 bits << 32 | (index+1)
	ends  []uint32 // value i is data[ends[i-1]:ends[i]] (ends[-1] = 0)
	data  []byte
	seed  maphash.Seed
}

const minDictionarySlots = 1 << 6

func newDictionary() *dictionary {
	return &dictionary{seed: maphash.MakeSeed()}
}

// len returns the number of values.
func (d *dictionary) len() int { return len(d.ends) }

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

// insertHashed returns the index of v, adding it if it is new; h is v's
// hash, maphash.Bytes(d.seed, v). The dictionary copies v.
func (d *dictionary) insertHashed(v []byte, h uint64) int32 {
	d.init()
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
	if 4*len(d.ends) > 3*len(d.slots) {
		d.rehash(2 * len(d.slots))
	}
	return idx
}

// rehash rebuilds the table with n slots (a power of two).
func (d *dictionary) rehash(n int) {
	d.slots = make([]uint64, n)
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

// memoryBytes is the capacity of the dictionary's table and values.
func (d *dictionary) memoryBytes() int {
	return 8*cap(d.slots) + 4*cap(d.ends) + cap(d.data)
}

// chunkDict is the dictionary of a column chunk: its values are interned
// in a table the Writer's Shared keeps across files, and the chunk keeps
// which of them it uses, in the order it first used them (its dictionary
// page's order).
type chunkDict struct {
	table   *dictionary // the table this chunk indexes
	toLocal []int32     // table index -> chunk index + 1 (0: not used)
	globals []int32     // chunk index -> table index
	size    int         // the PLAIN size of the chunk's values
	fixed   int         // the width of fixed-width values; 0 for byte arrays
}

// len returns the number of values.
func (d *chunkDict) len() int { return len(d.globals) }

// plainSize returns the size of the dictionary page's PLAIN encoding.
func (d *chunkDict) plainSize() int { return d.size }

// value returns value i.
func (d *chunkDict) value(i int32) []byte { return d.table.value(d.globals[i]) }

// insert returns the index of v, adding it if it is new.
func (d *chunkDict) insert(v []byte) int32 {
	return d.insertHashed(v, maphash.Bytes(d.table.seed, v))
}

// insertHashed is insert with v's hash in the table given.
func (d *chunkDict) insertHashed(v []byte, h uint64) int32 {
	g := d.table.insertHashed(v, h)
	if int(g) >= len(d.toLocal) {
		d.toLocal = reserve(d.toLocal, int(g)+1-len(d.toLocal))
		for len(d.toLocal) <= int(g) {
			d.toLocal = append(d.toLocal, 0)
		}
	}
	l := d.toLocal[g]
	if l == 0 {
		d.globals = append(d.globals, g)
		l = int32(len(d.globals))
		d.toLocal[g] = l
		d.size += len(v)
		if d.fixed == 0 {
			d.size += 4
		}
	}
	return l - 1
}

// reset empties the dictionary for a new chunk, which indexes table.
func (d *chunkDict) reset(table *dictionary) {
	if table != d.table {
		d.table = table
		d.toLocal = d.toLocal[:0]
	} else {
		for _, g := range d.globals {
			d.toLocal[g] = 0
		}
	}
	d.globals = d.globals[:0]
	d.size = 0
}

// appendPlain appends the dictionary page's PLAIN encoding of the values.
func (d *chunkDict) appendPlain(dst []byte) []byte {
	dst = reserve(dst, d.size)
	for _, g := range d.globals {
		v := d.table.value(g)
		if d.fixed == 0 {
			dst = binary.LittleEndian.AppendUint32(dst, uint32(len(v)))
		}
		dst = append(dst, v...)
	}
	return dst
}

// memoryBytes is the capacity of the chunk's own arrays.
func (d *chunkDict) memoryBytes() int { return 4*cap(d.toLocal) + 4*cap(d.globals) }
