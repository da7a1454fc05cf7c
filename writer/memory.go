package writer

// The memory a Set holds (open files' buffers, staged rows, shared
// dictionary tables), which the worker's memory budget bounds, and
// FlushLargest, which frees the largest part of it.

import (
	"context"
	"fmt"
	"time"
)

// BufferedBytes estimates the memory the Set holds for its open files and
// staged rows. With parquetfile's encoder (flat schemas) it is the capacity
// of each open file's page buffers, encoded pages and dictionary arrays,
// plus the dictionary tables the files share while any is open. With
// parquet-go's (schemas with lists or maps) it is the length of each open
// file's buffered row group, which undercounts the heap (buffer capacity
// beyond length, parquet-go's buffer pools, dictionary hash tables):
// measured with 8 open files of a 16-column schema, the live heap was 1.4
// to 2 times BufferedBytes. Neither counts the zstd encoder (one per Set)
// or the spool buffers (256 KiB per open file).
func (s *Set) BufferedBytes() int64 {
	var n int64
	for _, f := range s.open {
		n += f.bufferedBytes()
	}
	return n + s.files.sharedBytes(len(s.open)) + s.stage.memory()
}

// FlushLargest frees the largest buffer: the row group of the open file
// with the most buffered bytes, written to its spool file (and its
// buffers released), or the staged rows, spilled to the spool, or the
// shared dictionary tables, dropped, if they hold more. It does nothing if
// nothing is buffered.
func (s *Set) FlushLargest(ctx context.Context) error {
	switch {
	case s.state == stateClosed:
		return ErrClosed
	case s.err != nil:
		return s.err
	}
	var largest *file
	var most int64
	for _, f := range s.open {
		if n := f.bufferedBytes(); n > most {
			largest, most = f, n
		}
	}
	if s.stage.memory() > most {
		return s.spillStage()
	}
	if s.files.sharedBytes(len(s.open)) > most {
		s.files.releaseShared()
		s.log.Debug("dictionary tables dropped for the memory budget", "bytes", most)
		return nil
	}
	if largest == nil {
		return nil
	}
	began := time.Now()
	if err := largest.enc.flush(); err != nil {
		return s.fail(fmt.Errorf("writer: flush row group of %s: %w", largest.key, err))
	}
	largest.enc.release()
	s.logSlowFlush(largest, most, time.Since(began))
	s.log.Debug("row group flushed for the memory budget", "key", largest.key, "bytes", most)
	return nil
}
