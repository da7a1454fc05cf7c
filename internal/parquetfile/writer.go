package parquetfile

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/encoding/thrift"
	"github.com/parquet-go/parquet-go/format"
)

// magic starts and ends every Parquet file.
const magic = "PAR1"

// Writer writes one Parquet file at a time of a flat schema, row group by
// row group. Rows arrive column by column (WriteColumns); Flush ends a row
// group, Close the file; Reset starts the next file, keeping the buffers and
// dictionaries' memory.
//
// Errors stick: after one, the file is lost and every call but Reset
// returns it. A Writer is not safe for concurrent use.
type Writer struct {
	o        options
	schema   *parquet.Schema
	leaves   []leaf
	cols     []*column
	elements []format.SchemaElement
	orders   []format.ColumnOrder

	out     io.Writer
	offset  int64 // bytes written to out
	rows    int64 // rows of the row group being built
	started bool  // magic written
	err     error

	rowGroups    []format.RowGroup
	columnIndex  [][]format.ColumnIndex // per row group, per column
	offsetIndex  [][]format.OffsetIndex
	keyValues    []format.KeyValue
	bufferedSize int64 // bytes held by the columns, as of the last write

	*Shared
	rowValues [][]parquet.Value // WriteRows' columns
}

// Shared is what Writers used from one goroutine can share (WithShared):
// the memory they encode pages in, one page at a time, and the tables
// their dictionaries intern values in. Values repeat across files (the
// same URLs in every hour's file): interned once, a value costs a lookup
// in one table that stays in cache, not an insert into each file's.
type Shared struct {
	body       []byte
	comp       []byte
	scratch    []byte
	chunkBuf   []byte
	dictBounds bounds
	thriftBuf  bytes.Buffer
	thrift     *thrift.Encoder
	hashes     []uint64      // of the values a dictionary column writes
	touched    uint64        // keeps the loads of writeDictBytes' first pass
	tables     []*dictionary // by leaf column index
	maxTable   int           // tests: bytes of values past which a table is replaced (0: tableBytes)
}

// NewShared returns an empty Shared.
func NewShared() *Shared {
	s := &Shared{}
	s.thrift = thrift.NewEncoder(new(thrift.CompactProtocol).NewWriter(&s.thriftBuf))
	return s
}

// table returns the table to intern the values of leaf column col in for a
// new column chunk: the current one, or a new one once the current one
// holds more than maxBytes of values (chunks that use the old one keep it).
func (s *Shared) table(col, maxBytes int) *dictionary {
	for len(s.tables) <= col {
		s.tables = append(s.tables, nil)
	}
	t := s.tables[col]
	if t == nil || len(t.data) > maxBytes {
		t = newDictionary()
		s.tables[col] = t
	}
	return t
}

// tableBytes bounds the values of a dictionary table (see Shared.table):
// four times a chunk's dictionary bound, at least 4 MiB.
func (w *Writer) tableBytes() int {
	if w.maxTable > 0 {
		return w.maxTable
	}
	return 4 * max(w.o.dictionaryMaxBytes, 1<<20)
}

// Release drops the dictionary tables: the chunks being written keep
// theirs until they end, new chunks start new ones.
func (s *Shared) Release() { s.tables = nil }

// MemoryBytes estimates the heap the Shared holds: its dictionary tables
// (scratch buffers are not counted).
func (s *Shared) MemoryBytes() int64 {
	var n int64
	for _, t := range s.tables {
		if t != nil {
			n += int64(t.memoryBytes())
		}
	}
	return n
}

// NewWriter returns a Writer of files of schema; Reset gives it its first
// output. The schema must be flat (see Supports).
func NewWriter(schema *parquet.Schema, opts ...Option) (*Writer, error) {
	o := defaultOptions()
	for _, opt := range opts {
		opt(&o)
	}
	var errs []error
	if err := o.validate(); err != nil {
		errs = append(errs, err)
	}
	leaves, err := leavesOf(schema, o)
	if err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	w := &Writer{o: o, schema: schema, leaves: leaves, elements: schemaElements(schema), orders: columnOrders(leaves), Shared: o.shared}
	if w.Shared == nil {
		w.Shared = NewShared()
	}
	for _, l := range leaves {
		w.cols = append(w.cols, newColumn(w, l))
	}
	w.rowValues = make([][]parquet.Value, len(leaves))
	w.err = errors.New("parquetfile: writer has no output: call Reset")
	return w, nil
}

// Reset starts a new file written to out, dropping whatever the previous
// one buffered.
func (w *Writer) Reset(out io.Writer) {
	w.out, w.offset, w.rows, w.started, w.err = out, 0, 0, false, nil
	w.rowGroups, w.columnIndex, w.offsetIndex, w.keyValues = w.rowGroups[:0], w.columnIndex[:0], w.offsetIndex[:0], w.keyValues[:0]
	w.bufferedSize = 0
	for _, c := range w.cols {
		c.resetChunk()
	}
}

// Schema returns the schema the Writer writes.
func (w *Writer) Schema() *parquet.Schema { return w.schema }

// NumColumns returns the number of leaf columns.
func (w *Writer) NumColumns() int { return len(w.cols) }

// WriteColumns appends rows given column by column: cols[c] holds the
// values of leaf column c, one per row, and every column the same number.
// Values must be of the column's kind, with the column's maximum
// definition level unless null (then lower); a *ValueError says which is
// not, and sticks (the columns would disagree). The values' bytes are
// copied: the caller may reuse them once WriteColumns returns.
func (w *Writer) WriteColumns(cols [][]parquet.Value) error {
	if w.err != nil {
		return w.err
	}
	if len(cols) != len(w.cols) {
		return fmt.Errorf("parquetfile: %d columns written, the schema has %d", len(cols), len(w.cols))
	}
	n := len(cols[0])
	for c := range cols {
		if len(cols[c]) != n {
			return fmt.Errorf("parquetfile: column %d has %d values, column 0 has %d: want one value per row in every column", c, len(cols[c]), n)
		}
	}
	var buffered int64
	for c, col := range w.cols {
		if err := col.write(cols[c]); err != nil {
			return w.fail(err)
		}
		buffered += col.bufferedBytes()
	}
	w.rows += int64(n)
	w.bufferedSize = buffered
	return nil
}

// WriteRows appends rows, each holding one value per leaf column in column
// order (parquet.Row), as WriteColumns does.
func (w *Writer) WriteRows(rows []parquet.Row) error {
	cols := w.rowValues
	for c := range cols {
		cols[c] = cols[c][:0]
	}
	for r, row := range rows {
		if len(row) != len(cols) {
			return fmt.Errorf("parquetfile: row %d has %d values for %d columns", r, len(row), len(cols))
		}
		for c := range cols {
			if row[c].Column() != c {
				return fmt.Errorf("parquetfile: row %d: value %d is of column %d", r, c, row[c].Column())
			}
			cols[c] = append(cols[c], row[c])
		}
	}
	err := w.WriteColumns(cols)
	for c := range cols {
		clear(cols[c]) // drop the references to the caller's bytes
	}
	return err
}

// Size returns the bytes written so far plus those buffered for the row
// group being built (encoded pages, page buffers, dictionaries): about the
// file's size if it were closed now.
func (w *Writer) Size() int64 { return w.offset + w.bufferedSize }

// Written returns the bytes written to the output so far.
func (w *Writer) Written() int64 { return w.offset }

// MemoryBytes estimates the heap the Writer holds: the capacity of its
// page buffers, encoded pages and dictionaries (its Shared's is not
// counted: see Shared.MemoryBytes). It stays after Flush, until ReleaseMemory.
func (w *Writer) MemoryBytes() int64 {
	var n int64
	for _, c := range w.cols {
		n += c.memoryBytes()
	}
	return n
}

// ReleaseMemory drops the page buffers, encoded pages and dictionaries of
// the Writer so that the garbage collector can have them; they grow again
// as rows come. It does nothing while a row group has rows (Flush first).
func (w *Writer) ReleaseMemory() {
	if w.rows > 0 {
		return
	}
	for _, c := range w.cols {
		c.releaseMemory()
	}
}

// SetKeyValueMetadata sets a key of the footer's key-value metadata.
func (w *Writer) SetKeyValueMetadata(key, value string) {
	for i := range w.keyValues {
		if w.keyValues[i].Key == key {
			w.keyValues[i].Value = value
			return
		}
	}
	w.keyValues = append(w.keyValues, format.KeyValue{Key: key, Value: value})
}

func (w *Writer) fail(err error) error {
	if w.err == nil {
		w.err = err
	}
	return w.err
}

func (w *Writer) write(p []byte) error {
	n, err := w.out.Write(p)
	w.offset += int64(n)
	if err != nil {
		return w.fail(fmt.Errorf("parquetfile: write: %w", err))
	}
	return nil
}

func (w *Writer) start() error {
	if w.started {
		return nil
	}
	w.started = true
	return w.write([]byte(magic))
}

// Flush writes the row group being built, if it has rows.
func (w *Writer) Flush() error {
	if w.err != nil {
		return w.err
	}
	if w.rows == 0 {
		return nil
	}
	if err := w.start(); err != nil {
		return err
	}
	rg := format.RowGroup{NumRows: w.rows, FileOffset: w.offset, Ordinal: int16(len(w.rowGroups))}
	cis := make([]format.ColumnIndex, len(w.cols))
	ois := make([]format.OffsetIndex, len(w.cols))
	for i, c := range w.cols {
		cc, err := c.flushChunk(&cis[i], &ois[i])
		if err != nil {
			return w.fail(err)
		}
		rg.Columns = append(rg.Columns, cc)
		rg.TotalByteSize += cc.MetaData.TotalUncompressedSize
		rg.TotalCompressedSize += cc.MetaData.TotalCompressedSize
	}
	w.rowGroups = append(w.rowGroups, rg)
	w.columnIndex = append(w.columnIndex, cis)
	w.offsetIndex = append(w.offsetIndex, ois)
	w.rows = 0
	w.bufferedSize = 0
	return nil
}

// Close flushes the last row group and writes the page index and the
// footer. The Writer needs a Reset before the next file.
func (w *Writer) Close() error {
	if err := w.Flush(); err != nil {
		return err
	}
	if err := w.start(); err != nil {
		return err
	}
	// The page index: every column index, then every offset index.
	for g := range w.rowGroups {
		for c := range w.cols {
			cc := &w.rowGroups[g].Columns[c]
			start := w.offset
			if err := w.writeThrift(&w.columnIndex[g][c]); err != nil {
				return err
			}
			cc.ColumnIndexOffset, cc.ColumnIndexLength = start, int32(w.offset-start)
		}
	}
	for g := range w.rowGroups {
		for c := range w.cols {
			cc := &w.rowGroups[g].Columns[c]
			start := w.offset
			if err := w.writeThrift(&w.offsetIndex[g][c]); err != nil {
				return err
			}
			cc.OffsetIndexOffset, cc.OffsetIndexLength = start, int32(w.offset-start)
		}
	}
	var numRows int64
	for _, rg := range w.rowGroups {
		numRows += rg.NumRows
	}
	kv := slices.Clone(w.keyValues)
	slices.SortFunc(kv, func(a, b format.KeyValue) int { return strings.Compare(a.Key, b.Key) })
	meta := format.FileMetaData{
		Version:          2, // as parquet-go: the format's version 2 features (page index, logical types)
		Schema:           w.elements,
		NumRows:          numRows,
		RowGroups:        w.rowGroups,
		KeyValueMetadata: kv,
		CreatedBy:        w.o.createdBy,
		ColumnOrders:     w.orders,
	}
	start := w.offset
	if err := w.writeThrift(&meta); err != nil {
		return err
	}
	var tail [8]byte
	binary.LittleEndian.PutUint32(tail[:4], uint32(w.offset-start))
	copy(tail[4:], magic)
	if err := w.write(tail[:]); err != nil {
		return err
	}
	w.err = errors.New("parquetfile: file is closed: call Reset")
	return nil
}

func (w *Writer) writeThrift(v any) error {
	w.thriftBuf.Reset()
	if err := w.thrift.Encode(v); err != nil {
		return w.fail(fmt.Errorf("parquetfile: encode footer: %w", err))
	}
	return w.write(w.thriftBuf.Bytes())
}
