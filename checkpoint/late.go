package checkpoint

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/parquet-go/parquet-go"
)

// LatePolicy says what happens to a record later than the maximum lateness.
type LatePolicy int

const (
	// LateWrite writes it to its bucket like any late record.
	LateWrite LatePolicy = iota
	// LateDeadLetter sends it to the dead-letter queue (reason too_late).
	LateDeadLetter
)

// DefaultAllowedLateness is how far behind the watermark a record may be
// and still count as on time. The source's watermark is the minimum of the
// partitions' newest event times, so with none allowed every record of an
// ordinarily jittered stream that is older than the slowest partition's
// newest would take the late path (held in memory until the checkpoint,
// counted as late).
const DefaultAllowedLateness = 10 * time.Minute

// ReasonTooLate is the dead-letter reason of a record later than the
// maximum lateness under LateDeadLetter.
const ReasonTooLate = "too_late"

// Watermarker is implemented by sources that track an event-time watermark
// (source.Reader): the minimum event time of the active partitions minus
// the allowed out-of-orderness.
type Watermarker interface {
	Watermark() (micros int64, ok bool)
}

// lateRows holds the late rows of one bucket until they are written.
type lateRows struct {
	rows  []parquet.Row
	times []int64
}

// lateBuffer batches late records: a record older than the watermark minus
// the allowed lateness belongs to a bucket whose files have usually been
// rolled already, so writing it at once would open (and, past the open-file
// bound, close) a file per late record. Late rows are kept here, grouped by
// bucket, and written together at the next checkpoint, or earlier when
// they pass their memory bound: one file per late bucket per flush.
type lateBuffer struct {
	buckets map[string]*lateRows
	rows    int
	bytes   int64
}

func (l *lateBuffer) add(bucket string, row parquet.Row, eventTime int64) {
	if l.buckets == nil {
		l.buckets = map[string]*lateRows{}
	}
	b := l.buckets[bucket]
	if b == nil {
		b = &lateRows{}
		l.buckets[bucket] = b
	}
	row = row.Clone()
	b.rows = append(b.rows, row)
	b.times = append(b.times, eventTime)
	l.rows++
	l.bytes += rowBytes(row)
}

func (l *lateBuffer) reset() {
	clear(l.buckets)
	l.rows, l.bytes = 0, 0
}

// rowBytes estimates the memory of a cloned row.
func rowBytes(row parquet.Row) int64 {
	n := int64(len(row)) * 24 // parquet.Value
	for _, v := range row {
		if k := v.Kind(); k == parquet.ByteArray || k == parquet.FixedLenByteArray {
			n += int64(len(v.ByteArray()))
		}
	}
	return n
}

// eventClock is what the intake knows of event time: the source's
// watermark, read once per poll batch, against which a record is late, and
// the source to tell each written record's event time (it pauses
// partitions that run ahead). Set by Run, then used by the intake only
// (both with Coordinator.mu held).
type eventClock struct {
	allowed     time.Duration     // the allowed lateness
	observer    EventTimeObserver // the source, if it observes event times
	watermarker Watermarker       // the source, if it has a watermark
	wm          int64             // watermark at the start of the poll batch
	wmOK        bool
}

// attach takes the source's watermark and event-time observer, if it has
// them (Run).
func (e *eventClock) attach(src Source) {
	e.observer, _ = src.(EventTimeObserver)
	e.watermarker, _ = src.(Watermarker)
}

// refresh reads the source's watermark once per poll batch.
func (e *eventClock) refresh() {
	if e.watermarker == nil {
		e.wmOK = false
		return
	}
	e.wm, e.wmOK = e.watermarker.Watermark()
}

// observe tells the source a record of partition was written with
// eventTime.
func (e *eventClock) observe(partition int32, eventTime int64) {
	if e.observer != nil {
		e.observer.ObserveEventTime(partition, eventTime)
	}
}

// lateness classifies a record's event time against the watermark read at
// the start of the current poll batch: 0 means on time, otherwise how late
// it is beyond the allowed lateness.
func (e *eventClock) lateness(eventTime int64) time.Duration {
	if !e.wmOK {
		return 0
	}
	limit := e.wm - e.allowed.Microseconds()
	if eventTime >= limit {
		return 0
	}
	return time.Duration(e.wm-eventTime) * time.Microsecond
}

// flushLateLocked hands the buffered late rows to their workers, bucket by
// bucket, so that each worker writes a late bucket's rows together.
func (c *Coordinator) flushLateLocked(ctx context.Context) error {
	late := &c.in.late
	if late.rows == 0 {
		return nil
	}
	buckets := make([]string, 0, len(late.buckets))
	for b := range late.buckets {
		buckets = append(buckets, b)
	}
	slices.Sort(buckets)
	for _, bucket := range buckets {
		lr := late.buckets[bucket]
		w := c.cfg.Router.Worker(bucket)
		for i, row := range lr.rows {
			batch, err := c.pool.batchFor(ctx, w)
			if err != nil {
				return fmt.Errorf("flush late rows: %w", err)
			}
			batch.add(row, bucket, lr.times[i])
			if batch.len() >= c.opts.batchRows {
				if err := c.pool.send(ctx, w); err != nil {
					return fmt.Errorf("flush late rows: %w", err)
				}
			}
		}
	}
	c.stats.lateFlushes.Add(1)
	late.reset()
	return nil
}
