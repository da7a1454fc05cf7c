package checkpoint

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/lakestream/lakestream/schemas"
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

// intakeState is what the intake keeps between records and batches: how
// it makes a row's bucket (bucketPaths) and picks its worker (router), the
// event-time watermark (eventClock), the late rows (lateBuffer), the
// batch's counts and the scratch it decodes into. The intake runs on Run's
// goroutine (step) with Coordinator.mu held, which guards it; nothing else
// touches it but an abandoned checkpoint (the late rows, under the same
// lock).
type intakeState struct {
	paths      bucketPaths
	route      router
	clock      eventClock
	late       lateBuffer
	counts     intakeCounts
	rec        schemas.Record
	keyBuf     []byte // record key of a late row, before its row is cloned
	specWorker int    // the worker whose batch the next row is decoded into (see intakeOne)
	rowLen     int    // the values of a row (of a flat schema; nested rows may need more)
	// stopped: a batch was taken in only in part (a decode retry stopped
	// for shutdown): the source's positions are past records not taken in,
	// and must not be noted.
	stopped bool
}

// intake decodes, validates and routes a batch of records. Bad records go
// to the dead-letter queue with a reason; every record, good or bad,
// advances its partition's next offset.
func (c *Coordinator) intake(ctx context.Context, recs []*kgo.Record) error {
	if len(recs) > 0 {
		c.in.clock.refresh()
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
// (small Kafka partition numbers, in an array rather than a map).
type intakeCounts struct {
	records, bytes, rows int64
	next                 []int64 // by partition; 0: not advanced
	touched              []int32 // partitions with a next offset in next
}

// maxDensePartition bounds the partitions intakeCounts keeps in its array.
const maxDensePartition = 1 << 12

// advance records that partition's next offset is next.
func (c *Coordinator) advance(partition int32, next int64) {
	n := &c.in.counts
	if partition < 0 || partition >= maxDensePartition {
		c.kafka.advance(partition, next)
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
// the Kafka partitions' bookkeeping, which a checkpoint reads.
func (c *Coordinator) flushIntakeCounts() {
	n := &c.in.counts
	for _, p := range n.touched {
		c.kafka.advance(p, n.next[p])
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
	if !c.inst.lists(r.Partition) {
		// A partition assigned after the open instant began: its inflight
		// file does not list it, so a new owner of it could not fence this
		// instant. Commit what is open, and let the next instant list it.
		c.flushIntakeCounts()
		if err := c.checkpointLocked(ctx); err != nil {
			return err
		}
	}
	in := &c.in
	in.counts.records++
	in.counts.bytes += int64(len(r.Value))
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
	spec, err := c.pool.batchFor(ctx, in.specWorker)
	if err != nil {
		return err
	}
	rec := &in.rec
	for attempt := 0; ; attempt++ {
		rec.Row = spec.spare(in.rowLen)
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
			werr := sleepCtx(c.run.decodeCtx(ctx), backoff(c.opts.retryMin, c.opts.retryMax, attempt))
			if werr == nil && c.run.stopping() {
				werr = c.run.stop.Err()
			}
			if werr != nil {
				c.health.recovered(opDecode) // given up
				if ctx.Err() == nil && c.run.stopping() {
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
	in.clock.observe(r.Partition, eventTime)
	// Not a method of bucketPaths: the call would cost 24 instructions a
	// row (docs/benchmarks.md, "The pipeline before and after").
	bucket, err := in.paths.partitioner.Path(eventTime, true, in.paths.fieldValues(rec.Row))
	if err != nil {
		c.deadLetter(r, ReasonBadPartition, err.Error())
		return nil
	}
	late := in.clock.lateness(eventTime)
	if late > 0 && c.opts.maxLateness > 0 && late > c.opts.maxLateness && c.opts.beyondMax == LateDeadLetter {
		c.deadLetter(r, ReasonTooLate, fmt.Sprintf("event time %s is %v behind the watermark %s; the maximum lateness is %v",
			time.UnixMicro(eventTime).UTC().Format(time.RFC3339Nano), late.Round(time.Millisecond), time.UnixMicro(in.clock.wm).UTC().Format(time.RFC3339Nano), c.opts.maxLateness))
		return nil
	}
	if err := c.ensureTxn(ctx); err != nil {
		return err
	}
	if late > 0 {
		// Batched with the other late rows of its bucket (see lateBuffer).
		in.keyBuf = c.appendRecordKey(in.keyBuf[:0], r)
		c.cfg.Schema.SetMeta(rec.Row, schemas.MetaRecordKey, in.keyBuf)
		c.cfg.Schema.SetKafka(rec.Row, r.Partition, r.Offset, r.Timestamp.UnixMicro(), r.Key)
		in.late.add(bucket, rec.Row, eventTime)
		c.stats.late.Add(1)
		c.stats.lateBuffered.Store(int64(in.late.rows))
		in.counts.rows++
		if in.late.bytes >= c.opts.lateBufferBytes {
			if err := c.flushLateLocked(ctx); err != nil {
				return err
			}
			c.stats.lateBuffered.Store(0)
		}
		return nil
	}
	w := in.route.worker(bucket, r.Partition, r.Offset) // see router
	batch, err := c.pool.batchFor(ctx, w)
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
	in.specWorker = w
	in.counts.rows++
	if batch.len() >= c.opts.batchRows {
		return c.pool.send(ctx, w)
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

// deadLetter sends a record to the dead-letter queue and counts it.
func (c *Coordinator) deadLetter(r *kgo.Record, reason, detail string) {
	if len(detail) > maxDeadLetterDetail {
		detail = detail[:maxDeadLetterDetail]
	}
	c.cfg.DeadLetters.Send(r, reason, detail)
	c.stats.deadLetter(reason)
	c.opts.logger.Debug("dead-lettered a record", "partition", r.Partition, "offset", r.Offset, "reason", reason, "detail", detail)
}
