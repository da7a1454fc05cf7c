package writer

// The values the encoders take: Write's copy of a row, and a run of rows
// column by column, with the columns the Set fills (the meta columns but
// the record key, and the partition columns) set for their file, unless its
// encoder makes them.

import (
	"slices"
	"strconv"

	"github.com/lakestream/lakestream/table/hudi/hudimeta"
	"github.com/parquet-go/parquet-go"
)

// filler makes the values the encoders take. Its results are valid until
// the next call.
type filler struct {
	shape *rowShape
	meta  *checkpointMeta // the checkpoint being written

	row  parquet.Row   // the copy of a row
	rows []parquet.Row // len 1, wraps row

	cols     [][]parquet.Value // values of a run, by column
	colView  [][]parquet.Value // cols, nil for the columns an encoder makes
	seqArena []byte            // sequence numbers of a run
	seqEnds  []int             // end of each in seqArena
}

func newFiller(sh *rowShape, meta *checkpointMeta) filler {
	return filler{shape: sh, meta: meta, rows: make([]parquet.Row, 1), cols: make([][]parquet.Value, sh.numColumns)}
}

// oneRow returns a copy of row with the columns the Set fills set for f
// (its next record), as a batch of one row.
func (fl *filler) oneRow(f *file, row parquet.Row) []parquet.Row {
	meta := &fl.shape.metaIdx
	fl.row = append(fl.row[:0], row...)
	fl.row[meta[0]] = fl.meta.instantValue
	fl.row[meta[1]] = parquet.ByteArrayValue(fl.meta.seqnoOf(f.records)).Level(0, 1, meta[1])
	fl.row[meta[3]] = f.bucketValue
	fl.row[meta[4]] = f.nameValue
	for i, v := range f.partColValues {
		fl.row[len(fl.row)-len(f.partColValues)+i] = v // the last columns, a value each
	}
	fl.rows[0] = fl.row
	return fl.rows
}

// columns returns the values of rows (the next records of f) column by
// column, the columns the Set fills set for f: nil if f's encoder makes
// them (f.generated), else filled, the sequence numbers in the arena. Call
// clear once the encoder took them.
func (fl *filler) columns(f *file, rows []parquet.Row) [][]parquet.Value {
	sh := fl.shape
	keyCol := sh.keyCol()
	cols := fl.cols
	if sh.flat {
		for c := range cols {
			if c < len(hudimeta.Columns) && c != keyCol && f.generated {
				continue // made by the encoder
			}
			cols[c] = slices.Grow(cols[c][:0], len(rows))[:len(rows)]
		}
		for c := range cols {
			if c < len(hudimeta.Columns) && c != keyCol {
				continue // filled below, or made by the encoder
			}
			vals := cols[c]
			for i, row := range rows {
				vals[i] = row[c]
			}
		}
	} else {
		for _, row := range rows {
			for c, vals := range row.Range {
				cols[c] = append(cols[c], vals...)
			}
		}
	}
	meta := &sh.metaIdx
	if f.generated {
		view := append(fl.colView[:0], cols...)
		for _, c := range []int{meta[0], meta[1], meta[3], meta[4]} {
			view[c] = nil
		}
		for _, c := range sh.partCols {
			view[c] = nil
		}
		fl.colView = view
		return view
	}
	for i, c := range sh.partCols {
		fill(cols[c], f.partColValues[i])
	}
	// Sequence numbers: <instant>_<worker>_<record index in the file>. The
	// arena is filled first, as appending may move it.
	arena := fl.seqArena[:0]
	ends := fl.seqEnds[:0]
	for i := range rows {
		arena = append(arena, fl.meta.seqnoPrefix()...)
		arena = strconv.AppendInt(arena, f.records+int64(i), 10)
		ends = append(ends, len(arena))
	}
	fl.seqArena, fl.seqEnds = arena, ends
	seq := cols[meta[1]]
	start := 0
	for i, end := range ends {
		seq[i] = parquet.ByteArrayValue(arena[start:end:end]).Level(0, 1, meta[1])
		start = end
	}
	fill(cols[meta[0]], fl.meta.instantValue)
	fill(cols[meta[3]], f.bucketValue)
	fill(cols[meta[4]], f.nameValue)
	return cols
}

// clear drops the references to the caller's bytes.
func (fl *filler) clear() {
	for c, values := range fl.cols {
		clear(values)
		fl.cols[c] = values[:0]
	}
}

func fill(values []parquet.Value, v parquet.Value) {
	for i := range values {
		values[i] = v
	}
}
