package parquetfile

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
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

	rowGroups    []rowGroup
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
	scratch2   []byte
	chunkBuf   []byte
	dictBounds bounds
	thriftBuf  bytes.Buffer
	thrift     *thrift.Encoder
	hashes     []uint64        // of the values a dictionary column writes
	touched    uint64          // keeps the loads of writeDictBytes' first pass
	tables     []*dictionary   // by leaf column index
	genValues  []parquet.Value // the constant, repeated, for PLAIN columns
	plainRuns  []int           // by leaf column: chunks to write PLAIN before trying a dictionary again
	maxTable   int             // tests: bytes of values past which a table is replaced (0: tableBytes)
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

// dictionaryRetry is how many chunks a column whose dictionary did not pay
// writes PLAIN before it tries one again.
const dictionaryRetry = 16

// skipDictionary reports whether the next chunk of leaf column col is to
// be PLAIN: its dictionary did not pay lately (see judgeDictionary).
func (s *Shared) skipDictionary(col int) bool {
	if col >= len(s.plainRuns) || s.plainRuns[col] == 0 {
		return false
	}
	s.plainRuns[col]--
	return true
}

// judgeDictionary records whether a chunk's dictionary of leaf column col
// paid: if not, the next dictionaryRetry chunks of the column (in every
// Writer sharing s) are PLAIN. Columns of unique values (IDs, offsets)
// then cost no hashing; those that repeat (timestamps of an hour, URLs)
// keep their dictionary, which also spares zstd most of their bytes.
func (s *Shared) judgeDictionary(col int, paid bool) {
	for len(s.plainRuns) <= col {
		s.plainRuns = append(s.plainRuns, 0)
	}
	if !paid {
		s.plainRuns[col] = dictionaryRetry
	}
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
		c.gen, c.genVal, c.genPre, c.genNext, c.genDigits = genNone, parquet.Value{}, c.genPre[:0], 0, c.genDigits[:0]
	}
}

// SetConstant makes col hold v in every row of the file, from the next
// row written: WriteColumns then takes nil for col (and WriteRows ignores
// its values). A dictionary column of a constant costs nothing per row: its
// pages are a run of one index. v must fit the column, as WriteColumns'
// values. Reset ends it.
func (w *Writer) SetConstant(col int, v parquet.Value) error {
	c, err := w.generated(col)
	if err != nil {
		return err
	}
	probe := []parquet.Value{v.Level(0, v.DefinitionLevel(), col)}
	if err := c.check(probe); err != nil {
		return err
	}
	c.gen, c.genVal = genConstant, probe[0].Clone() // v's bytes are the caller's
	if !v.IsNull() {
		c.genPre = appendPlainValue(c.genPre[:0], &c.leaf, v)
	}
	return nil
}

// SetSequence makes col, a byte array column, hold prefix followed by the
// row's number in the file (counting from first) in every row from the
// next one written, as SetConstant does with one value.
func (w *Writer) SetSequence(col int, prefix []byte, first int64) error {
	c, err := w.generated(col)
	if err != nil {
		return err
	}
	if c.kind != parquet.ByteArray {
		return fmt.Errorf("parquetfile: column %d (%v) is %s: a sequence needs a byte array", col, c.path, c.kind)
	}
	if first < 0 {
		return fmt.Errorf("parquetfile: column %d (%v): a sequence counts from 0 or more, not %d", col, c.path, first)
	}
	c.gen, c.genPre, c.genNext = genSequence, append(c.genPre[:0], prefix...), first
	c.genDigits = strconv.AppendInt(c.genDigits[:0], first, 10)
	return nil
}

// generated returns column col, to be made generated.
func (w *Writer) generated(col int) (*column, error) {
	if w.err != nil {
		return nil, w.err
	}
	if col < 0 || col >= len(w.cols) {
		return nil, fmt.Errorf("parquetfile: column %d: the schema has %d", col, len(w.cols))
	}
	c := w.cols[col]
	if c.numValues > 0 || c.chunk.numValues > 0 || w.rowGroups != nil && len(w.rowGroups) > 0 {
		return nil, fmt.Errorf("parquetfile: column %d (%v): rows were written already", col, c.path)
	}
	return c, nil
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
	n := -1
	for c, col := range w.cols {
		switch {
		case col.gen != genNone && cols[c] != nil:
			return fmt.Errorf("parquetfile: column %d (%v) is made by the writer: want nil", c, col.path)
		case col.gen != genNone:
		case n < 0:
			n = len(cols[c])
		case len(cols[c]) != n:
			return fmt.Errorf("parquetfile: column %d has %d values, the others %d: want one value per row in every column", c, len(cols[c]), n)
		}
	}
	if n < 0 {
		return errors.New("parquetfile: every column is made by the writer: use WriteRows")
	}
	var buffered int64
	for c, col := range w.cols {
		var err error
		if col.gen != genNone {
			err = col.writeGenerated(n)
		} else {
			err = col.write(cols[c])
		}
		if err != nil {
			return w.fail(err)
		}
		buffered += col.bufferedBytes()
	}
	w.rows += int64(n)
	w.bufferedSize = buffered
	return nil
}

// WriteRows appends rows, each holding one value per leaf column in column
// order (parquet.Row), as WriteColumns does; the values of generated
// columns are ignored.
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
			if w.cols[c].gen == genNone {
				cols[c] = append(cols[c], row[c])
			}
		}
	}
	gen := 0
	for c := range cols {
		if w.cols[c].gen != genNone {
			cols[c] = nil
			gen++
		}
	}
	var err error
	if gen == len(cols) {
		err = w.writeGeneratedOnly(len(rows))
	} else {
		err = w.WriteColumns(cols)
	}
	for c := range cols {
		clear(cols[c]) // drop the references to the caller's bytes
	}
	return err
}

// writeGeneratedOnly appends n rows when every column is generated.
func (w *Writer) writeGeneratedOnly(n int) error {
	if w.err != nil {
		return w.err
	}
	var buffered int64
	for _, col := range w.cols {
		if err := col.writeGenerated(n); err != nil {
			return w.fail(err)
		}
		buffered += col.bufferedBytes()
	}
	w.rows += int64(n)
	w.bufferedSize = buffered
	return nil
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
	rg := rowGroup{NumRows: w.rows, FileOffset: w.offset, Ordinal: int16(len(w.rowGroups))}
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
			if w.columnIndex[g][c].NullPages == nil {
				continue // none for this chunk (see flushChunk)
			}
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
	meta := fileMetaData{
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
