package source

import (
	"slices"

	"github.com/twmb/franz-go/pkg/kgo"
)

// rrBuffer holds fetched records in one queue per partition and hands them
// out round-robin, in chunks, so that one Poll is shared between all
// partitions that have records instead of being filled by whichever broker
// answered first. It also tracks each partition's position: the offset after
// the last record handed out or control record skipped.
//
// Fairness: every partition has a quota per drain (maxRecs records and
// maxBytes bytes, 0 = unlimited), so a partition with a large backlog gets no
// more of a Poll than its quota however much it has queued; a held partition
// (paused for event-time skew) keeps its queue but hands nothing out. The
// queued bytes per partition (queuedBytes) are what the Reader pauses and
// resumes fetching on.
//
// rrBuffer is not safe for concurrent use; the Reader guards it.
type rrBuffer struct {
	queues map[int32]*partQueue
	sorted []int32 // keys of queues, ascending: the round-robin ring
	cursor int32   // the partition the next drain starts at (or the next one above it)
	n      int     // data records queued (control records excluded)

	maxRecs  int // per-partition record quota of one drain; 0 = unlimited
	maxBytes int // per-partition byte quota of one drain; 0 = unlimited
	drains   uint64
}

type partQueue struct {
	recs  []*kgo.Record // recs[head:] are queued
	head  int
	data  int   // data records in recs[head:]
	bytes int   // recordSize of the data records in recs[head:]
	pos   int64 // next offset to hand out; -1 while unknown
	end   int64 // offset after the last record queued (or pos); -1 while unknown
	held  bool  // hand nothing out (the Reader paused it for event-time skew)

	// Handed out since the partition was (re)assigned.
	readRecs  int64
	readBytes int64
	lastDrain uint64 // the drain (rrBuffer.drains) that last handed a record out

	// Quota use in the current drain.
	tookRecs  int
	tookBytes int
	full      bool // quota used up in the current drain
}

// recordSize is what a record counts against byte quotas and buffers: its
// key, value and headers (franz-go's own accounting of user bytes).
func recordSize(r *kgo.Record) int {
	n := len(r.Key) + len(r.Value)
	for _, h := range r.Headers {
		n += len(h.Key) + len(h.Value)
	}
	return n
}

func newRRBuffer() *rrBuffer {
	return &rrBuffer{queues: make(map[int32]*partQueue)}
}

// setQuotas sets the per-partition quotas of one drain (0 = unlimited).
func (b *rrBuffer) setQuotas(maxRecs, maxBytes int) {
	b.maxRecs, b.maxBytes = maxRecs, maxBytes
}

// assign starts tracking partition p at position pos, dropping anything
// queued for it.
func (b *rrBuffer) assign(p int32, pos int64) {
	b.drop(p)
	q := b.queue(p)
	q.pos, q.end = pos, pos
}

func (b *rrBuffer) queue(p int32) *partQueue {
	q, ok := b.queues[p]
	if !ok {
		q = &partQueue{pos: -1, end: -1}
		b.queues[p] = q
		i, _ := slices.BinarySearch(b.sorted, p)
		b.sorted = slices.Insert(b.sorted, i, p)
	}
	return q
}

// drop forgets partition p: its queued records and its position.
func (b *rrBuffer) drop(p int32) {
	q, ok := b.queues[p]
	if !ok {
		return
	}
	b.n -= q.data
	delete(b.queues, p)
	if i, found := slices.BinarySearch(b.sorted, p); found {
		b.sorted = slices.Delete(b.sorted, i, i+1)
	}
}

// discard drops the records queued for partition p but keeps its position.
func (b *rrBuffer) discard(p int32) {
	q, ok := b.queues[p]
	if !ok {
		return
	}
	b.n -= q.data
	clear(q.recs)
	q.recs, q.head, q.data, q.bytes = q.recs[:0], 0, 0, 0
	q.end = q.pos
}

// push queues the records of one fetched partition (in offset order). It
// drops, and returns how many, the records below the end of what was
// already queued or handed out: a fetch that went back. Pausing never
// causes one (franz-go fetches a paused partition again from right after
// the last record it returned), but franz-go's reset of an offset the
// broker calls out of range (after a leader change or an unclean election,
// the log start) does, and handing those records out again would write
// them twice: a partition's offsets are handed out once, in order.
func (b *rrBuffer) push(p int32, recs []*kgo.Record) (rewound int) {
	if len(recs) == 0 {
		return 0
	}
	q := b.queue(p)
	if q.head > 0 { // compact before growing
		n := copy(q.recs, q.recs[q.head:])
		clear(q.recs[n:])
		q.recs, q.head = q.recs[:n], 0
	}
	for _, r := range recs {
		if q.end >= 0 && r.Offset < q.end {
			rewound++
			continue
		}
		q.end = r.Offset + 1
		q.recs = append(q.recs, r)
		if !r.Attrs.IsControl() {
			q.data++
			q.bytes += recordSize(r)
			b.n++
		}
	}
	q.skipControl()
	return rewound
}

// skipControl consumes control records at the head of the queue: nothing
// before them is still to be handed out, so the position moves past them.
func (q *partQueue) skipControl() {
	for q.head < len(q.recs) && q.recs[q.head].Attrs.IsControl() {
		q.pos = q.recs[q.head].Offset + 1
		q.recs[q.head] = nil
		q.head++
	}
	if q.head == len(q.recs) {
		q.recs, q.head = q.recs[:0], 0
	}
}

// take moves up to k data records of q to out, within maxBytes bytes in this
// drain (0 = unlimited; the first record of a drain is always taken, however
// large), and returns how many it moved.
func (q *partQueue) take(k, maxBytes int, out []*kgo.Record) ([]*kgo.Record, int) {
	q.skipControl()
	got := 0
	for got < k && q.head < len(q.recs) {
		r := q.recs[q.head]
		size := recordSize(r)
		if maxBytes > 0 && q.tookRecs > 0 && q.tookBytes+size > maxBytes {
			q.full = true
			break
		}
		q.recs[q.head] = nil
		q.head++
		q.pos = r.Offset + 1
		out = append(out, r)
		got++
		q.tookRecs++
		q.tookBytes += size
		q.bytes -= size
		q.readRecs++
		q.readBytes += int64(size)
		q.skipControl() // the position moves past markers right behind a record
	}
	q.data -= got
	q.skipControl()
	return out, got
}

// drain hands out up to limit records. Each pass over the partitions that
// have records (and are not held, and have quota left) gives every one of
// them an equal share (rounded up) of what is left of the limit, capped by
// its quota, so with P busy partitions a Poll holds about limit/P records of
// each, never more than a partition's quota, in per-partition chunks,
// partition order preserved. The pass starts where the previous drain
// stopped, so a partition that was cut short by the limit goes first next
// time.
func (b *rrBuffer) drain(limit int) []*kgo.Record {
	if limit <= 0 || b.n == 0 {
		return nil
	}
	b.drains++
	for _, q := range b.queues {
		q.tookRecs, q.tookBytes, q.full = 0, 0, false
	}
	var out []*kgo.Record
	for limit > 0 && b.n > 0 {
		active := b.active()
		if len(active) == 0 {
			break
		}
		if out == nil {
			out = make([]*kgo.Record, 0, min(limit, b.n))
		}
		share := (limit + len(active) - 1) / len(active)
		for _, p := range active {
			q := b.queues[p]
			lim := limit
			want := min(share, limit)
			if b.maxRecs > 0 {
				want = min(want, b.maxRecs-q.tookRecs)
			}
			var got int
			out, got = q.take(want, b.maxBytes, out)
			b.n -= got
			limit -= got
			if got > 0 {
				q.lastDrain = b.drains
			}
			if got < want || (b.maxRecs > 0 && q.tookRecs >= b.maxRecs) {
				q.full = true // quota used up (or queue empty)
			}
			if lim < share && q.data > 0 && !q.full { // cut short by the limit: first next time
				b.cursor = p
			} else {
				b.cursor = p + 1
			}
			if limit == 0 {
				break
			}
		}
	}
	return out
}

// active lists the partitions with queued data records that are not held
// and have quota left in this drain, starting at the cursor and wrapping
// around.
func (b *rrBuffer) active() []int32 {
	start, _ := slices.BinarySearch(b.sorted, b.cursor)
	out := make([]int32, 0, len(b.sorted))
	for i := range b.sorted {
		p := b.sorted[(start+i)%len(b.sorted)]
		if q := b.queues[p]; q.data > 0 && !q.held && !q.full {
			out = append(out, p)
		}
	}
	return out
}

// buffered is the number of data records queued.
func (b *rrBuffer) buffered() int { return b.n }

// drainable is the number of data records queued in partitions not held.
func (b *rrBuffer) drainable() int {
	n := b.n
	for _, q := range b.queues {
		if q.held {
			n -= q.data
		}
	}
	return n
}

// hold stops (or restarts) handing out partition p's queued records.
func (b *rrBuffer) hold(p int32, held bool) {
	if q, ok := b.queues[p]; ok {
		q.held = held
	}
}

// queued is the number of data records queued for partition p.
func (b *rrBuffer) queued(p int32) int {
	if q, ok := b.queues[p]; ok {
		return q.data
	}
	return 0
}

// queuedBytes is the size of the data records queued for partition p.
func (b *rrBuffer) queuedBytes(p int32) int {
	if q, ok := b.queues[p]; ok {
		return q.bytes
	}
	return 0
}

// position is partition p's next offset, or -1 if p is unknown or its
// position is not known yet.
func (b *rrBuffer) position(p int32) int64 {
	if q, ok := b.queues[p]; ok {
		return q.pos
	}
	return -1
}
