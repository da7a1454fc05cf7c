package writer

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/deprecated"
)

// stage holds the rows of buckets that get no open file because the
// open-file bound is reached and rolling the least recently written file
// would cut it below the minimum file size. Rows are kept encoded (see
// appendStagedRow), a bucket's bytes in memory until the stage memory is
// exceeded or FlushLargest picks them, then appended to one spill file in
// the spool directory. Finish writes each staged bucket to its file, one
// bucket at a time, so the number of Parquet writers stays bounded however
// many buckets a checkpoint touches. The format is in docs/format/stage.md.
type stage struct {
	buckets map[string]*stagedBucket
	order   []*stagedBucket // in the order they were first staged
	next    int             // order[:next] are written (drainStage)
	mem     int64           // bytes held in memory: the capacity of the buckets' buffers
	rows    int64           // rows staged since Begin (kept by Finish, reset by Begin and Abort)

	spill     *os.File // created on the first spill, reused across checkpoints
	spillPath string
	spillSize int64

	read   []byte          // scratch: one chunk read back
	values []parquet.Value // scratch: the decoded values of a run
	decRow []parquet.Row   // scratch: the decoded rows of a run
	decEvt []int64         // scratch: their event times
}

// stagedBucket is the staged rows of one bucket: chunks spilled to the
// spill file, in order, then buf in memory.
type stagedBucket struct {
	partition string
	buf       []byte
	chunks    []spillChunk
}

type spillChunk struct{ off, n int64 }

// stageRows appends rows (valid, all of partition) to the stage, spilling
// the stage to disk if its memory passes the bound.
func (s *Set) stageRows(partition string, rows []parquet.Row, eventTimes []int64) error {
	st := &s.stage
	if st.buckets == nil {
		st.buckets = make(map[string]*stagedBucket)
	}
	b := st.buckets[partition]
	if b == nil {
		if err := ValidatePartition(partition); err != nil {
			return err
		}
		b = &stagedBucket{partition: partition}
		st.buckets[partition] = b
		st.order = append(st.order, b)
	}
	before := cap(b.buf)
	for i, row := range rows {
		b.buf = appendStagedRow(b.buf, row, eventTimes[i])
	}
	st.rows += int64(len(rows))
	st.mem += int64(cap(b.buf) - before)
	if st.mem > s.opts.stageMemory {
		return s.spillStage()
	}
	return nil
}

// spillStage appends every staged bucket's in-memory rows to the spill
// file and releases their memory. A failure is sticky: staged rows are lost.
func (s *Set) spillStage() error {
	st := &s.stage
	if st.mem == 0 {
		return nil
	}
	if st.spill == nil {
		f, err := os.CreateTemp(s.opts.spoolDir, SpoolPrefix+"stage-*")
		if err != nil {
			return s.fail(fmt.Errorf("writer: create stage spill file: %w", err))
		}
		st.spill, st.spillPath, st.spillSize = f, f.Name(), 0
	}
	spilled := st.mem
	for _, b := range st.order[st.next:] { // order[:next] are drained (nil)
		if len(b.buf) == 0 {
			continue
		}
		if _, err := st.spill.WriteAt(b.buf, st.spillSize); err != nil {
			return s.fail(fmt.Errorf("writer: spill staged rows to %s: %w", st.spillPath, err))
		}
		b.chunks = append(b.chunks, spillChunk{off: st.spillSize, n: int64(len(b.buf))})
		st.spillSize += int64(len(b.buf))
		st.mem -= int64(cap(b.buf))
		b.buf = nil // release: a spilled bucket may never get another row
	}
	s.log.Debug("staged rows spilled", "bytes", spilled, "spill", st.spillPath, "spill_bytes", st.spillSize)
	return nil
}

// drainStage writes the staged buckets to their files, in the order they
// were staged, each into a new file closed once the bucket is written (a
// staged bucket never has an open file: shouldStage keeps it staged; Finish
// closes every file anyway, closing at once bounds the writers). Files are uploaded between buckets,
// never in the middle of one, so after an upload error (returned, and
// retriable) a later call resumes with the first bucket not written.
func (s *Set) drainStage(ctx context.Context) error {
	st := &s.stage
	s.draining = true
	defer func() { s.draining = false }()
	for st.next < len(st.order) {
		// Closed files wait until a batch of them can be uploaded at once.
		if len(s.pending) >= s.opts.uploadConcurrency {
			if err := s.uploadPending(ctx); err != nil {
				return err
			}
		}
		b := st.order[st.next]
		for _, c := range b.chunks {
			buf := st.read[:0]
			if int64(cap(buf)) < c.n {
				buf = make([]byte, c.n)
			}
			buf = buf[:c.n]
			if _, err := st.spill.ReadAt(buf, c.off); err != nil {
				return s.fail(fmt.Errorf("writer: read staged rows of %s from %s: %w", b.partition, st.spillPath, err))
			}
			st.read = buf
			if err := s.writeStaged(ctx, b.partition, buf); err != nil {
				return s.fail(err)
			}
		}
		// Any error in the middle of a bucket sticks (a file may already
		// hold part of it): a retried Finish must not write it again.
		if err := s.writeStaged(ctx, b.partition, b.buf); err != nil {
			return s.fail(err)
		}
		if f := s.open[b.partition]; f != nil {
			if err := s.closeFile(f, "finish"); err != nil {
				return err
			}
		}
		st.mem -= int64(cap(b.buf))
		st.order[st.next] = nil
		delete(st.buckets, b.partition)
		st.next++
	}
	s.resetStage()
	return nil
}

// writeStaged decodes encoded rows of partition and writes them in runs.
func (s *Set) writeStaged(ctx context.Context, partition string, data []byte) error {
	st := &s.stage
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
				return s.fail(fmt.Errorf("writer: staged rows of %s in %s: %w", partition, st.spillPath, err))
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
		if err := s.writeRows(ctx, partition, rows, evts); err != nil {
			return err
		}
	}
	return nil
}

// writeRows writes rows of one partition to its file (opened if needed,
// rolling the least recently written one at the bound), in runs.
func (s *Set) writeRows(ctx context.Context, partition string, rows []parquet.Row, eventTimes []int64) error {
	for n := 0; n < len(rows); {
		f, err := s.fileFor(ctx, partition)
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

// resetStage forgets the staged rows and truncates the spill file.
func (s *Set) resetStage() {
	st := &s.stage
	clear(st.buckets)
	clear(st.order)
	st.order = st.order[:0]
	st.next, st.mem = 0, 0
	if st.spill != nil && st.spillSize > 0 {
		if err := st.spill.Truncate(0); err != nil {
			// A file that cannot be truncated is replaced by a new one.
			s.log.Warn("truncate stage spill file", "path", st.spillPath, "error", err)
			_ = s.closeSpill()
		}
	}
	st.spillSize = 0
	if cap(st.read) > 4<<20 {
		st.read = nil
	}
}

// closeSpill closes and removes the spill file.
func (s *Set) closeSpill() error {
	st := &s.stage
	if st.spill == nil {
		return nil
	}
	err := st.spill.Close()
	if rmErr := os.Remove(st.spillPath); rmErr != nil && !os.IsNotExist(rmErr) && err == nil {
		err = rmErr
	}
	st.spill, st.spillPath, st.spillSize = nil, "", 0
	return err
}

// shouldStage reports whether a row of partition should be staged: the
// bucket has staged rows already (it stays staged until Finish, so its
// rows keep their order), or it has no open file, MaxOpenFiles are open,
// and the least recently written file is below the minimum file size
// (rolling it would cut a small file).
func (s *Set) shouldStage(partition string) bool {
	if len(s.stage.order) > 0 {
		if _, staged := s.stage.buckets[partition]; staged {
			return true
		}
	}
	if len(s.open) < s.maxOpen || s.opts.minFileSize == 0 {
		return false
	}
	if s.last != nil && s.last.partition == partition {
		return false
	}
	if s.open[partition] != nil {
		return false
	}
	return s.lru().enc.size() < min(s.opts.minFileSize, s.opts.targetFileSize)
}

// StagedBuckets returns the number of buckets with staged rows now and
// the number of rows staged since Begin (written by Finish or not).
func (s *Set) StagedBuckets() (buckets int, rows int64) {
	return len(s.stage.order), s.stage.rows
}

// A staged row, in the stage's memory and spill file:
//
//	uvarint  number of values
//	varint   event time (microseconds; NoEventTime if none)
//	per value:
//	  uvarint column index
//	  byte    repetition level
//	  byte    definition level
//	  byte    0 for null, else parquet.Kind + 1
//	  payload by kind: boolean 1 byte; int32 and float 4 bytes, int64 and
//	          double 8 bytes, int96 12 bytes (little endian); byte arrays
//	          uvarint length then the bytes
func appendStagedRow(dst []byte, row parquet.Row, eventTime int64) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(row)))
	dst = binary.AppendVarint(dst, eventTime)
	for _, v := range row {
		dst = binary.AppendUvarint(dst, uint64(v.Column()))
		dst = append(dst, byte(v.RepetitionLevel()), byte(v.DefinitionLevel()))
		if v.IsNull() {
			dst = append(dst, 0)
			continue
		}
		k := v.Kind()
		dst = append(dst, byte(k)+1)
		switch k {
		case parquet.Boolean:
			b := byte(0)
			if v.Boolean() {
				b = 1
			}
			dst = append(dst, b)
		case parquet.Int32:
			dst = binary.LittleEndian.AppendUint32(dst, uint32(v.Int32()))
		case parquet.Float:
			dst = binary.LittleEndian.AppendUint32(dst, math.Float32bits(v.Float()))
		case parquet.Int64:
			dst = binary.LittleEndian.AppendUint64(dst, uint64(v.Int64()))
		case parquet.Double:
			dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(v.Double()))
		case parquet.Int96:
			i := v.Int96()
			dst = binary.LittleEndian.AppendUint32(dst, i[0])
			dst = binary.LittleEndian.AppendUint32(dst, i[1])
			dst = binary.LittleEndian.AppendUint32(dst, i[2])
		default: // ByteArray, FixedLenByteArray
			b := v.ByteArray()
			dst = binary.AppendUvarint(dst, uint64(len(b)))
			dst = append(dst, b...)
		}
	}
	return dst
}

var errStagedRow = errors.New("corrupt staged row")

// decodeStagedRow appends the values of the row at the start of data to
// values and returns them with the row's event time and the rest of data.
// Byte array values point into data.
func decodeStagedRow(values []parquet.Value, data []byte) ([]parquet.Value, int64, []byte, error) {
	n, k := binary.Uvarint(data)
	if k <= 0 || n > uint64(len(data)) {
		return values, 0, data, fmt.Errorf("%w: value count", errStagedRow)
	}
	data = data[k:]
	evt, k := binary.Varint(data)
	if k <= 0 {
		return values, 0, data, fmt.Errorf("%w: event time", errStagedRow)
	}
	data = data[k:]
	for range n {
		col, k := binary.Uvarint(data)
		if k <= 0 || col > parquet.MaxColumnIndex || len(data) < k+3 {
			return values, 0, data, fmt.Errorf("%w: value header", errStagedRow)
		}
		rep, def, tag := int(data[k]), int(data[k+1]), data[k+2]
		data = data[k+3:]
		var v parquet.Value
		width := 0
		switch parquet.Kind(tag) - 1 {
		case -1:
			v = parquet.NullValue()
		case parquet.Boolean:
			width = 1
		case parquet.Int32, parquet.Float:
			width = 4
		case parquet.Int64, parquet.Double:
			width = 8
		case parquet.Int96:
			width = 12
		case parquet.ByteArray, parquet.FixedLenByteArray:
			l, k := binary.Uvarint(data)
			if k <= 0 || l > uint64(len(data)-k) {
				return values, 0, data, fmt.Errorf("%w: byte array length", errStagedRow)
			}
			b := data[k : k+int(l) : k+int(l)]
			data = data[k+int(l):]
			if parquet.Kind(tag)-1 == parquet.ByteArray {
				v = parquet.ByteArrayValue(b)
			} else {
				v = parquet.FixedLenByteArrayValue(b)
			}
		default:
			return values, 0, data, fmt.Errorf("%w: kind tag %d", errStagedRow, tag)
		}
		if width > 0 {
			if len(data) < width {
				return values, 0, data, fmt.Errorf("%w: truncated value", errStagedRow)
			}
			p := data[:width]
			data = data[width:]
			switch parquet.Kind(tag) - 1 {
			case parquet.Boolean:
				v = parquet.BooleanValue(p[0] != 0)
			case parquet.Int32:
				v = parquet.Int32Value(int32(binary.LittleEndian.Uint32(p)))
			case parquet.Float:
				v = parquet.FloatValue(math.Float32frombits(binary.LittleEndian.Uint32(p)))
			case parquet.Int64:
				v = parquet.Int64Value(int64(binary.LittleEndian.Uint64(p)))
			case parquet.Double:
				v = parquet.DoubleValue(math.Float64frombits(binary.LittleEndian.Uint64(p)))
			case parquet.Int96:
				v = parquet.Int96Value(deprecated.Int96{binary.LittleEndian.Uint32(p), binary.LittleEndian.Uint32(p[4:]), binary.LittleEndian.Uint32(p[8:])})
			}
		}
		values = append(values, v.Level(rep, def, int(col)))
	}
	return values, evt, data, nil
}
