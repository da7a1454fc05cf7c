package checkpoint

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/lakestream/lakestream/bucketing"
	"github.com/lakestream/lakestream/schemas"
	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Dead-letter reasons the intake adds to the decoders' own.
const (
	ReasonTooLarge      = "too-large"
	ReasonBadTimestamp  = "bad-timestamp"
	ReasonBadPartition  = "bad-partition-value"
	ReasonNoEventTime   = "missing-event-time"
	maxDeadLetterDetail = 1024
	// MaxDeadLetterValue bounds the value of a too-large record in the
	// dead-letter topic; HeaderOriginalSize says how large it was.
	MaxDeadLetterValue = 64 << 10
	HeaderOriginalSize = "lakestream.original.size"
)

// templateField is a record field a partition template reads: a top-level
// scalar leaf of the row.
type templateField struct {
	name   string
	column int
	isTime bool
	isDate bool
}

func templateFields(ts *schemas.TableSchema, t *bucketing.Template) ([]templateField, error) {
	var out []templateField
	var errs []error
	for _, name := range t.Fields() {
		leaf, ok := ts.Parquet().Lookup(name)
		if !ok || leaf.MaxRepetitionLevel > 0 || !leaf.Node.Leaf() {
			errs = append(errs, fmt.Errorf("partition template reads %q: not a top-level scalar field of the schema", name))
			continue
		}
		f := templateField{name: name, column: leaf.ColumnIndex}
		if lt := leaf.Node.Type().LogicalType(); lt != nil {
			switch lt.Value.(type) {
			case *format.TimestampType:
				f.isTime = true
			case *format.DateType:
				f.isDate = true
			}
		}
		out = append(out, f)
	}
	return out, errors.Join(errs...)
}

// intake decodes, validates and routes a batch of records. Bad records go
// to the dead-letter queue with a reason; every record, good or bad,
// advances its partition's next offset.
func (c *Coordinator) intake(ctx context.Context, recs []*kgo.Record) error {
	if len(recs) > 0 {
		c.refreshWatermark()
	}
	defer c.flushIntakeCounts()
	for _, r := range recs {
		if err := c.intakeOne(ctx, r); err != nil {
			return err
		}
		c.advance(r.Partition, r.Offset+1)
	}
	return nil
}

// intakeCounts are what intake counts record by record and publishes once
// a batch (an atomic add per record and counter cost more than the
// routing), and the next offsets of the partitions the batch advanced
// (small partition numbers, in an array rather than c.next's map).
type intakeCounts struct {
	records, bytes, rows int64
	next                 []int64 // by partition; 0: not advanced
	touched              []int32 // partitions with a next offset in next
}

// maxDensePartition bounds the partitions intakeCounts keeps in its array.
const maxDensePartition = 1 << 12

// advance records that partition's next offset is next.
func (c *Coordinator) advance(partition int32, next int64) {
	n := &c.counts
	if partition < 0 || partition >= maxDensePartition {
		c.next[partition] = next
		return
	}
	if int(partition) >= len(n.next) {
		n.next = append(n.next, make([]int64, int(partition)+1-len(n.next))...)
	}
	if n.next[partition] == 0 {
		n.touched = append(n.touched, partition)
	}
	n.next[partition] = next
}

// flushIntakeCounts publishes the counts and moves the next offsets into
// c.next, which a checkpoint reads.
func (c *Coordinator) flushIntakeCounts() {
	n := &c.counts
	for _, p := range n.touched {
		c.next[p] = n.next[p]
		n.next[p] = 0
	}
	n.touched = n.touched[:0]
	if n.records > 0 {
		c.stats.records.Add(n.records)
		c.stats.bytes.Add(n.bytes)
		n.records, n.bytes = 0, 0
	}
	if n.rows > 0 {
		c.stats.rows.Add(n.rows)
		n.rows = 0
	}
}

func (c *Coordinator) intakeOne(ctx context.Context, r *kgo.Record) error {
	if c.txn != nil && c.txnParts != nil && !c.txnParts[r.Partition] {
		// A partition assigned after the open instant began: its inflight
		// file does not list it, so a new owner of it could not fence this
		// instant. Commit what is open, and let the next instant list it.
		c.flushIntakeCounts()
		if err := c.checkpointLocked(ctx); err != nil {
			return err
		}
	}
	c.counts.records++
	c.counts.bytes += int64(len(r.Value))
	if len(r.Value) > c.opts.maxRecordBytes {
		// The value itself may be too large for the dead-letter topic too:
		// keep its head and say how large it was.
		cp := *r
		cp.Value = r.Value[:min(len(r.Value), MaxDeadLetterValue)]
		cp.Headers = append(slices.Clone(r.Headers), kgo.RecordHeader{Key: HeaderOriginalSize, Value: strconv.AppendInt(nil, int64(len(r.Value)), 10)})
		c.deadLetter(&cp, ReasonTooLarge, fmt.Sprintf("value is %d bytes, the limit is %d; the first %d bytes are kept", len(r.Value), c.opts.maxRecordBytes, len(cp.Value)))
		return nil
	}
	// The row is decoded into the spare room of the batch it most likely
	// joins (that of the last row's worker): if it does, it is not copied.
	spec, err := c.batchFor(ctx, c.specWorker)
	if err != nil {
		return err
	}
	rec := &c.rec
	for attempt := 0; ; attempt++ {
		rec.Row = spec.spare(c.rowLen)
		err := c.cfg.Decoder.Decode(r.Value, rec)
		if err == nil {
			if attempt > 0 {
				c.health.recovered(opDecode)
			}
			break
		}
		if schemas.IsRetryable(err) {
			// The schema registry is down: wait, never dead-letter for it.
			msg := c.health.failed(opDecode, PhaseDecode, -1, err, true)
			c.opts.logger.Warn("decode needs a retry", "partition", r.Partition, "offset", r.Offset, "attempt", attempt, "err", msg)
			werr := sleepCtx(c.decodeCtx(ctx), backoff(c.opts.retryMin, c.opts.retryMax, attempt))
			if werr == nil && c.stop != nil && c.stop.Err() != nil {
				werr = c.stop.Err()
			}
			if werr != nil {
				c.health.recovered(opDecode) // given up
				if ctx.Err() == nil && c.stop != nil && c.stop.Err() != nil {
					// Shutting down: the records before this one are
					// taken in, and the final checkpoint commits them.
					c.opts.logger.Warn("shutting down: decode retry stopped; the record is read again at the next start", "partition", r.Partition, "offset", r.Offset)
					return errIntakeStopped
				}
				return werr
			}
			continue
		}
		var de *schemas.DecodeError
		reason := "undecodable"
		if errors.As(err, &de) {
			reason = de.Reason
		}
		c.deadLetter(r, reason, err.Error())
		return nil
	}
	eventTime, ok := rec.EventTime, rec.HasEventTime
	if c.cfg.Schema.EventTimeField() == "" {
		eventTime, ok = r.Timestamp.UnixMicro(), true
	}
	if !ok {
		c.deadLetter(r, ReasonNoEventTime, "field "+c.cfg.Schema.EventTimeField()+" is missing or null")
		return nil
	}
	if reason := c.checkEventTime(eventTime, r.Timestamp); reason != "" {
		c.deadLetter(r, ReasonBadTimestamp, reason)
		return nil
	}
	if c.observer != nil {
		c.observer.ObserveEventTime(r.Partition, eventTime)
	}
	values := c.fieldValues(rec.Row)
	bucket, err := c.partitioner.Path(eventTime, true, values)
	if err != nil {
		c.deadLetter(r, ReasonBadPartition, err.Error())
		return nil
	}
	late := c.lateness(eventTime)
	if late > 0 && c.opts.maxLateness > 0 && late > c.opts.maxLateness && c.opts.beyondMax == LateDeadLetter {
		c.deadLetter(r, ReasonTooLate, fmt.Sprintf("event time %s is %v behind the watermark %s; the maximum lateness is %v",
			time.UnixMicro(eventTime).UTC().Format(time.RFC3339Nano), late.Round(time.Millisecond), time.UnixMicro(c.wm).UTC().Format(time.RFC3339Nano), c.opts.maxLateness))
		return nil
	}
	if err := c.ensureTxn(ctx); err != nil {
		return err
	}
	if late > 0 {
		// Batched with the other late rows of its bucket (see lateBuffer).
		c.keyBuf = c.appendRecordKey(c.keyBuf[:0], r)
		c.cfg.Schema.SetMeta(rec.Row, schemas.MetaRecordKey, c.keyBuf)
		c.cfg.Schema.SetKafka(rec.Row, r.Partition, r.Offset, r.Timestamp.UnixMicro(), r.Key)
		c.late.add(bucket, rec.Row, eventTime)
		c.stats.late.Add(1)
		c.stats.lateBuffered.Store(int64(c.late.rows))
		c.counts.rows++
		if c.late.bytes >= c.opts.lateBufferBytes {
			if err := c.flushLateLocked(ctx); err != nil {
				return err
			}
			c.stats.lateBuffered.Store(0)
		}
		return nil
	}
	// A hot bucket is spread over several workers (bucketing.Router.Route),
	// each writing its own files; a partition's records stay in offset
	// order within each worker. Without hot buckets a bucket's worker is
	// fixed: the last one is remembered (the partitioner returns the same
	// string for the same hour, so the comparison is a pointer check).
	var w int
	switch {
	case c.hotSplit:
		w = c.cfg.Router.Route(bucket, bucketing.OffsetHash(r.Partition, r.Offset))
	case bucket == c.lastBucket && c.lastWorker >= 0:
		w = c.lastWorker
	default:
		w = c.cfg.Router.Worker(bucket)
		c.lastBucket, c.lastWorker = bucket, w
	}
	batch, err := c.batchFor(ctx, w)
	if err != nil {
		return err
	}
	// Record key topic-partition-offset, in the batch's arena.
	start := len(batch.arena)
	batch.arena = c.appendRecordKey(batch.arena, r)
	c.cfg.Schema.SetMeta(rec.Row, schemas.MetaRecordKey, batch.arena[start:len(batch.arena):len(batch.arena)])
	c.cfg.Schema.SetKafka(rec.Row, r.Partition, r.Offset, r.Timestamp.UnixMicro(), r.Key)
	if batch == spec && spec.inSpare(rec.Row) {
		batch.commit(rec.Row, bucket, eventTime)
	} else {
		batch.add(rec.Row, bucket, eventTime)
	}
	rec.Row = nil // the batch's now
	c.specWorker = w
	c.counts.rows++
	if batch.len() >= c.opts.batchRows {
		return c.send(ctx, w)
	}
	return nil
}

// opDecode is the retried decode, as Health lists it.
const opDecode = "decode (schema registry)"

// appendRecordKey appends the default record key, topic-partition-offset.
func (c *Coordinator) appendRecordKey(dst []byte, r *kgo.Record) []byte {
	dst = append(dst, c.cfg.Topic...)
	dst = append(dst, '-')
	dst = strconv.AppendInt(dst, int64(r.Partition), 10)
	dst = append(dst, '-')
	return strconv.AppendInt(dst, r.Offset, 10)
}

// checkEventTime returns why an event time is absurd, or "". The bounds are
// relative to the record's Kafka timestamp, not the clock, so that a replay
// decides the same.
func (c *Coordinator) checkEventTime(micros int64, kafkaTime time.Time) string {
	now := kafkaTime
	if now.IsZero() {
		now = c.opts.now()
	}
	t := time.UnixMicro(micros)
	if c.opts.maxPast > 0 && t.Before(now.Add(-c.opts.maxPast)) {
		return fmt.Sprintf("event time %s is more than %v before the record's Kafka timestamp", t.UTC().Format(time.RFC3339Nano), c.opts.maxPast)
	}
	if c.opts.maxFuture > 0 && t.After(now.Add(c.opts.maxFuture)) {
		return fmt.Sprintf("event time %s is more than %v after the record's Kafka timestamp", t.UTC().Format(time.RFC3339Nano), c.opts.maxFuture)
	}
	return ""
}

// fieldValues extracts the template's fields from a row.
func (c *Coordinator) fieldValues(row parquet.Row) []bucketing.Value {
	if len(c.fields) == 0 {
		return nil
	}
	vals := c.values[:0]
	for _, f := range c.fields {
		v := bucketing.Value{IsNull: true}
		for _, pv := range row {
			if pv.Column() != f.column {
				continue
			}
			switch {
			case pv.IsNull():
			case f.isTime:
				v = bucketing.Value{Time: pv.Int64(), IsTime: true}
			case f.isDate:
				v = bucketing.Value{Bytes: time.Unix(int64(pv.Int32())*86400, 0).UTC().AppendFormat(nil, "2006-01-02")}
			case pv.Kind() == parquet.ByteArray || pv.Kind() == parquet.FixedLenByteArray:
				v = bucketing.Value{Bytes: pv.ByteArray()}
			case pv.Kind() == parquet.Int32:
				v = bucketing.Value{Int: int64(pv.Int32()), IsInt: true}
			case pv.Kind() == parquet.Int64:
				v = bucketing.Value{Int: pv.Int64(), IsInt: true}
			case pv.Kind() == parquet.Boolean:
				v = bucketing.Value{Bytes: strconv.AppendBool(nil, pv.Boolean())}
			default:
				v = bucketing.Value{Bytes: []byte(pv.String())}
			}
			break
		}
		vals = append(vals, v)
	}
	c.values = vals
	return vals
}

// deadLetter sends a record to the dead-letter queue and counts it.
func (c *Coordinator) deadLetter(r *kgo.Record, reason, detail string) {
	if len(detail) > maxDeadLetterDetail {
		detail = detail[:maxDeadLetterDetail]
	}
	c.cfg.DeadLetters.Send(r, reason, detail)
	c.stats.deadLetter(reason)
	c.opts.logger.Debug("dead-lettered a record", "partition", r.Partition, "offset", r.Offset, "reason", reason, "detail", detail)
}

// batchFor returns the batch being filled for worker w.
func (c *Coordinator) batchFor(ctx context.Context, w int) (*rowBatch, error) {
	if b := c.filling[w]; b != nil {
		return b, nil
	}
	select {
	case b := <-c.workers[w].free:
		c.filling[w] = b
		return b, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// send hands worker w its filling batch.
func (c *Coordinator) send(ctx context.Context, w int) error {
	b := c.filling[w]
	if b == nil || b.len() == 0 {
		return nil
	}
	c.filling[w] = nil
	select {
	case c.workers[w].inbox <- workerMsg{kind: msgRows, batch: b}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func backoff(min, max time.Duration, attempt int) time.Duration {
	d := min
	for i := 0; i < attempt && d < max; i++ {
		d *= 2
	}
	return time.Duration(float64(d) * (0.8 + 0.4*jitter()))
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
