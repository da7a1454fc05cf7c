package writer

import (
	"context"
	"fmt"
	"slices"
	"strconv"

	"github.com/parquet-go/parquet-go"
)

// maxRunRows bounds the rows written to a file's column writers at once:
// sizes (row group flush, roll) are checked between runs, and a page may
// exceed the page buffer size by up to one run.
const maxRunRows = 256

// WriteBatch writes rows[i] to the open file of partitions[i] with event
// time eventTimes[i], in order, as that many calls of Write would, but
// column by column over runs of consecutive rows of the same partition,
// which costs less per row (no per-row trip through the parquet writer,
// one size check per run). The three slices must have the same length;
// rows are neither modified nor retained.
//
// WriteBatch returns the number of rows buffered: rows[:n] are written and
// rows[n:] are not. A nil error means n == len(rows). After an upload error
// (retriable, see Write), call again with rows[n:]; after an invalid row,
// rows[n] is the invalid one. Sizes are checked after each run, so a file
// may exceed the target size, or a row group the row group bytes, by a few
// rows; the run lengths adapt to keep that small.
func (s *Set) WriteBatch(ctx context.Context, partitions []string, rows []parquet.Row, eventTimes []int64) (int, error) {
	if len(partitions) != len(rows) || len(eventTimes) != len(rows) {
		return 0, fmt.Errorf("writer: write batch: %d partitions, %d rows and %d event times", len(partitions), len(rows), len(eventTimes))
	}
	if err := s.usable(); err != nil {
		return 0, err
	}
	n := 0
	for n < len(rows) {
		if err := s.checkRow(rows[n]); err != nil {
			return n, err
		}
		if len(s.pending) > 0 {
			if err := s.uploadPending(ctx); err != nil {
				return n, err
			}
		}
		if s.shouldStage(partitions[n]) {
			j := n + 1
			for j < len(rows) && partitions[j] == partitions[n] && s.checkRow(rows[j]) == nil {
				j++
			}
			if err := s.stageRows(partitions[n], rows[n:j], eventTimes[n:j]); err != nil {
				return n, err
			}
			n = j
			continue
		}
		f, err := s.fileFor(ctx, partitions[n])
		if err != nil {
			return n, err
		}
		// The run: the next valid rows of f's partition, within the room
		// left before the next size check. An invalid row ends it; the
		// next turn returns its error.
		limit := min(len(rows)-n, s.runLimit(f))
		j := n + 1
		for j < n+limit && partitions[j] == f.partition && s.checkRow(rows[j]) == nil {
			j++
		}
		if err := s.writeRun(f, rows[n:j], eventTimes[n:j]); err != nil {
			return n, err
		}
		n = j
		if err := s.afterWrite(f); err != nil {
			return n, err
		}
	}
	return n, nil
}

// fileFor returns the open file of partition, opening one if needed.
func (s *Set) fileFor(ctx context.Context, partition string) (*file, error) {
	f := s.last
	if f == nil || f.partition != partition {
		f = s.open[partition]
		if f == nil {
			var err error
			if f, err = s.openFile(ctx, partition); err != nil {
				return nil, err
			}
		}
		s.last = f
	}
	return f, nil
}

// runLimit returns how many rows the next run of f may have: maxRunRows,
// or fewer if f's size at its recent bytes per row would cross the row
// group bytes or the target file size sooner, or if the run would hold
// more than an eighth of a page (pages end between runs: this keeps them
// near the page buffer size, as when rows come one by one).
func (s *Set) runLimit(f *file) int {
	if f.rowBytes <= 0 {
		return maxRunRows
	}
	size := f.enc.size()
	room := min(s.opts.targetFileSize-size, s.opts.rowGroupBytes-(size-f.count.n), int64(s.opts.pageBufferSize)/8)
	return int(min(max(room/f.rowBytes+1, 1), maxRunRows))
}

// writeRun writes rows (valid, one partition) to f column by column. Its
// errors are sticky: the columns may hold different numbers of rows.
func (s *Set) writeRun(f *file, rows []parquet.Row, eventTimes []int64) error {
	before := f.enc.size()
	cols := s.gather(f, rows)
	err := f.enc.writeColumns(cols)
	for c, values := range s.cols {
		clear(values) // drop the references to the caller's bytes
		s.cols[c] = values[:0]
	}
	if err != nil {
		return s.fail(fmt.Errorf("writer: write to %s: %w", f.key, err))
	}
	keyCol := s.metaIdx[2]
	for i, row := range rows {
		f.observe(row[keyCol].ByteArray(), eventTimes[i])
	}
	if grown := f.enc.size() - before; grown > 0 {
		f.rowBytes = grown / int64(len(rows))
	}
	s.tick++
	f.lastWrite = s.tick
	return nil
}

// gather returns the values of rows column by column, the meta columns
// Write fills set for f: nil if f's encoder makes them (f.generated), else
// filled, the sequence numbers in s.seqArena.
func (s *Set) gather(f *file, rows []parquet.Row) [][]parquet.Value {
	cols := s.cols
	if s.flat {
		for c := range cols {
			if c < len(MetaColumns) && c != s.metaIdx[2] && f.generated {
				continue // made by the encoder
			}
			cols[c] = slices.Grow(cols[c][:0], len(rows))[:len(rows)]
		}
		for c := range cols {
			if c < len(MetaColumns) && c != s.metaIdx[2] {
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
	if f.generated {
		view := append(s.colView[:0], cols...)
		for _, c := range []int{s.metaIdx[0], s.metaIdx[1], s.metaIdx[3], s.metaIdx[4]} {
			view[c] = nil
		}
		for _, c := range s.partCols {
			view[c] = nil
		}
		s.colView = view
		return view
	}
	for i, c := range s.partCols {
		fill(cols[c], f.partValues[i])
	}
	// Sequence numbers: <instant>_<worker>_<record index in the file>. The
	// arena is filled first, as appending may move it.
	arena := s.seqArena[:0]
	ends := s.seqEnds[:0]
	for i := range rows {
		arena = append(arena, s.seqno[:s.seqnoLen]...)
		arena = strconv.AppendInt(arena, f.records+int64(i), 10)
		ends = append(ends, len(arena))
	}
	s.seqArena, s.seqEnds = arena, ends
	seq := cols[s.metaIdx[1]]
	start := 0
	for i, end := range ends {
		seq[i] = parquet.ByteArrayValue(arena[start:end:end]).Level(0, 1, s.metaIdx[1])
		start = end
	}
	fill(cols[s.metaIdx[0]], s.instantValue)
	fill(cols[s.metaIdx[3]], f.partitionValue)
	fill(cols[s.metaIdx[4]], f.nameValue)
	return cols
}

func fill(values []parquet.Value, v parquet.Value) {
	for i := range values {
		values[i] = v
	}
}

// afterWrite flushes f's row group or rolls f if they reached their size.
func (s *Set) afterWrite(f *file) error {
	size := f.enc.size()
	if size-f.count.n >= s.opts.rowGroupBytes {
		if err := f.enc.flush(); err != nil {
			return s.fail(fmt.Errorf("writer: flush row group of %s: %w", f.key, err))
		}
		size = f.enc.size()
	}
	if size >= s.opts.targetFileSize {
		// Uploaded by the next call that uploads (a write, RollIdle, Finish).
		return s.closeFile(f, "size")
	}
	return nil
}
