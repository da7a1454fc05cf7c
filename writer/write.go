package writer

// The write path: Write and WriteBatch check rows (shape.go), stage them
// (stage.go) or write them to their bucket's file, WriteBatch in runs
// (columns.go), and flush row groups and roll files when they reach their
// size.

import (
	"context"
	"fmt"

	"github.com/parquet-go/parquet-go"
)

// maxRunRows bounds the rows written to a file's column writers at once:
// sizes (row group flush, roll) are checked between runs, and a page may
// exceed the page buffer size by up to one run.
const maxRunRows = 256

// Write appends row to the open file of bucket (a partition path), opening
// one if needed (which rolls the least recently written file when
// MaxOpenFiles are open, or stages the row if that file is below the
// minimum size: see WithMinFileSize).
// row holds a value for every leaf column in column order (see
// parquet.Row); Write fills the commit time, sequence number, partition path
// and file name meta columns in its own copy, so row is neither modified nor
// retained. The record key must be set. eventTimeMicros feeds the file's
// event time range; pass NoEventTime if the record has none.
//
// Write returns nil if and only if the row was buffered. It may first upload
// files rolled earlier; an upload error is returned (the row is not written)
// and the files stay spooled for a later retry.
func (s *Set) Write(ctx context.Context, bucket string, row parquet.Row, eventTimeMicros int64) error {
	if err := s.usable(); err != nil {
		return err
	}
	if err := s.shape.check(row); err != nil {
		return err
	}
	if s.up.waiting() > 0 {
		if err := s.up.uploadPending(ctx); err != nil {
			return err
		}
	}
	if s.shouldStage(bucket) {
		rows, evts := [1]parquet.Row{row}, [1]int64{eventTimeMicros}
		return s.stageRows(bucket, rows[:], evts[:])
	}
	f, err := s.fileFor(ctx, bucket)
	if err != nil {
		return err
	}
	if err := f.enc.writeRows(s.fill.oneRow(f, row)); err != nil {
		return s.fail(fmt.Errorf("writer: write to %s: %w", f.key, err))
	}
	f.observe(row[s.shape.keyCol()].ByteArray(), eventTimeMicros)
	s.tick++
	f.lastWrite = s.tick
	return s.afterWrite(f)
}

// WriteBatch writes rows[i] to the open file of buckets[i] with event
// time eventTimes[i], in order, as that many calls of Write would, but
// column by column over runs of consecutive rows of the same bucket,
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
func (s *Set) WriteBatch(ctx context.Context, buckets []string, rows []parquet.Row, eventTimes []int64) (int, error) {
	if len(buckets) != len(rows) || len(eventTimes) != len(rows) {
		return 0, fmt.Errorf("writer: write batch: %d buckets, %d rows and %d event times", len(buckets), len(rows), len(eventTimes))
	}
	if err := s.usable(); err != nil {
		return 0, err
	}
	n := 0
	for n < len(rows) {
		if err := s.shape.check(rows[n]); err != nil {
			return n, err
		}
		if s.up.waiting() > 0 {
			if err := s.up.uploadPending(ctx); err != nil {
				return n, err
			}
		}
		if s.shouldStage(buckets[n]) {
			j := n + 1
			for j < len(rows) && buckets[j] == buckets[n] && s.shape.check(rows[j]) == nil {
				j++
			}
			if err := s.stageRows(buckets[n], rows[n:j], eventTimes[n:j]); err != nil {
				return n, err
			}
			n = j
			continue
		}
		f, err := s.fileFor(ctx, buckets[n])
		if err != nil {
			return n, err
		}
		// The run: the next valid rows of f's bucket, within the room left
		// before the next size check. An invalid row ends it; the next turn
		// returns its error.
		limit := min(len(rows)-n, s.runLimit(f))
		j := n + 1
		for j < n+limit && buckets[j] == f.bucket && s.shape.check(rows[j]) == nil {
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

// writeRows writes rows (valid) of one bucket to its file (opened if
// needed, rolling the least recently written one at the bound), in runs.
func (s *Set) writeRows(ctx context.Context, bucket string, rows []parquet.Row, eventTimes []int64) error {
	for n := 0; n < len(rows); {
		f, err := s.fileFor(ctx, bucket)
		if err != nil {
			return err
		}
		j := n + min(len(rows)-n, s.runLimit(f))
		if err := s.writeRun(f, rows[n:j], eventTimes[n:j]); err != nil {
			return err
		}
		n = j
		if err := s.afterWrite(f); err != nil {
			return err
		}
	}
	return nil
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
	room := min(s.opts.targetFileSize-size, s.opts.rowGroupBytes-(size-f.spool.written()), int64(s.opts.pageBufferSize)/8)
	return int(min(max(room/f.rowBytes+1, 1), maxRunRows))
}

// writeRun writes rows (valid, one bucket) to f column by column. Its
// errors are sticky: the columns may hold different numbers of rows.
func (s *Set) writeRun(f *file, rows []parquet.Row, eventTimes []int64) error {
	before := f.enc.size()
	err := f.enc.writeColumns(s.fill.columns(f, rows))
	s.fill.clear()
	if err != nil {
		return s.fail(fmt.Errorf("writer: write to %s: %w", f.key, err))
	}
	keyCol := s.shape.keyCol()
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

// afterWrite flushes f's row group or rolls f if they reached their size.
func (s *Set) afterWrite(f *file) error {
	size := f.enc.size()
	if size-f.spool.written() >= s.opts.rowGroupBytes {
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
