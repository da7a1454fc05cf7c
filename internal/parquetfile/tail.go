package parquetfile

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/deprecated"
	"github.com/parquet-go/parquet-go/encoding/thrift"
	"github.com/parquet-go/parquet-go/format"
)

// BoundsRewriter bounds the byte array bounds of files another writer
// (parquet-go, for the schemas Writer does not support) writes through it:
// parquet-go writes its column chunk statistics whole, and cuts the
// column index's bounds to a size but writes a bound below the value when
// the cut prefix is all 0xFF bytes, and may cut inside a UTF-8 sequence.
// The writer writes its row groups through the BoundsRewriter; Hold then
// keeps what it writes next (the page index and the footer), and Finish
// writes them with the byte array bounds of the column indexes and of the
// chunk statistics truncated as Writer truncates its own
// (WithColumnIndexSizeLimit, WithStatisticsSizeLimit), from the exact
// bounds the writer wrote: configure it not to truncate them
// (parquet.ColumnIndexSizeLimit returning 0). Not safe for concurrent use.
type BoundsRewriter struct {
	out              io.Writer
	offset           int64 // bytes written to out
	holding          bool
	tail             []byte
	columnIndexLimit int
	statisticsLimit  int
}

// NewBoundsRewriter returns a BoundsRewriter that truncates the byte
// array bounds of the column indexes to columnIndexLimit bytes and those
// of the chunk statistics to statisticsLimit bytes (0: not truncated).
func NewBoundsRewriter(columnIndexLimit, statisticsLimit int) (*BoundsRewriter, error) {
	o := defaultOptions()
	o.columnIndexSizeLimit, o.statisticsSizeLimit = columnIndexLimit, statisticsLimit
	if err := o.validate(); err != nil {
		return nil, err
	}
	return &BoundsRewriter{columnIndexLimit: columnIndexLimit, statisticsLimit: statisticsLimit}, nil
}

// Reset starts a new file written to out.
func (b *BoundsRewriter) Reset(out io.Writer) {
	b.out, b.offset, b.holding = out, 0, false
	b.releaseTail()
}

// Write passes p to the output, or keeps it after Hold.
func (b *BoundsRewriter) Write(p []byte) (int, error) {
	if b.holding {
		b.tail = append(b.tail, p...)
		return len(p), nil
	}
	n, err := b.out.Write(p)
	b.offset += int64(n)
	return n, err
}

// Hold keeps what is written next, up to Finish: call it after the last
// row group, before the page index and the footer are written.
func (b *BoundsRewriter) Hold() { b.holding = true }

// Finish writes what was held since Hold, the end of a Parquet file (the
// page index and the footer), with its byte array bounds truncated.
func (b *BoundsRewriter) Finish() error {
	if !b.holding {
		return errors.New("parquetfile: BoundsRewriter.Finish without Hold")
	}
	defer b.releaseTail()
	b.holding = false
	out, err := truncateTail(b.tail, b.offset, b.columnIndexLimit, b.statisticsLimit)
	if err != nil {
		return err
	}
	_, err = b.Write(out)
	return err
}

// releaseTail drops the held bytes, and their memory if it is large.
func (b *BoundsRewriter) releaseTail() {
	b.tail = b.tail[:0]
	if cap(b.tail) > 1<<20 {
		b.tail = nil
	}
}

// truncateTail returns tail, the end of a Parquet file from its offset
// start to its end, which holds the column indexes, the offset indexes and
// the footer (and before them the file's first bytes if start is 0), with
// the byte array bounds of its column indexes truncated to ciLimit bytes
// and those of its chunk statistics to stLimit bytes. The column indexes
// and offset indexes must follow each other, in that order, between the
// start of the first and the footer, as parquet-go writes them.
func truncateTail(tail []byte, start int64, ciLimit, stLimit int) ([]byte, error) {
	if len(tail) < 8 || string(tail[len(tail)-4:]) != magic {
		return nil, fmt.Errorf("parquetfile: rewrite bounds: the file does not end with a footer and %q", magic)
	}
	footerStart := len(tail) - 8 - int(binary.LittleEndian.Uint32(tail[len(tail)-8:]))
	if footerStart < 0 {
		return nil, fmt.Errorf("parquetfile: rewrite bounds: footer of %d bytes in the last %d bytes of the file", len(tail)-8-footerStart, len(tail))
	}
	md := new(fileMetaData)
	if err := thrift.Unmarshal(new(thrift.CompactProtocol), tail[footerStart:len(tail)-8], md); err != nil {
		return nil, fmt.Errorf("parquetfile: rewrite bounds: footer: %w", err)
	}
	if md.EncryptionAlgorithm.Value != nil {
		return nil, errors.New("parquetfile: rewrite bounds: encrypted files are not supported")
	}
	leaves, err := leafElements(md.Schema)
	if err != nil {
		return nil, fmt.Errorf("parquetfile: rewrite bounds: %w", err)
	}
	// The page index: where it starts, and that it holds nothing else.
	end := start + int64(footerStart)
	first, size := end, int64(0)
	for g := range md.RowGroups {
		rg := &md.RowGroups[g]
		if len(rg.Columns) != len(leaves) {
			return nil, fmt.Errorf("parquetfile: rewrite bounds: row group %d has %d columns, the schema %d", g, len(rg.Columns), len(leaves))
		}
		for c := range rg.Columns {
			cc := &rg.Columns[c]
			for _, r := range [2]struct {
				off int64
				n   int32
			}{{cc.ColumnIndexOffset, cc.ColumnIndexLength}, {cc.OffsetIndexOffset, cc.OffsetIndexLength}} {
				if r.off == 0 && r.n == 0 {
					continue
				}
				if r.off < start || r.n <= 0 || r.off+int64(r.n) > end {
					return nil, fmt.Errorf("parquetfile: rewrite bounds: row group %d column %d: page index at %d+%d, outside %d..%d", g, c, r.off, r.n, start, end)
				}
				first = min(first, r.off)
				size += int64(r.n)
			}
		}
	}
	if first+size != end {
		return nil, fmt.Errorf("parquetfile: rewrite bounds: %d bytes between %d and the footer at %d, of which %d are the page index", end-first, first, end, size)
	}
	out := make([]byte, 0, min(len(tail), 64<<10)) // the tail of a large value shrinks
	out = append(out, tail[:first-start]...)
	at := first
	proto := new(thrift.CompactProtocol)
	bytesLeaf := &leaf{kind: parquet.ByteArray, order: orderBytes}
	for g := range md.RowGroups {
		for c := range md.RowGroups[g].Columns {
			cc := &md.RowGroups[g].Columns[c]
			if cc.ColumnIndexOffset == 0 && cc.ColumnIndexLength == 0 {
				continue
			}
			raw := tail[cc.ColumnIndexOffset-start : cc.ColumnIndexOffset-start+int64(cc.ColumnIndexLength)]
			if truncatableLeaf(leaves[c]) {
				ci := new(format.ColumnIndex)
				if err := thrift.Unmarshal(proto, raw, ci); err != nil {
					return nil, fmt.Errorf("parquetfile: rewrite bounds: row group %d column %d: column index: %w", g, c, err)
				}
				if !truncateColumnIndex(bytesLeaf, ci, ciLimit) {
					cc.ColumnIndexOffset, cc.ColumnIndexLength = 0, 0 // see flushChunk
					continue
				}
				if raw, err = thrift.Marshal(proto, ci); err != nil {
					return nil, fmt.Errorf("parquetfile: rewrite bounds: row group %d column %d: column index: %w", g, c, err)
				}
			}
			cc.ColumnIndexOffset, cc.ColumnIndexLength = at, int32(len(raw))
			out = append(out, raw...)
			at += int64(len(raw))
		}
	}
	for g := range md.RowGroups {
		for c := range md.RowGroups[g].Columns {
			cc := &md.RowGroups[g].Columns[c]
			if cc.OffsetIndexOffset == 0 && cc.OffsetIndexLength == 0 {
				continue
			}
			out = append(out, tail[cc.OffsetIndexOffset-start:cc.OffsetIndexOffset-start+int64(cc.OffsetIndexLength)]...)
			cc.OffsetIndexOffset = at
			at += int64(cc.OffsetIndexLength)
		}
	}
	for g := range md.RowGroups {
		for c := range md.RowGroups[g].Columns {
			if st := &md.RowGroups[g].Columns[c].MetaData.Statistics; truncatableLeaf(leaves[c]) {
				// The deprecated min and max (signed order, which parquet-go
				// writes only if asked) go: byte arrays do not use them.
				lo, hi := st.MinValue, st.MaxValue
				*st = statistics{NullCount: st.NullCount, DistinctCount: st.DistinctCount}
				if lo != nil && hi != nil {
					st.setByteArrayBounds(lo, hi, stLimit)
				}
			}
		}
	}
	footer, err := thrift.Marshal(proto, md)
	if err != nil {
		return nil, fmt.Errorf("parquetfile: rewrite bounds: footer: %w", err)
	}
	out = append(out, footer...)
	out = binary.LittleEndian.AppendUint32(out, uint32(len(footer)))
	return append(out, magic...), nil
}

// truncateColumnIndex truncates the bounds of a byte array column index
// to n bytes and sets its boundary order again; false if a page's maximum
// has no truncated bound (the chunk must then have no column index).
func truncateColumnIndex(l *leaf, ci *format.ColumnIndex, n int) bool {
	if len(ci.MinValues) != len(ci.NullPages) || len(ci.MaxValues) != len(ci.NullPages) {
		return false // not a valid column index: none is better
	}
	for p := range ci.NullPages {
		if ci.NullPages[p] {
			continue
		}
		ci.MinValues[p], _ = truncateMin(ci.MinValues[p], n)
		hi, _, ok := appendMax(nil, ci.MaxValues[p], n)
		if !ok {
			return false
		}
		ci.MaxValues[p] = hi
	}
	ci.BoundaryOrder = boundaryOrder(l, ci.NullPages, ci.MinValues, ci.MaxValues)
	return true
}

// leafElements returns the leaf elements of a footer's schema (the
// elements without children), in column order.
func leafElements(schema []format.SchemaElement) ([]*format.SchemaElement, error) {
	var leaves []*format.SchemaElement
	i := 0
	var walk func(depth int) error
	walk = func(depth int) error {
		if i >= len(schema) {
			return errors.New("the schema ends inside a group")
		}
		if depth > 1000 {
			return errors.New("the schema nests too deep")
		}
		e := &schema[i]
		i++
		n, group := e.NumChildren.Get()
		if !group {
			leaves = append(leaves, e)
			return nil
		}
		for range n {
			if err := walk(depth + 1); err != nil {
				return err
			}
		}
		return nil
	}
	if err := walk(0); err != nil {
		return nil, err
	}
	if i != len(schema) {
		return nil, fmt.Errorf("the schema has %d elements after its root's", len(schema)-i)
	}
	return leaves, nil
}

// truncatableLeaf reports whether the bounds of the column of leaf element
// e are byte arrays that may be truncated.
func truncatableLeaf(e *format.SchemaElement) bool {
	if t, ok := e.Type.Get(); !ok || t != format.ByteArray {
		return false
	}
	var ct *deprecated.ConvertedType
	if v, ok := e.ConvertedType.Get(); ok {
		ct = &v
	}
	return truncatable(&e.LogicalType, ct)
}
