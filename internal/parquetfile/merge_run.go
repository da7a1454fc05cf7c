package parquetfile

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"slices"
	"sync"

	"github.com/klauspost/compress/zstd"
	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/encoding/thrift"
	"github.com/parquet-go/parquet-go/format"
)

// A Merge of flat files writes its output's column chunks in order, each
// made by a worker (flatMerge) into a buffer of its own, its offsets from
// the buffer's start: the main goroutine shifts them and writes the
// buffer. With MergeConcurrency above 1, that many goroutines make the
// chunks, in order, one chunk each; the chunks made or being made and
// not yet written add up to at most the row group target (or are one
// chunk).

// flatShared is what a Merge's workers share, read only.
type flatShared struct {
	o         mergeOptions
	schema    *parquet.Schema // the inputs', with the encoding of each column
	outCodec  format.CompressionCodec
	constants map[int][]byte // MergeConstant values by leaf column
	free      chan []byte    // buffers the output is done with
	wopts     []Option       // of the workers' Writers, but for the codec
	leaves    []schemaLeaf   // the footer's
	inputs    []*mergeInput  // the inputs
	createdBy string         // of the output
}

// flatMerge is a worker: it makes column chunks (chunks it copies, with
// its own page decoding and compression; constants and re-encoded chunks
// with the column encoders of its own Writer).
type flatMerge struct {
	*flatShared
	w         *Writer       // writes to out
	out       *bytes.Buffer // the chunk being made
	direct    io.Writer     // the output, if the worker writes to it (the only worker)
	directAt  int64         // the output's offset, with direct
	stats     chunkStats    // of the chunk being made
	zdec      *zstd.Decoder
	hdr       format.PageHeader
	hdrReader thrift.BytesReader
	hdrDec    *thrift.Decoder
	readBuf   []byte
	dictBuf   []byte
	rawBuf    []byte
	pageBuf   []byte
	values    []parquet.Value
	dict      *dictionary // the chunk's merged dictionary
	remaps    []int32     // the chunk's sources' remap tables
	remapTab  remapTable  // the padded table of the source being remapped
}

// chunkStats is what became of a column chunk.
type chunkStats struct {
	copied, remapped, constant, reencoded int
	pagesCopied, pagesRewritten           int64
	fallback                              string // why it was re-encoded
}

// chunkResult is a column chunk made by a worker: its bytes, its footer
// entry and page index (offsets from its first byte); or, direct, the
// size of the chunk it wrote to the output (offsets the file's).
type chunkResult struct {
	data        []byte
	direct      bool
	size        int64
	cc          columnChunk
	ci          format.ColumnIndex
	oi          format.OffsetIndex
	rows, nulls int64
	stats       chunkStats
	err         error
}

// chunkSize is the size of the inputs' chunks of column c in segs, about
// that of the output's.
func chunkSize(segs []segment, c int) int {
	size := 0
	for _, s := range segs {
		size += int(s.in.md.RowGroups[s.g].Columns[c].MetaData.TotalCompressedSize)
	}
	return size
}

// newWorker returns a worker with a Writer of its own.
func (sh *flatShared) newWorker() (*flatMerge, error) {
	codec, err := encoder(sh.outCodec, sh.o.zstdLevel)
	if err != nil {
		return nil, err
	}
	w, err := NewWriter(sh.schema, append(slices.Clone(sh.wopts), WithCodec(codec))...)
	if err != nil {
		return nil, fmt.Errorf("parquetfile: merge: %w", err)
	}
	f := &flatMerge{flatShared: sh, w: w}
	f.hdrReader = new(thrift.CompactProtocol).NewReaderFromBytes(nil)
	f.hdrDec = thrift.NewDecoder(f.hdrReader)
	return f, nil
}

func (f *flatMerge) close() {
	if f.zdec != nil {
		f.zdec.Close()
	}
}

// MergeConcurrency sets how many goroutines open the inputs and make the
// output's column chunks at once (each chunk is made by one, into a buffer;
// the chunks made and not yet written add up to at most about the row
// group target). Default 1: Merge runs on the caller's goroutine, and
// buffers one chunk.
func MergeConcurrency(n int) MergeOption { return func(o *mergeOptions) { o.concurrency = n } }

func (m *merger) mergeFlat(ctx context.Context, out io.Writer) (*MergeResult, error) {
	first := m.inputs[0]
	leaves := first.leaves
	sh := &flatShared{o: m.o, constants: map[int][]byte{}, leaves: leaves, inputs: m.inputs, createdBy: m.createdBy()}
	// The output's codec is the first chunk's.
	sh.outCodec = format.Uncompressed
	for _, in := range m.inputs {
		if len(in.md.RowGroups) > 0 && len(leaves) > 0 {
			sh.outCodec = in.md.RowGroups[0].Columns[0].MetaData.Codec
			break
		}
	}
	if _, err := encoder(sh.outCodec, m.o.zstdLevel); err != nil {
		return nil, err
	}
	// Columns with a dictionary in an input, and constants, are written
	// with one when Merge writes them itself.
	dict := make([]bool, len(leaves))
	for _, in := range m.inputs {
		for g := range in.md.RowGroups {
			for c := range in.md.RowGroups[g].Columns {
				cm := &in.md.RowGroups[g].Columns[c].MetaData
				dict[c] = dict[c] || cm.DictionaryPageOffset > 0 || slices.Contains(cm.Encoding, format.RLEDictionary) || slices.Contains(cm.Encoding, format.PlainDictionary)
			}
		}
	}
	for _, k := range m.o.constants {
		c := slices.IndexFunc(leaves, func(l schemaLeaf) bool { return dotted(l.path) == k.column })
		if c < 0 {
			return nil, fmt.Errorf("parquetfile: merge: constant column %q is not in the schema", k.column)
		}
		if t, _ := leaves[c].elem.Type.Get(); t != format.ByteArray {
			return nil, fmt.Errorf("parquetfile: merge: constant column %q is %s, not a byte array", k.column, t)
		}
		sh.constants[c] = k.value
		dict[c] = true
	}
	for c := range dict {
		if t, _ := leaves[c].elem.Type.Get(); t == format.Boolean {
			dict[c] = false
		}
	}
	var err error
	if sh.schema, err = schemaOf(first.md.Schema, dict); err != nil {
		return nil, fmt.Errorf("parquetfile: merge: schema: %w", err)
	}
	sh.wopts = []Option{WithPageBufferSize(m.o.pageBufferSize), WithDictionaryMaxBytes(m.o.dictionaryMaxBytes), WithCreatedBy(sh.createdBy)}

	// The output's Writer writes the chunks the workers make, the page
	// index and the footer.
	w, err := NewWriter(sh.schema, sh.wopts...)
	if err != nil {
		return nil, fmt.Errorf("parquetfile: merge: %w", err)
	}
	if len(w.leaves) != len(leaves) {
		return nil, fmt.Errorf("parquetfile: merge: the schema has %d columns, the footer %d", len(w.leaves), len(leaves))
	}
	for c := range leaves {
		if !slices.Equal(w.leaves[c].path, leaves[c].path) || int(w.leaves[c].maxDef) != leaves[c].maxDef {
			return nil, fmt.Errorf("parquetfile: merge: column %d is %v, the footer's %v", c, w.leaves[c].path, leaves[c].path)
		}
	}
	w.Reset(out)
	w.elements = slices.Clone(first.md.Schema) // as the inputs have it, byte for byte
	if len(first.md.ColumnOrders) == len(leaves) {
		w.orders = slices.Clone(first.md.ColumnOrders)
	}
	if err := w.start(); err != nil {
		return nil, err
	}
	m.res.Columns = make([]MergedColumn, len(leaves))
	for c := range leaves {
		m.res.Columns[c].Path = dotted(leaves[c].path)
	}
	if len(sh.constants) > 0 {
		m.res.Constants = map[string][]byte{}
		for c, v := range sh.constants {
			m.res.Constants[dotted(leaves[c].path)] = v
		}
	}

	// The workers.
	workers := max(m.o.concurrency, 1)
	sh.free = make(chan []byte, workers+1)
	var fs []*flatMerge
	defer func() {
		for _, f := range fs {
			f.close()
		}
	}()
	for range workers {
		f, err := sh.newWorker()
		if err != nil {
			return nil, err
		}
		fs = append(fs, f)
	}
	type task struct {
		gi   int
		segs []segment
		c    int
		size int // estimated: its inputs' chunks
		done chan chunkResult
	}
	// The chunks being made and made, not yet written, in order: as many
	// as add up to the row group target (at least one), at most 16 a
	// worker. Chunks are of very different sizes (a column of URLs, one of
	// a constant): a window of a few would leave workers idle behind the
	// largest.
	maxPending := 16 * workers
	var tasks chan task
	var wg sync.WaitGroup
	if workers > 1 {
		tasks = make(chan task, maxPending)
		for _, f := range fs {
			wg.Go(func() {
				for t := range tasks {
					t.done <- f.mergeColumn(t.gi, t.segs, t.c)
				}
			})
		}
		defer func() {
			close(tasks)
			wg.Wait()
		}()
	}

	// The row groups, their chunks in order.
	groups := planRowGroups(m.inputs, m.o.rowGroupBytes)
	var rg rowGroup
	var cis []format.ColumnIndex
	var ois []format.OffsetIndex
	put := func(gi, c int, r chunkResult) error {
		if r.err != nil {
			return r.err
		}
		if c == 0 {
			rg = rowGroup{FileOffset: w.offset, Ordinal: int16(gi)}
			cis = make([]format.ColumnIndex, len(leaves))
			ois = make([]format.OffsetIndex, len(leaves))
		}
		base := w.offset
		if r.direct {
			w.offset += r.size
			base = 0
		} else {
			if err := w.write(r.data); err != nil {
				return err
			}
			select {
			case sh.free <- r.data:
			default:
			}
		}
		md := &r.cc.MetaData
		r.cc.FileOffset += base
		md.DataPageOffset += base
		if slices.ContainsFunc(md.EncodingStats, func(s format.PageEncodingStats) bool { return s.PageType == format.DictionaryPage }) {
			md.DictionaryPageOffset += base
		}
		for i := range r.oi.PageLocations {
			r.oi.PageLocations[i].Offset += base
		}
		rg.Columns = append(rg.Columns, r.cc)
		rg.NumRows = r.rows
		rg.TotalByteSize += md.TotalUncompressedSize
		rg.TotalCompressedSize += md.TotalCompressedSize
		cis[c], ois[c] = r.ci, r.oi
		st := &r.stats
		m.res.ChunksCopied += st.copied
		m.res.ChunksRemapped += st.remapped
		m.res.ChunksConstant += st.constant
		m.res.ChunksReencoded += st.reencoded
		m.res.PagesCopied += st.pagesCopied
		m.res.PagesRewritten += st.pagesRewritten
		if st.fallback != "" {
			m.fallback(gi, dotted(leaves[c].path), st.fallback)
		}
		m.res.Columns[c].Values += r.rows
		m.res.Columns[c].Nulls += r.nulls
		if c == len(leaves)-1 {
			w.rowGroups = append(w.rowGroups, rg)
			w.columnIndex = append(w.columnIndex, cis)
			w.offsetIndex = append(w.offsetIndex, ois)
			m.res.RowGroups = append(m.res.RowGroups, MergedRowGroup{Rows: rg.NumRows, Bytes: rg.TotalCompressedSize, Inputs: len(groups[gi])})
			m.res.Rows += rg.NumRows
		}
		return nil
	}
	var pending []task
	var pendingSize int64
	for gi, segs := range groups {
		for c := range leaves {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			if workers == 1 {
				fs[0].direct, fs[0].directAt = out, w.offset
				if err := put(gi, c, fs[0].mergeColumn(gi, segs, c)); err != nil {
					return nil, err
				}
				continue
			}
			t := task{gi: gi, segs: segs, c: c, size: chunkSize(segs, c), done: make(chan chunkResult, 1)}
			for len(pending) > 0 && (len(pending) >= maxPending || pendingSize+int64(t.size) > m.o.rowGroupBytes) {
				p := pending[0]
				pending = pending[1:]
				pendingSize -= int64(p.size)
				if err := put(p.gi, p.c, <-p.done); err != nil {
					return nil, err
				}
			}
			tasks <- t
			pending = append(pending, t)
			pendingSize += int64(t.size)
		}
	}
	for _, t := range pending {
		if err := put(t.gi, t.c, <-t.done); err != nil {
			return nil, err
		}
	}
	w.keyValues = m.keyValues()
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("parquetfile: merge: %w", err)
	}
	res := m.res
	return &res, nil
}
