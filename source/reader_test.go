package source

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// pollFirst polls r until it has seen a record of every partition in want
// and returns each partition's first offset.
func pollFirst(t *testing.T, r *Reader, n int) map[int32]int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	first := make(map[int32]int64)
	for len(first) < n {
		recs, err := r.Poll(ctx)
		if err != nil {
			t.Fatalf("poll: %v (first offsets so far %v)", err, first)
		}
		for _, rec := range recs {
			if _, ok := first[rec.Partition]; !ok {
				first[rec.Partition] = rec.Offset
			}
		}
		r.AllowRebalance()
	}
	return first
}

// The table decides where a partition starts: the group's committed offsets
// are ignored, partitions the table does not know start at ResetOffset.
func TestStartOffsetsComeFromTableNotGroup(t *testing.T) {
	c := newCluster(t, 3, []string{"events-earliest", "events-latest"})
	prod := manualProducer(t, c)
	adm := kadm.NewClient(newClient(t, c))
	all := []int32{0, 1, 2}

	for _, tc := range []struct {
		reset string
		table map[int32]int64
		want  map[int32]int64
	}{
		// Group committed 5 everywhere; the table says 12 and 3; partition 2 is
		// not in the table and starts at the log start, not at the group's 5.
		{ResetEarliest, map[int32]int64{0: 12, 1: 3}, map[int32]int64{0: 12, 1: 3, 2: 0}},
		// Partitions 1 and 2 start at the end (20): only records produced
		// after the assignment are read there.
		{ResetLatest, map[int32]int64{0: 12}, map[int32]int64{0: 12, 1: 20, 2: 20}},
	} {
		t.Run(tc.reset, func(t *testing.T) {
			topic, group := "events-"+tc.reset, "group-"+tc.reset
			produce(t, prod, topic, all, 0, 20)
			ctx := context.Background()
			var committed kadm.Offsets
			for _, p := range all {
				committed.AddOffset(topic, p, 5, -1)
			}
			resp, err := adm.CommitOffsets(ctx, group, committed)
			if err == nil {
				err = resp.Error()
			}
			if err != nil {
				t.Fatalf("commit group offsets: %v", err)
			}

			var mu sync.Mutex
			var calls []string
			hooks := Hooks{StartOffsets: func(_ context.Context, topic string, parts []int32) (map[int32]int64, error) {
				mu.Lock()
				calls = append(calls, fmt.Sprintf("%s %v", topic, parts))
				mu.Unlock()
				return maps.Clone(tc.table), nil
			}}
			cfg := testConfig(c, topic, group)
			cfg.ResetOffset = tc.reset
			r := newReader(t, cfg, hooks, testOpts()...)

			// Start positions are fixed (Lag knows them) before fetching
			// begins; records produced now are after "latest".
			waitFor(t, 10*time.Second, "start positions", func() bool {
				lag, err := r.Lag(ctx)
				return err == nil && len(lag) == len(all)
			})
			if got := r.Positions(); !maps.Equal(got, tc.want) {
				t.Errorf("positions before reading = %v, want %v", got, tc.want)
			}
			produce(t, prod, topic, all, 20, 2)

			if got := pollFirst(t, r, len(all)); !maps.Equal(got, tc.want) {
				t.Errorf("first offsets = %v, want %v", got, tc.want)
			}
			mu.Lock()
			defer mu.Unlock()
			if want := []string{topic + " [0 1 2]"}; !slices.Equal(calls, want) {
				t.Errorf("StartOffsets calls = %q, want %q", calls, want)
			}
		})
	}
}

// Aborted transactional records are never returned; committed transactional
// and plain records are, in order; transaction markers do not leave lag.
func TestReadCommittedSkipsAbortedRecords(t *testing.T) {
	const topic = "txn"
	c := newCluster(t, 2, []string{topic})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	txp := newClient(t, c, kgo.TransactionalID("lakestream-test"), kgo.DefaultProduceTopic(topic),
		kgo.RecordPartitioner(kgo.ManualPartitioner()))
	plain := manualProducer(t, c, kgo.DefaultProduceTopic(topic))

	send := func(cl *kgo.Client, vals ...string) {
		t.Helper()
		for i, v := range vals {
			if err := cl.ProduceSync(ctx, &kgo.Record{Partition: int32(i % 2), Value: []byte(v)}).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
	}
	txn := func(commit kgo.TransactionEndTry, vals ...string) {
		t.Helper()
		if err := txp.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		send(txp, vals...)
		if err := txp.EndTransaction(ctx, commit); err != nil {
			t.Fatal(err)
		}
	}
	txn(kgo.TryCommit, "c1", "c2", "c3", "c4")
	txn(kgo.TryAbort, "aborted1", "aborted2", "aborted3", "aborted4")
	send(plain, "n1", "n2")
	txn(kgo.TryCommit, "c5", "c6")
	txn(kgo.TryAbort, "aborted5", "aborted6") // the logs end in an aborted transaction

	r := newReader(t, testConfig(c, topic, "txn-group"), Hooks{}, testOpts()...)
	got := map[int32][]string{}
	total := 0
	for total < 8 {
		recs, err := r.Poll(ctx)
		if err != nil {
			t.Fatalf("poll: %v (got %v)", err, got)
		}
		for _, rec := range recs {
			got[rec.Partition] = append(got[rec.Partition], string(rec.Value))
			total++
		}
		r.AllowRebalance()
	}
	want := map[int32][]string{0: {"c1", "c3", "n1", "c5"}, 1: {"c2", "c4", "n2", "c6"}}
	for p, w := range want {
		if !slices.Equal(got[p], w) {
			t.Errorf("partition %d: got %q, want %q", p, got[p], w)
		}
	}

	// Nothing else arrives, and the position moves past the trailing
	// abort markers, so lag reaches zero.
	waitFor(t, 10*time.Second, "lag 0", func() bool {
		pctx, pcancel := context.WithTimeout(ctx, 200*time.Millisecond)
		recs, err := r.Poll(pctx)
		pcancel()
		if err == nil {
			r.AllowRebalance()
			t.Fatalf("unexpected records after the committed ones: %v", recs)
		}
		lag, err := r.Lag(ctx)
		return err == nil && len(lag) == 2 && lag[0] == 0 && lag[1] == 0
	})
}

// One Poll of a backlog in 4 partitions holds a quarter of each, in
// per-partition chunks, not the first partitions' records only.
func TestPollRoundRobinAcrossPartitions(t *testing.T) {
	const topic, perPartition, limit = "backlog", 5000, 2000
	c := newCluster(t, 4, []string{topic})
	all := []int32{0, 1, 2, 3}
	produce(t, manualProducer(t, c), topic, all, 0, perPartition)

	cfg := testConfig(c, topic, "rr-group")
	cfg.MaxPollRecords = limit
	r := newReader(t, cfg, Hooks{}, testOpts()...)
	// Let the whole backlog be fetched before the first Poll, as it is for a
	// pipeline that was busy: move franz-go's buffered fetches into the
	// Reader's queues (what Poll does first) until every record is there.
	waitFor(t, 15*time.Second, "backlog fetched", func() bool {
		if err := r.absorb(r.cl.PollFetches(nil)); err != nil {
			t.Fatal(err)
		}
		r.cl.AllowRebalance() // absorb of a non-empty fetch holds the gate
		return r.buffered() == len(all)*perPartition
	})

	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	next := map[int32]int64{}
	for polls := 0; polls < len(all)*perPartition/limit; polls++ {
		recs, err := r.Poll(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) != limit {
			t.Fatalf("poll %d: %d records, want %d", polls, len(recs), limit)
		}
		perPart := map[int32]int{}
		runs := 0
		for i, rec := range recs {
			perPart[rec.Partition]++
			if i == 0 || recs[i-1].Partition != rec.Partition {
				runs++
			}
			if rec.Offset != next[rec.Partition] {
				t.Fatalf("poll %d: partition %d offset %d, want %d (order or duplicates broken)", polls, rec.Partition, rec.Offset, next[rec.Partition])
			}
			next[rec.Partition]++
		}
		for _, p := range all {
			if perPart[p] != limit/len(all) {
				t.Fatalf("poll %d: per partition %v, want %d each", polls, perPart, limit/len(all))
			}
		}
		if runs != len(all) {
			t.Errorf("poll %d: %d runs of partitions, want %d chunks", polls, runs, len(all))
		}
		r.AllowRebalance()
	}
	for _, p := range all {
		if next[p] != perPartition {
			t.Errorf("partition %d: read to %d, want %d", p, next[p], perPartition)
		}
	}
}

type event struct {
	who, what string
	parts     []int32
}

type eventLog struct {
	mu sync.Mutex
	ev []event
}

func (l *eventLog) add(who, what string, parts []int32) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.ev = append(l.ev, event{who, what, slices.Clone(parts)})
}

// index is the position of the first event of who/what mentioning partition
// p, or -1.
func (l *eventLog) index(who, what string, p int32) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i, e := range l.ev {
		if e.who == who && e.what == what && slices.Contains(e.parts, p) {
			return i
		}
	}
	return -1
}

func (l *eventLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var b strings.Builder
	for i, e := range l.ev {
		fmt.Fprintf(&b, "\n  %2d %s %s %v", i, e.who, e.what, e.parts)
	}
	return b.String()
}

func partitionsOf(recs []*kgo.Record) []int32 {
	var ps []int32
	for _, r := range recs {
		if !slices.Contains(ps, r.Partition) {
			ps = append(ps, r.Partition)
		}
	}
	return ps
}

// A second member joins: the first member's Revoked hook runs (and returns)
// before the second member is assigned the moved partitions, asks the table
// for their offsets or reads them; CommitGroupOffsets only commits owned
// partitions; kadm's group lag follows the commits.
func TestRebalanceRevokesBeforeNewOwnerStarts(t *testing.T) {
	const topic, group = "rebalance", "rebalance-group"
	c := newCluster(t, 4, []string{topic})
	all := []int32{0, 1, 2, 3}
	produce(t, manualProducer(t, c), topic, all, 0, 10)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	var log eventLog
	var a *Reader
	hooksA := Hooks{
		Assigned: func(_ context.Context, ps []int32) { log.add("A", "assigned", ps) },
		StartOffsets: func(_ context.Context, _ string, ps []int32) (map[int32]int64, error) {
			log.add("A", "start", ps)
			return nil, nil
		},
		Revoked: func(ctx context.Context, ps []int32, lost bool) {
			log.add("A", "revoke-begin", ps)
			if lost {
				t.Errorf("A lost %v", ps)
			}
			time.Sleep(300 * time.Millisecond) // a slow checkpoint
			// The checkpoint: table commit, then group offsets (still owned).
			next := map[int32]int64{}
			for _, p := range ps {
				next[p] = 3
			}
			if err := a.CommitGroupOffsets(ctx, next); err != nil {
				t.Errorf("commit in Revoked: %v", err)
			}
			log.add("A", "revoke-end", ps)
		},
	}
	hooksB := Hooks{
		Assigned: func(_ context.Context, ps []int32) { log.add("B", "assigned", ps) },
		StartOffsets: func(_ context.Context, _ string, ps []int32) (map[int32]int64, error) {
			log.add("B", "start", ps)
			return nil, nil
		},
		Revoked: func(_ context.Context, ps []int32, lost bool) { log.add("B", "revoked", ps) },
	}

	a = newReader(t, testConfig(c, topic, group), hooksA, testOpts()...)
	loopA := startPollLoop(a, nil)
	defer loopA.stop()
	waitFor(t, 10*time.Second, "A reads every partition", func() bool {
		for _, p := range all {
			if loopA.count(p) < 10 {
				return false
			}
		}
		return true
	})

	b := newReader(t, testConfig(c, topic, group), hooksB, testOpts()...)
	loopB := startPollLoop(b, func(recs []*kgo.Record) { log.add("B", "records", partitionsOf(recs)) })
	defer loopB.stop()
	waitFor(t, 15*time.Second, "B reads its partitions", func() bool {
		ps := b.Assigned()
		if len(ps) == 0 {
			return false
		}
		for _, p := range ps {
			if loopB.count(p) < 10 {
				return false
			}
		}
		return true
	})

	ownedA, ownedB := a.Assigned(), b.Assigned()
	if len(ownedA) != 2 || len(ownedB) != 2 || !slices.Equal(slices.Sorted(slices.Values(append(slices.Clone(ownedA), ownedB...))), all) {
		t.Fatalf("assignments A %v B %v, want two each covering %v", ownedA, ownedB, all)
	}
	// What the counters say: every partition A was assigned and still
	// owns or gave up (two of them at least, none lost); B's two.
	if ra := a.Rebalances(); ra.Revoked < 2 || ra.Lost != 0 || ra.Assigned-ra.Revoked != int64(len(ownedA)) {
		t.Errorf("A's Rebalances() = %+v, owning %v", ra, ownedA)
	}
	if rb := b.Rebalances(); rb != (RebalanceCounts{Assigned: 2}) {
		t.Errorf("B's Rebalances() = %+v, want 2 assigned", rb)
	}
	for _, p := range ownedB {
		revokeEnd := log.index("A", "revoke-end", p)
		assigned := log.index("B", "assigned", p)
		start := log.index("B", "start", p)
		records := log.index("B", "records", p)
		if revokeEnd < 0 || !(revokeEnd < assigned && assigned < start && start < records) {
			t.Errorf("partition %d: want A revoke-end (%d) < B assigned (%d) < B start (%d) < B records (%d); events:%s",
				p, revokeEnd, assigned, start, records, log.String())
		}
		if n := loopA.count(p); n != 10 {
			t.Errorf("A read %d records of moved partition %d, want 10 (none after the revoke)", n, p)
		}
	}
	if got := partitionsOf(recordsOf(loopB)); !slices.Equal(slices.Sorted(slices.Values(got)), ownedB) {
		t.Errorf("B read partitions %v, owns %v", got, ownedB)
	}

	// A commits 10 for every partition: only its own are written; B's keep
	// the 3 committed during A's revocation.
	adm := kadm.NewClient(newClient(t, c))
	if err := a.CommitGroupOffsets(ctx, map[int32]int64{0: 10, 1: 10, 2: 10, 3: 10}); err != nil {
		t.Fatal(err)
	}
	checkLag := func(want map[int32]int64) {
		t.Helper()
		lags, err := adm.Lag(ctx, group)
		if err != nil {
			t.Fatal(err)
		}
		gl := lags[group]
		if err := gl.Error(); err != nil {
			t.Fatal(err)
		}
		got := map[int32]int64{}
		for _, p := range all {
			l, ok := gl.Lag.Lookup(topic, p)
			if !ok {
				t.Fatalf("no lag for partition %d", p)
			}
			got[p] = l.Lag
		}
		if !maps.Equal(got, want) {
			t.Errorf("kadm lag = %v, want %v", got, want)
		}
	}
	want := map[int32]int64{}
	for _, p := range ownedA {
		want[p] = 0
	}
	for _, p := range ownedB {
		want[p] = 7
	}
	checkLag(want)

	nextB := map[int32]int64{}
	for _, p := range ownedB {
		nextB[p], want[p] = 10, 0
	}
	if err := b.CommitGroupOffsets(ctx, nextB); err != nil {
		t.Fatal(err)
	}
	checkLag(want)

	if lag, err := a.Lag(ctx); err != nil || len(lag) != 2 || lag[ownedA[0]] != 0 || lag[ownedA[1]] != 0 {
		t.Errorf("A.Lag = %v, %v; want 0 for %v", lag, err, ownedA)
	}
	if err := errors.Join(loopA.stop(), loopB.stop()); err != nil {
		t.Fatal(err)
	}
}

func recordsOf(l *pollLoop) []*kgo.Record {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []*kgo.Record
	for _, rs := range l.recs {
		out = append(out, rs...)
	}
	return out
}

// Close leaves the group: the Revoked hook gets every owned partition, and the
// remaining member owns everything long before the session timeout.
func TestCloseLeavesGroup(t *testing.T) {
	const topic, group = "leave", "leave-group"
	c := newCluster(t, 4, []string{topic})
	all := []int32{0, 1, 2, 3}
	produce(t, manualProducer(t, c), topic, all, 0, 5)

	cfg := testConfig(c, topic, group)
	cfg.SessionTimeout = 30 * time.Second // only a LeaveGroup can explain a prompt handover

	revokedA := make(chan []int32, 4)
	a := newReader(t, cfg, Hooks{Revoked: func(_ context.Context, ps []int32, lost bool) {
		if lost {
			t.Errorf("A lost %v", ps)
		}
		revokedA <- ps
	}}, testOpts()...)
	loopA := startPollLoop(a, nil)
	waitFor(t, 10*time.Second, "A owns every partition", func() bool { return len(a.Assigned()) == 4 })
	b := newReader(t, cfg, Hooks{}, testOpts()...)
	loopB := startPollLoop(b, nil)
	defer loopB.stop()
	waitFor(t, 15*time.Second, "two members", func() bool { return len(a.Assigned()) == 2 && len(b.Assigned()) == 2 })
	<-revokedA // the rebalance's revocation
	ownedA := a.Assigned()

	if err := loopA.stop(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	var wg sync.WaitGroup
	for range 2 { // concurrent and repeated Close: idempotent, both wait
		wg.Go(a.Close)
	}
	wg.Wait()
	a.Close()
	select {
	case ps := <-revokedA:
		if !slices.Equal(ps, ownedA) {
			t.Errorf("Revoked on Close with %v, want %v", ps, ownedA)
		}
	default:
		t.Errorf("Revoked was not called on Close")
	}
	if _, err := a.Poll(context.Background()); !errors.Is(err, ErrClosed) {
		t.Errorf("Poll after Close: %v, want ErrClosed", err)
	}
	waitFor(t, 5*time.Second, "B owns every partition", func() bool { return len(b.Assigned()) == 4 })
	t.Logf("B owned every partition %v after Close began", time.Since(start).Round(time.Millisecond))
	waitFor(t, 10*time.Second, "B reads every partition", func() bool {
		for _, p := range all {
			if loopB.count(p) < 5 {
				return false
			}
		}
		return true
	})
}

// table is the test's stand-in for the commit log: next offsets per
// partition, written by a checkpoint and read by StartOffsets.
type table struct {
	mu   sync.Mutex
	next map[int32]int64
}

func (tb *table) startOffsets(_ context.Context, _ string, ps []int32) (map[int32]int64, error) {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	out := map[int32]int64{}
	for _, p := range ps {
		if off, ok := tb.next[p]; ok {
			out[p] = off
		}
	}
	return out, nil
}

// While the pipeline holds polled records (Poll without AllowRebalance) no
// revocation happens and the joining member gets nothing, even when the
// records came from the Reader's own buffer rather than a fresh fetch. Once
// allowed, the revocation checkpoints what was handed out, records buffered
// but not handed out are dropped, and the new owner resumes from the
// checkpoint: every offset is read exactly once across the two members.
func TestRevokeWaitsForAllowRebalanceAndHandsOverExactlyOnce(t *testing.T) {
	const topic, group, perPartition = "handover", "handover-group", 400
	c := newCluster(t, 2, []string{topic})
	all := []int32{0, 1}
	produce(t, manualProducer(t, c), topic, all, 0, perPartition)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	tb := &table{next: map[int32]int64{}}
	var (
		mu      sync.Mutex
		handed  = map[int32]int64{} // next offset handed to A's pipeline
		readA   = map[int32][]int64{}
		allowed bool
		revoked []int32
	)
	hand := func(recs []*kgo.Record) {
		mu.Lock()
		defer mu.Unlock()
		for _, r := range recs {
			handed[r.Partition] = r.Offset + 1
			readA[r.Partition] = append(readA[r.Partition], r.Offset)
		}
	}
	cfgA := testConfig(c, topic, group)
	cfgA.MaxPollRecords = 4
	a := newReader(t, cfgA, Hooks{
		StartOffsets: tb.startOffsets,
		Revoked: func(_ context.Context, ps []int32, lost bool) {
			mu.Lock()
			defer mu.Unlock()
			if !allowed {
				t.Errorf("Revoked(%v) while the pipeline held polled records", ps)
			}
			revoked = append(revoked, ps...)
			tb.mu.Lock()
			for _, p := range ps {
				tb.next[p] = handed[p] // the checkpoint
			}
			tb.mu.Unlock()
		},
	}, testOpts()...)
	// Both partitions' records are queued in A before it polls (see the
	// round-robin test), so A holds records of the partition that moves.
	waitFor(t, 15*time.Second, "backlog fetched", func() bool {
		if err := a.absorb(a.cl.PollFetches(nil)); err != nil {
			t.Fatal(err)
		}
		a.cl.AllowRebalance()
		return a.buffered() == len(all)*perPartition
	})
	recs, err := a.Poll(ctx)
	if err != nil || len(recs) != 4 {
		t.Fatalf("poll 1: %d records, %v", len(recs), err)
	}
	hand(recs)
	a.AllowRebalance()
	recs, err = a.Poll(ctx) // from the Reader's queues only: no fetch holds the gate
	if err != nil || len(recs) != 4 {
		t.Fatalf("poll 2: %d records, %v", len(recs), err)
	}
	hand(recs)

	b := newReader(t, testConfig(c, topic, group), Hooks{StartOffsets: tb.startOffsets}, testOpts()...)
	loopB := startPollLoop(b, nil)
	defer loopB.stop()
	time.Sleep(1500 * time.Millisecond) // well past a heartbeat, well below the rebalance timeout
	if got := b.Assigned(); len(got) != 0 {
		t.Errorf("B was assigned %v while A held polled records", got)
	}
	if got := a.Assigned(); len(got) != 2 {
		t.Errorf("A owns %v while holding polled records, want both", got)
	}
	mu.Lock()
	allowed = true
	mu.Unlock()
	a.AllowRebalance()

	// A slow pipeline (4 records per 20 ms until the revocation) still has
	// most of its queued records to go when the revocation comes.
	loopA := startPollLoop(a, func(recs []*kgo.Record) {
		hand(recs)
		mu.Lock()
		slow := len(revoked) == 0
		mu.Unlock()
		if slow {
			time.Sleep(20 * time.Millisecond)
		}
	})
	defer loopA.stop()
	waitFor(t, 10*time.Second, "one partition each", func() bool { return len(a.Assigned()) == 1 && len(b.Assigned()) == 1 })
	moved := b.Assigned()[0]
	kept := a.Assigned()[0]
	waitFor(t, 10*time.Second, "every record read", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(readA[kept]) == perPartition && len(readA[moved])+loopB.count(moved) == perPartition
	})
	if err := errors.Join(loopA.stop(), loopB.stop()); err != nil {
		t.Fatal(err)
	}

	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(revoked, []int32{moved}) {
		t.Errorf("A revoked %v, want [%d]", revoked, moved)
	}
	var fromB []int64
	for _, r := range recordsOf(loopB) {
		fromB = append(fromB, r.Offset)
	}
	got := append(slices.Clone(readA[moved]), fromB...)
	for i, off := range got {
		if off != int64(i) {
			t.Fatalf("partition %d read by A %v then B %v: not every offset exactly once", moved, readA[moved], fromB)
		}
	}
	if len(got) != perPartition || len(fromB) == 0 || len(readA[moved]) < 4 {
		t.Fatalf("partition %d: A read %d, B read %d; want a split of %d", moved, len(readA[moved]), len(fromB), perPartition)
	}
	t.Logf("partition %d: A read %d records, B resumed at %d", moved, len(readA[moved]), fromB[0])
}

// A failing StartOffsets (the table is briefly unreadable) is retried within
// the assignment: no session teardown, and reading starts at the table's
// offset once it answers.
func TestStartOffsetsErrorsAreRetried(t *testing.T) {
	const topic = "retry"
	c := newCluster(t, 1, []string{topic})
	produce(t, manualProducer(t, c), topic, []int32{0}, 0, 10)
	var mu sync.Mutex
	calls := 0
	r := newReader(t, testConfig(c, topic, "retry-group"), Hooks{
		StartOffsets: func(context.Context, string, []int32) (map[int32]int64, error) {
			mu.Lock()
			defer mu.Unlock()
			calls++
			if calls <= 2 {
				return nil, errors.New("table unavailable")
			}
			return map[int32]int64{0: 7}, nil
		},
		Revoked: func(_ context.Context, ps []int32, lost bool) {
			if lost { // a session teardown; the revocation on Close is fine
				t.Errorf("Revoked(%v, lost=%t)", ps, lost)
			}
		},
	}, testOpts()...)
	if got := pollFirst(t, r, 1); got[0] != 7 {
		t.Errorf("first offset %d, want 7", got[0])
	}
	mu.Lock()
	defer mu.Unlock()
	if calls != 3 {
		t.Errorf("StartOffsets called %d times, want 3", calls)
	}
}

// When the group fences the member (a fatal heartbeat error), the partitions
// are reported lost; a CommitGroupOffsets inside that hook commits nothing
// (another member may own them); the Reader rejoins and asks the table again.
func TestLostPartitions(t *testing.T) {
	const topic, group = "lost", "lost-group"
	c := newCluster(t, 1, []string{topic})
	produce(t, manualProducer(t, c), topic, []int32{0}, 0, 5)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	var (
		mu        sync.Mutex
		starts    int
		lostCalls [][]int32
		commitErr error
		r         *Reader
	)
	r = newReader(t, testConfig(c, topic, group), Hooks{
		StartOffsets: func(context.Context, string, []int32) (map[int32]int64, error) {
			mu.Lock()
			defer mu.Unlock()
			starts++
			return nil, nil
		},
		Revoked: func(ctx context.Context, ps []int32, lost bool) {
			if !lost {
				return
			}
			err := r.CommitGroupOffsets(ctx, map[int32]int64{0: 5})
			mu.Lock()
			defer mu.Unlock()
			lostCalls = append(lostCalls, ps)
			commitErr = err
		},
	}, testOpts()...)
	loop := startPollLoop(r, nil)
	defer loop.stop()
	waitFor(t, 10*time.Second, "records read", func() bool { return loop.count(0) == 5 })

	c.ControlKey(int16(kmsg.Heartbeat), func(req kmsg.Request) (kmsg.Response, error, bool) {
		resp := req.ResponseKind().(*kmsg.HeartbeatResponse)
		resp.ErrorCode = kerr.IllegalGeneration.Code
		return resp, nil, true
	})
	waitFor(t, 10*time.Second, "partitions lost", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(lostCalls) == 1
	})
	waitFor(t, 10*time.Second, "rejoined and asked the table again", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return starts == 2 && slices.Equal(r.Assigned(), []int32{0})
	})
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(lostCalls[0], []int32{0}) || commitErr != nil {
		t.Errorf("lost %v, commit in hook: %v", lostCalls, commitErr)
	}
	if got, want := r.Rebalances(), (RebalanceCounts{Assigned: 2, Lost: 1}); got != want {
		t.Errorf("Rebalances() = %+v, want %+v (assigned, lost, assigned again)", got, want)
	}
	offs, err := kadm.NewClient(newClient(t, c)).FetchOffsets(ctx, group)
	if err != nil {
		t.Fatal(err)
	}
	if o, ok := offs.Lookup(topic, 0); ok && o.Err == nil && o.At >= 0 {
		t.Errorf("a lost partition was committed: %+v", o)
	}
}

// TestTableOffsetBeyondLogEnd: the table says partition 0 resumes at 100,
// but the log holds offsets 0..9 (the topic was recreated, or an unclean
// election cut it). Reading restarts at the log start and every record is
// read, those produced later too; starting at 100 made the buffer drop
// the first 100 records of the new log as a fetch that went back.
func TestTableOffsetBeyondLogEnd(t *testing.T) {
	c := newCluster(t, 1, []string{"recreated"})
	prod := manualProducer(t, c)
	produce(t, prod, "recreated", []int32{0}, 0, 10)
	hooks := Hooks{StartOffsets: func(context.Context, string, []int32) (map[int32]int64, error) {
		return map[int32]int64{0: 100}, nil
	}}
	r := newReader(t, testConfig(c, "recreated", "g-recreated"), hooks, testOpts()...)
	var got []int64
	read := func(n int) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		for len(got) < n {
			recs, err := r.Poll(ctx)
			if err != nil {
				t.Fatalf("poll after %d records: %v", len(got), err)
			}
			for _, rec := range recs {
				got = append(got, rec.Offset)
			}
			r.AllowRebalance()
		}
	}
	read(10)
	produce(t, prod, "recreated", []int32{0}, 10, 5)
	read(15)
	for i, off := range got {
		if off != int64(i) {
			t.Fatalf("offsets read %v, want 0..14 once each", got)
		}
	}
	if len(got) != 15 {
		t.Fatalf("%d records read, want 15", len(got))
	}
}
