package source

import (
	"context"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// produceSized writes n records to partition p: keys "%06d" (i counting on
// from first), values of valueSize bytes, timestamps ts(i) (now if nil).
// Batches are at most batchBytes (franz-go's default if 0).
func produceSized(t testing.TB, c *kfake.Cluster, topic string, p int32, first, n, valueSize, batchBytes int, ts func(i int) time.Time) {
	t.Helper()
	// Uncompressed, so that batch sizes are what the buffers count.
	opts := []kgo.Opt{kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerBatchCompression(kgo.NoCompression())}
	if batchBytes > 0 {
		opts = append(opts, kgo.ProducerBatchMaxBytes(int32(batchBytes)))
	}
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(c.ListenAddrs()...)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	recs := make([]*kgo.Record, 0, n)
	for i := first; i < first+n; i++ {
		r := &kgo.Record{Topic: topic, Partition: p, Key: fmt.Appendf(nil, "%06d", i), Value: make([]byte, valueSize)}
		if ts != nil {
			r.Timestamp = ts(i)
		}
		recs = append(recs, r)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

// fetchOnly is what a Poll does before it hands anything out: move
// franz-go's buffered fetches into the queues and pause or resume; a
// consumer that does not drain.
func fetchOnly(t testing.TB, r *Reader) {
	t.Helper()
	if err := r.absorb(r.cl.PollFetches(nil)); err != nil {
		t.Fatal(err)
	}
	r.cl.AllowRebalance() // absorb of a non-empty fetch holds the gate
	r.adjustPauses()
}

// fetchSlowly is fetchOnly with time between moving fetches into the queues
// and pausing: franz-go meanwhile buffers the next fetch of the partition
// about to be paused, which it then drops (and fetches again on resume).
func fetchSlowly(t testing.TB, r *Reader) {
	t.Helper()
	if err := r.absorb(r.cl.PollFetches(nil)); err != nil {
		t.Fatal(err)
	}
	r.cl.AllowRebalance()
	time.Sleep(30 * time.Millisecond)
	r.adjustPauses()
}

func stateOf(t testing.TB, r *Reader, p int32) PartitionState {
	t.Helper()
	s, ok := findState(r, p)
	if !ok {
		t.Fatalf("partition %d not in PartitionStates", p)
	}
	return s
}

// findState is partition p's state, if p is assigned.
func findState(r *Reader, p int32) (PartitionState, bool) {
	for _, s := range r.PartitionStates() {
		if s.Partition == p {
			return s, true
		}
	}
	return PartitionState{}, false
}

// exactlyOnce checks that every partition's records arrive in offset order,
// each once, from offset 0.
type exactlyOnce struct {
	t    testing.TB
	next map[int32]int64
}

func newExactlyOnce(t testing.TB) *exactlyOnce {
	return &exactlyOnce{t: t, next: map[int32]int64{}}
}

func (e *exactlyOnce) add(recs []*kgo.Record) {
	e.t.Helper()
	for _, r := range recs {
		if r.Offset != e.next[r.Partition] {
			e.t.Fatalf("partition %d: offset %d, want %d (skipped or returned twice)", r.Partition, r.Offset, e.next[r.Partition])
		}
		e.next[r.Partition]++
	}
}

func (e *exactlyOnce) total() int64 {
	var n int64
	for _, v := range e.next {
		n += v
	}
	return n
}

func pollCtx(t testing.TB, r *Reader, ctx context.Context) []*kgo.Record {
	t.Helper()
	recs, err := r.Poll(ctx)
	if err != nil {
		t.Fatalf("poll: %v", err)
	}
	r.AllowRebalance()
	return recs
}

// One Poll never gives a partition more than its record or byte quota, and
// holds every partition that has records, in one chunk each.
func TestPollPartitionQuotas(t *testing.T) {
	const topic, perPartition = "quotas", 300
	c := newCluster(t, 4, []string{topic})
	// Records are 6 (key) + 40 or 400 bytes: partitions 0 and 1 are held
	// to the record quota, 2 and 3 to the byte quota (10 records).
	for p := range int32(4) {
		size := 40
		if p >= 2 {
			size = 400
		}
		produceSized(t, c, topic, p, 0, perPartition, size, 0, nil)
	}
	cfg := testConfig(c, topic, "quota-group")
	cfg.MaxPartitionRecords, cfg.MaxPartitionBytes = 50, 4096
	r := newReader(t, cfg, Hooks{}, testOpts()...)
	waitFor(t, 15*time.Second, "backlog fetched", func() bool {
		fetchOnly(t, r)
		return r.buffered() == 4*perPartition
	})

	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	seen := newExactlyOnce(t)
	for polls := 0; seen.total() < 4*perPartition; polls++ {
		recs := pollCtx(t, r, ctx)
		seen.add(recs)
		count, bytes := map[int32]int{}, map[int32]int{}
		for _, rec := range recs {
			count[rec.Partition]++
			bytes[rec.Partition] += recordSize(rec)
		}
		for p, n := range count {
			if n > cfg.MaxPartitionRecords || bytes[p] > cfg.MaxPartitionBytes {
				t.Fatalf("poll %d: partition %d: %d records, %d bytes: over its quota", polls, p, n, bytes[p])
			}
		}
		var want map[int32]int
		switch {
		case polls < 6: // every partition has records
			want = map[int32]int{0: 50, 1: 50, 2: 10, 3: 10}
		default: // partitions 0 and 1 are done
			want = map[int32]int{2: 10, 3: 10}
		}
		if fmt.Sprint(count) != fmt.Sprint(want) {
			t.Fatalf("poll %d: per partition %v, want %v", polls, count, want)
		}
		if runs := len(chunks(recs)); runs != len(want) {
			t.Errorf("poll %d: %d chunks (%s), want one per partition", polls, runs, shape(recs))
		}
	}
	for _, s := range r.PartitionStates() {
		size := 46
		if s.Partition >= 2 {
			size = 406
		}
		if s.RecordsRead != perPartition || s.BytesRead != int64(perPartition*size) || s.Next != perPartition || s.Lag != 0 {
			t.Errorf("state %+v", s)
		}
	}
}

func chunks(recs []*kgo.Record) []int32 {
	var out []int32
	for i, r := range recs {
		if i == 0 || recs[i-1].Partition != r.Partition {
			out = append(out, r.Partition)
		}
	}
	return out
}

// A partition with a 50x backlog does not starve the others: while they
// have records, every Poll holds all of them, the big one within its quota;
// its fetching is paused once its buffer is full.
func TestBacklogDoesNotStarveOthers(t *testing.T) {
	const topic, light, quota = "backlog50", 200, 20
	const parts = 8
	c := newCluster(t, parts, []string{topic})
	produceSized(t, c, topic, 0, 0, 50*light, 100, 16<<10, nil)
	for p := int32(1); p < parts; p++ {
		produceSized(t, c, topic, p, 0, light, 100, 16<<10, nil)
	}
	cfg := testConfig(c, topic, "backlog-group")
	cfg.MaxPartitionRecords = quota
	cfg.PartitionBufferBytes = 64 << 10
	cfg.FetchMaxPartitionBytes = 16 << 10
	r := newReader(t, cfg, Hooks{}, testOpts()...)
	waitFor(t, 15*time.Second, "light partitions fetched, the heavy one paused", func() bool {
		fetchOnly(t, r)
		for _, s := range r.PartitionStates() {
			if s.Partition == 0 && !(s.Paused && s.PauseReason == PauseReasonBuffer) {
				return false
			}
			if s.Partition != 0 && s.BufferedRecords != light {
				return false
			}
		}
		return len(r.PartitionStates()) == parts
	})
	if s := stateOf(t, r, 0); s.BufferedBytes > int64(cfg.PartitionBufferBytes)+int64(cfg.FetchMaxPartitionBytes)+16<<10 {
		t.Errorf("heavy partition buffered %d bytes with a %d buffer", s.BufferedBytes, cfg.PartitionBufferBytes)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	seen := newExactlyOnce(t)
	for polls := 0; polls < light/quota; polls++ {
		recs := pollCtx(t, r, ctx)
		seen.add(recs)
		count := map[int32]int{}
		for _, rec := range recs {
			count[rec.Partition]++
		}
		if len(count) != parts {
			t.Fatalf("poll %d: partitions %v, want all %d", polls, count, parts)
		}
		for p, n := range count {
			if n != quota {
				t.Fatalf("poll %d: partition %d got %d records, want %d (quota)", polls, p, n, quota)
			}
		}
	}
	for seen.total() < 57*light {
		seen.add(pollCtx(t, r, ctx))
	}
	if seen.next[0] != 50*light {
		t.Errorf("heavy partition read to %d", seen.next[0])
	}
	if paused := r.cl.PauseFetchPartitions(nil); len(paused) != 0 {
		t.Errorf("still paused in franz-go: %v", paused)
	}
}

// With a tiny PartitionBufferBytes and a consumer that does not drain, the
// partition is paused (and its buffer stops growing); draining resumes it
// below half the buffer; over several such cycles every offset is returned
// once, in order, although franz-go drops what it had buffered for the
// paused partition and fetches it again after the resume.
func TestPartitionBufferPausesAndResumes(t *testing.T) {
	const topic, heavy, bufBytes, fetchBytes = "bufpause", 2000, 8 << 10, 4 << 10
	c := newCluster(t, 2, []string{topic})
	produceSized(t, c, topic, 0, 0, heavy, 100, 2<<10, nil)
	produceSized(t, c, topic, 1, 0, 20, 100, 2<<10, nil)
	cfg := testConfig(c, topic, "bufpause-group")
	cfg.PartitionBufferBytes = bufBytes
	cfg.FetchMaxPartitionBytes = fetchBytes
	cfg.MaxPartitionRecords = 10
	fetched := &fetchCounter{}
	r := newReader(t, cfg, Hooks{}, testOpts(kgo.WithHooks(fetched))...)

	waitFor(t, 15*time.Second, "partition 0 paused", func() bool {
		fetchSlowly(t, r)
		s, ok := findState(r, 0)
		return ok && s.Paused && s.PauseReason == PauseReasonBuffer
	})
	if got := r.cl.PauseFetchPartitions(nil)[topic]; !slices.Equal(got, []int32{0}) {
		t.Errorf("franz-go paused %v, want [0]", got)
	}
	// Not draining: the buffer stays bounded (one fetch, one batch over).
	bound := int64(bufBytes + fetchBytes + 2<<10)
	for deadline := time.Now().Add(300 * time.Millisecond); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		fetchOnly(t, r)
		if s := stateOf(t, r, 0); !s.Paused || s.BufferedBytes > bound {
			t.Fatalf("not draining: %+v (bound %d)", s, bound)
		}
	}

	// Cycles of a consumer that drains (Poll) until the partition is
	// resumed, then stops draining until it is paused again.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	seen := newExactlyOnce(t)
	const cycles = 5
	for cycle := range cycles {
		for stateOf(t, r, 0).Paused {
			seen.add(pollCtx(t, r, ctx))
			s := stateOf(t, r, 0)
			if !s.Paused && s.BufferedBytes >= bufBytes/2 {
				t.Fatalf("cycle %d: resumed with %d bytes buffered (limit %d)", cycle, s.BufferedBytes, bufBytes)
			}
			if s.BufferedBytes > bound {
				t.Fatalf("cycle %d: buffered %d bytes, bound %d", cycle, s.BufferedBytes, bound)
			}
		}
		if cycle == cycles-1 {
			break
		}
		waitFor(t, 10*time.Second, "partition 0 paused again", func() bool {
			fetchSlowly(t, r)
			s := stateOf(t, r, 0)
			return s.Paused && s.PauseReason == PauseReasonBuffer
		})
	}
	for seen.total() < heavy+20 {
		seen.add(pollCtx(t, r, ctx))
		if s := stateOf(t, r, 0); s.BufferedBytes > bound {
			t.Fatalf("buffered %d bytes, bound %d", s.BufferedBytes, bound)
		}
	}
	// Records franz-go had fetched for the paused partition were dropped
	// and fetched again: more fetched than produced, none returned twice.
	t.Logf("partition 0: %d records fetched for %d produced", fetched.n.Load(), heavy)
	if fetched.n.Load() <= heavy {
		t.Errorf("nothing fetched twice: the drop and re-fetch of a paused partition was not exercised")
	}
	if s := stateOf(t, r, 0); s.Paused || s.Next != heavy || s.RecordsRead != heavy {
		t.Errorf("at the end: %+v", s)
	}
}

// Partition 0 runs an hour ahead in event time: with MaxEventTimeSkew 10m it
// is paused and its records held while the others flow, and resumes once
// they are within 5m of it; no record is lost or duplicated.
func TestEventTimeSkewPausesPartitionAhead(t *testing.T) {
	const topic, skew = "skew", 10 * time.Minute
	c := newCluster(t, 4, []string{topic})
	t0 := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	// Partition 0: 600 records, one every 1.5 seconds from t0+1h. The
	// others: 1500 records, one every 3 seconds from t0. All end near
	// t0+1h15m.
	produceSized(t, c, topic, 0, 0, 600, 50, 1<<10, func(i int) time.Time { return t0.Add(time.Hour + time.Duration(i)*1500*time.Millisecond) })
	for p := int32(1); p < 4; p++ {
		produceSized(t, c, topic, p, 0, 1500, 50, 1<<10, func(i int) time.Time { return t0.Add(time.Duration(i) * 3 * time.Second) })
	}
	cfg := testConfig(c, topic, "skew-group")
	cfg.MaxEventTimeSkew = skew
	cfg.MaxPartitionRecords = 50
	cfg.FetchMaxPartitionBytes = 4 << 10 // several fetches per partition
	fetched := &fetchCounter{}
	r := newReader(t, cfg, Hooks{}, testOpts(kgo.WithHooks(fetched))...)

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	seen := newExactlyOnce(t)
	maxET := map[int32]int64{}
	wasPaused, resumedAt := false, int64(0)
	heldPolls := 0
	for seen.total() < 600+3*1500 {
		recs := pollCtx(t, r, ctx)
		seen.add(recs)
		if wasPaused && slices.Contains(partitionsOf(recs), 0) {
			// Resumed: the others (all still reading) caught up to
			// within half the skew.
			slowest := min(maxET[1], maxET[2], maxET[3])
			if maxET[0]-slowest > (skew/2).Microseconds() && seen.next[1] < 1500 && seen.next[2] < 1500 && seen.next[3] < 1500 {
				t.Fatalf("partition 0 returned while %v ahead", time.Duration(maxET[0]-slowest)*time.Microsecond)
			}
			resumedAt = slowest
			wasPaused = false
		}
		if wasPaused {
			heldPolls++
			if len(recs) == 0 {
				t.Fatal("nothing returned while partition 0 was held")
			}
		}
		for _, rec := range recs {
			us := rec.Timestamp.UnixMicro()
			r.ObserveEventTime(rec.Partition, us) // what the pipeline does
			maxET[rec.Partition] = max(maxET[rec.Partition], us)
		}
		if s := stateOf(t, r, 0); s.Paused {
			if s.PauseReason != PauseReasonSkew || !s.HasEventTime || s.EventTime != maxET[0] {
				t.Fatalf("partition 0 state %+v", s)
			}
			if resumedAt == 0 {
				wasPaused = true
			}
		}
	}
	if resumedAt == 0 || heldPolls < 10 {
		t.Fatalf("partition 0 never held (%d polls held) or never resumed", heldPolls)
	}
	t.Logf("partition 0 held for %d polls; resumed when the slowest other partition reached t0+%v; %d records fetched for 600",
		heldPolls, time.UnixMicro(resumedAt).Sub(t0), fetched.n.Load())
	for _, s := range r.PartitionStates() {
		if s.Paused || s.EventTime != maxET[s.Partition] {
			t.Errorf("at the end: %+v", s)
		}
	}
}

// A partition with no data for IdleTimeout does not hold the watermark
// back; a partition with records left to read always does.
func TestIdlePartitionDoesNotHoldWatermark(t *testing.T) {
	const topic, idle = "idle", 2 * time.Second
	c := newCluster(t, 3, []string{topic})
	t0 := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	at := func(d time.Duration) func(int) time.Time {
		return func(i int) time.Time { return t0.Add(d + time.Duration(i)*time.Second) }
	}
	cfg := testConfig(c, topic, "idle-group")
	cfg.IdleTimeout = idle
	cfg.OutOfOrderness = time.Second
	r := newReader(t, cfg, Hooks{}, testOpts()...)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	read := func(n int64, seen *exactlyOnce) {
		t.Helper()
		for want := seen.total() + n; seen.total() < want; {
			recs := pollCtx(t, r, ctx)
			seen.add(recs)
			for _, rec := range recs {
				r.ObserveEventTime(rec.Partition, rec.Timestamp.UnixMicro())
			}
		}
	}
	us := func(d time.Duration) int64 { return t0.Add(d).UnixMicro() }

	// Partition 2 never gets data: until it is idle the watermark is
	// unknown, then partitions 0 and 1 decide it.
	produceSized(t, c, topic, 0, 0, 10, 10, 0, at(0))         // t0 .. t0+9s
	produceSized(t, c, topic, 1, 0, 10, 10, 0, at(time.Hour)) // t0+1h ..
	seen := newExactlyOnce(t)
	read(20, seen)
	wm, ok := r.Watermark()
	if s := stateOf(t, r, 2); !s.Idle && ok {
		t.Errorf("watermark %v while partition 2 (no event time) is not idle", wm)
	}
	waitFor(t, 2*idle, "partition 2 idle", func() bool { return stateOf(t, r, 2).Idle })
	produceSized(t, c, topic, 0, 10, 5, 10, 0, at(0)) // t0+10s .. t0+14s
	produceSized(t, c, topic, 1, 10, 5, 10, 0, at(time.Hour))
	read(10, seen)
	wm, ok = r.Watermark()
	if want := us(14*time.Second - time.Second); !ok || wm != want {
		t.Errorf("watermark %v, %t; want %v (partition 0's event time - 1s)", time.UnixMicro(wm).UTC(), ok, time.UnixMicro(want).UTC())
	}
	if s := stateOf(t, r, 0); s.Idle || !s.HasEventTime || s.EventTime != us(14*time.Second) {
		t.Errorf("partition 0: %+v", s)
	}

	// Partition 1 has records fetched but not read: never idle, while
	// partition 0, caught up, becomes idle and stops holding it back.
	produceSized(t, c, topic, 1, 15, 5, 10, 0, at(time.Hour+15*time.Second))
	waitFor(t, 10*time.Second, "partition 1's new records fetched", func() bool {
		fetchOnly(t, r)
		return stateOf(t, r, 1).BufferedRecords == 5
	})
	waitFor(t, 3*idle, "partition 0 idle", func() bool { return stateOf(t, r, 0).Idle })
	if s := stateOf(t, r, 1); s.Idle || s.Lag != 5 {
		t.Errorf("partition 1 with unread records: %+v", s)
	}
	wm, ok = r.Watermark()
	if want := us(time.Hour + 14*time.Second - time.Second); !ok || wm != want {
		t.Errorf("watermark %v, %t; want %v (partition 1's)", time.UnixMicro(wm).UTC(), ok, time.UnixMicro(want).UTC())
	}

	// Everything idle: the watermark stays.
	read(5, seen)
	waitFor(t, 3*idle, "every partition idle", func() bool {
		for _, s := range r.PartitionStates() {
			if !s.Idle {
				return false
			}
		}
		return true
	})
	if wm2, ok := r.Watermark(); !ok || wm2 < wm {
		t.Errorf("watermark went back: %v -> %v", wm, wm2)
	}
}

// HighWatermark and Lag in PartitionStates match kadm's view of the group
// once the Reader's positions are committed.
func TestPartitionStatesLagMatchesKadm(t *testing.T) {
	const topic, group = "statelag", "statelag-group"
	c := newCluster(t, 3, []string{topic})
	sizes := map[int32]int{0: 30, 1: 60, 2: 90}
	for p, n := range sizes {
		produceSized(t, c, topic, p, 0, n, 20, 0, nil)
	}
	cfg := testConfig(c, topic, group)
	cfg.MaxPartitionRecords = 10
	r := newReader(t, cfg, Hooks{}, testOpts()...)
	waitFor(t, 15*time.Second, "backlog fetched", func() bool {
		fetchOnly(t, r)
		return r.buffered() == 180
	})
	adm := kadm.NewClient(newClient(t, c))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	compare := func(when string) {
		t.Helper()
		if err := r.CommitGroupOffsets(ctx, r.Positions()); err != nil {
			t.Fatal(err)
		}
		lags, err := adm.Lag(ctx, group)
		if err != nil {
			t.Fatal(err)
		}
		gl := lags[group]
		if err := gl.Error(); err != nil {
			t.Fatal(err)
		}
		own, err := r.Lag(ctx)
		if err != nil {
			t.Fatal(err)
		}
		states := r.PartitionStates()
		if len(states) != 3 {
			t.Fatalf("%s: %d states", when, len(states))
		}
		for _, s := range states {
			l, ok := gl.Lag.Lookup(topic, s.Partition)
			if !ok {
				t.Fatalf("%s: kadm has no lag for partition %d", when, s.Partition)
			}
			if s.HighWatermark != l.End.Offset || s.Lag != l.Lag || s.Next != l.Commit.At || s.Lag != own[s.Partition] {
				t.Errorf("%s: partition %d: state hw %d lag %d next %d; kadm end %d lag %d commit %d; Reader.Lag %d",
					when, s.Partition, s.HighWatermark, s.Lag, s.Next, l.End.Offset, l.Lag, l.Commit.At, own[s.Partition])
			}
		}
	}
	seen := newExactlyOnce(t)
	seen.add(pollCtx(t, r, ctx))
	seen.add(pollCtx(t, r, ctx))
	compare("after two polls")
	for seen.total() < 180 {
		seen.add(pollCtx(t, r, ctx))
	}
	compare("after reading everything")
	for _, s := range r.PartitionStates() {
		if s.Lag != 0 || s.HighWatermark != int64(sizes[s.Partition]) {
			t.Errorf("at the end: %+v", s)
		}
	}
}

// fetchCounter counts the records franz-go fetched of partition 0.
type fetchCounter struct{ n atomic.Int64 }

func (f *fetchCounter) OnFetchBatchRead(_ kgo.BrokerMetadata, _ string, p int32, m kgo.FetchBatchMetrics) {
	if p == 0 {
		f.n.Add(int64(m.NumRecords))
	}
}

// A partition paused when it is revoked is not left paused in franz-go: the
// member it comes back to reads it to the end.
func TestPausedPartitionRevokedAndReassigned(t *testing.T) {
	const topic, group, n = "repause", "repause-group", 400
	c := newCluster(t, 2, []string{topic})
	for p := range int32(2) {
		produceSized(t, c, topic, p, 0, n, 100, 1<<10, nil)
	}
	cfg := testConfig(c, topic, group)
	cfg.PartitionBufferBytes = 4 << 10
	cfg.FetchMaxPartitionBytes = 2 << 10
	a := newReader(t, cfg, Hooks{}, testOpts()...)
	waitFor(t, 15*time.Second, "both partitions paused in A", func() bool {
		fetchOnly(t, a)
		states := a.PartitionStates()
		return len(states) == 2 && states[0].Paused && states[1].Paused
	})

	b := newReader(t, cfg, Hooks{}, testOpts()...)
	loopB := startPollLoop(b, nil)
	waitFor(t, 15*time.Second, "one partition each", func() bool {
		fetchOnly(t, a) // A does not drain, but lets the rebalance happen
		return len(a.Assigned()) == 1 && len(b.Assigned()) == 1
	})
	moved := b.Assigned()[0]
	waitFor(t, 10*time.Second, "B reads the moved partition", func() bool { return loopB.count(moved) == n })
	if paused := a.cl.PauseFetchPartitions(nil)[topic]; slices.Contains(paused, moved) {
		t.Errorf("A still pauses partition %d, which it no longer owns (paused %v)", moved, paused)
	}
	if err := loopB.stop(); err != nil {
		t.Fatal(err)
	}
	b.Close()

	// A gets the moved partition back and reads it (from the log start:
	// there is no table here) to the end.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	waitFor(t, 15*time.Second, "A reads both partitions to the end", func() bool {
		pctx, pcancel := context.WithTimeout(ctx, 100*time.Millisecond)
		defer pcancel()
		if _, err := a.Poll(pctx); err == nil {
			a.AllowRebalance()
		}
		states := a.PartitionStates()
		return len(states) == 2 && states[0].Next == n && states[1].Next == n
	})
	if s := stateOf(t, a, moved); s.Paused || s.RecordsRead != n || s.Lag != 0 {
		t.Errorf("moved partition back in A: %+v", s)
	}
}
