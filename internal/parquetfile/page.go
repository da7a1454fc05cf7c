package parquetfile

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math"
	"math/bits"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/encoding/rle"
	"github.com/parquet-go/parquet-go/format"
)

// maxPageSize bounds a page's uncompressed size: sizes are int32 in the
// page header.
const maxPageSize = math.MaxInt32

// chunkState is the column chunk being built: its encoded data pages and
// what the footer and the page index will say of them.
type chunkState struct {
	pages        []byte // data pages, headers included
	numValues    int64
	numNulls     int64
	uncompressed int64 // data pages, headers included
	dictPages    int   // data pages indexing into the dictionary
	plainPages   int   // data pages of PLAIN values
	bounds       bounds
	unencoded    int64
	defHist      []int64 // definition level histogram (maxDef > 0)
	rows         int64   // values (= rows) in the chunk's data pages

	// The page index, a row per data page. Page offsets are relative to
	// the first data page.
	locations  []format.PageLocation
	nullPages  []bool
	nullCounts []int64
	boundBytes []byte // min and max of each page, back to back
	boundEnds  []int  // per page: end of min, end of max in boundBytes
	pageHists  []int64
	noIndex    bool // a page's maximum has no truncated bound: no column index
}

func (s *chunkState) reset(c *column) {
	*s = chunkState{
		pages:      s.pages[:0],
		locations:  s.locations[:0],
		nullPages:  s.nullPages[:0],
		nullCounts: s.nullCounts[:0],
		boundBytes: s.boundBytes[:0],
		boundEnds:  s.boundEnds[:0],
		pageHists:  s.pageHists[:0],
		defHist:    s.defHist[:0],
		bounds:     bounds{min: s.bounds.min[:0], max: s.bounds.max[:0]},
	}
	if c.maxDef > 0 {
		s.defHist = append(s.defHist, make([]int64, int(c.maxDef)+1)...)
	}
}

// flushPage encodes the page being filled (if it has values), compresses
// it and appends it, with its header, to the chunk.
func (c *column) flushPage() error {
	if c.numValues == 0 {
		return nil
	}
	w := c.w
	body := w.body[:0]
	if c.maxDef > 0 {
		// Data page v1: the levels' byte length, then the levels.
		body = append(body, 0, 0, 0, 0)
		switch {
		case c.genPage && c.numNulls > 0:
			body = appendLevelRun(body, c.numValues, byte(c.genVal.DefinitionLevel()))
		case c.numNulls == 0:
			body = appendLevelRun(body, c.numValues, c.maxDef)
		default:
			var err error
			if w.scratch, err = (&rle.Encoding{BitWidth: bits.Len8(c.maxDef)}).EncodeLevels(w.scratch[:0], c.levels); err != nil {
				return fmt.Errorf("parquetfile: column %v: definition levels: %w", c.path, err)
			}
			body = append(body, w.scratch...)
		}
		binary.LittleEndian.PutUint32(body[:4], uint32(len(body)-4))
	}
	pb := &c.pb
	enc := format.Plain
	switch {
	case c.genPage && c.numNulls == 0:
		// The constant: one run of its index.
		enc = format.RLEDictionary
		width := bits.Len32(uint32(c.genIdx))
		body = append(body, byte(width))
		body = binary.AppendUvarint(body, uint64(c.numValues)<<1)
		for i := 0; i < (width+7)/8; i++ {
			body = append(body, byte(c.genIdx>>(8*i)))
		}
		pb.plain(&c.leaf, c.genPre)
	case len(c.idx) > 0:
		enc = format.RLEDictionary
		var err error
		if w.scratch, err = (&rle.DictionaryEncoding{}).EncodeInt32(w.scratch[:0], c.idx); err != nil {
			return fmt.Errorf("parquetfile: column %v: dictionary indexes: %w", c.path, err)
		}
		body = append(body, w.scratch...)
		pb = &w.dictBounds
		pb.reset()
		c.dictPageBounds(pb)
	case c.kind == parquet.Boolean:
		body = appendBits(body, c.plain)
	default:
		body = append(body, c.plain...)
	}
	w.body = body
	if len(body) > maxPageSize {
		return fmt.Errorf("parquetfile: column %v: page of %d bytes is too large", c.path, len(body))
	}
	hdr := format.PageHeader{Type: format.DataPage}
	hdr.DataPageHeader.Set(format.DataPageHeader{
		NumValues:               int32(c.numValues),
		Encoding:                enc,
		DefinitionLevelEncoding: format.RLE,
		RepetitionLevelEncoding: format.RLE,
	})
	s := &c.chunk
	start := len(s.pages)
	var err error
	if s.pages, err = w.appendPage(s.pages, &hdr, body); err != nil {
		return fmt.Errorf("parquetfile: column %v: %w", c.path, err)
	}
	if enc == format.RLEDictionary {
		s.dictPages++
	} else {
		s.plainPages++
	}
	s.uncompressed += int64(len(s.pages)-start) - int64(hdr.CompressedPageSize) + int64(hdr.UncompressedPageSize)
	s.locations = append(s.locations, format.PageLocation{
		Offset:             int64(start),
		CompressedPageSize: int32(len(s.pages) - start),
		FirstRowIndex:      s.rows,
	})
	s.rows += int64(c.numValues)
	s.numValues += int64(c.numValues)
	s.numNulls += int64(c.numNulls)
	s.unencoded += c.unencoded
	s.nullPages = append(s.nullPages, c.numNulls == c.numValues)
	s.nullCounts = append(s.nullCounts, int64(c.numNulls))
	// A page of nulls has empty bounds in the index. Byte array bounds are
	// kept truncated (WithColumnIndexSizeLimit).
	if c.truncate && pb.has {
		lo, _ := truncateMin(pb.min, w.o.columnIndexSizeLimit)
		s.boundBytes = append(s.boundBytes, lo...)
		mid := len(s.boundBytes)
		var ok bool
		if s.boundBytes, _, ok = appendMax(s.boundBytes, pb.max, w.o.columnIndexSizeLimit); !ok {
			s.noIndex = true
		}
		s.boundEnds = append(s.boundEnds, mid, len(s.boundBytes))
	} else {
		var hi []byte
		s.boundBytes, _, hi, _ = pb.encode(&c.leaf, s.boundBytes)
		s.boundEnds = append(s.boundEnds, len(s.boundBytes)-len(hi), len(s.boundBytes))
	}
	s.bounds.merge(&c.leaf, pb)
	if c.maxDef > 0 {
		h := len(s.pageHists)
		s.pageHists = append(s.pageHists, make([]int64, int(c.maxDef)+1)...)
		hist := s.pageHists[h:]
		switch {
		case c.numNulls == 0:
			hist[c.maxDef] = int64(c.numValues)
		case c.genPage:
			hist[c.genVal.DefinitionLevel()] = int64(c.numValues)
		default:
			for _, l := range c.levels {
				hist[l]++
			}
		}
		for i, n := range hist {
			s.defHist[i] += n
		}
	}
	if c.useDict && w.o.dictionaryMaxBytes > 0 && c.dict.plainSize() > w.o.dictionaryMaxBytes {
		c.useDict = false // the rest of the chunk is PLAIN
	}
	c.levels, c.plain, c.idx = c.levels[:0], c.plain[:0], c.idx[:0]
	c.numValues, c.numNulls, c.unencoded = 0, 0, 0
	c.genPage = false
	c.pb.reset()
	return nil
}

// dictPageBounds adds the dictionary values the page's indexes use to b,
// each once.
func (c *column) dictPageBounds(b *bounds) {
	c.epoch++
	if c.epoch == 0 {
		clear(c.seen)
		c.epoch = 1
	}
	if n := c.dict.len(); len(c.seen) < n {
		c.seen = append(c.seen, make([]uint32, n-len(c.seen))...)
	}
	seen, epoch := c.seen, c.epoch
	for _, i := range c.idx {
		if seen[i] != epoch {
			seen[i] = epoch
			b.plain(&c.leaf, c.dict.value(i))
		}
	}
}

// appendLevelRun appends n levels of value level (bit width <= 8) as one
// run of the RLE/bit-packed hybrid encoding.
func appendLevelRun(dst []byte, n int, level byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(n)<<1)
	return append(dst, level)
}

// appendBits appends booleans (one byte 0 or 1 each) bit-packed, least
// significant bit first: the PLAIN encoding of BOOLEAN.
func appendBits(dst, bools []byte) []byte {
	for i := 0; i < len(bools); i += 8 {
		var b byte
		for j, v := range bools[i:min(i+8, len(bools))] {
			b |= (v & 1) << j
		}
		dst = append(dst, b)
	}
	return dst
}

// appendPage compresses body and appends the page, header first, to dst.
// hdr's sizes and CRC are set. The page's uncompressed size, its header
// included, is len(header) + len(body).
func (w *Writer) appendPage(dst []byte, hdr *format.PageHeader, body []byte) ([]byte, error) {
	data := body
	if w.o.codec != nil {
		var err error
		if w.comp, err = w.o.codec.Encode(w.comp[:0], body); err != nil {
			return dst, fmt.Errorf("compress page: %w", err)
		}
		data = w.comp
	}
	return w.appendPageData(dst, hdr, body, data)
}

// appendPageData is appendPage of a page already compressed: body is its
// uncompressed bytes, data what is written.
func (w *Writer) appendPageData(dst []byte, hdr *format.PageHeader, body, data []byte) ([]byte, error) {
	if len(data) > maxPageSize {
		return dst, fmt.Errorf("compressed page of %d bytes is too large", len(data))
	}
	hdr.UncompressedPageSize = int32(len(body))
	hdr.CompressedPageSize = int32(len(data))
	hdr.CRC = int32(crc32.ChecksumIEEE(data))
	w.thriftBuf.Reset()
	if err := w.thrift.Encode(hdr); err != nil {
		return dst, fmt.Errorf("encode page header: %w", err)
	}
	dst = append(dst, w.thriftBuf.Bytes()...)
	return append(dst, data...), nil
}

// dictionaryPage appends the chunk's dictionary page, header included, to
// dst and returns it with the page's uncompressed size (header included).
func (c *column) dictionaryPage(dst []byte) ([]byte, int64, error) {
	w := c.w
	w.body = c.dict.appendPlain(w.body[:0])
	if len(w.body) > maxPageSize {
		return dst, 0, fmt.Errorf("parquetfile: column %v: dictionary page of %d bytes is too large", c.path, len(w.body))
	}
	hdr := format.PageHeader{Type: format.DictionaryPage}
	hdr.DictionaryPageHeader.Set(format.DictionaryPageHeader{NumValues: int32(c.dict.len()), Encoding: format.Plain})
	start := len(dst)
	out, err := w.appendPage(dst, &hdr, w.body)
	if err != nil {
		return dst, 0, fmt.Errorf("parquetfile: column %v: dictionary page: %w", c.path, err)
	}
	written := int64(len(out) - start)
	return out, written - int64(hdr.CompressedPageSize) + int64(hdr.UncompressedPageSize), nil
}
