package parquetfile

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"hash/maphash"
	"io"
	"math/bits"
	"runtime/debug"
	"slices"

	"github.com/klauspost/compress/zstd"
	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/encoding/thrift"
	"github.com/parquet-go/parquet-go/format"
)

// segment is an input row group, the unit merged row groups are made of.
type segment struct {
	in    *mergeInput
	g     int // its row group in the input
	rows  int64
	bytes int64
}

// planRowGroups gathers the inputs' row groups, in order, into output row
// groups of at most target compressed bytes (or one input row group), of
// about equal sizes: as many as the target needs, each cut where the
// running size passes its share of the total.
func planRowGroups(inputs []*mergeInput, target int64) [][]segment {
	var segs []segment
	var total int64
	for _, in := range inputs {
		for g := range in.md.RowGroups {
			rg := &in.md.RowGroups[g]
			if rg.NumRows == 0 {
				continue
			}
			b := rg.TotalCompressedSize
			if b <= 0 {
				for c := range rg.Columns {
					b += rg.Columns[c].MetaData.TotalCompressedSize
				}
			}
			segs = append(segs, segment{in: in, g: g, rows: rg.NumRows, bytes: max(b, 1)})
			total += max(b, 1)
		}
	}
	share := total / max((total+target-1)/target, 1) // total / number of row groups
	var groups [][]segment
	var cur []segment
	var curBytes int64
	for _, s := range segs {
		if len(cur) > 0 && (curBytes+s.bytes > target || curBytes >= share) {
			groups = append(groups, cur)
			cur, curBytes = nil, 0
		}
		cur = append(cur, s)
		curBytes += s.bytes
	}
	if len(cur) > 0 {
		groups = append(groups, cur)
	}
	return groups
}

// encoder returns a Codec that compresses pages of c (nil: none).
func encoder(c format.CompressionCodec, level ZstdLevel) (Codec, error) {
	switch c {
	case format.Uncompressed:
		return nil, nil
	case format.Zstd:
		return NewZstd(level), nil
	}
	codec := parquet.LookupCompressionCodec(c)
	if _, err := codec.Encode(nil, []byte("probe")); err != nil {
		return nil, fmt.Errorf("parquetfile: merge: codec %s: %w", c, err)
	}
	return codec, nil
}

// decompress returns src, a page of codec c, decompressed: size bytes,
// in f.rawBuf (grown as needed), or src itself (no codec), or the content
// of a stored zstd frame where it is in src. Read only.
func (f *flatMerge) decompress(src []byte, c format.CompressionCodec, size int32) ([]byte, error) {
	var out []byte
	var err error
	switch c {
	case format.Uncompressed:
		out = src
	case format.Zstd:
		if content, ok := zstdStoredContent(src); ok {
			out = content // an index page zstd could not compress
			break
		}
		if f.zdec == nil {
			if f.zdec, err = zstd.NewReader(nil, zstd.WithDecoderConcurrency(1)); err != nil {
				return nil, err
			}
		}
		if out, err = f.zdec.DecodeAll(src, f.rawBuf[:0]); err == nil {
			f.rawBuf = out
		}
	default:
		if out, err = parquet.LookupCompressionCodec(c).Decode(f.rawBuf[:0], src); err == nil {
			f.rawBuf = out
		}
	}
	if err != nil {
		return nil, fmt.Errorf("decompress (%s): %w", c, err)
	}
	if len(out) != int(size) {
		return nil, fmt.Errorf("decompressed to %d bytes, the header says %d", len(out), size)
	}
	return out, nil
}

// pageHeader decodes the page header at the start of b and returns it
// (valid until the next call) with its size.
func (f *flatMerge) pageHeader(b []byte) (*format.PageHeader, int, error) {
	f.hdr = format.PageHeader{}
	n, ok := decodePageHeader(b, &f.hdr)
	if !ok {
		f.hdr = format.PageHeader{}
		f.hdrReader.ResetBytes(b)
		if err := f.hdrDec.Decode(&f.hdr); err != nil {
			return nil, 0, fmt.Errorf("page header: %w", err)
		}
		n = f.hdrReader.BytesRead()
	}
	if f.hdr.CompressedPageSize < 0 || f.hdr.UncompressedPageSize < 0 || int64(n)+int64(f.hdr.CompressedPageSize) > int64(len(b)) {
		return nil, 0, fmt.Errorf("page header: a page of %d bytes in %d", f.hdr.CompressedPageSize, len(b)-n)
	}
	return &f.hdr, n, nil
}

// read returns n bytes at off of in, in buf (grown as needed), or where
// they are mapped: read only.
func read(in *mergeInput, buf *[]byte, off, n int64) ([]byte, error) {
	if n < 0 || off < 0 || off+n > in.size {
		return nil, in.errorf("read %d bytes at %d: outside the file", n, off)
	}
	if in.mapped != nil {
		return in.mapped[off : off+n : off+n], nil
	}
	if int64(cap(*buf)) < n {
		*buf = make([]byte, n)
	}
	b := (*buf)[:n]
	if err := readAt(in.r, b, off); err != nil {
		return nil, in.errorf("%w", err)
	}
	return b, nil
}

// source is an input column chunk of a merged chunk.
type source struct {
	seg        segment
	md         *columnMetaData
	ci         *format.ColumnIndex
	oi         *format.OffsetIndex
	dictPages  int // data pages of dictionary indexes
	plainPages int

	// Its dictionary, once read.
	dictCount int     // values
	remap     []int32 // its dictionary's indexes in the merged one
	width     int     // bit width of the largest of remap
	identity  bool    // remap[i] == i: its index pages stay valid
}

// mergeColumn writes the chunk of leaf column c of the row group made of
// segs into the worker's buffer (offsets from its start) and returns it
// with its footer entry and page index.
func (f *flatMerge) mergeColumn(gi int, segs []segment, c int) (r chunkResult) {
	l := &f.w.leaves[c]
	// A mapped input cut short meanwhile (truncated by another process)
	// faults where its pages were: an error, not a crash.
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if p := recover(); p != nil {
			if _, fault := p.(interface{ Addr() uintptr }); !fault {
				panic(p)
			}
			r = chunkResult{err: fmt.Errorf("parquetfile: merge: row group %d column %s: reading an input: %v (was it cut short while merged?)", gi, dotted(l.path), p)}
		}
	}()
	f.stats = chunkStats{}
	if f.direct != nil {
		// The only worker: the chunk goes to the output as it is made,
		// its offsets the file's.
		f.w.out, f.w.offset, f.w.err, f.w.started = f.direct, f.directAt, nil, true
	} else {
		// A buffer the output is done with, or a new one (the last
		// chunk's may not be written yet), of about the size of the
		// inputs' chunks.
		size := 4<<10 + chunkSize(segs, c)
		var b []byte
		select {
		case b = <-f.free:
		default:
		}
		if cap(b) < size {
			b = make([]byte, 0, size+size/8)
		}
		f.out = bytes.NewBuffer(b[:0])
		f.w.out, f.w.offset, f.w.err, f.w.started = f.out, 0, nil, true
	}
	for _, s := range segs {
		r.rows += s.rows
	}
	var err error
	switch value, ok := f.constants[c]; {
	case ok:
		v := parquet.ByteArrayValue(value).Level(0, int(l.maxDef), c)
		vals := make([]parquet.Value, len(segs))
		for i := range vals {
			vals[i] = v
		}
		r.cc, err = f.constantChunk(segs, c, vals, &r.ci, &r.oi)
		f.stats.constant++
	default:
		srcs, reason := f.sources(segs, c)
		var vals []parquet.Value
		if reason == "" {
			if vals, r.nulls, err = f.constantValues(srcs, l); err != nil {
				return chunkResult{err: err}
			}
		}
		switch {
		case vals != nil:
			r.cc, err = f.constantChunk(segs, c, vals, &r.ci, &r.oi)
			f.stats.constant++
		case reason == "":
			if reason = f.tinyPages(srcs, l); reason != "" {
				break
			}
			for _, s := range srcs {
				r.nulls += s.md.Statistics.NullCount
			}
			r.cc, reason, err = f.copyChunk(srcs, c, &r.ci, &r.oi)
		}
		if err == nil && reason != "" {
			f.stats.fallback = reason
			f.stats.reencoded++
			r.ci, r.oi = format.ColumnIndex{}, format.OffsetIndex{}
			r.cc, r.nulls, err = f.reencodeChunk(segs, c, &r.ci, &r.oi)
		}
	}
	if err != nil {
		return chunkResult{err: err}
	}
	md := &r.cc.MetaData
	if md.NumValues != r.rows || md.Statistics.NullCount != r.nulls {
		return chunkResult{err: fmt.Errorf("parquetfile: merge: row group %d column %s: wrote %d values (%d null), the inputs hold %d (%d null)", gi, dotted(l.path), md.NumValues, md.Statistics.NullCount, r.rows, r.nulls)}
	}
	if f.direct != nil {
		r.direct, r.size = true, f.w.offset-f.directAt
	} else {
		r.data = f.out.Bytes()
		r.size = int64(len(r.data))
	}
	r.stats = f.stats
	return r
}

// sources returns the input chunks of column c in segs, or why they
// cannot be copied.
func (f *flatMerge) sources(segs []segment, c int) ([]source, string) {
	l := &f.w.leaves[c]
	srcs := make([]source, len(segs))
	for i, s := range segs {
		in := s.in
		src := source{seg: s, md: &in.md.RowGroups[s.g].Columns[c].MetaData}
		if !in.native {
			return nil, fmt.Sprintf("input %s was written by %q, not by this package's encoder", in.key, in.md.CreatedBy)
		}
		src.ci, src.oi = in.ci[s.g][c], in.oi[s.g][c]
		if src.oi == nil || len(src.oi.PageLocations) == 0 {
			return nil, fmt.Sprintf("input %s has no offset index for the chunk", in.key)
		}
		if len(src.md.EncodingStats) == 0 {
			return nil, fmt.Sprintf("input %s has no encoding stats for the chunk", in.key)
		}
		for _, st := range src.md.EncodingStats {
			switch {
			case st.PageType == format.DataPage && st.Encoding == format.Plain:
				src.plainPages += int(st.Count)
			case st.PageType == format.DataPage && st.Encoding == format.RLEDictionary:
				src.dictPages += int(st.Count)
			case st.PageType == format.DictionaryPage && st.Encoding == format.Plain:
			default:
				return nil, fmt.Sprintf("input %s has %s pages of %s", in.key, st.PageType, st.Encoding)
			}
		}
		if src.dictPages+src.plainPages != len(src.oi.PageLocations) {
			return nil, fmt.Sprintf("input %s: the offset index has %d pages, the encoding stats %d", in.key, len(src.oi.PageLocations), src.dictPages+src.plainPages)
		}
		if src.dictPages > 0 && (src.md.DictionaryPageOffset <= 0 || src.md.DictionaryPageOffset >= src.md.DataPageOffset || l.kind == parquet.Boolean) {
			return nil, fmt.Sprintf("input %s: dictionary pages without a dictionary before them", in.key)
		}
		if ci := src.ci; ci != nil {
			n := len(src.oi.PageLocations)
			if len(ci.NullPages) != n || len(ci.MinValues) != n || len(ci.MaxValues) != n || len(ci.NullCounts) != n {
				src.ci = nil
			}
		}
		srcs[i] = src
	}
	return srcs, ""
}

// constantValues returns the value of column l in each source if each
// holds one value in every row (or nulls of one level), its dictionary
// pages one run each; nil otherwise. nulls counts the nulls.
func (f *flatMerge) constantValues(srcs []source, l *leaf) (vals []parquet.Value, nulls int64, err error) {
	if f.w.cols[l.index].dict == nil {
		return nil, 0, nil // a column without a dictionary: its constants would be written value by value
	}
	vals = make([]parquet.Value, len(srcs))
	values := false
	for i := range srcs {
		s := &srcs[i]
		md, st := s.md, &s.md.Statistics
		switch {
		case st.NullCount == md.NumValues:
			level := 0
			if l.maxDef == 0 {
				return nil, 0, nil
			}
			if l.maxDef > 1 {
				h := md.SizeStatistics.DefinitionLevelHistogram
				if len(h) != int(l.maxDef)+1 {
					return nil, 0, nil
				}
				level = -1
				for d, n := range h {
					switch {
					case n == 0:
					case level >= 0 || d == int(l.maxDef):
						return nil, 0, nil
					default:
						level = d
					}
				}
				if level < 0 {
					return nil, 0, nil
				}
			}
			vals[i] = parquet.Value{}.Level(0, level, l.index)
			nulls += md.NumValues
		case st.NullCount != 0 || s.dictPages == 0 || s.plainPages > 0:
			return nil, 0, nil
		case st.MinValue != nil && bytes.Equal(st.MinValue, st.MaxValue) && (!l.truncate || st.IsMinValueExact.V && st.IsMaxValueExact.V):
			if w := fixedWidth(*l); w > 0 && len(st.MinValue) != w {
				return nil, 0, nil
			}
			vals[i] = l.kind.Value(st.MinValue).Level(0, int(l.maxDef), l.index)
			values = true
		case st.MinValue != nil && st.MaxValue != nil && (!l.truncate || st.IsMinValueExact.V && st.IsMaxValueExact.V):
			return nil, 0, nil // exact bounds, not equal: two values
		case l.kind == parquet.ByteArray:
			// A long value: its bounds are truncated, its dictionary says.
			d := newDictionary()
			if _, err := f.readDictionary(s, l, d); err != nil {
				return nil, 0, err
			}
			if d.len() != 1 {
				return nil, 0, nil
			}
			vals[i] = parquet.ByteArrayValue(d.value(0)).Level(0, int(l.maxDef), l.index)
			values = true
		default:
			return nil, 0, nil
		}
	}
	if !values && l.maxDef == 0 {
		return nil, 0, nil
	}
	return vals, nulls, nil
}

// constantChunk writes a chunk whose rows of segs[i] hold vals[i], as the
// encoder writes a constant: each page one run of one dictionary index
// (or of one null level), cut where the value changes.
func (f *flatMerge) constantChunk(segs []segment, c int, vals []parquet.Value, ci *format.ColumnIndex, oi *format.OffsetIndex) (columnChunk, error) {
	col := f.w.cols[c]
	defer func() { col.gen, col.genVal = genNone, parquet.Value{} }()
	col.gen = genConstant
	col.useDict = true // a chunk of nulls has no dictionary page: no index is written
	for i, s := range segs {
		v := vals[i]
		if err := col.check([]parquet.Value{v}); err != nil {
			return columnChunk{}, err
		}
		if col.numValues > 0 && !sameValue(col.genVal, v) {
			if err := col.flushPage(); err != nil {
				return columnChunk{}, err
			}
		}
		col.genVal = v
		if !v.IsNull() {
			col.genPre = appendPlainValue(col.genPre[:0], &col.leaf, v)
		}
		if err := col.writeGenerated(int(s.rows)); err != nil {
			return columnChunk{}, err
		}
	}
	return col.flushChunk(ci, oi)
}

// sameValue reports whether two values (of one column) are the same,
// levels included.
func sameValue(a, b parquet.Value) bool {
	if a.IsNull() || b.IsNull() {
		return a.IsNull() == b.IsNull() && a.DefinitionLevel() == b.DefinitionLevel()
	}
	return bytes.Equal(a.Bytes(), b.Bytes())
}

// tinyPages reports why copying the sources would leave tiny pages: more
// than one page, of fewer bytes on average (as the encoder counts a page's
// size) than the minimum.
func (f *flatMerge) tinyPages(srcs []source, l *leaf) string {
	if f.o.minPageBytes <= 0 {
		return ""
	}
	var pages, size int64
	for _, s := range srcs {
		md := s.md
		pages += int64(len(s.oi.PageLocations))
		values := md.NumValues - md.Statistics.NullCount
		if l.maxDef > 0 {
			size += md.NumValues
		}
		switch {
		case l.kind == parquet.Boolean:
			size += values
		case s.plainPages == 0:
			size += 4 * values
		default:
			size += md.TotalUncompressedSize
		}
	}
	if pages > 1 && size/pages < int64(f.o.minPageBytes) {
		return fmt.Sprintf("%d input pages of %d bytes on average, below %d", pages, size/pages, f.o.minPageBytes)
	}
	return ""
}

// readDictionary reads the dictionary page of s, a chunk of column l,
// into d and returns its values' indexes in d.
func (f *flatMerge) readDictionary(s *source, l *leaf, d *dictionary) ([]int32, error) {
	in, md := s.seg.in, s.md
	where := func() string { // made on error only: this runs for each input chunk
		return fmt.Sprintf("row group %d column %s: dictionary page", s.seg.g, dotted(l.path))
	}
	raw, err := read(in, &f.dictBuf, md.DictionaryPageOffset, md.DataPageOffset-md.DictionaryPageOffset)
	if err != nil {
		return nil, err
	}
	hdr, hl, err := f.pageHeader(raw)
	if err != nil {
		return nil, in.errorf("%s: %w", where(), err)
	}
	if hdr.Type != format.DictionaryPage || !hdr.DictionaryPageHeader.Valid || hl+int(hdr.CompressedPageSize) != len(raw) {
		return nil, in.errorf("%s: the chunk does not start with one dictionary page", where())
	}
	n := int(hdr.DictionaryPageHeader.V.NumValues)
	body := raw[hl:]
	if hdr.CRC != 0 && crc32.ChecksumIEEE(body) != uint32(hdr.CRC) {
		return nil, in.errorf("%s: CRC mismatch: the file is corrupt", where())
	}
	plain, err := f.decompress(body, md.Codec, hdr.UncompressedPageSize)
	if err != nil {
		return nil, in.errorf("%s: %w", where(), err)
	}
	width := fixedWidth(*l)
	if n < 0 || width > 0 && n*width != len(plain) {
		return nil, in.errorf("%s: %d values in %d bytes", where(), n, len(plain))
	}
	remap := f.remapSpace(n)
	for i := range n {
		var v []byte
		if width > 0 {
			v = plain[i*width : (i+1)*width]
		} else {
			if len(plain) < 4 {
				return nil, in.errorf("%s: it ends in value %d of %d", where(), i, n)
			}
			size := binary.LittleEndian.Uint32(plain)
			if uint64(size) > uint64(len(plain)-4) {
				return nil, in.errorf("%s: value %d of %d bytes, %d left", where(), i, size, len(plain)-4)
			}
			v, plain = plain[4:4+size], plain[4+size:]
		}
		remap[i] = d.insertHashed(v, maphash.Bytes(d.seed, v))
	}
	if width == 0 && len(plain) > 0 {
		return nil, in.errorf("%s: %d bytes after its values", where(), len(plain))
	}
	s.dictCount = n
	return remap, nil
}

// mergedDict returns the worker's dictionary, emptied, for a chunk's merged
// dictionary; remapSpace returns n int32s of the chunk's remap tables.
func (f *flatMerge) mergedDict() *dictionary {
	d := f.dict
	if d == nil || len(d.data) > 4*max(f.o.dictionaryMaxBytes, 1<<20) {
		d = newDictionary()
		f.dict = d
	}
	clear(d.slots)
	d.ends, d.data = d.ends[:0], d.data[:0]
	f.remaps = f.remaps[:0]
	f.remapTab.remap = nil // its array is reused
	return d
}

func (f *flatMerge) remapSpace(n int) []int32 {
	if cap(f.remaps)-len(f.remaps) < n {
		f.remaps = make([]int32, 0, max(2*cap(f.remaps), n, 1024)) // the earlier tables keep the old array
	}
	f.remaps = f.remaps[:len(f.remaps)+n]
	return f.remaps[len(f.remaps)-n:]
}

// plainSize is the size of the PLAIN dictionary page of d's values.
func plainSize(d *dictionary, fixed bool) int {
	if fixed {
		return len(d.data)
	}
	return len(d.data) + 4*d.len()
}

// copyChunk writes the chunk of column c made of srcs: their dictionaries
// merged, PLAIN pages and the first dictionary's index pages copied, the
// other index pages remapped. It returns a reason, having written
// nothing, when the merged dictionary passes the bound.
func (f *flatMerge) copyChunk(srcs []source, c int, ci *format.ColumnIndex, oi *format.OffsetIndex) (columnChunk, string, error) {
	w, l := f.w, &f.w.leaves[c]
	fixed := fixedWidth(*l) > 0
	// The merged dictionary: the first source's values, then the others'
	// new ones.
	merged := f.mergedDict()
	firstDict := -1
	for i := range srcs {
		s := &srcs[i]
		if s.dictPages == 0 {
			continue
		}
		remap, err := f.readDictionary(s, l, merged)
		if err != nil {
			return columnChunk{}, "", err
		}
		s.remap, s.width = remap, bitWidth(remap)
		s.identity = true
		for j, g := range remap {
			s.identity = s.identity && g == int32(j)
		}
		if firstDict < 0 {
			firstDict = i
		}
		if size := plainSize(merged, fixed); f.o.dictionaryMaxBytes > 0 && size > f.o.dictionaryMaxBytes {
			return columnChunk{}, fmt.Sprintf("the merged dictionary (%d bytes by input %s) passes the bound of %d", size, s.seg.in.key, f.o.dictionaryMaxBytes), nil
		}
	}

	start := w.offset
	md := columnMetaData{
		Type:         format.Type(l.kind),
		PathInSchema: l.path,
		Codec:        f.outCodec,
	}
	var dictPages, plainPages int
	if firstDict >= 0 {
		s := &srcs[firstDict]
		md.DictionaryPageOffset = w.offset
		if s.identity && merged.len() == s.dictCount && s.md.Codec == f.outCodec {
			// The first dictionary is the merged one: its page as it is.
			raw, err := read(s.seg.in, &f.dictBuf, s.md.DictionaryPageOffset, s.md.DataPageOffset-s.md.DictionaryPageOffset)
			if err != nil {
				return columnChunk{}, "", err
			}
			hdr, hl, err := f.pageHeader(raw)
			if err != nil {
				return columnChunk{}, "", s.seg.in.errorf("%w", err)
			}
			md.TotalUncompressedSize += int64(hl) + int64(hdr.UncompressedPageSize)
			if err := w.write(raw); err != nil {
				return columnChunk{}, "", err
			}
		} else {
			body := f.pageBuf[:0]
			for i := range merged.len() {
				v := merged.value(int32(i))
				if !fixed {
					body = binary.LittleEndian.AppendUint32(body, uint32(len(v)))
				}
				body = append(body, v...)
			}
			f.pageBuf = body
			hdr := format.PageHeader{Type: format.DictionaryPage}
			hdr.DictionaryPageHeader.Set(format.DictionaryPageHeader{NumValues: int32(merged.len()), Encoding: format.Plain})
			var err error
			if w.chunkBuf, err = w.appendPage(w.chunkBuf[:0], &hdr, body); err != nil {
				return columnChunk{}, "", fmt.Errorf("parquetfile: merge: column %s: dictionary page: %w", dotted(l.path), err)
			}
			md.TotalUncompressedSize += int64(len(w.chunkBuf)) - int64(hdr.CompressedPageSize) + int64(hdr.UncompressedPageSize)
			if err := w.write(w.chunkBuf); err != nil {
				return columnChunk{}, "", err
			}
		}
	}
	md.DataPageOffset = w.offset
	var locations []format.PageLocation
	var rows int64
	for i := range srcs {
		s := &srcs[i]
		n, err := f.copyPages(s, l, rows, &locations, &md)
		if err != nil {
			return columnChunk{}, "", err
		}
		dictPages += n
		plainPages += len(s.oi.PageLocations) - n
		rows += s.seg.rows
	}
	md.NumValues = rows
	md.TotalCompressedSize = w.offset - start

	var encodings []format.Encoding
	if dictPages > 0 || firstDict >= 0 {
		encodings = append(encodings, format.Plain, format.RLEDictionary)
		md.EncodingStats = append(md.EncodingStats,
			format.PageEncodingStats{PageType: format.DataPage, Encoding: format.RLEDictionary, Count: int32(dictPages)})
	}
	if plainPages > 0 {
		encodings = append(encodings, format.Plain)
		md.EncodingStats = append(md.EncodingStats,
			format.PageEncodingStats{PageType: format.DataPage, Encoding: format.Plain, Count: int32(plainPages)})
	}
	if firstDict >= 0 {
		md.EncodingStats = append(md.EncodingStats,
			format.PageEncodingStats{PageType: format.DictionaryPage, Encoding: format.Plain, Count: 1})
	}
	if l.maxDef > 0 {
		encodings = append(encodings, format.RLE)
	}
	slices.Sort(encodings)
	md.Encoding = slices.Compact(encodings)
	md.Statistics = mergeStatistics(l, srcs, w.o.statisticsSizeLimit)
	md.SizeStatistics = mergeSizeStatistics(l, srcs)

	*oi = format.OffsetIndex{PageLocations: locations}
	*ci = mergeColumnIndex(l, srcs, w.o.columnIndexSizeLimit)
	rewritten := false
	for _, s := range srcs {
		rewritten = rewritten || s.dictPages > 0 && !s.identity || s.md.Codec != f.outCodec
	}
	if rewritten {
		f.stats.remapped++
	} else {
		f.stats.copied++
	}
	return columnChunk{FileOffset: start, MetaData: md}, "", nil
}

// copyPages writes the data pages of s, copied or rewritten, appends
// their offset index entries (first rows counted from rows) and returns
// how many index pages it wrote.
func (f *flatMerge) copyPages(s *source, l *leaf, rows int64, locations *[]format.PageLocation, md *columnMetaData) (int, error) {
	w, in := f.w, s.seg.in
	_, end := chunkRange(s.md)
	data, err := read(in, &f.readBuf, s.md.DataPageOffset, end-s.md.DataPageOffset)
	if err != nil {
		return 0, err
	}
	where := func(p int) string {
		return fmt.Sprintf("row group %d column %s page %d", s.seg.g, dotted(l.path), p)
	}
	var pos, firstRow int64
	dictPages := 0
	for p, loc := range s.oi.PageLocations {
		size := int64(loc.CompressedPageSize)
		switch {
		case loc.Offset != s.md.DataPageOffset+pos:
			return 0, in.errorf("%s: at %d, want %d: pages must follow each other", where(p), loc.Offset, s.md.DataPageOffset+pos)
		case size <= 0 || pos+size > int64(len(data)):
			return 0, in.errorf("%s: %d bytes at %d, past the chunk's end", where(p), size, loc.Offset)
		case loc.FirstRowIndex != firstRow:
			return 0, in.errorf("%s: first row %d, want %d", where(p), loc.FirstRowIndex, firstRow)
		}
		page := data[pos : pos+size]
		hdr, hl, err := f.pageHeader(page)
		if err != nil {
			return 0, in.errorf("%s: %w", where(p), err)
		}
		if hdr.Type != format.DataPage || !hdr.DataPageHeader.Valid || int64(hl)+int64(hdr.CompressedPageSize) != size {
			return 0, in.errorf("%s: a %s page of %d bytes, its offset index entry %d", where(p), hdr.Type, int64(hl)+int64(hdr.CompressedPageSize), size)
		}
		body := page[hl:]
		if hdr.CRC != 0 && crc32.ChecksumIEEE(body) != uint32(hdr.CRC) {
			return 0, in.errorf("%s: CRC mismatch: the file is corrupt", where(p))
		}
		dh := &hdr.DataPageHeader.V
		if dh.NumValues < 0 {
			return 0, in.errorf("%s: %d values", where(p), dh.NumValues)
		}
		dict := false
		switch dh.Encoding {
		case format.Plain:
		case format.RLEDictionary:
			dict = true
			dictPages++
			if s.remap == nil {
				return 0, in.errorf("%s: dictionary indexes without a dictionary", where(p))
			}
		default:
			return 0, in.errorf("%s: encoding %s", where(p), dh.Encoding)
		}
		at := w.offset
		if dict && !s.identity || s.md.Codec != f.outCodec {
			n, err := f.rewritePage(s, l, hdr, body, dict)
			if err != nil {
				return 0, in.errorf("%s: %w", where(p), err)
			}
			md.TotalUncompressedSize += n
			f.stats.pagesRewritten++
		} else {
			md.TotalUncompressedSize += int64(hl) + int64(hdr.UncompressedPageSize)
			if err := w.write(page); err != nil {
				return 0, err
			}
			f.stats.pagesCopied++
		}
		*locations = append(*locations, format.PageLocation{
			Offset:             at,
			CompressedPageSize: int32(w.offset - at),
			FirstRowIndex:      rows + firstRow,
		})
		firstRow += int64(dh.NumValues)
		pos += size
	}
	if pos != int64(len(data)) || firstRow != s.seg.rows {
		return 0, in.errorf("row group %d column %s: pages of %d bytes and %d values, the chunk has %d and %d", s.seg.g, dotted(l.path), pos, firstRow, len(data), s.seg.rows)
	}
	return dictPages, nil
}

// rewritePage writes a data page again: decompressed, its dictionary
// indexes remapped (dict), compressed with the output's codec, with a new
// header and CRC. It returns the page's uncompressed size, header
// included.
func (f *flatMerge) rewritePage(s *source, l *leaf, hdr *format.PageHeader, body []byte, dict bool) (int64, error) {
	w := f.w
	raw, err := f.decompress(body, s.md.Codec, hdr.UncompressedPageSize)
	if err != nil {
		return 0, err
	}
	if dict && !s.identity {
		dh := &hdr.DataPageHeader.V
		levelsEnd, n := 0, int(dh.NumValues)
		if l.maxDef > 0 {
			if len(raw) < 4 {
				return 0, errors.New("no definition levels")
			}
			levelsEnd = 4 + int(binary.LittleEndian.Uint32(raw))
			if levelsEnd < 4 || levelsEnd > len(raw) {
				return 0, fmt.Errorf("definition levels of %d bytes in a page of %d", levelsEnd-4, len(raw))
			}
			if n, err = countLevels(raw[4:levelsEnd], bits.Len8(l.maxDef), n, l.maxDef); err != nil {
				return 0, err
			}
		}
		out := append(f.pageBuf[:0], raw[:levelsEnd]...)
		if out, err = remapIndexesWith(out, raw[levelsEnd:], n, s.remap, s.width, &f.remapTab); err != nil {
			return 0, err
		}
		f.pageBuf, raw = out, out
	}
	if s.md.Codec == format.Zstd && f.outCodec == format.Zstd && hdr.CompressedPageSize >= hdr.UncompressedPageSize && len(raw) <= maxStoredZstd {
		// The writer could not compress the page (zstd stored it): its
		// indexes remapped, one to one, would not compress either.
		w.comp = appendZstdStored(w.comp[:0], raw)
		w.chunkBuf, err = w.appendPageData(w.chunkBuf[:0], hdr, raw, w.comp)
	} else {
		w.chunkBuf, err = w.appendPage(w.chunkBuf[:0], hdr, raw)
	}
	if err != nil {
		return 0, err
	}
	return int64(len(w.chunkBuf)) - int64(hdr.CompressedPageSize) + int64(hdr.UncompressedPageSize), w.write(w.chunkBuf)
}

// mergeStatistics returns the statistics of the chunk made of srcs: the
// nulls added up, the bounds the smallest and largest of theirs (none if
// a source with values has none), exact if a source's equal bound is.
func mergeStatistics(l *leaf, srcs []source, limit int) statistics {
	var st statistics
	var lo, hi []byte
	loExact, hiExact, have := false, false, false
	bounded := true
	width := fixedWidth(*l)
	for _, s := range srcs {
		ss := &s.md.Statistics
		st.NullCount += ss.NullCount
		if s.md.NumValues == ss.NullCount {
			continue
		}
		if ss.MinValue == nil || ss.MaxValue == nil || width > 0 && (len(ss.MinValue) != width || len(ss.MaxValue) != width) {
			bounded = false
			continue
		}
		minExact := !l.truncate || ss.IsMinValueExact.Valid && ss.IsMinValueExact.V
		maxExact := !l.truncate || ss.IsMaxValueExact.Valid && ss.IsMaxValueExact.V
		if !have {
			lo, hi, loExact, hiExact, have = ss.MinValue, ss.MaxValue, minExact, maxExact, true
			continue
		}
		switch c := comparePlain(l, ss.MinValue, lo); {
		case c < 0:
			lo, loExact = ss.MinValue, minExact
		case c == 0:
			loExact = loExact || minExact
		}
		switch c := comparePlain(l, ss.MaxValue, hi); {
		case c > 0:
			hi, hiExact = ss.MaxValue, maxExact
		case c == 0:
			hiExact = hiExact || maxExact
		}
	}
	if !bounded || !have {
		return st
	}
	if !l.truncate {
		st.MinValue, st.MaxValue = slices.Clone(lo), slices.Clone(hi)
		return st
	}
	max, exact, ok := appendMax(nil, hi, limit)
	if !ok {
		return st
	}
	if max == nil {
		max = []byte{}
	}
	min, minExact := truncateMin(lo, limit)
	st.MinValue, st.MaxValue = append([]byte{}, min...), max
	st.IsMinValueExact, st.IsMaxValueExact = thrift.New(loExact && minExact), thrift.New(hiExact && exact)
	return st
}

// mergeSizeStatistics adds up the sources' size statistics.
func mergeSizeStatistics(l *leaf, srcs []source) format.SizeStatistics {
	var ss format.SizeStatistics
	if l.kind == parquet.ByteArray {
		for _, s := range srcs {
			ss.UnencodedByteArrayDataBytes += s.md.SizeStatistics.UnencodedByteArrayDataBytes
		}
	}
	if l.maxDef > 0 {
		hist := make([]int64, int(l.maxDef)+1)
		for _, s := range srcs {
			h := s.md.SizeStatistics.DefinitionLevelHistogram
			if len(h) != len(hist) {
				return ss
			}
			for i, n := range h {
				hist[i] += n
			}
		}
		ss.DefinitionLevelHistogram = hist
	}
	return ss
}

// mergeColumnIndex returns the column index of the chunk made of srcs:
// their pages' entries one after the other, the boundary order worked out
// again; none if a source has none.
func mergeColumnIndex(l *leaf, srcs []source, limit int) format.ColumnIndex {
	var ci format.ColumnIndex
	width := fixedWidth(*l)
	hists := true
	for _, s := range srcs {
		sc := s.ci
		if sc == nil {
			return format.ColumnIndex{}
		}
		for p := range sc.NullPages {
			if !sc.NullPages[p] && width > 0 && (len(sc.MinValues[p]) != width || len(sc.MaxValues[p]) != width) {
				return format.ColumnIndex{}
			}
		}
		ci.NullPages = append(ci.NullPages, sc.NullPages...)
		ci.NullCounts = append(ci.NullCounts, sc.NullCounts...)
		ci.MinValues = append(ci.MinValues, sc.MinValues...)
		ci.MaxValues = append(ci.MaxValues, sc.MaxValues...)
		if l.maxDef > 0 && len(sc.DefinitionLevelHistogram) == len(sc.NullPages)*(int(l.maxDef)+1) {
			ci.DefinitionLevelHistogram = append(ci.DefinitionLevelHistogram, sc.DefinitionLevelHistogram...)
		} else {
			hists = false
		}
	}
	if !hists {
		ci.DefinitionLevelHistogram = nil
	}
	if l.truncate {
		// Bounds longer than the limit (an input written with another)
		// are truncated, as the encoder truncates them.
		if !truncateColumnIndex(l, &ci, limit) {
			return format.ColumnIndex{}
		}
		return ci
	}
	ci.BoundaryOrder = boundaryOrder(l, ci.NullPages, ci.MinValues, ci.MaxValues)
	return ci
}

// reencodeChunk writes the chunk of column c of segs again: its values
// decoded by parquet-go, written by the encoder.
func (f *flatMerge) reencodeChunk(segs []segment, c int, ci *format.ColumnIndex, oi *format.OffsetIndex) (columnChunk, int64, error) {
	col := f.w.cols[c]
	if f.values == nil {
		f.values = make([]parquet.Value, 1024)
	}
	var nulls int64
	for _, s := range segs {
		var n, nn int64
		err := s.in.withParquetFile(func(pf *parquet.File) error {
			rgs := pf.RowGroups()
			if s.g >= len(rgs) || c >= len(rgs[s.g].ColumnChunks()) {
				return fmt.Errorf("parquet-go reads %d row groups", len(rgs))
			}
			return safely(func() (err error) {
				n, nn, err = f.reencodeValues(col, rgs[s.g].ColumnChunks()[c])
				return err
			})
		})
		if err != nil {
			return columnChunk{}, 0, s.in.errorf("row group %d column %s: %w", s.g, dotted(col.path), err)
		}
		if n != s.rows {
			return columnChunk{}, 0, s.in.errorf("row group %d column %s: %d values, the footer says %d", s.g, dotted(col.path), n, s.rows)
		}
		nulls += nn
	}
	cc, err := col.flushChunk(ci, oi)
	return cc, nulls, err
}

// reencodeValues writes the values of chunk to col and counts them and
// the nulls.
func (f *flatMerge) reencodeValues(col *column, chunk parquet.ColumnChunk) (n, nulls int64, err error) {
	pages := chunk.Pages()
	defer pages.Close()
	for {
		page, err := pages.ReadPage()
		if errors.Is(err, io.EOF) {
			return n, nulls, nil
		}
		if err != nil {
			return n, nulls, err
		}
		vr := page.Values()
		for {
			k, err := vr.ReadValues(f.values)
			for _, v := range f.values[:k] {
				if v.IsNull() {
					nulls++
				}
			}
			if werr := col.write(f.values[:k]); werr != nil {
				parquet.Release(page)
				return n, nulls, werr
			}
			n += int64(k)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				parquet.Release(page)
				return n, nulls, err
			}
		}
		parquet.Release(page)
	}
}
