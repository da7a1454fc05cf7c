package writer

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

// goEncoder is parquet-go's Writer, for the schemas parquetfile does not
// support.
type goEncoder struct{ w *parquet.Writer }

func (e goEncoder) reset(w io.Writer) { e.w.Reset(w) }

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
func (e goEncoder) close() error                  { return e.w.Close() }
