package writer

// The stage: the rows of buckets that get no open file, because the
// open-file bound is reached and rolling the least recently written file
// would cut it below the minimum file size. They are kept encoded
// (stagedrow.go) in memory, spilled to one spool file past the stage memory
// or when FlushLargest picks them, and read back bucket by bucket at Finish,
// so the number of Parquet writers stays bounded however many buckets a
// checkpoint touches. The format is in docs/format/stage.md.

import (
	"fmt"
	"log/slog"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/parquet-go/parquet-go"
)

// stage holds the staged rows of one Set.
type stage struct {
	spool *spool
	limit int64 // WithStageMemory
	log   *slog.Logger

	buckets map[string]*stagedBucket
	order   []*stagedBucket // in the order they were first staged
	next    int             // order[:next] are drained (nil)
	mem     int64           // bytes held in memory: the capacity of the buckets' buffers
	rows    int64           // rows staged since Begin (kept by Finish, reset by Begin and Abort)

	spillFile vfs.File // created on the first spill, reused across checkpoints
	spillPath string
	spillSize int64

	read   []byte          // scratch: one chunk read back
	values []parquet.Value // scratch: the decoded values of a run
	decRow []parquet.Row   // scratch: the decoded rows of a run
	decEvt []int64         // scratch: their event times
}

// newStage stages rows in memory up to WithStageMemory, spilling to sp.
func newStage(sp *spool, o *options) stage {
	return stage{spool: sp, limit: o.stageMemory, log: o.logger}
}

// stagedBucket is the staged rows of one bucket: chunks spilled to the
// spill file, in order, then buf in memory.
type stagedBucket struct {
	bucket string
	buf    []byte
	chunks []spillChunk
}

type spillChunk struct{ off, n int64 }

// has reports whether bucket has staged rows not drained yet.
func (st *stage) has(bucket string) bool {
	if len(st.order) == 0 {
		return false
	}
	_, staged := st.buckets[bucket]
	return staged
}

// count returns the number of buckets staged (drained ones included until
// the stage is reset) and of rows staged since begin.
func (st *stage) count() (buckets int, rows int64) { return len(st.order), st.rows }

// memory is the bytes the staged rows hold in memory.
func (st *stage) memory() int64 { return st.mem }

// begin starts the count of rows of a checkpoint.
func (st *stage) begin() { st.rows = 0 }

// add appends rows (valid, all of bucket) to the stage. It reports whether
// the stage's memory passed its bound: the caller spills it then.
func (st *stage) add(bucket string, rows []parquet.Row, eventTimes []int64) (full bool) {
	if st.buckets == nil {
		st.buckets = make(map[string]*stagedBucket)
	}
	b := st.buckets[bucket]
	if b == nil {
		b = &stagedBucket{bucket: bucket}
		st.buckets[bucket] = b
		st.order = append(st.order, b)
	}
	before := cap(b.buf)
	for i, row := range rows {
		b.buf = appendStagedRow(b.buf, row, eventTimes[i])
	}
	st.rows += int64(len(rows))
	st.mem += int64(cap(b.buf) - before)
	return st.mem > st.limit
}

// spill appends every staged bucket's in-memory rows to the spill file and
// releases their memory. After an error, staged rows may be lost.
func (st *stage) spill() error {
	if st.mem == 0 {
		return nil
	}
	if st.spillFile == nil {
		f, name, err := st.spool.create("stage-", "")
		if err != nil {
			return fmt.Errorf("writer: create stage spill file: %w", err)
		}
		st.spillFile, st.spillPath, st.spillSize = f, name, 0
	}
	spilled := st.mem
	for _, b := range st.order[st.next:] { // order[:next] are drained (nil)
		if len(b.buf) == 0 {
			continue
		}
		if _, err := st.spillFile.WriteAt(b.buf, st.spillSize); err != nil {
			return fmt.Errorf("writer: spill staged rows to %s: %w", st.spillPath, err)
		}
		b.chunks = append(b.chunks, spillChunk{off: st.spillSize, n: int64(len(b.buf))})
		st.spillSize += int64(len(b.buf))
		st.mem -= int64(cap(b.buf))
		b.buf = nil // release: a spilled bucket may never get another row
	}
	st.log.Debug("staged rows spilled", "bytes", spilled, "spill", st.spillPath, "spill_bytes", st.spillSize)
	return nil
}

// nextBucket returns the first staged bucket not drained, nil if none.
func (st *stage) nextBucket() *stagedBucket {
	if st.next < len(st.order) {
		return st.order[st.next]
	}
	return nil
}

// replay calls write with the rows of b, in the order they were staged
// (first those spilled, read back, then those in memory), in runs of at
// most maxRunRows. The rows are valid until write returns.
func (st *stage) replay(b *stagedBucket, write func(rows []parquet.Row, eventTimes []int64) error) error {
	for _, c := range b.chunks {
		buf := st.read[:0]
		if int64(cap(buf)) < c.n {
			buf = make([]byte, c.n)
		}
		buf = buf[:c.n]
		if _, err := st.spillFile.ReadAt(buf, c.off); err != nil {
			return fmt.Errorf("writer: read staged rows of %s from %s: %w", b.bucket, st.spillPath, err)
		}
		st.read = buf
		if err := st.decode(b.bucket, buf, write); err != nil {
			return err
		}
	}
	return st.decode(b.bucket, b.buf, write)
}

// decode decodes the encoded rows of bucket in data and writes them in
// runs.
func (st *stage) decode(bucket string, data []byte, write func(rows []parquet.Row, eventTimes []int64) error) error {
	for len(data) > 0 {
		rows, evts := st.decRow[:0], st.decEvt[:0]
		values := st.values[:0]
		for len(data) > 0 && len(rows) < maxRunRows {
			var (
				row parquet.Row
				evt int64
				err error
			)
			start := len(values)
			values, evt, data, err = decodeStagedRow(values, data)
			if err != nil {
				return fmt.Errorf("writer: staged rows of %s in %s: %w", bucket, st.spillPath, err)
			}
			row = values[start:len(values):len(values)]
			rows = append(rows, row)
			evts = append(evts, evt)
		}
		// Rows point into values, which may have moved while growing:
		// re-slice them from the final array.
		off := 0
		for i := range rows {
			n := len(rows[i])
			rows[i] = values[off : off+n : off+n]
			off += n
		}
		st.values, st.decRow, st.decEvt = values, rows, evts
		if err := write(rows, evts); err != nil {
			return err
		}
	}
	return nil
}

// drained marks b, the bucket nextBucket returned, written.
func (st *stage) drained(b *stagedBucket) {
	st.mem -= int64(cap(b.buf))
	st.order[st.next] = nil
	delete(st.buckets, b.bucket)
	st.next++
}

// reset forgets the staged rows (not their count) and truncates the spill
// file.
func (st *stage) reset() {
	clear(st.buckets)
	clear(st.order)
	st.order = st.order[:0]
	st.next, st.mem = 0, 0
	if st.spillFile != nil && st.spillSize > 0 {
		if t, ok := st.spillFile.(interface{ Truncate(int64) error }); !ok {
			_ = st.close() // a filesystem without truncate: a new file at the next spill
		} else if err := t.Truncate(0); err != nil {
			// A file that cannot be truncated is replaced by a new one.
			st.log.Warn("truncate stage spill file", "path", st.spillPath, "error", err)
			_ = st.close()
		}
	}
	st.spillSize = 0
	if cap(st.read) > 4<<20 {
		st.read = nil
	}
}

// abort forgets the staged rows and their count.
func (st *stage) abort() {
	st.reset()
	st.rows = 0
}

// close closes and removes the spill file.
func (st *stage) close() error {
	if st.spillFile == nil {
		return nil
	}
	err := st.spillFile.Close()
	if rmErr := st.spool.remove(st.spillPath); rmErr != nil && err == nil {
		err = rmErr
	}
	st.spillFile, st.spillPath, st.spillSize = nil, "", 0
	return err
}
