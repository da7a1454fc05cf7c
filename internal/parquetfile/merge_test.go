package parquetfile

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/encoding/thrift"
	"github.com/parquet-go/parquet-go/format"
)

// memInput is a MergeInput of bytes in memory.
func memInput(key string, data []byte) MergeInput {
	return MergeInput{Key: key, Size: int64(len(data)), Open: func(context.Context) (io.ReaderAt, error) {
		return bytes.NewReader(data), nil
	}}
}

// mergeCase is a generated merge: input files, their rows in order, and
// the options.
type mergeCase struct {
	schema   *parquet.Schema
	files    [][]byte
	rows     []parquet.Row
	opts     []MergeOption
	constant int // leaf column made constant by MergeConstant, or -1
	value    []byte
	foreign  int // rows in files written by parquet-go
	minKey   string
	maxKey   string
	hasKeys  bool
}

// genMergeCase makes a random set of small files of one flat schema
// (every supported type, nulls, nested structs, constants and sequences,
// dictionary and PLAIN columns, tiny and large pages, each codec: the
// files' codecs may differ, some written by parquet-go) and merge options.
func genMergeCase(r *rand.Rand) mergeCase {
	schema, fields := genSchema(r, 1+r.IntN(8))
	mc := mergeCase{schema: schema, constant: -1, hasKeys: true}
	nfiles := 1 + r.IntN(6)
	for f := range nfiles {
		n := []int{0, 1 + r.IntN(5), r.IntN(300), r.IntN(3000)}[r.IntN(4)]
		rows := make([]parquet.Row, n)
		for i := range rows {
			rows[i] = genRow(r, fields, nil)
		}
		lo, hi := "key-"+strconv.Itoa(r.IntN(1000)), "key-"+strconv.Itoa(1000+r.IntN(1000))
		var data []byte
		if r.IntN(6) == 0 {
			data = writeForeign(r, schema, rows, lo, hi)
			mc.foreign += len(rows)
		} else {
			data = writeNative(r, schema, rows, lo, hi)
		}
		if r.IntN(10) == 0 {
			mc.hasKeys = false
			data = dropKeys(data)
		}
		mc.files = append(mc.files, data)
		mc.rows = append(mc.rows, rows...)
		if f == 0 || lo < mc.minKey {
			mc.minKey = lo
		}
		if f == 0 || hi > mc.maxKey {
			mc.maxKey = hi
		}
	}
	mc.opts = []MergeOption{
		MergeRowGroupBytes([]int64{1, 2000, 64 << 10, 32 << 20}[r.IntN(4)]),
		MergeDictionaryMaxBytes([]int{0, 64, 2048, 1 << 20}[r.IntN(4)]),
		MergePageBufferSize([]int{64, 4096, 1 << 20}[r.IntN(3)]),
		MergeMinPageBytes([]int{0, 100, 1 << 20}[r.IntN(3)]),
		MergeKeyRange(HudiMinRecordKey, HudiMaxRecordKey),
		MergeCreatedBy("lakestream version merge-test (build x)"),
	}
	if r.IntN(2) == 0 {
		mc.opts = append(mc.opts, MergeZstdLevel(ZstdFastest))
	}
	if len(mc.rows)%2 == 0 { // not drawn: the fuzz corpus's cases stay as they were
		mc.opts = append(mc.opts, MergeConcurrency(2+len(mc.files)%3))
	}
	var byteArrays []int
	w, _ := NewWriter(schema)
	for c, l := range w.leaves {
		if l.kind == parquet.ByteArray && len(l.path) == 1 {
			byteArrays = append(byteArrays, c)
		}
	}
	if len(byteArrays) > 0 && r.IntN(2) == 0 {
		mc.constant = byteArrays[r.IntN(len(byteArrays))]
		mc.value = []byte("f0000000-0000-0000-0000-000000000000-0_0-1-" + strconv.Itoa(r.IntN(1000)) + "_20261205120000000.parquet")
		if r.IntN(3) == 0 {
			mc.value = mc.value[:r.IntN(len(mc.value))]
		}
		mc.opts = append(mc.opts, MergeConstant(dotted(w.leaves[mc.constant].path), mc.value))
	}
	return mc
}

// writeNative writes rows with the encoder, its options random: constants
// and sequences, flushes at random.
func writeNative(r *rand.Rand, schema *parquet.Schema, rows []parquet.Row, minKey, maxKey string) []byte {
	opts := []Option{
		WithPageBufferSize([]int{64, 700, 4096, 1 << 20}[r.IntN(4)]),
		WithDictionaryMaxBytes([]int{0, 64, 2048, 1 << 20}[r.IntN(4)]),
		WithColumnIndexSizeLimit([]int{0, 64}[r.IntN(2)]),
		WithStatisticsSizeLimit([]int{0, 64}[r.IntN(2)]),
		WithCreatedBy("lakestream version test (build x)"),
	}
	if r.IntN(2) == 0 {
		opts = append(opts, WithDictionary(parquet.Int32, parquet.Int64, parquet.Float, parquet.Double, parquet.ByteArray, parquet.FixedLenByteArray))
	}
	switch r.IntN(4) {
	case 1, 3:
		opts = append(opts, WithCodec(NewZstd(ZstdDefault)))
	case 2:
		opts = append(opts, WithCodec(&parquet.Snappy))
	}
	w, err := NewWriter(schema, opts...)
	if err != nil {
		panic(err)
	}
	var buf bytes.Buffer
	w.Reset(&buf)
	generate(r, w, rows)
	for start := 0; start < len(rows); {
		n := min(len(rows)-start, 1+r.IntN(600))
		if err := w.WriteRows(rows[start : start+n]); err != nil {
			panic(err)
		}
		start += n
		if r.IntN(6) == 0 {
			if err := w.Flush(); err != nil {
				panic(err)
			}
		}
	}
	w.SetKeyValueMetadata(HudiMinRecordKey, minKey)
	w.SetKeyValueMetadata(HudiMaxRecordKey, maxKey)
	if err := w.Close(); err != nil {
		panic(err)
	}
	return buf.Bytes()
}

// writeForeign writes rows with parquet-go: data page v1 or v2, another
// encoding for byte arrays at times.
func writeForeign(r *rand.Rand, schema *parquet.Schema, rows []parquet.Row, minKey, maxKey string) []byte {
	var buf bytes.Buffer
	opts := []parquet.WriterOption{schema, parquet.DataPageVersion(1 + r.IntN(2)), parquet.PageBufferSize(1 + r.IntN(8192)),
		parquet.KeyValueMetadata(HudiMinRecordKey, minKey), parquet.KeyValueMetadata(HudiMaxRecordKey, maxKey)}
	if r.IntN(2) == 0 {
		opts = append(opts, parquet.DefaultEncodingFor(parquet.ByteArray, &parquet.RLEDictionary))
	}
	if r.IntN(2) == 0 {
		opts = append(opts, parquet.Compression(&parquet.Zstd))
	}
	pw := parquet.NewWriter(&buf, opts...)
	for start := 0; start < len(rows); {
		n := min(len(rows)-start, 1+r.IntN(600))
		if _, err := pw.WriteRows(rows[start : start+n]); err != nil {
			panic(err)
		}
		start += n
		if r.IntN(6) == 0 {
			if err := pw.Flush(); err != nil {
				panic(err)
			}
		}
	}
	if err := pw.Close(); err != nil {
		panic(err)
	}
	return buf.Bytes()
}

// dropKeys rewrites a file's footer without its key-value metadata.
func dropKeys(data []byte) []byte {
	md, err := decodeFooter(data)
	if err != nil {
		panic(err)
	}
	md.KeyValueMetadata = nil
	return replaceFooter(data, md)
}

// replaceFooter returns data with md as its footer.
func replaceFooter(data []byte, md *fileMetaData) []byte {
	n := int(uint32(data[len(data)-8]) | uint32(data[len(data)-7])<<8 | uint32(data[len(data)-6])<<16 | uint32(data[len(data)-5])<<24)
	out := bytes.Clone(data[:len(data)-8-n])
	var b bytes.Buffer
	w := NewShared()
	if err := w.thrift.Encode(md); err != nil {
		panic(err)
	}
	b.Write(w.thriftBuf.Bytes())
	out = append(out, b.Bytes()...)
	out = append(out, byte(b.Len()), byte(b.Len()>>8), byte(b.Len()>>16), byte(b.Len()>>24))
	return append(out, magic...)
}

// runMerge merges mc's files and checks the output: its rows (read by
// parquet-go) are the inputs' rows in order (the constant column
// replaced), every chunk's statistics and page index hold them, and
// VerifyMerge passes.
func runMerge(mc mergeCase) (*MergeResult, []byte, error) {
	var inputs []MergeInput
	for i, f := range mc.files {
		inputs = append(inputs, memInput("file-"+strconv.Itoa(i), f))
	}
	var out bytes.Buffer
	res, err := Merge(context.Background(), inputs, &out, mc.opts...)
	if err != nil {
		return nil, nil, fmt.Errorf("merge: %w", err)
	}
	data := out.Bytes()
	if res.Bytes != int64(len(data)) {
		return res, data, fmt.Errorf("result says %d bytes, %d written", res.Bytes, len(data))
	}
	want := make([]parquet.Row, len(mc.rows))
	for i, row := range mc.rows {
		want[i] = row
		if mc.constant >= 0 {
			want[i] = row.Clone()
			want[i][mc.constant] = parquet.ByteArrayValue(mc.value).Level(0, want[i][mc.constant].DefinitionLevel(), mc.constant)
			if want[i][mc.constant].DefinitionLevel() != int(maxDefOf(mc.schema, mc.constant)) {
				want[i][mc.constant] = parquet.ByteArrayValue(mc.value).Level(0, int(maxDefOf(mc.schema, mc.constant)), mc.constant)
			}
		}
	}
	if err := checkMerged(mc.schema, data, want, res); err != nil {
		return res, data, err
	}
	if err := VerifyMerge(context.Background(), bytes.NewReader(data), int64(len(data)), res); err != nil {
		return res, data, err
	}
	if mc.hasKeys && (!res.HasKeyRange || res.MinKey != mc.minKey || res.MaxKey != mc.maxKey) {
		return res, data, fmt.Errorf("key range %v [%q, %q], want [%q, %q]", res.HasKeyRange, res.MinKey, res.MaxKey, mc.minKey, mc.maxKey)
	}
	if !mc.hasKeys && res.HasKeyRange {
		return res, data, errors.New("a key range, but an input has none")
	}
	if mc.foreign > 0 && len(res.Fallbacks) == 0 && len(mc.schema.Columns()) > 1 {
		return res, data, errors.New("files written by parquet-go, but no chunk re-encoded")
	}
	return res, data, nil
}

func maxDefOf(schema *parquet.Schema, c int) byte {
	w, err := NewWriter(schema)
	if err != nil {
		panic(err)
	}
	return w.leaves[c].maxDef
}

// checkMerged reads a merged file with parquet-go and checks it against
// want: rows, row groups, each chunk's statistics and page index (with the
// checks TestRoundTrip makes of the encoder's files).
func checkMerged(schema *parquet.Schema, data []byte, want []parquet.Row, res *MergeResult) error {
	w, err := NewWriter(schema)
	if err != nil {
		return err
	}
	leaves := w.leaves
	f, err := parquet.OpenFile(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return fmt.Errorf("open: %w", err)
	}
	md := f.Metadata()
	ours, err := decodeFooter(data)
	if err != nil {
		return err
	}
	if md.NumRows != int64(len(want)) || len(md.RowGroups) != len(res.RowGroups) || res.Rows != int64(len(want)) {
		return fmt.Errorf("footer: %d rows in %d row groups, result %d in %d; want %d rows", md.NumRows, len(md.RowGroups), res.Rows, len(res.RowGroups), len(want))
	}
	ois := f.OffsetIndexes()
	first := 0
	for g, rg := range f.RowGroups() {
		n := int(res.RowGroups[g].Rows)
		if rg.NumRows() != int64(n) || md.RowGroups[g].Ordinal != int16(g) {
			return fmt.Errorf("row group %d: %d rows, ordinal %d; the result says %d", g, rg.NumRows(), md.RowGroups[g].Ordinal, n)
		}
		rows := want[first : first+n]
		first += n
		if err := readRows(rg, rows); err != nil {
			return fmt.Errorf("row group %d: %w", g, err)
		}
		var total, totalCompressed int64
		for c, chunk := range rg.ColumnChunks() {
			l := &leaves[c]
			cc := md.RowGroups[g].Columns[c]
			total += cc.MetaData.TotalUncompressedSize
			totalCompressed += cc.MetaData.TotalCompressedSize
			if err := checkChunkStats(l, ours.RowGroups[g].Columns[c].MetaData, rows, DefaultStatisticsSizeLimit); err != nil {
				return fmt.Errorf("row group %d column %v: statistics: %w", g, l.path, err)
			}
			ci, err := readColumnIndex(data, cc)
			if err != nil {
				return fmt.Errorf("row group %d column %v: %w", g, l.path, err)
			}
			if err := checkChunkLayout(data, l, ours.RowGroups[g].Columns[c], rows, ci); err != nil {
				return fmt.Errorf("row group %d column %v: %w", g, l.path, err)
			}
			if err := checkPageIndex(l, chunk, ci, ois[g*len(leaves)+c], cc.MetaData, DefaultColumnIndexSizeLimit); err != nil {
				return fmt.Errorf("row group %d column %v: page index: %w", g, l.path, err)
			}
		}
		if md.RowGroups[g].TotalByteSize != total || md.RowGroups[g].TotalCompressedSize != totalCompressed {
			return fmt.Errorf("row group %d: sizes %d, %d; its chunks' add up to %d, %d", g, md.RowGroups[g].TotalByteSize, md.RowGroups[g].TotalCompressedSize, total, totalCompressed)
		}
	}
	return nil
}

// checkChunkLayout walks a chunk's pages in data (its own reading, not
// the package's): every page's CRC, the dictionary page first, the
// encodings, encoding stats, sizes and offsets of the footer entry, the
// size statistics against rows, and the column index's definition level
// histograms against each page's rows.
func checkChunkLayout(data []byte, l *leaf, cc columnChunk, rows []parquet.Row, ci *format.ColumnIndex) error {
	md := &cc.MetaData
	start, end := chunkRange(md)
	if cc.FileOffset != start || start < 4 || end > int64(len(data)) {
		return fmt.Errorf("chunk at %d..%d, file offset %d", start, end, cc.FileOffset)
	}
	proto := new(thrift.CompactProtocol)
	counts := map[format.PageEncodingStats]int32{}
	encodings := map[format.Encoding]bool{}
	var uncompressed int64
	var pageRows []int64
	for at := start; at < end; {
		var hdr format.PageHeader
		rd := proto.NewReaderFromBytes(data[at:end])
		if err := thrift.NewDecoder(rd).Decode(&hdr); err != nil {
			return fmt.Errorf("page at %d: %w", at, err)
		}
		hl := int64(rd.BytesRead())
		body := data[at+hl : at+hl+int64(hdr.CompressedPageSize)]
		if uint32(hdr.CRC) != crc32.ChecksumIEEE(body) {
			return fmt.Errorf("page at %d: CRC %08x, its data's %08x", at, uint32(hdr.CRC), crc32.ChecksumIEEE(body))
		}
		switch hdr.Type {
		case format.DictionaryPage:
			if at != start || md.DictionaryPageOffset != at {
				return fmt.Errorf("dictionary page at %d, chunk at %d, dictionary page offset %d", at, start, md.DictionaryPageOffset)
			}
			counts[format.PageEncodingStats{PageType: hdr.Type, Encoding: hdr.DictionaryPageHeader.V.Encoding}]++
			encodings[hdr.DictionaryPageHeader.V.Encoding] = true
		case format.DataPage:
			if len(pageRows) == 0 && md.DataPageOffset != at {
				return fmt.Errorf("first data page at %d, data page offset %d", at, md.DataPageOffset)
			}
			dh := hdr.DataPageHeader.V
			counts[format.PageEncodingStats{PageType: hdr.Type, Encoding: dh.Encoding}]++
			encodings[dh.Encoding] = true
			if l.maxDef > 0 {
				encodings[format.RLE] = true
			}
			pageRows = append(pageRows, int64(dh.NumValues))
		default:
			return fmt.Errorf("a %s page", hdr.Type)
		}
		uncompressed += hl + int64(hdr.UncompressedPageSize)
		at += hl + int64(hdr.CompressedPageSize)
	}
	if uncompressed != md.TotalUncompressedSize {
		return fmt.Errorf("pages of %d bytes uncompressed, the footer says %d", uncompressed, md.TotalUncompressedSize)
	}
	if md.DictionaryPageOffset != 0 && counts[format.PageEncodingStats{PageType: format.DictionaryPage, Encoding: format.Plain}] != 1 {
		return fmt.Errorf("dictionary page offset %d, but no dictionary page", md.DictionaryPageOffset)
	}
	if len(md.EncodingStats) != len(counts) {
		return fmt.Errorf("encoding stats %v, the pages %v", md.EncodingStats, counts)
	}
	for _, st := range md.EncodingStats {
		if counts[format.PageEncodingStats{PageType: st.PageType, Encoding: st.Encoding}] != st.Count {
			return fmt.Errorf("encoding stats %v, the pages %v", md.EncodingStats, counts)
		}
	}
	var list []format.Encoding
	for e := range encodings {
		list = append(list, e)
	}
	slices.Sort(list)
	if !slices.Equal(list, md.Encoding) {
		return fmt.Errorf("encodings %v, the pages use %v", md.Encoding, list)
	}
	// Size statistics, from the rows.
	var unencoded int64
	hist := make([]int64, int(l.maxDef)+1)
	pageHists := make([]int64, 0, len(pageRows)*len(hist))
	row := 0
	for _, n := range pageRows {
		h := make([]int64, len(hist))
		for _, r := range rows[row : row+int(n)] {
			v := r[l.index]
			h[v.DefinitionLevel()]++
			if !v.IsNull() && l.kind == parquet.ByteArray {
				unencoded += int64(len(v.ByteArray()))
			}
		}
		row += int(n)
		for i := range h {
			hist[i] += h[i]
		}
		pageHists = append(pageHists, h...)
	}
	if row != len(rows) {
		return fmt.Errorf("pages of %d rows, want %d", row, len(rows))
	}
	ss := md.SizeStatistics
	if l.kind == parquet.ByteArray && ss.UnencodedByteArrayDataBytes != unencoded {
		return fmt.Errorf("unencoded byte array bytes %d, want %d", ss.UnencodedByteArrayDataBytes, unencoded)
	}
	if l.maxDef > 0 && !slices.Equal(ss.DefinitionLevelHistogram, hist) {
		return fmt.Errorf("definition level histogram %v, want %v", ss.DefinitionLevelHistogram, hist)
	}
	if ci != nil && l.maxDef > 0 && !slices.Equal(ci.DefinitionLevelHistogram, pageHists) {
		return fmt.Errorf("column index definition level histograms %v, want %v", ci.DefinitionLevelHistogram, pageHists)
	}
	return nil
}

func TestMergeRoundTrip(t *testing.T) {
	seeds := 300
	if testing.Short() {
		seeds = 60
	}
	for seed := range seeds {
		r := rand.New(rand.NewPCG(uint64(seed), 77))
		mc := genMergeCase(r)
		if _, _, err := runMerge(mc); err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
	}
}

// FuzzMerge is TestMergeRoundTrip with the fuzzer choosing the seed: random
// sets of small files (random flat schemas, nulls, dictionary and PLAIN
// columns, constants, tiny and large pages, a codec per file, some files
// written by parquet-go) merged with random options, and checked.
func FuzzMerge(f *testing.F) {
	f.Add(uint64(1))
	f.Add(uint64(987654321))
	f.Fuzz(func(t *testing.T, seed uint64) {
		r := rand.New(rand.NewPCG(seed, 77))
		if _, _, err := runMerge(genMergeCase(r)); err != nil {
			t.Fatal(err)
		}
	})
}

// FuzzMergeCorruptInput: Merge of files with bytes changed anywhere
// (pages, page index, footer) returns an error or a file, never panics;
// VerifyMerge of that file neither.
func FuzzMergeCorruptInput(f *testing.F) {
	f.Add(uint64(1), uint32(100), []byte{0xFF})
	f.Add(uint64(2), uint32(0xFFFFFFF0), []byte{1, 2, 3, 4})
	f.Fuzz(func(t *testing.T, seed uint64, at uint32, patch []byte) {
		r := rand.New(rand.NewPCG(seed, 78))
		mc := genMergeCase(r)
		i := r.IntN(len(mc.files))
		data := bytes.Clone(mc.files[i])
		// Mostly near the end: the footer and page index.
		pos := len(data) - 1 - int(at%uint32(len(data)))
		if at&1 == 0 {
			pos = int(at % uint32(len(data)))
		}
		for j, b := range patch {
			if pos+j < len(data) {
				data[pos+j] ^= b
			}
		}
		mc.files[i] = data
		var inputs []MergeInput
		for k, f := range mc.files {
			inputs = append(inputs, memInput("file-"+strconv.Itoa(k), f))
		}
		var out bytes.Buffer
		res, err := Merge(context.Background(), inputs, &out, mc.opts...)
		if err != nil {
			return
		}
		VerifyMerge(context.Background(), bytes.NewReader(out.Bytes()), int64(out.Len()), res)
	})
}
