package writer

// The two Parquet encoders behind one interface: package parquetfile's
// (flat schemas) and parquet-go's (schemas with lists or maps).

import (
	"io"

	"github.com/lakestream/lakestream/internal/parquetfile"
	"github.com/parquet-go/parquet-go"
)

// encoder is a file's Parquet encoder: package parquetfile's for flat
// schemas (the common case, and much faster), parquet-go's for schemas with
// lists or maps.
type encoder interface {
	// reset starts a new file written to w.
	reset(w io.Writer)
	// writeColumns writes rows given column by column (see
	// parquetfile.Writer.WriteColumns).
	writeColumns(cols [][]parquet.Value) error
	writeRows(rows []parquet.Row) error
	// size is the bytes written plus those buffered: about the file's size
	// if it were closed now.
	size() int64
	// memory estimates the heap the encoder holds beyond what it wrote.
	memory(written int64) int64
	// flush ends the row group; release then frees what it can.
	flush() error
	release()
	setKeyValue(key, value string)
	close() error
	// generate makes the encoder write the columns the Set fills for a
	// new file (see filler.columns); false if it cannot (parquet-go).
	generate(metaIdx [5]int, instant, partitionPath, name parquet.Value, seqnoPrefix []byte, partCols []int, partColValues []parquet.Value) (bool, error)
}

// flatEncoder is parquetfile's Writer.
type flatEncoder struct{ w *parquetfile.Writer }

func (e flatEncoder) reset(w io.Writer)                         { e.w.Reset(w) }
func (e flatEncoder) writeColumns(cols [][]parquet.Value) error { return e.w.WriteColumns(cols) }
func (e flatEncoder) writeRows(rows []parquet.Row) error        { return e.w.WriteRows(rows) }
func (e flatEncoder) size() int64                               { return e.w.Size() }
func (e flatEncoder) memory(int64) int64                        { return e.w.MemoryBytes() }
func (e flatEncoder) flush() error                              { return e.w.Flush() }
func (e flatEncoder) release()                                  { e.w.ReleaseMemory() }
func (e flatEncoder) setKeyValue(key, value string)             { e.w.SetKeyValueMetadata(key, value) }
func (e flatEncoder) close() error                              { return e.w.Close() }

// generate: the commit time, partition path, file name and partition
// columns are constants of the file (their pages are one run of one
// dictionary index), the sequence number <instant>_<worker>_<row> is made
// in the page buffer.
func (e flatEncoder) generate(metaIdx [5]int, instant, partitionPath, name parquet.Value, seqnoPrefix []byte, partCols []int, partColValues []parquet.Value) (bool, error) {
	for _, c := range []struct {
		col int
		v   parquet.Value
	}{{metaIdx[0], instant}, {metaIdx[3], partitionPath}, {metaIdx[4], name}} {
		if err := e.w.SetConstant(c.col, c.v); err != nil {
			return false, err
		}
	}
	for i, c := range partCols {
		if err := e.w.SetConstant(c, partColValues[i]); err != nil {
			return false, err
		}
	}
	return true, e.w.SetSequence(metaIdx[1], seqnoPrefix, 0)
}

// goEncoder is parquet-go's Writer, for the schemas parquetfile does not
// support. It writes through a parquetfile.BoundsRewriter, which truncates
// the byte array bounds of its page index and footer as parquetfile does
// (parquet-go writes chunk statistics whole: a 50 MiB value would be in
// the footer twice).
type goEncoder struct {
	w      *parquet.Writer
	bounds *parquetfile.BoundsRewriter
}

func (e goEncoder) reset(w io.Writer) {
	e.bounds.Reset(w)
	e.w.Reset(e.bounds)
}

func (e goEncoder) writeColumns(cols [][]parquet.Value) error {
	writers := e.w.ColumnWriters()
	for c, values := range cols {
		if _, err := writers[c].WriteRowValues(values); err != nil {
			return err
		}
	}
	return nil
}

func (e goEncoder) writeRows(rows []parquet.Row) error {
	_, err := e.w.WriteRows(rows)
	return err
}

func (e goEncoder) size() int64 { return e.w.Size() }

// memory is the buffered row group by length (see Set.BufferedBytes).
func (e goEncoder) memory(written int64) int64    { return e.w.Size() - written }
func (e goEncoder) flush() error                  { return e.w.Flush() }
func (e goEncoder) release()                      {}
func (e goEncoder) setKeyValue(key, value string) { e.w.SetKeyValueMetadata(key, value) }

// close writes the last row group, then the page index and the footer
// through the BoundsRewriter.
func (e goEncoder) close() error {
	if err := e.w.Flush(); err != nil {
		return err
	}
	e.bounds.Hold()
	if err := e.w.Close(); err != nil {
		return err
	}
	return e.bounds.Finish()
}

// generate: parquet-go takes every column's values (filler.columns fills them).
func (e goEncoder) generate([5]int, parquet.Value, parquet.Value, parquet.Value, []byte, []int, []parquet.Value) (bool, error) {
	return false, nil
}
