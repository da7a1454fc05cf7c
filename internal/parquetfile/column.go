package parquetfile

import (
	"encoding/binary"
	"fmt"
	"hash/maphash"
	"math"
	"unsafe"

	"github.com/parquet-go/parquet-go"
)

// column encodes one leaf column of the current row group: the page being
// filled (definition levels, then PLAIN values or dictionary indexes) and
// the pages already encoded, compressed, with their headers (see page.go).
type column struct {
	leaf
	w *Writer

	// The page being filled.
	levels    []byte  // definition level of every value (maxDef > 0)
	numValues int     // values in the page, nulls included
	numNulls  int     // nulls in the page
	plain     []byte  // PLAIN values, when not writing dictionary indexes
	idx       []int32 // dictionary indexes
	pb        bounds  // bounds of the PLAIN values
	unencoded int64   // bytes of the page's byte array values

	// The dictionary, if the column has one. useDict says whether the pages
	// of this chunk still index into it; seen and epoch find each page's
	// distinct values for its bounds.
	dict    *chunkDict
	useDict bool
	seen    []uint32
	epoch   uint32
	last    unsafe.Pointer // the last byte array inserted, and its index: repeats
	lastLen int            // (constant columns) skip the hash
	lastIdx int32

	chunk chunkState
}

// newColumn returns the encoder of leaf l.
func newColumn(w *Writer, l leaf) *column {
	c := &column{leaf: l, w: w}
	if l.dict {
		c.dict = &chunkDict{fixed: fixedWidth(l)}
	}
	c.resetChunk()
	return c
}

// fixedWidth returns the width of the PLAIN form of l's values, or 0 for
// byte arrays.
func fixedWidth(l leaf) int {
	switch l.kind {
	case parquet.Boolean:
		return 1
	case parquet.Int32, parquet.Float:
		return 4
	case parquet.Int64, parquet.Double:
		return 8
	case parquet.FixedLenByteArray:
		return l.typeLen
	}
	return 0
}

// pageBytes is the size of the page being filled, compared with the page
// buffer size to cut pages.
func (c *column) pageBytes() int { return len(c.levels) + len(c.plain) + 4*len(c.idx) }

// bufferedBytes is the memory the column holds for the row group: encoded
// pages, the page being filled and the dictionary.
func (c *column) bufferedBytes() int64 {
	n := int64(len(c.chunk.pages) + c.pageBytes())
	if c.dict != nil {
		n += int64(c.dict.plainSize())
	}
	return n
}

// batchValues bounds the values written between page size checks.
const batchValues = 1024

// reserve returns s with room for n more elements, growing it to twice its
// size at least (append grows large slices by a quarter: a page buffer
// growing to 1 MiB was copied about 30 times).
func reserve[T any](s []T, n int) []T {
	if cap(s)-len(s) >= n {
		return s
	}
	out := make([]T, len(s), max(2*cap(s), len(s)+n, 256))
	copy(out, s)
	return out
}

// write appends the values of rows (one value each) to the column. The
// values' bytes must not change during the call (they may after it).
func (c *column) write(values []parquet.Value) error {
	c.last = nil // the repeat check trusts pointers within one call only
	for len(values) > 0 {
		n := min(len(values), batchValues)
		if c.maxDef > 0 {
			c.levels = reserve(c.levels, n)
		}
		var err error
		switch {
		case c.useDict && c.kind == parquet.ByteArray:
			err = c.writeDictBytes(values[:n])
		case c.useDict:
			err = c.writeGeneric(values[:n])
		case c.kind == parquet.Int64:
			err = c.writeInt64(values[:n])
		case c.kind == parquet.Int32:
			err = c.writeInt32(values[:n])
		case c.kind == parquet.ByteArray:
			err = c.writeBytes(values[:n])
		default:
			err = c.writeGeneric(values[:n])
		}
		if err != nil {
			return err
		}
		values = values[n:]
		if c.useDict && c.w.o.dictionaryMaxBytes > 0 && c.dict.plainSize() > c.w.o.dictionaryMaxBytes {
			if err := c.flushPage(); err != nil { // its values are indexes already
				return err
			}
			continue
		}
		if c.pageBytes() >= c.w.o.pageBufferSize {
			if err := c.flushPage(); err != nil {
				return err
			}
		}
	}
	return nil
}

// level checks the definition level of v and records it, and reports
// whether v is null.
func (c *column) level(v *parquet.Value) (null bool, err error) {
	def := byte(v.DefinitionLevel())
	null = v.IsNull()
	switch {
	case null && def >= c.maxDef:
		return true, c.badValue(v, "null at definition level %d: the column is required at that level", def)
	case !null && def != c.maxDef:
		return false, c.badValue(v, "value at definition level %d, want %d", def, c.maxDef)
	case !null && v.Kind() != c.kind:
		return false, c.badValue(v, "value is %s, want %s", v.Kind(), c.kind)
	}
	if c.maxDef > 0 {
		c.levels = append(c.levels, def)
	}
	if null {
		c.numNulls++
	}
	c.numValues++
	return null, nil
}

func (c *column) badValue(v *parquet.Value, format string, args ...any) error {
	return &ValueError{Column: c.index, Path: c.path, Reason: fmt.Sprintf(format, args...)}
}

func (c *column) writeInt64(values []parquet.Value) error {
	signed := c.order == orderSigned
	c.plain = reserve(c.plain, 8*len(values))
	for i := range values {
		v := &values[i]
		if v.IsNull() || c.maxDef > 0 || v.Kind() != parquet.Int64 {
			if null, err := c.level(v); err != nil || null {
				if err != nil {
					return err
				}
				continue
			}
		} else {
			c.numValues++
		}
		u := v.Uint64()
		c.plain = binary.LittleEndian.AppendUint64(c.plain, u)
		if signed {
			c.pb.int(int64(u))
		} else {
			c.pb.int(intKey(c.order, u, parquet.Int64))
		}
	}
	return nil
}

func (c *column) writeInt32(values []parquet.Value) error {
	c.plain = reserve(c.plain, 4*len(values))
	for i := range values {
		v := &values[i]
		if v.IsNull() || c.maxDef > 0 || v.Kind() != parquet.Int32 {
			if null, err := c.level(v); err != nil || null {
				if err != nil {
					return err
				}
				continue
			}
		} else {
			c.numValues++
		}
		u := v.Uint32()
		c.plain = binary.LittleEndian.AppendUint32(c.plain, u)
		c.pb.int(intKey(c.order, uint64(u), parquet.Int32))
	}
	return nil
}

func (c *column) writeBytes(values []parquet.Value) error {
	size := 0
	for i := range values {
		if v := &values[i]; v.Kind() == parquet.ByteArray {
			size += 4 + len(v.ByteArray())
		}
	}
	c.plain = reserve(c.plain, size)
	for i := range values {
		v := &values[i]
		if null, err := c.level(v); err != nil || null {
			if err != nil {
				return err
			}
			continue
		}
		b := v.ByteArray()
		if len(b) > math.MaxInt32 {
			return c.badValue(v, "byte array of %d bytes", len(b))
		}
		c.plain = binary.LittleEndian.AppendUint32(c.plain, uint32(len(b)))
		c.plain = append(c.plain, b...)
		c.unencoded += int64(len(b))
		c.pb.bytes(b, orderBytes)
	}
	return nil
}

func (c *column) writeDictBytes(values []parquet.Value) error {
	c.idx = reserve(c.idx, len(values))
	d := c.dict
	t := d.table
	t.init()
	// First hash every value that is not a repeat of the one before it
	// and load its first slot: these loads do not depend on each other,
	// so their cache misses (the values and a large table are rarely in
	// cache) overlap instead of coming one after another in the inserts.
	hashes := reserve(c.w.hashes[:0], len(values))[:len(values)]
	mask := uint64(len(t.slots) - 1)
	var touched uint64
	last, lastLen := c.last, c.lastLen
	for i := range values {
		v := &values[i]
		if v.IsNull() || v.Kind() != parquet.ByteArray {
			continue
		}
		b := v.ByteArray()
		if p := unsafe.Pointer(unsafe.SliceData(b)); p != last || len(b) != lastLen || p == nil {
			last, lastLen = p, len(b)
			h := maphash.Bytes(t.seed, b)
			hashes[i] = h
			touched += t.slots[h&mask]
		}
	}
	c.w.hashes, c.w.touched = hashes, touched
	for i := range values {
		v := &values[i]
		if null, err := c.level(v); err != nil || null {
			if err != nil {
				return err
			}
			continue
		}
		b := v.ByteArray()
		c.unencoded += int64(len(b))
		p := unsafe.Pointer(unsafe.SliceData(b))
		if p != c.last || len(b) != c.lastLen || p == nil {
			c.last, c.lastLen = p, len(b)
			c.lastIdx = d.insertHashed(b, hashes[i])
		}
		c.idx = append(c.idx, c.lastIdx)
	}
	return nil
}

// writeGeneric writes the values of the types without a fast path, and of
// the dictionaries of fixed-width types, through their PLAIN bytes.
func (c *column) writeGeneric(values []parquet.Value) error {
	var scratch [8]byte
	if c.useDict {
		c.idx = reserve(c.idx, len(values))
	} else {
		c.plain = reserve(c.plain, max(fixedWidth(c.leaf), 1)*len(values))
	}
	for i := range values {
		v := &values[i]
		if null, err := c.level(v); err != nil || null {
			if err != nil {
				return err
			}
			continue
		}
		var b []byte
		switch c.kind {
		case parquet.Boolean:
			scratch[0] = 0
			if v.Boolean() {
				scratch[0] = 1
			}
			b = scratch[:1]
		case parquet.Int32, parquet.Float:
			binary.LittleEndian.PutUint32(scratch[:], v.Uint32())
			b = scratch[:4]
		case parquet.Int64, parquet.Double:
			binary.LittleEndian.PutUint64(scratch[:], v.Uint64())
			b = scratch[:8]
		default:
			b = v.ByteArray()
			if c.kind == parquet.FixedLenByteArray && len(b) != c.typeLen {
				return c.badValue(v, "fixed-length byte array of %d bytes, want %d", len(b), c.typeLen)
			}
		}
		if c.useDict {
			c.idx = append(c.idx, c.dict.insert(b))
			continue
		}
		c.plain = append(c.plain, b...)
		c.pb.plain(&c.leaf, b)
	}
	return nil
}

// ValueError is a value that does not fit its column: the file cannot be
// finished (the columns would hold different numbers of rows).
type ValueError struct {
	Column int
	Path   []string
	Reason string
}

func (e *ValueError) Error() string {
	return fmt.Sprintf("parquetfile: column %d (%v): %s", e.Column, e.Path, e.Reason)
}
