package parquetfile

import (
	"cmp"
	"encoding/binary"
	"math"
	"math/bits"
	"slices"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"
)

// flushChunk writes the column's chunk of the row group at the writer's
// offset (the dictionary page, if any data page uses it, then the data
// pages), fills its page index and returns its footer entry.
func (c *column) flushChunk(ci *format.ColumnIndex, oi *format.OffsetIndex) (columnChunk, error) {
	if err := c.flushPage(); err != nil {
		return columnChunk{}, err
	}
	w, s := c.w, &c.chunk
	if s.dictPages > 0 && !c.leaf.dictSet && s.numValues-s.numNulls >= minJudgedValues && !c.dictionaryPaid() {
		w.judgeDictionary(c.index, false)
	}
	start := w.offset
	md := columnMetaData{
		Type:         format.Type(c.kind),
		PathInSchema: c.path,
		NumValues:    s.numValues,
		Statistics:   statistics{NullCount: s.numNulls},
	}
	if w.o.codec != nil {
		md.Codec = w.o.codec.CompressionCodec()
	}
	var encodings []format.Encoding
	if s.dictPages > 0 {
		var err error
		var uncompressed int64
		if w.chunkBuf, uncompressed, err = c.dictionaryPage(w.chunkBuf[:0]); err != nil {
			return columnChunk{}, err
		}
		md.DictionaryPageOffset = start
		md.TotalCompressedSize += int64(len(w.chunkBuf))
		md.TotalUncompressedSize += uncompressed
		if err := w.write(w.chunkBuf); err != nil {
			return columnChunk{}, err
		}
		encodings = append(encodings, format.Plain, format.RLEDictionary)
		md.EncodingStats = append(md.EncodingStats,
			format.PageEncodingStats{PageType: format.DataPage, Encoding: format.RLEDictionary, Count: int32(s.dictPages)})
	}
	if s.plainPages > 0 {
		encodings = append(encodings, format.Plain)
		md.EncodingStats = append(md.EncodingStats,
			format.PageEncodingStats{PageType: format.DataPage, Encoding: format.Plain, Count: int32(s.plainPages)})
	}
	if s.dictPages > 0 {
		md.EncodingStats = append(md.EncodingStats,
			format.PageEncodingStats{PageType: format.DictionaryPage, Encoding: format.Plain, Count: 1})
	}
	if c.maxDef > 0 {
		encodings = append(encodings, format.RLE)
	}
	slices.Sort(encodings)
	md.Encoding = slices.Compact(encodings)
	md.DataPageOffset = w.offset
	md.TotalCompressedSize += int64(len(s.pages))
	md.TotalUncompressedSize += s.uncompressed
	if err := w.write(s.pages); err != nil {
		return columnChunk{}, err
	}
	// A chunk with a NaN has no bounds: the spec leaves NaN out of them,
	// but readers compare NaN as larger than every number (DuckDB, Spark)
	// and would skip the chunk for a predicate its NaN rows match, as
	// "f > 7" of [5, NaN] bounded [5, 5]. DuckDB's writer does the same.
	switch {
	case !s.bounds.has || s.bounds.nan:
	case c.truncate:
		md.Statistics.setByteArrayBounds(s.bounds.min, s.bounds.max, w.o.statisticsSizeLimit)
	default:
		var lo, hi []byte
		_, lo, hi, _ = s.bounds.encode(&c.leaf, nil)
		md.Statistics.MinValue, md.Statistics.MaxValue = lo, hi
	}
	if c.kind == parquet.ByteArray {
		md.SizeStatistics.UnencodedByteArrayDataBytes = s.unencoded
	}
	if c.maxDef > 0 {
		md.SizeStatistics.DefinitionLevelHistogram = slices.Clone(s.defHist)
	}

	// The page index.
	pages := len(s.locations)
	*oi = format.OffsetIndex{PageLocations: slices.Clone(s.locations)}
	for i := range oi.PageLocations {
		oi.PageLocations[i].Offset += md.DataPageOffset
	}
	*ci = format.ColumnIndex{
		NullPages:  slices.Clone(s.nullPages),
		NullCounts: slices.Clone(s.nullCounts),
		MinValues:  make([][]byte, pages),
		MaxValues:  make([][]byte, pages),
	}
	if c.maxDef > 0 {
		ci.DefinitionLevelHistogram = slices.Clone(s.pageHists)
	}
	bb := slices.Clone(s.boundBytes)
	at := 0
	for p := range pages {
		ci.MinValues[p] = bb[at:s.boundEnds[2*p]:s.boundEnds[2*p]]
		ci.MaxValues[p] = bb[s.boundEnds[2*p]:s.boundEnds[2*p+1]:s.boundEnds[2*p+1]]
		at = s.boundEnds[2*p+1]
	}
	if s.bounds.nan || s.noIndex {
		// No column index (parquet-java drops it when a page's bound is
		// NaN): a page of NaN has no bound the readers agree on, and the
		// other pages' bounds leave their NaN out (see above). Nor when a
		// page's byte array maximum has no truncated bound: a non-null
		// page must have one.
		*ci = format.ColumnIndex{}
		c.resetChunk()
		return columnChunk{FileOffset: start, MetaData: md}, nil
	}
	ci.BoundaryOrder = boundaryOrder(&c.leaf, ci.NullPages, ci.MinValues, ci.MaxValues)
	c.resetChunk()
	return columnChunk{FileOffset: start, MetaData: md}, nil
}

// boundaryOrder returns the column index's boundary order from the pages'
// bounds as written (lo[p], hi[p], byte arrays truncated): ascending if no
// non-null page's bounds are below the previous non-null page's, else
// descending if none are above, else unordered. Null pages do not count.
func boundaryOrder(l *leaf, nullPages []bool, lo, hi [][]byte) format.BoundaryOrder {
	asc, desc := true, true
	prev := -1
	for p := range nullPages {
		if nullPages[p] {
			continue
		}
		if prev >= 0 {
			cmin, cmax := comparePlain(l, lo[p], lo[prev]), comparePlain(l, hi[p], hi[prev])
			if cmin < 0 || cmax < 0 {
				asc = false
			}
			if cmin > 0 || cmax > 0 {
				desc = false
			}
		}
		prev = p
	}
	switch {
	case asc:
		return format.Ascending
	case desc:
		return format.Descending
	}
	return format.Unordered
}

// minJudgedValues is the fewest values a chunk needs for its dictionary to
// be judged: in a small chunk (a file cut by a checkpoint after a few rows)
// most values are new even where the column repeats a lot.
const minJudgedValues = 8192

// dictionaryPaid reports whether the chunk's dictionary made its values at
// least a quarter smaller than PLAIN would have: the dictionary page and
// the indexes at their bit width against the PLAIN values. A chunk that
// fell back to PLAIN past the size bound did not pay (a page of only nulls
// is PLAIN too, but says nothing about the dictionary).
func (c *column) dictionaryPaid() bool {
	s := &c.chunk
	if !c.useDict {
		return false
	}
	values := s.numValues - s.numNulls
	plain := s.unencoded + 4*values // byte arrays: lengths and bytes
	if w := fixedWidth(c.leaf); w > 0 {
		plain = int64(w) * values
	}
	indexes := (values*int64(bits.Len32(uint32(c.dict.len()))) + 7) / 8
	return 4*(int64(c.dict.plainSize())+indexes) < 3*plain
}

// comparePlain compares two values of l in their PLAIN form.
func comparePlain(l *leaf, a, b []byte) int {
	switch l.kind {
	case parquet.Int32:
		x, y := intKey(l.order, uint64(binary.LittleEndian.Uint32(a)), l.kind), intKey(l.order, uint64(binary.LittleEndian.Uint32(b)), l.kind)
		return cmp.Compare(x, y)
	case parquet.Int64:
		x, y := intKey(l.order, binary.LittleEndian.Uint64(a), l.kind), intKey(l.order, binary.LittleEndian.Uint64(b), l.kind)
		return cmp.Compare(x, y)
	case parquet.Float:
		return cmp.Compare(float64(math.Float32frombits(binary.LittleEndian.Uint32(a))), float64(math.Float32frombits(binary.LittleEndian.Uint32(b))))
	case parquet.Double:
		return cmp.Compare(math.Float64frombits(binary.LittleEndian.Uint64(a)), math.Float64frombits(binary.LittleEndian.Uint64(b)))
	}
	return compareBytes(l.order, a, b)
}

// resetChunk empties the column for the next row group.
func (c *column) resetChunk() {
	c.levels, c.plain, c.idx = c.levels[:0], c.plain[:0], c.idx[:0]
	c.numValues, c.numNulls, c.unencoded = 0, 0, 0
	c.pb.reset()
	if c.dict != nil {
		c.dict.reset(c.w.table(c.index, c.w.tableBytes()))
	}
	c.useDict = c.leaf.dict && (c.leaf.dictSet || !c.w.skipDictionary(c.index))
	c.hasLast, c.lastVal = false, nil
	c.genPage = false
	c.chunk.reset(c)
}

// memoryBytes is the capacity of the column's buffers.
func (c *column) memoryBytes() int64 {
	s := &c.chunk
	n := cap(c.levels) + cap(c.plain) + 4*cap(c.idx) + 4*cap(c.seen) + cap(s.pages) + cap(s.boundBytes)
	if c.dict != nil {
		n += c.dict.memoryBytes()
	}
	return int64(n)
}

// releaseMemory drops the column's buffers; the chunk must be empty.
func (c *column) releaseMemory() {
	c.levels, c.plain, c.idx, c.seen, c.epoch = nil, nil, nil, nil, 0
	c.chunk.pages, c.chunk.boundBytes = nil, nil
	if c.dict != nil {
		c.dict = &chunkDict{fixed: c.dict.fixed, table: c.dict.table}
	}
}
