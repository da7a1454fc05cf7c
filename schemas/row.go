package schemas

import (
	"math"
	"unsafe"

	"github.com/parquet-go/parquet-go"
)

// SetMeta sets meta column col (MetaCommitTime .. MetaFileName) of a row
// built by a Decoder. A nil v writes a null. The row keeps a reference to v.
func (ts *TableSchema) SetMeta(row parquet.Row, col int, v []byte) {
	switch {
	case ts.raw && v == nil:
		*asRaw(&row[col]) = rawValue{nil, 0, rawMeta(0, true, 0, 0, col)}
	case ts.raw:
		*asRaw(&row[col]) = rawValue{unsafe.Pointer(unsafe.SliceData(v)), uint64(len(v)), rawMeta(parquet.ByteArray, false, 1, 0, col)}
	case v == nil:
		row[col] = parquet.Value{}.Level(0, 0, col)
	default:
		row[col] = parquet.ByteArrayValue(v).Level(0, 1, col)
	}
}

// SetKafka sets the Kafka columns of a row built by a Decoder (after the
// user fields, before the partition columns). key is
// written only with TableOptions.IncludeKafkaKey (nil writes a null); the
// row keeps a reference to it.
func (ts *TableSchema) SetKafka(row parquet.Row, partition int32, offset int64, timestampMicros int64, key []byte) {
	n := len(ts.leaves) - ts.numPart // the Kafka columns end here
	base := len(row) - ts.numPart - ts.numKafka
	col := n - ts.numKafka
	if ts.raw {
		// As the decoders write rows (see rawValue): Level's byte-wide
		// stores stall the copy into the row.
		r := (*[3]rawValue)(unsafe.Pointer(&row[base : base+3][0]))
		r[0] = rawValue{nil, uint64(int64(partition)), rawMeta(parquet.Int32, false, 0, 0, col)}
		r[1] = rawValue{nil, uint64(offset), rawMeta(parquet.Int64, false, 0, 0, col+1)}
		r[2] = rawValue{nil, uint64(timestampMicros), rawMeta(parquet.Int64, false, 0, 0, col+2)}
	} else {
		row[base] = parquet.Int32Value(partition).Level(0, 0, col)
		row[base+1] = parquet.Int64Value(offset).Level(0, 0, col+1)
		row[base+2] = parquet.Int64Value(timestampMicros).Level(0, 0, col+2)
	}
	if ts.numKafka == 4 {
		switch {
		case ts.raw && key == nil:
			*asRaw(&row[base+3]) = rawValue{nil, 0, rawMeta(0, true, 0, 0, n-1)}
		case ts.raw:
			*asRaw(&row[base+3]) = rawValue{unsafe.Pointer(unsafe.SliceData(key)), uint64(len(key)), rawMeta(parquet.ByteArray, false, 1, 0, n-1)}
		case key == nil:
			row[base+3] = parquet.Value{}.Level(0, 0, n-1)
		default:
			row[base+3] = parquet.ByteArrayValue(key).Level(0, 1, n-1)
		}
	}
}

// slabSize is the size of the memory blocks a rowBuilder carves byte values
// from. A block is never written twice, so rows may hold on to it.
const slabSize = 8 << 10

// rowBuilder collects the values of one row. A table without lists or maps
// has one value per column, written in place; otherwise values go to one
// buffer per column and are concatenated by finish.
type rowBuilder struct {
	ts   *TableSchema
	flat bool
	raw  bool // rawValue matches parquet.Value: write rows through it
	// rawFlat is raw && flat: write's fast path.
	rawFlat bool
	row     parquet.Row
	cols    [][]parquet.Value
	head    []parquet.Value // the meta columns, null
	tail    []parquet.Value // the Kafka and partition columns, placeholders
	seen    []uint64        // stack of bitsets: fields seen in the open structs
	slab    []byte          // append-only; see alloc
}

func (b *rowBuilder) init(ts *TableSchema) {
	b.ts = ts
	b.flat = !ts.repeated
	b.raw = rawLayoutOK()
	b.rawFlat = b.raw && b.flat
	if !b.flat {
		b.cols = make([][]parquet.Value, len(ts.leaves))
	}
	for c := 0; c < numMetaColumns; c++ {
		b.head = append(b.head, parquet.Value{}.Level(0, 0, c))
	}
	k := len(ts.leaves) - ts.numPart - ts.numKafka
	b.tail = append(b.tail,
		parquet.Int32Value(0).Level(0, 0, k),
		parquet.Int64Value(0).Level(0, 0, k+1),
		parquet.Int64Value(0).Level(0, 0, k+2))
	if ts.numKafka == 4 {
		b.tail = append(b.tail, parquet.Value{}.Level(0, 0, k+3))
	}
	for c := len(ts.leaves) - ts.numPart; c < len(ts.leaves); c++ {
		b.tail = append(b.tail, parquet.Value{}.Level(0, 0, c)) // set by the writer
	}
}

// begin starts a row in the storage of row, with the meta columns null.
func (b *rowBuilder) begin(row parquet.Row) {
	n := len(b.ts.leaves)
	if b.flat {
		if cap(row) < n {
			row = make(parquet.Row, n)
		}
		b.row = row[:n]
		copy(b.row, b.head)
	} else {
		b.row = row[:0]
		for i := range b.cols {
			b.cols[i] = b.cols[i][:0]
		}
		for c := range b.head {
			b.cols[c] = append(b.cols[c], b.head[c])
		}
	}
	b.seen = b.seen[:0]
}

// finish adds the Kafka and partition column placeholders and returns the
// row.
func (b *rowBuilder) finish() parquet.Row {
	if b.flat {
		copy(b.row[len(b.row)-len(b.tail):], b.tail)
		return b.row
	}
	row := b.row
	for _, vs := range b.cols[:len(b.cols)-len(b.tail)] {
		row = append(row, vs...)
	}
	row = append(row, b.tail...)
	b.row = row
	return row
}

// abort returns the row storage, emptied, after an error.
func (b *rowBuilder) abort() parquet.Row { return b.row[:0] }

func (b *rowBuilder) put(col int, v parquet.Value) {
	if b.flat {
		b.row[col] = v
	} else {
		b.cols[col] = append(b.cols[col], v)
	}
}

// write stores a non-null value of leaf n: ptr and u64 as in rawValue.
// The common case, a flat row written raw, comes first and alone: it skips
// the other tests and writeAny's frame.
func (b *rowBuilder) write(n *node, ptr unsafe.Pointer, u64 uint64, rep uint8) {
	if b.rawFlat {
		r := asRaw(&b.row[n.col])
		r.ptr, r.u64, r.meta = ptr, u64, n.meta|uint64(rep)<<16
		return
	}
	b.writeAny(n, ptr, u64, rep)
}

// writeAny is write for every case.
func (b *rowBuilder) writeAny(n *node, ptr unsafe.Pointer, u64 uint64, rep uint8) {
	if !b.raw {
		b.put(n.col, publicValue(n.phys, ptr, u64).Level(int(rep), int(n.def), n.col))
		return
	}
	w := rawValue{ptr: ptr, u64: u64, meta: n.meta | uint64(rep)<<16}
	if b.flat {
		*asRaw(&b.row[n.col]) = w
		return
	}
	vs := append(b.cols[n.col], parquet.Value{})
	*asRaw(&vs[len(vs)-1]) = w
	b.cols[n.col] = vs
}

func (b *rowBuilder) int64(n *node, v int64, rep uint8) { b.write(n, nil, uint64(v), rep) }

func (b *rowBuilder) int32(n *node, v int32, rep uint8) { b.write(n, nil, uint64(v), rep) }

func (b *rowBuilder) float32(n *node, v float32, rep uint8) {
	b.write(n, nil, uint64(math.Float32bits(v)), rep)
}

func (b *rowBuilder) float64(n *node, v float64, rep uint8) {
	b.write(n, nil, math.Float64bits(v), rep)
}

func (b *rowBuilder) bool(n *node, v bool, rep uint8) {
	var u uint64
	if v {
		u = 1
	}
	b.write(n, nil, u, rep)
}

// bytes stores a byte array (or fixed-length byte array) value; the row
// keeps a reference to p.
func (b *rowBuilder) bytes(n *node, p []byte, rep uint8) {
	b.write(n, unsafe.Pointer(unsafe.SliceData(p)), uint64(len(p)), rep)
}

// nulls writes one null with definition level def in every column under n.
func (b *rowBuilder) nulls(n *node, rep, def uint8) {
	for c := n.col; c < n.col+n.ncol; c++ {
		b.put(c, parquet.Value{}.Level(int(rep), int(def), c))
	}
}

// pushSeen opens a struct of nfields fields and returns its bitset offset.
func (b *rowBuilder) pushSeen(nfields int) int {
	off := len(b.seen)
	for w := 0; w < (nfields+63)/64; w++ {
		b.seen = append(b.seen, 0)
	}
	return off
}

func (b *rowBuilder) popSeen(off int) { b.seen = b.seen[:off] }

// markSeen marks field i of the struct at off and reports whether it was
// already marked.
func (b *rowBuilder) markSeen(off, i int) (dup bool) {
	w, bit := off+i/64, uint64(1)<<(i%64)
	dup = b.seen[w]&bit != 0
	b.seen[w] |= bit
	return dup
}

func (b *rowBuilder) isSeen(off, i int) bool { return b.seen[off+i/64]&(1<<(i%64)) != 0 }

// alloc returns n bytes that no later call returns again: rows may keep
// them after the next record. Small requests share a block.
func (b *rowBuilder) alloc(n int) []byte {
	if n > slabSize/4 {
		return make([]byte, n)
	}
	if cap(b.slab)-len(b.slab) < n {
		b.slab = make([]byte, 0, slabSize)
	}
	l := len(b.slab)
	b.slab = b.slab[:l+n]
	return b.slab[l : l+n : l+n]
}

// shrink gives back the unused tail of p, the result of the last alloc,
// and returns its first used bytes.
func (b *rowBuilder) shrink(p []byte, used int) []byte {
	if len(p) > slabSize/4 || len(b.slab) < len(p) {
		return p[:used:used]
	}
	b.slab = b.slab[:len(b.slab)-(len(p)-used)]
	return p[:used:used]
}
