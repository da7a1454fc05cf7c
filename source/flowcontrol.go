package source

import (
	"math"
	"slices"
	"sync/atomic"
	"time"
)

// Pause reasons reported by PartitionStates.
const (
	PauseReasonBuffer = "buffered-bytes"  // more than PartitionBufferBytes queued
	PauseReasonSkew   = "event-time-skew" // event time more than MaxEventTimeSkew ahead
)

// noEventTime marks a partition none of whose event times was observed.
const noEventTime = math.MinInt64

// partState is what the Reader knows of one owned partition beyond its
// queue. A new one is made at every assignment, so that a late
// ObserveEventTime for a partition revoked meanwhile cannot touch its next
// assignment.
type partState struct {
	// eventTime is the largest event time observed (ObserveEventTime),
	// micros, or noEventTime. Lock free: the pipeline's hot path.
	eventTime atomic.Int64

	// Guarded by Reader.mu.
	hw, lso      int64     // from the latest fetch (at assignment: listed); -1 unknown
	assignedAt   time.Time // when the partition was assigned
	lastReturned time.Time // when Poll last returned a record of it
	pausedBytes  bool      // fetching paused: PartitionBufferBytes
	pausedSkew   bool      // fetching paused and queue held: MaxEventTimeSkew
	task         partTask  // its /debug/tasks line (tasks.go)
}

func newPartState(now time.Time) *partState {
	ps := &partState{hw: -1, lso: -1, assignedAt: now}
	ps.eventTime.Store(noEventTime)
	return ps
}

func (ps *partState) fetchPaused() bool { return ps.pausedBytes || ps.pausedSkew }

func (ps *partState) pauseReason() string {
	switch {
	case ps.pausedBytes && ps.pausedSkew:
		return PauseReasonBuffer + "," + PauseReasonSkew
	case ps.pausedBytes:
		return PauseReasonBuffer
	case ps.pausedSkew:
		return PauseReasonSkew
	}
	return ""
}

// PartitionState describes one owned partition, for metrics and the admin
// endpoint (Reader.PartitionStates).
type PartitionState struct {
	Partition int32
	// Next is the next offset Poll returns (after the last record returned
	// and any transaction markers behind it); -1 until the start is known.
	Next int64
	// HighWatermark and LastStableOffset come from the latest fetch of the
	// partition (at assignment, from listing offsets); -1 if unknown.
	HighWatermark    int64
	LastStableOffset int64
	// Lag is LastStableOffset - Next (under read_committed, what is left
	// to read; it equals HighWatermark - Next when no transaction is
	// open), at least 0; -1 if unknown. Records queued in the Reader but
	// not yet returned count as lag.
	Lag int64
	// Paused: fetching of the partition is paused, for PauseReason
	// (PauseReasonBuffer, PauseReasonSkew, or both comma-separated).
	Paused      bool
	PauseReason string
	// Idle: the partition does not hold back the Watermark
	// (Config.IdleTimeout).
	Idle bool
	// EventTime is the largest event time observed, micros; meaningful
	// only if HasEventTime.
	EventTime    int64
	HasEventTime bool
	// BufferedRecords and BufferedBytes are fetched but not yet returned.
	BufferedRecords int
	BufferedBytes   int64
	// RecordsRead and BytesRead were returned by Poll since the partition
	// was assigned to this Reader (bytes: key, value and headers).
	RecordsRead int64
	BytesRead   int64
}

// ObserveEventTime tells the Reader the event time (micros) of a record of
// partition that Poll returned. The pipeline calls it for every record it
// decoded (or, less precisely, once per partition per batch with the batch's
// largest event time); the Reader keeps each partition's maximum for
// Watermark, PartitionStates and MaxEventTimeSkew. It is cheap (atomics, no
// lock, no allocation) and safe from any goroutine; observations for
// partitions not owned are ignored.
func (r *Reader) ObserveEventTime(partition int32, eventTimeMicros int64) {
	tab := r.table.Load()
	if tab == nil || partition < 0 || int(partition) >= len(*tab) {
		return
	}
	ps := (*tab)[partition]
	if ps == nil {
		return
	}
	for {
		cur := ps.eventTime.Load()
		if eventTimeMicros <= cur || ps.eventTime.CompareAndSwap(cur, eventTimeMicros) {
			return
		}
	}
}

// Watermark returns the event time (micros) up to which this Reader's
// partitions are complete, as far as it can tell: the minimum of the
// observed event times of the active (not idle) owned partitions, minus
// Config.OutOfOrderness. Idle partitions do not hold it back; if every
// partition is idle, it is the minimum over those with an observed event
// time. ok is false while an active partition has no observed event time
// (and no earlier watermark is known). It never goes back while the
// assignment does not change; after a rebalance it starts again from the
// new assignment (and may be lower). It is O(partitions) and safe from any
// goroutine.
func (r *Reader) Watermark() (micros int64, ok bool) {
	now := time.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	low, active, unknown := int64(math.MaxInt64), 0, false
	lowIdle, anyIdle := int64(math.MaxInt64), false
	for p, ps := range r.parts {
		et := ps.eventTime.Load()
		if r.idleLocked(p, ps, now) {
			if et != noEventTime {
				lowIdle, anyIdle = min(lowIdle, et), true
			}
			continue
		}
		active++
		if et == noEventTime {
			unknown = true
			continue
		}
		low = min(low, et)
	}
	var (
		wm   int64
		have bool
	)
	switch {
	case active > 0 && !unknown:
		wm, have = low, true
	case active == 0 && anyIdle:
		wm, have = lowIdle, true
	}
	if have {
		wm -= r.cfg.OutOfOrderness.Microseconds()
		if !r.wmSet || wm > r.wm {
			r.wm, r.wmSet = wm, true
		}
	}
	return r.wm, r.wmSet
}

// PartitionStates describes every owned partition, ascending. It is
// O(partitions) and safe from any goroutine.
func (r *Reader) PartitionStates() []PartitionState {
	now := time.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]PartitionState, 0, len(r.parts))
	for p, ps := range r.parts {
		s := PartitionState{
			Partition:        p,
			Next:             r.buf.position(p),
			HighWatermark:    ps.hw,
			LastStableOffset: ps.lso,
			Lag:              -1,
			Paused:           ps.fetchPaused(),
			PauseReason:      ps.pauseReason(),
			Idle:             r.idleLocked(p, ps, now),
			BufferedRecords:  r.buf.queued(p),
			BufferedBytes:    int64(r.buf.queuedBytes(p)),
		}
		if et := ps.eventTime.Load(); et != noEventTime {
			s.EventTime, s.HasEventTime = et, true
		}
		if s.Next >= 0 && ps.lso >= 0 {
			s.Lag = max(0, ps.lso-s.Next)
		}
		if q, ok := r.buf.queues[p]; ok {
			s.RecordsRead, s.BytesRead = q.readRecs, q.readBytes
		}
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b PartitionState) int { return int(a.Partition) - int(b.Partition) })
	return out
}

// unreadLocked: partition p may have records left to read (queued, or its
// position is below its last stable offset, or either is unknown).
func (r *Reader) unreadLocked(p int32, ps *partState) bool {
	pos := r.buf.position(p)
	return r.buf.queued(p) > 0 || pos < 0 || ps.lso < 0 || pos < ps.lso
}

// idleLocked: nothing queued, position known and at the last stable offset,
// and no record returned for IdleTimeout (since the assignment if none was).
func (r *Reader) idleLocked(p int32, ps *partState, now time.Time) bool {
	if r.unreadLocked(p, ps) {
		return false
	}
	last := ps.lastReturned
	if last.IsZero() {
		last = ps.assignedAt
	}
	return now.Sub(last) >= r.cfg.IdleTimeout
}

// adjustPauses pauses and resumes fetching: a partition with more than
// PartitionBufferBytes queued is paused until less than half is; with
// MaxEventTimeSkew, a partition whose event time is ahead of the slowest
// active partition's by more than the skew is paused (and its queue held)
// until it is no more than half the skew ahead. It runs on the poll
// goroutine, between fetches, so that franz-go's handling of paused
// partitions keeps the queues exact: records of a paused partition that
// franz-go had buffered are dropped from its polls without moving its
// fetch position, and fetched again, from right after the last record
// queued here, once it is resumed.
func (r *Reader) adjustPauses() {
	r.pauseMu.Lock()
	defer r.pauseMu.Unlock()
	now := time.Now()
	var pause, resume []int32

	r.mu.Lock()
	// base is the slowest active partition's event time. An active
	// partition with records left to read whose event time is not known
	// yet (none of its records observed) may be far behind: until it is
	// known, nothing counts as close enough to it (behind).
	skew := r.cfg.MaxEventTimeSkew.Microseconds()
	base, haveBase, behind := int64(math.MaxInt64), false, false
	if skew > 0 {
		for p, ps := range r.parts {
			if r.idleLocked(p, ps, now) {
				continue
			}
			if et := ps.eventTime.Load(); et != noEventTime {
				base, haveBase = min(base, et), true
			} else if r.unreadLocked(p, ps) {
				behind = true
			}
		}
	}
	limit := r.cfg.PartitionBufferBytes
	for p, ps := range r.parts {
		was := ps.fetchPaused()
		switch b := r.buf.queuedBytes(p); {
		case !ps.pausedBytes && b > limit:
			ps.pausedBytes = true
		case ps.pausedBytes && (b < limit/2 || b == 0):
			ps.pausedBytes = false
		}
		et := ps.eventTime.Load()
		switch {
		case skew <= 0 || !haveBase || et == noEventTime:
			ps.pausedSkew = false
		case behind:
			ps.pausedSkew = true
		case !ps.pausedSkew && et-base > skew:
			ps.pausedSkew = true
		case ps.pausedSkew && et-base <= skew/2:
			ps.pausedSkew = false
		}
		r.buf.hold(p, ps.pausedSkew)
		ps.task.set(r.partTaskStateLocked(p, ps))
		switch paused := ps.fetchPaused(); {
		case paused && !was:
			pause = append(pause, p)
			r.log.Debug("partition paused", "partition", p, "reason", ps.pauseReason(), "buffered_bytes", r.buf.queuedBytes(p))
		case !paused && was:
			resume = append(resume, p)
			r.log.Debug("partition resumed", "partition", p, "buffered_bytes", r.buf.queuedBytes(p))
		}
	}
	r.mu.Unlock()

	if len(pause) > 0 {
		r.cl.PauseFetchPartitions(map[string][]int32{r.cfg.Topic: pause})
	}
	if len(resume) > 0 {
		r.cl.ResumeFetchPartitions(map[string][]int32{r.cfg.Topic: resume})
	}
}

// anySkewHeld reports whether a partition's queue is held for skew: a Poll
// with nothing else to return must then wake up now and then to see whether
// the partitions behind became idle.
func (r *Reader) anySkewHeld() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, ps := range r.parts {
		if ps.pausedSkew {
			return true
		}
	}
	return false
}

// recheckEvery is how often a Poll blocked only by skew-held partitions
// re-evaluates idleness.
func (r *Reader) recheckEvery() time.Duration {
	return min(max(r.cfg.IdleTimeout/10, 10*time.Millisecond), time.Second)
}

// addPartsLocked makes a new state for newly assigned partitions and
// publishes them to ObserveEventTime. r.mu is held.
func (r *Reader) addPartsLocked(parts []int32, now time.Time) {
	for _, p := range parts {
		if old, ok := r.parts[p]; ok {
			old.task.done()
		}
		r.parts[p] = newPartState(now)
		r.parts[p].task = r.newPartTask(p)
	}
	r.publishLocked()
	r.wm, r.wmSet = 0, false // a new assignment: the watermark starts again
}

// removePartsLocked forgets partitions' states and returns those whose
// fetching was paused. r.mu is held.
func (r *Reader) removePartsLocked(parts []int32) (paused []int32) {
	for _, p := range parts {
		if ps, ok := r.parts[p]; ok {
			ps.task.done()
			if ps.fetchPaused() {
				paused = append(paused, p)
			}
			delete(r.parts, p)
		}
	}
	r.publishLocked()
	r.wm, r.wmSet = 0, false
	return paused
}

// publishLocked stores a new partition table for ObserveEventTime.
func (r *Reader) publishLocked() {
	n := 0
	for p := range r.parts {
		n = max(n, int(p)+1)
	}
	tab := make([]*partState, n)
	for p, ps := range r.parts {
		tab[p] = ps
	}
	r.table.Store(&tab)
}
