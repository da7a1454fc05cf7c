package parquetfile

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/lakestream/lakestream/table/hudi/hudimeta"
	"github.com/parquet-go/parquet-go/format"
)

// Merging files: Merge writes one Parquet file holding the rows of its
// inputs, in order, in row groups of about a target size, without decoding
// values where it can (docs/format/parquet.md, "Merged files"):
//
//   - PLAIN pages are copied byte for byte, header and CRC included;
//   - dictionary pages: the chunk's dictionary is the union of its inputs'
//     dictionaries, the first one's values first, so that the first
//     input's index pages are copied as they are; the others' are
//     decompressed, their indexes remapped (integer work, run by run) and
//     compressed again, with a new header and CRC;
//   - columns holding one value per input (the Hudi file name, partition
//     path and partition columns, commit time) are written as the encoder
//     writes a constant: pages of one run of one dictionary index;
//   - a column given by MergeConstant (the Hudi file name) holds its new
//     value in every row;
//   - the page index, chunk statistics, encoding stats, row group sizes
//     and the footer are built again from the inputs'.
//
// A chunk is re-encoded (its values decoded with parquet-go and written
// again by the encoder), only that chunk, when an input was not written by
// this package's encoder (another creator, data page v2, other
// encodings, no offset index), when its merged dictionary would pass the
// dictionary bound, or when its input pages are so small that copying them
// would leave tiny pages. Files of schemas with lists or maps are
// re-encoded whole by parquet-go. Every re-encoded chunk is counted and
// logged with its reason (MergeResult.Fallbacks).

// DefaultMergeRowGroupBytes is the default target of a merged row group:
// the writer's row group size (writer.DefaultRowGroupBytes).
const DefaultMergeRowGroupBytes = 32 << 20

// MergeInput is a Parquet file Merge reads.
type MergeInput struct {
	// Key names the file in errors, logs and the result.
	Key string
	// Size is the file's size in bytes.
	Size int64
	// Open returns the file's bytes. Merge reads its first 4 bytes and its
	// last 16 KiB (the footer and page index; more if they are larger)
	// once, then each column chunk it copies with one or two ReadAt calls
	// (the dictionary page, the data pages), from as many goroutines as
	// MergeConcurrency. Give it a local file, or a reader that fetches
	// the object once: a range request a call would be thousands. An
	// *os.File (on Linux) is mapped in memory instead, and its pages read
	// where they are; it must not be truncated meanwhile (Merge then
	// fails). If what Open returns is an io.Closer, Merge closes it
	// before it returns.
	Open func(ctx context.Context) (io.ReaderAt, error)
}

// MergeOption configures Merge.
type MergeOption func(*mergeOptions)

type mergeOptions struct {
	rowGroupBytes      int64
	pageBufferSize     int
	dictionaryMaxBytes int
	minPageBytes       int
	zstdLevel          ZstdLevel
	constants          []mergeConstant
	minKey, maxKey     string
	createdBy          string
	hasCreatedBy       bool
	logger             *slog.Logger
	concurrency        int
}

type mergeConstant struct {
	column string
	value  []byte
}

func defaultMergeOptions() mergeOptions {
	return mergeOptions{
		rowGroupBytes:      DefaultMergeRowGroupBytes,
		pageBufferSize:     DefaultPageBufferSize,
		dictionaryMaxBytes: DefaultDictionaryMaxBytes,
		minPageBytes:       -1,
		zstdLevel:          ZstdDefault,
		logger:             slog.New(slog.DiscardHandler),
		concurrency:        1,
	}
}

// MergeRowGroupBytes sets the target size of a merged row group, in
// compressed bytes: input row groups are gathered into one while their
// sizes add up to at most n (an input row group larger than n is one on
// its own; input row groups are never split). Default 32 MiB
// (DefaultMergeRowGroupBytes).
func MergeRowGroupBytes(n int64) MergeOption { return func(o *mergeOptions) { o.rowGroupBytes = n } }

// MergePageBufferSize sets the page size of the chunks Merge writes
// itself (constants, re-encoded chunks), as WithPageBufferSize. Default
// 1 MiB.
func MergePageBufferSize(n int) MergeOption { return func(o *mergeOptions) { o.pageBufferSize = n } }

// MergeDictionaryMaxBytes bounds a merged chunk's dictionary (its PLAIN
// size): a chunk whose inputs' dictionaries add up to more is re-encoded
// (as WithDictionaryMaxBytes, its dictionary then stops at the bound and
// the rest of the chunk is PLAIN). 0 means unbounded. Default 1 MiB.
func MergeDictionaryMaxBytes(n int) MergeOption {
	return func(o *mergeOptions) { o.dictionaryMaxBytes = n }
}

// MergeMinPageBytes sets the page size below which a chunk's copied pages
// would be tiny: a merged chunk of more than one page whose input pages
// average less than n bytes (values, 4 bytes per dictionary index and a
// byte per definition level, as WithPageBufferSize counts them) is
// re-encoded into pages of the page buffer size. 0 never re-encodes for
// page size. Default: 1/128 of the page buffer size (8 KiB: 2,048 values
// of 4 bytes, a DuckDB vector; below it a page's header, page index
// entry, compression frame and reader setup start to count). Pages of a
// file of 256 KiB (about 13,000 rows) are copied; parquet-mr cuts its
// pages at 20,000 rows.
func MergeMinPageBytes(n int) MergeOption { return func(o *mergeOptions) { o.minPageBytes = n } }

// MergeZstdLevel sets the zstd level of the pages Merge compresses (pages
// it rewrites, chunks it writes) when the output is zstd compressed.
// Default ZstdDefault, the writer's "zstd".
func MergeZstdLevel(l ZstdLevel) MergeOption { return func(o *mergeOptions) { o.zstdLevel = l } }

// MergeConstant makes the byte array column (its path, dotted) hold value
// in every row of the output, whatever the inputs hold: the Hudi file name
// names the new file. Its pages are written as the encoder writes a
// constant. The inputs' values of the column are not read.
func MergeConstant(column string, value []byte) MergeOption {
	return func(o *mergeOptions) {
		o.constants = append(o.constants, mergeConstant{column, append([]byte(nil), value...)})
	}
}

// MergeKeyRange names two key-value metadata keys whose output values are
// the smallest (minKey) and largest (maxKey), in byte order, of the
// inputs' values: Hudi's hoodie_min_record_key and hoodie_max_record_key.
// If an input lacks either key, the output has neither. Of the other
// keys, the output has those every input has with the same value.
func MergeKeyRange(minKey, maxKey string) MergeOption {
	return func(o *mergeOptions) { o.minKey, o.maxKey = minKey, maxKey }
}

// The Hudi meta column and footer keys MergeHudi sets.
const (
	HudiFileNameColumn = hudimeta.ColFileName
	HudiMinRecordKey   = hudimeta.MinRecordKey
	HudiMaxRecordKey   = hudimeta.MaxRecordKey
)

// MergeHudi makes the output a Hudi base file named fileName (the object
// name, without its partition path): _hoodie_file_name holds it in every
// row (MergeConstant), and the record key range is the inputs'
// (MergeKeyRange). _hoodie_commit_time, _hoodie_commit_seqno and the
// other columns keep their values, as Hudi's clustering keeps them by
// default (hoodie.clustering.preserve.commit.metadata).
func MergeHudi(fileName string) MergeOption {
	return func(o *mergeOptions) {
		MergeConstant(HudiFileNameColumn, []byte(fileName))(o)
		MergeKeyRange(HudiMinRecordKey, HudiMaxRecordKey)(o)
	}
}

// MergeCreatedBy sets the footer's created_by. Default: the first input's.
func MergeCreatedBy(s string) MergeOption {
	return func(o *mergeOptions) { o.createdBy, o.hasCreatedBy = s, true }
}

// MergeLogger sets the logger of the re-encoded chunks (one Info record
// each, with its reason). Default: discard.
func MergeLogger(l *slog.Logger) MergeOption { return func(o *mergeOptions) { o.logger = l } }

func (o *mergeOptions) validate() error {
	var errs []error
	if o.rowGroupBytes <= 0 {
		errs = append(errs, fmt.Errorf("row group bytes %d: must be positive", o.rowGroupBytes))
	}
	if o.pageBufferSize <= 0 || o.pageBufferSize > maxPageSize/2 {
		errs = append(errs, fmt.Errorf("page buffer size %d: must be in 1..%d", o.pageBufferSize, maxPageSize/2))
	}
	if o.dictionaryMaxBytes < 0 {
		errs = append(errs, fmt.Errorf("dictionary max bytes %d: must not be negative", o.dictionaryMaxBytes))
	}
	if o.minPageBytes < -1 {
		errs = append(errs, fmt.Errorf("min page bytes %d: must not be negative", o.minPageBytes))
	}
	if o.concurrency < 1 {
		errs = append(errs, fmt.Errorf("concurrency %d: must be at least 1", o.concurrency))
	}
	if o.logger == nil {
		errs = append(errs, errors.New("logger: nil"))
	}
	seen := map[string]bool{}
	for _, c := range o.constants {
		switch {
		case c.column == "":
			errs = append(errs, errors.New("constant column: empty name"))
		case seen[c.column]:
			errs = append(errs, fmt.Errorf("constant column %q: given twice", c.column))
		}
		seen[c.column] = true
	}
	if (o.minKey == "") != (o.maxKey == "") || o.minKey != "" && o.minKey == o.maxKey {
		errs = append(errs, fmt.Errorf("key range %q, %q: want two different keys", o.minKey, o.maxKey))
	}
	if len(errs) > 0 {
		return fmt.Errorf("parquetfile: merge options: %w", errors.Join(errs...))
	}
	return nil
}

// MergeResult says what Merge wrote.
type MergeResult struct {
	Rows      int64
	Bytes     int64 // of the output file
	RowGroups []MergedRowGroup
	// Columns has each leaf column's values (nulls included) and nulls as
	// the inputs hold them (their footers; the values of re-encoded
	// chunks as decoded), which the output must hold too (VerifyMerge).
	Columns []MergedColumn
	// Constants are the MergeConstant columns and values.
	Constants map[string][]byte
	// The key range (MergeKeyRange) written, if any.
	MinKey, MaxKey         string
	HasKeyRange            bool
	minKeyName, maxKeyName string

	// What became of the column chunks: copied (every page byte for
	// byte; the dictionary page may be new), remapped (some index pages
	// rewritten), written as constants, re-encoded (Fallbacks says why).
	ChunksCopied, ChunksRemapped, ChunksConstant, ChunksReencoded int
	// Data pages copied byte for byte, and rewritten (remapped indexes or
	// another codec).
	PagesCopied, PagesRewritten int64
	Fallbacks                   []MergeFallback
}

// MergedRowGroup is a row group of the output.
type MergedRowGroup struct {
	Rows   int64
	Bytes  int64 // its column chunks, compressed
	Inputs int   // input row groups it holds
}

// MergedColumn is a leaf column's counts.
type MergedColumn struct {
	Path   string
	Values int64
	Nulls  int64
}

// MergeFallback is a column chunk Merge re-encoded.
type MergeFallback struct {
	RowGroup int    // of the output; -1: every row group
	Column   string // dotted path
	Reason   string
}

// Merge writes to out one Parquet file of the inputs' rows, in the order of
// the inputs, and returns what it wrote (see the comment at the top of
// merge.go). Every input must have the same schema (Fingerprint groups
// files of the same layout); the output has it too. Merge holds each
// input open until it returns and keeps its footer and page index; it
// reads an input column chunk at a time and buffers the output chunk it
// makes (with MergeConcurrency(n), n of each, and the chunks made but not
// yet written, which add up to about the row group target at most).
// Errors name the input, row group, column and page. out receives nothing
// usable on error; the caller removes it.
func Merge(ctx context.Context, inputs []MergeInput, out io.Writer, opts ...MergeOption) (*MergeResult, error) {
	o := defaultMergeOptions()
	for _, opt := range opts {
		opt(&o)
	}
	if err := o.validate(); err != nil {
		return nil, err
	}
	if len(inputs) == 0 {
		return nil, errors.New("parquetfile: merge: no inputs")
	}
	if o.minPageBytes < 0 {
		o.minPageBytes = o.pageBufferSize / 128
	}
	m := &merger{o: o}
	defer m.close()
	if err := m.open(ctx, inputs); err != nil {
		return nil, err
	}
	schema, err := schemaOf(m.inputs[0].md.Schema, nil)
	if err != nil {
		return nil, m.inputs[0].errorf("schema: %w", err)
	}
	m.inputs[0].flat = Supports(schema) == nil
	bw := bufio.NewWriterSize(out, 1<<20)
	cw := &countingWriter{w: bw}
	var res *MergeResult
	if m.inputs[0].flat {
		res, err = m.mergeFlat(ctx, cw)
	} else {
		res, err = m.mergeNested(ctx, cw)
	}
	if err != nil {
		return nil, err
	}
	if err := bw.Flush(); err != nil {
		return nil, fmt.Errorf("parquetfile: merge: write: %w", err)
	}
	res.Bytes = cw.n
	return res, nil
}

// open opens the inputs and reads their footers and page indexes, on
// MergeConcurrency goroutines, and checks that their schemas are the
// first's. Every input opened is in m.inputs, to be closed, even on error.
func (m *merger) open(ctx context.Context, inputs []MergeInput) error {
	m.inputs = make([]*mergeInput, len(inputs))
	errs := make([]error, len(inputs))
	var next atomic.Int64
	run := func() {
		var scratch []byte // the tails: footers and page indexes are decoded (copied) at once
		for {
			i := int(next.Add(1) - 1)
			if i >= len(inputs) {
				return
			}
			if errs[i] = ctx.Err(); errs[i] != nil {
				continue
			}
			m.inputs[i], errs[i] = openMergeInput(ctx, inputs[i], &scratch)
		}
	}
	var wg sync.WaitGroup
	for range min(m.o.concurrency, len(inputs)) - 1 {
		wg.Go(run)
	}
	run()
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			return err
		}
		if i > 0 {
			if err := sameSchema(m.inputs[0], m.inputs[i]); err != nil {
				return err
			}
		}
	}
	return nil
}

// countingWriter counts the bytes written through it.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// merger is one Merge.
type merger struct {
	o      mergeOptions
	inputs []*mergeInput
	res    MergeResult
}

func (m *merger) close() {
	for _, in := range m.inputs {
		if in != nil {
			in.close()
		}
	}
}

// fallback records a re-encoded chunk.
func (m *merger) fallback(rowGroup int, column, reason string) {
	m.res.Fallbacks = append(m.res.Fallbacks, MergeFallback{RowGroup: rowGroup, Column: column, Reason: reason})
	m.o.logger.Info("parquet merge: column chunk re-encoded", "row_group", rowGroup, "column", column, "reason", reason)
}

// keyValues returns the output's key-value metadata: the pairs every
// input has with the same value (a pair of one file, such as a Hudi bloom
// filter of its keys, would be wrong for the others' rows), and the key
// range merged (or dropped).
func (m *merger) keyValues() []format.KeyValue {
	var kv []format.KeyValue
	for _, e := range m.inputs[0].md.KeyValueMetadata {
		if m.o.minKey != "" && (e.Key == m.o.minKey || e.Key == m.o.maxKey) {
			continue
		}
		same := true
		for _, in := range m.inputs[1:] {
			v, ok := in.keyValue(e.Key)
			same = same && ok && v == e.Value
		}
		if same {
			kv = append(kv, e)
		}
	}
	if m.o.minKey == "" {
		return kv
	}
	var lo, hi string
	for i, in := range m.inputs {
		l, okL := in.keyValue(m.o.minKey)
		h, okH := in.keyValue(m.o.maxKey)
		if !okL || !okH {
			return kv
		}
		if i == 0 || l < lo {
			lo = l
		}
		if i == 0 || h > hi {
			hi = h
		}
	}
	m.res.MinKey, m.res.MaxKey, m.res.HasKeyRange = lo, hi, true
	m.res.minKeyName, m.res.maxKeyName = m.o.minKey, m.o.maxKey
	return append(kv, format.KeyValue{Key: m.o.minKey, Value: lo}, format.KeyValue{Key: m.o.maxKey, Value: hi})
}

// createdBy is the output's created_by.
func (m *merger) createdBy() string {
	if m.o.hasCreatedBy {
		return m.o.createdBy
	}
	return m.inputs[0].md.CreatedBy
}

// dotted joins a column path.
func dotted(path []string) string { return strings.Join(path, ".") }
