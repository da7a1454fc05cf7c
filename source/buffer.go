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
// It is the place for per-partition fairness to grow: a quota per partition
// would cap take() in drain, and per-partition queue lengths (queued) are
// what pause/resume of fetching would be decided on.
//
// rrBuffer is not safe for concurrent use; the Reader guards it.
type rrBuffer struct {
	queues map[int32]*partQueue
	sorted []int32 // keys of queues, ascending: the round-robin ring
	cursor int32   // the partition the next drain starts at (or the next one above it)
	n      int     // data records queued (control records excluded)
}

type partQueue struct {
	recs []*kgo.Record // recs[head:] are queued
	head int
	data int   // data records in recs[head:]
	pos  int64 // next offset to hand out; -1 while unknown
}

func newRRBuffer() *rrBuffer {
	return &rrBuffer{queues: make(map[int32]*partQueue)}
}

// assign starts tracking partition p at position pos, dropping anything
// queued for it.
func (b *rrBuffer) assign(p int32, pos int64) {
	b.drop(p)
	b.queue(p).pos = pos
}

func (b *rrBuffer) queue(p int32) *partQueue {
	q, ok := b.queues[p]
	if !ok {
		q = &partQueue{pos: -1}
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
	q.recs, q.head, q.data = q.recs[:0], 0, 0
}

// push queues the records of one fetched partition (in offset order).
func (b *rrBuffer) push(p int32, recs []*kgo.Record) {
	if len(recs) == 0 {
		return
	}
	q := b.queue(p)
	if q.head > 0 { // compact before growing
		n := copy(q.recs, q.recs[q.head:])
		clear(q.recs[n:])
		q.recs, q.head = q.recs[:n], 0
	}
	for _, r := range recs {
		q.recs = append(q.recs, r)
		if !r.Attrs.IsControl() {
			q.data++
			b.n++
		}
	}
	q.skipControl()
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

// take moves up to k data records of q to out and returns how many it moved.
func (q *partQueue) take(k int, out []*kgo.Record) ([]*kgo.Record, int) {
	q.skipControl()
	got := 0
	for got < k && q.head < len(q.recs) {
		r := q.recs[q.head]
		q.recs[q.head] = nil
		q.head++
		q.pos = r.Offset + 1
		if r.Attrs.IsControl() {
			continue
		}
		out = append(out, r)
		got++
	}
	q.data -= got
	q.skipControl()
	return out, got
}

// drain hands out up to limit records. Each pass over the partitions that
// have records gives every one of them an equal share (rounded up) of what
// is left of the limit, so with P busy partitions a Poll holds about limit/P
// records of each, in per-partition chunks, partition order preserved. The
// pass starts where the previous drain stopped, so a partition that was cut
// short by the limit goes first next time.
func (b *rrBuffer) drain(limit int) []*kgo.Record {
	if limit <= 0 || b.n == 0 {
		return nil
	}
	out := make([]*kgo.Record, 0, min(limit, b.n))
	for limit > 0 && b.n > 0 {
		active := b.active()
		share := (limit + len(active) - 1) / len(active)
		for _, p := range active {
			q := b.queues[p]
			want := min(share, limit)
			var got int
			out, got = q.take(want, out)
			b.n -= got
			limit -= got
			if want < share && q.data > 0 { // cut short by the limit: first next time
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

// active lists the partitions with queued data records, starting at the
// cursor and wrapping around.
func (b *rrBuffer) active() []int32 {
	start, _ := slices.BinarySearch(b.sorted, b.cursor)
	out := make([]int32, 0, len(b.sorted))
	for i := range b.sorted {
		p := b.sorted[(start+i)%len(b.sorted)]
		if b.queues[p].data > 0 {
			out = append(out, p)
		}
	}
	return out
}

// buffered is the number of data records queued.
func (b *rrBuffer) buffered() int { return b.n }

// queued is the number of data records queued for partition p.
func (b *rrBuffer) queued(p int32) int {
	if q, ok := b.queues[p]; ok {
		return q.data
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
