package parquetfile

import (
	"encoding/binary"
	"fmt"
	"hash/maphash"
	"math"
	"strconv"

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
	lastVal []byte // the last byte array inserted, and its index: repeats
	hasLast bool   // skip the hash (lastVal is valid during one write only)
	lastIdx int32

	// A column the writer makes the values of (Writer.SetConstant,
	// SetSequence), for the rest of the file.
	gen       genKind
	genVal    parquet.Value // the constant
	genPre    []byte        // the constant's bytes, or the sequence's prefix
	genNext   int64         // the sequence's next number
	genPage   bool          // the page being filled holds only the constant
	genDigits []byte        // the sequence's next number, in decimal
	genIdx    int32         // the constant's index in the chunk's dictionary

	chunk chunkState
}

// genKind says how a column's values are made.
type genKind int

const (
	genNone     genKind = iota // given to WriteColumns
	genConstant                // one value in every row
	genSequence                // a prefix and the row's number in the file
)

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
func (c *column) pageBytes() int {
	if c.genPage {
		return 5 * c.numValues // as a level and an index each
	}
	levels := 0
	if c.maxDef > 0 {
		levels = c.numValues
	}
	return levels + len(c.plain) + 4*len(c.idx)
}

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
	c.hasLast, c.lastVal = false, nil // the caller may change the bytes after the call
	for len(values) > 0 {
		n := min(len(values), batchValues)
		if c.numNulls > 0 {
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

// writeGenerated appends n rows of a generated column.
func (c *column) writeGenerated(n int) error {
	if c.gen == genSequence {
		return c.writeSequence(n)
	}
	v := c.genVal
	if c.useDict && (c.genPage || c.numValues == 0) {
		// A page of the constant only: its levels and indexes are one run
		// each, made when the page is flushed.
		if !v.IsNull() && c.numValues == 0 {
			c.genIdx = c.dict.insert(c.genPre)
		}
		for n > 0 {
			k := min(n, max(c.w.o.pageBufferSize/5-c.numValues, 1))
			c.genPage = true
			c.numValues += k
			if v.IsNull() {
				c.numNulls += k
			} else if c.kind == parquet.ByteArray {
				c.unencoded += int64(k) * int64(len(c.genPre))
			}
			n -= k
			if c.pageBytes() >= c.w.o.pageBufferSize {
				if err := c.flushPage(); err != nil {
					return err
				}
			}
		}
		return nil
	}
	// PLAIN (or a page begun with other values): the values one by one.
	vals := reserve(c.w.genValues[:0], min(n, batchValues))
	for n > 0 {
		k := min(n, batchValues)
		vals = vals[:0]
		for range k {
			vals = append(vals, v)
		}
		if err := c.write(vals); err != nil {
			return err
		}
		n -= k
	}
	c.w.genValues = vals[:0]
	return nil
}

// writeSequence appends n rows of a sequence column: prefix, then the row's
// number in the file.
func (c *column) writeSequence(n int) error {
	for n > 0 {
		k := min(n, batchValues)
		if c.numNulls > 0 { // the levels are kept (see level)
			c.levels = reserve(c.levels, k)
			for range k {
				c.levels = append(c.levels, c.maxDef)
			}
		}
		c.numValues += k
		if c.useDict {
			for range k {
				b := strconv.AppendInt(append(c.w.scratch[:0], c.genPre...), c.genNext, 10)
				c.w.scratch = b
				c.idx = append(c.idx, c.dict.insert(b))
				c.unencoded += int64(len(b))
				c.genNext++
			}
			c.genDigits = c.genDigits[:0] // made again from genNext when PLAIN
		} else {
			// The number's digits are kept and counted up in place: no
			// division per row. The bounds of the batch's values are
			// worked out from its first and last numbers.
			first := c.genNext
			c.plain = reserve(c.plain, k*(4+len(c.genPre)+20))
			if len(c.genDigits) == 0 {
				c.genDigits = strconv.AppendInt(c.genDigits[:0], c.genNext, 10)
			}
			for range k {
				size := len(c.genPre) + len(c.genDigits)
				c.plain = binary.LittleEndian.AppendUint32(c.plain, uint32(size))
				c.plain = append(c.plain, c.genPre...)
				c.plain = append(c.plain, c.genDigits...)
				c.unencoded += int64(size)
				c.genDigits = incrementDecimal(c.genDigits)
			}
			c.genNext += int64(k)
			lo, hi := decimalBounds(append(c.w.scratch[:0], c.genPre...), append(c.w.scratch2[:0], c.genPre...), first, c.genNext-1)
			c.pb.bytes(lo, orderBytes)
			c.pb.bytes(hi, orderBytes)
			c.w.scratch, c.w.scratch2 = lo, hi
		}
		n -= k
		if c.useDict && c.w.o.dictionaryMaxBytes > 0 && c.dict.plainSize() > c.w.o.dictionaryMaxBytes || c.pageBytes() >= c.w.o.pageBufferSize {
			if err := c.flushPage(); err != nil {
				return err
			}
		}
	}
	return nil
}

// incrementDecimal adds one to the decimal digits d (of a non-negative
// number), in place when it can.
func incrementDecimal(d []byte) []byte {
	for i := len(d) - 1; i >= 0; i-- {
		if d[i] != '9' {
			d[i]++
			return d
		}
		d[i] = '0'
	}
	d = append(d, '0')
	d[0] = '1'
	return d
}

// decimalBounds appends to lo and hi the smallest and largest, as
// strings, of the decimal forms of the numbers a..b (0 <= a <= b): among
// numbers of as many digits string order is number order, so the
// candidates are the smallest and largest of each digit count.
func decimalBounds(lo, hi []byte, a, b int64) ([]byte, []byte) {
	var cand [20]byte
	loStart, hiStart := len(lo), len(hi)
	lo = strconv.AppendInt(lo, a, 10)
	hi = strconv.AppendInt(hi, b, 10)
	for least := int64(1); least <= b; least *= 10 {
		// The numbers with as many digits as least: least .. most.
		most := int64(math.MaxInt64) // 19 digits: up to the largest int64
		if least <= math.MaxInt64/10 {
			most = least*10 - 1
		}
		if first, last := max(a, least), min(b, most); first <= last {
			if c := strconv.AppendInt(cand[:0], first, 10); string(c) < string(lo[loStart:]) {
				lo = append(lo[:loStart], c...)
			}
			if c := strconv.AppendInt(cand[:0], last, 10); string(c) > string(hi[hiStart:]) {
				hi = append(hi[:hiStart], c...)
			}
		}
		if most == math.MaxInt64 {
			break
		}
	}
	return lo, hi
}

// check validates values as write does, writing nothing.
func (c *column) check(values []parquet.Value) error {
	for i := range values {
		v := &values[i]
		def := byte(v.DefinitionLevel())
		switch {
		case v.IsNull() && def >= c.maxDef:
			return c.badValue(v, "null at definition level %d: the column is required at that level", def)
		case v.IsNull():
		case def != c.maxDef:
			return c.badValue(v, "value at definition level %d, want %d", def, c.maxDef)
		case v.Kind() != c.kind:
			return c.badValue(v, "value is %s, want %s", v.Kind(), c.kind)
		case c.kind == parquet.FixedLenByteArray && len(v.ByteArray()) != c.typeLen:
			return c.badValue(v, "fixed-length byte array of %d bytes, want %d", len(v.ByteArray()), c.typeLen)
		}
	}
	return nil
}

// level checks the definition level of v and records it, and reports
// whether v is null.
func (c *column) level(v *parquet.Value) (null bool, err error) {
	null = v.IsNull()
	if c.w.o.validated && !null {
		if c.numNulls > 0 {
			c.levels = append(c.levels, c.maxDef)
		}
		c.numValues++
		return false, nil
	}
	def := byte(v.DefinitionLevel())
	switch {
	case null && def >= c.maxDef:
		return true, c.badValue(v, "null at definition level %d: the column is required at that level", def)
	case !null && def != c.maxDef:
		return false, c.badValue(v, "value at definition level %d, want %d", def, c.maxDef)
	case !null && v.Kind() != c.kind:
		return false, c.badValue(v, "value is %s, want %s", v.Kind(), c.kind)
	}
	// The levels of a page are kept from its first null on: before it,
	// every level is maxDef, which numValues says.
	if null {
		if c.numNulls == 0 {
			c.levels = reserve(c.levels[:0], c.numValues+1)
			for range c.numValues {
				c.levels = append(c.levels, c.maxDef)
			}
		}
		c.numNulls++
		c.levels = append(c.levels, def)
	} else if c.numNulls > 0 {
		c.levels = append(c.levels, def)
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
		if v.IsNull() || c.maxDef > 0 && (c.numNulls > 0 || !c.w.o.validated) || !c.w.o.validated && v.Kind() != parquet.Int64 {
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
		if v.IsNull() || c.maxDef > 0 && (c.numNulls > 0 || !c.w.o.validated) || !c.w.o.validated && v.Kind() != parquet.Int32 {
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
	// A repeat of the value before it (the same bytes: a user agent, a
	// country) skips the hash and the table: one comparison, which the same
	// pointer answers at once. The others are hashed first, and their
	// first slots loaded: these loads do not depend on each other, so their
	// cache misses (a large table, values read long ago) overlap instead of
	// coming one after another in the inserts.
	hashes := reserve(c.w.hashes[:0], len(values))[:len(values)]
	mask := uint64(len(t.slots) - 1)
	var touched uint64
	last, hasLast := c.lastVal, c.hasLast
	for i := range values {
		v := &values[i]
		if v.IsNull() || v.Kind() != parquet.ByteArray {
			continue
		}
		if b := v.ByteArray(); !hasLast || string(b) != string(last) {
			last, hasLast = b, true
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
		if !c.hasLast || string(b) != string(c.lastVal) {
			c.lastVal, c.hasLast = b, true
			c.lastIdx = d.insertHashed(b, hashes[i])
		}
		c.idx = append(c.idx, c.lastIdx)
	}
	return nil
}

// appendPlainValue appends the PLAIN bytes of v (a non-null value of l's
// kind; a byte array without its length): how dictionaries and bounds see
// values.
func appendPlainValue(dst []byte, l *leaf, v parquet.Value) []byte {
	switch l.kind {
	case parquet.Boolean:
		if v.Boolean() {
			return append(dst, 1)
		}
		return append(dst, 0)
	case parquet.Int32, parquet.Float:
		return binary.LittleEndian.AppendUint32(dst, v.Uint32())
	case parquet.Int64, parquet.Double:
		return binary.LittleEndian.AppendUint64(dst, v.Uint64())
	}
	return append(dst, v.ByteArray()...)
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
