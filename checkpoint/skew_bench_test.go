package checkpoint_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lakestream/lakestream/checkpoint"
	"github.com/lakestream/lakestream/internal/objstore"
	"github.com/lakestream/lakestream/source"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// BenchmarkSkew is issue 5's skew scenario through the whole pipeline: a
// kfake topic of 8 partitions read by a Coordinator writing a filesystem
// table, once with franz-go's plain PollRecords (plainSource) and once with
// the fair reader (source.Reader with MaxEventTimeSkew; without it the
// Reader does not narrow event-time spreads, see BenchmarkFairness).
//
// The timeline (skewScenario): before the run every partition holds a
// backlog covering the same hour of event time, partition 0 holding 50x the
// records of the others. During the run a producer appends Rate records per
// second to every partition, event time = now; partition 7's producer
// stalls for 30 s mid-run: it sends nothing, holding its records back, then
// sends them at once with their original event times (an upstream outage
// with a buffering client). Every record's Kafka timestamp is its event
// time. Once the producer stops and everything produced was polled, the run
// ends with a final checkpoint.
//
// Measured from the committed table (each commit's files carry their event
// time range): the spread (max - min event time) of each committed
// checkpoint, its mean, median and maximum in seconds; the late records
// (Coordinator Stats); the files and checkpoints committed. Both sources
// define the watermark the same way, so late records are comparable.
//
// Run: go test -run '^$' -bench Skew -benchtime 1x ./checkpoint
func BenchmarkSkew(b *testing.B) {
	for _, mode := range []skewMode{skewPlain, skewFair} {
		b.Run(string(mode), func(b *testing.B) {
			var all skewResult
			for range b.N {
				all.add(runSkew(b, fullSkew, mode))
			}
			all.report(b)
		})
	}
}

// skewScenario parametrises a skew run: fullSkew for the benchmark, a
// smaller one for the test.
type skewScenario struct {
	Light   int           // backlog records of each light partition
	Heavy   int           // backlog records of partition 0
	Backlog time.Duration // event time the backlogs span, ending at the run's start

	Rate    int           // live records per second per partition
	RunFor  time.Duration // how long the live producer runs
	StallAt time.Duration // when partition 7's producer stalls, from the run's start
	Stall   time.Duration // for how long

	Interval        time.Duration // checkpoint interval
	AllowedLateness time.Duration // below the stall, or nothing is ever late
	IdleTimeout     time.Duration // below the stall, or the stalled partition never idles

	// The fair reader's settings (0: the Reader's defaults).
	MaxEventTimeSkew    time.Duration
	MaxPartitionRecords int
}

// skewBenchStall is how long partition 7's producer stalls in the benchmark.
const skewBenchStall = 30 * time.Second

// fullSkew is the benchmark's scenario. The backlogs are 5x those of
// BenchmarkFairness (20,000 records per light partition, 1,000,000 in
// partition 0, over an hour): the pipeline drains some 700,000 records/s
// on 2 cores, so with BenchmarkFairness's sizes the whole backlog fits in
// one 250 ms checkpoint in both modes and their spreads are equal; here
// catching up takes several. The idle timeout and allowed lateness are
// below the stall: with their defaults (1 m, 10 m) nothing would ever be
// late. The fair reader is that of BenchmarkFairness's fair-skew row:
// default quotas, MaxEventTimeSkew 1 m.
var fullSkew = skewScenario{
	Light: 20_000, Heavy: 1_000_000, Backlog: time.Hour,
	Rate: 200, RunFor: 60 * time.Second, StallAt: 15 * time.Second, Stall: skewBenchStall,
	Interval: 250 * time.Millisecond, AllowedLateness: 5 * time.Second, IdleTimeout: 10 * time.Second,
	MaxEventTimeSkew: time.Minute,
}

const (
	skewTopic      = "pageviews" // the topic newPipelineWith's coordinator reads
	skewPartitions = 8
	skewHeavy      = int32(0) // the partition with the 50x backlog
	skewStalled    = int32(7) // the partition whose producer stalls
	skewMaxPoll    = source.DefaultMaxPollRecords
	skewWorkers    = 2
	// skewDrainTimeout bounds the wait for the pipeline to poll what the
	// producer wrote after it stopped.
	skewDrainTimeout = 2 * time.Minute
)

type skewMode string

const (
	skewPlain skewMode = "plain"
	skewFair  skewMode = "fair"
)

// skewResult is what one or more runs measured.
type skewResult struct {
	runs        int
	spreads     []time.Duration // per committed checkpoint
	late        int64
	files       int
	checkpoints int
	produced    int64 // records produced
	rows        int64 // rows in the table
	distinct    int64 // distinct (partition, offset) in the table
}

func (r *skewResult) add(o skewResult) {
	r.runs += o.runs
	r.spreads = append(r.spreads, o.spreads...)
	r.late += o.late
	r.files += o.files
	r.checkpoints += o.checkpoints
	r.produced += o.produced
	r.rows += o.rows
	r.distinct += o.distinct
}

// spreadStats returns the mean, median and maximum spread.
func (r *skewResult) spreadStats() (mean, p50, maximum time.Duration) {
	if len(r.spreads) == 0 {
		return 0, 0, 0
	}
	s := slices.Sorted(slices.Values(r.spreads))
	var sum time.Duration
	for _, d := range s {
		sum += d
	}
	return sum / time.Duration(len(s)), s[len(s)/2], s[len(s)-1]
}

func (r *skewResult) report(b *testing.B) {
	mean, p50, maximum := r.spreadStats()
	n := float64(max(r.runs, 1))
	b.ReportMetric(mean.Seconds(), "spread-mean-s")
	b.ReportMetric(p50.Seconds(), "spread-p50-s")
	b.ReportMetric(maximum.Seconds(), "spread-max-s")
	b.ReportMetric(float64(r.late)/n, "late-records")
	b.ReportMetric(float64(r.files)/n, "files")
	b.ReportMetric(float64(r.checkpoints)/n, "checkpoints")
	b.ReportMetric(float64(r.produced)/n, "records")
}

func (r skewResult) String() string {
	mean, p50, maximum := r.spreadStats()
	return fmt.Sprintf("spread mean %.1fs p50 %.1fs max %.1fs, late %d, files %d, checkpoints %d, records %d",
		mean.Seconds(), p50.Seconds(), maximum.Seconds(), r.late, r.files, r.checkpoints, r.produced)
}

// runSkew runs the scenario once through a fresh cluster and table, checks
// that every produced record was committed exactly once, and measures.
func runSkew(tb testing.TB, sc skewScenario, mode skewMode) skewResult {
	tb.Helper()
	cluster, err := kfake.NewCluster(kfake.NumBrokers(3), kfake.SeedTopics(skewPartitions, skewTopic),
		kfake.GroupMinSessionTimeout(100*time.Millisecond))
	if err != nil {
		tb.Fatal(err)
	}
	defer cluster.Close()
	prod, err := kgo.NewClient(kgo.SeedBrokers(cluster.ListenAddrs()...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		tb.Fatal(err)
	}
	defer prod.Close()
	backlog := produceBacklog(tb, prod, sc, time.Now())

	root := tb.TempDir()
	bucket, err := objstore.NewFilesystem(root)
	if err != nil {
		tb.Fatal(err)
	}
	// Maintenance off: every commit stays on the active timeline, to be
	// measured.
	p := newPipelineWith(tb, bucket, skewWorkers, nil, "", nil, checkpoint.WithInterval(sc.Interval),
		checkpoint.WithLateData(sc.AllowedLateness, 0, checkpoint.LateWrite, 32<<20), checkpoint.WithTimelineMaintenance(1, 0))
	defer p.coord.Close()
	src, closeSrc := newSkewSource(tb, cluster, sc, mode, p.coord)
	defer closeSrc()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	run := startRun(ctx, p.coord, src)
	live, err := produceLive(ctx, prod, sc, run.stopped)
	produced := backlog + live
	if err == nil {
		err = waitPolled(p.coord, produced, run)
	}
	cancel() // the final checkpoint commits the rest
	if rerr := run.wait(); err == nil {
		err = rerr
	}
	if err != nil {
		tb.Fatalf("%s: %v", mode, err)
	}
	closeSrc()
	if err := p.coord.Close(); err != nil {
		tb.Fatal(err)
	}

	res := measureTable(tb, p, root)
	res.runs, res.produced = 1, produced
	res.late = p.coord.Stats().LateRecords
	if res.rows != produced || res.distinct != produced {
		tb.Fatalf("%s: table holds %d rows, %d distinct (partition, offset); want every one of the %d produced once",
			mode, res.rows, res.distinct, produced)
	}
	return res
}

// newSkewSource starts the mode's source; the returned func closes it (it
// is idempotent).
func newSkewSource(tb testing.TB, c *kfake.Cluster, sc skewScenario, mode skewMode, coord *checkpoint.Coordinator) (checkpoint.Source, func()) {
	tb.Helper()
	if mode == skewPlain {
		s, err := newPlainSource(c.ListenAddrs(), sc.IdleTimeout)
		if err != nil {
			tb.Fatal(err)
		}
		return s, s.Close
	}
	r, err := source.NewReader(source.Config{
		Brokers: c.ListenAddrs(), Topic: skewTopic, Group: "skew-fair",
		SessionTimeout: 3 * time.Second, RebalanceTimeout: 5 * time.Second,
		MaxPollRecords: skewMaxPoll, MaxPartitionRecords: sc.MaxPartitionRecords,
		MaxEventTimeSkew: sc.MaxEventTimeSkew, IdleTimeout: sc.IdleTimeout,
	}, source.Hooks{StartOffsets: coord.StartOffsets, Revoked: coord.Revoked},
		source.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		tb.Fatal(err)
	}
	return r, r.Close
}

// coordRun is a Coordinator.Run in its own goroutine.
type coordRun struct {
	done chan struct{}
	err  error // set before done is closed
}

func startRun(ctx context.Context, c *checkpoint.Coordinator, src checkpoint.Source) *coordRun {
	r := &coordRun{done: make(chan struct{})}
	go func() {
		defer close(r.done)
		r.err = c.Run(ctx, src)
	}()
	return r
}

// wait returns Run's error once it returned.
func (r *coordRun) wait() error {
	<-r.done
	return r.err
}

func (r *coordRun) stopped() bool {
	select {
	case <-r.done:
		return true
	default:
		return false
	}
}

// waitPolled waits until the coordinator has polled n records, so that the
// final checkpoint covers everything produced; it gives up if Run returns
// first.
func waitPolled(c *checkpoint.Coordinator, n int64, run *coordRun) error {
	deadline := time.Now().Add(skewDrainTimeout)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for c.Stats().Records < n {
		select {
		case <-run.done:
			return fmt.Errorf("pipeline stopped after polling %d of %d records: %v", c.Stats().Records, n, run.err)
		case <-tick.C:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("polled %d of %d records after %v", c.Stats().Records, n, skewDrainTimeout)
		}
	}
	return nil
}

// measureTable reads every commit's event-time range and counts the rows
// and distinct Kafka positions of the table's files.
func measureTable(tb testing.TB, p *pipeline, root string) skewResult {
	tb.Helper()
	ctx := context.Background()
	tl, err := p.table.Timeline(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	if pending := tl.Pending(); len(pending) > 0 {
		tb.Fatalf("pending instants left: %v", pending)
	}
	var res skewResult
	for _, e := range tl.Completed() {
		m, err := p.table.ReadCommitMetadata(ctx, e)
		if err != nil {
			tb.Fatal(err)
		}
		lo, hi := int64(math.MaxInt64), int64(math.MinInt64)
		for _, stats := range m.PartitionToWriteStats {
			for _, s := range stats {
				res.files++
				if s.MinEventTime != nil && s.MaxEventTime != nil {
					lo, hi = min(lo, *s.MinEventTime), max(hi, *s.MaxEventTime)
				}
			}
		}
		res.checkpoints++
		if lo <= hi {
			res.spreads = append(res.spreads, time.Duration(hi-lo)*time.Microsecond)
		}
	}
	res.rows, res.distinct = countPositions(tb, p, root)
	return res
}

// countPositions counts the rows of the table's snapshot and their distinct
// (partition, offset), with DuckDB.
func countPositions(tb testing.TB, p *pipeline, root string) (rows, distinct int64) {
	tb.Helper()
	snap, err := p.table.Snapshot(context.Background())
	if err != nil {
		tb.Fatal(err)
	}
	if len(snap.Files) == 0 {
		return 0, 0
	}
	files := make([]string, 0, len(snap.Files))
	for _, f := range snap.Files {
		files = append(files, "'"+filepath.Join(root, f.Path)+"'")
	}
	db, err := sql.Open("duckdb", "")
	if err != nil {
		tb.Fatal(err)
	}
	defer db.Close()
	q := fmt.Sprintf(`SELECT count(*), count(DISTINCT (_kafka_partition, _kafka_offset)) FROM read_parquet([%s])`, strings.Join(files, ","))
	if err := db.QueryRow(q).Scan(&rows, &distinct); err != nil {
		tb.Fatal(err)
	}
	return rows, distinct
}

// skewValue is a pageview of about 300 bytes (pipeline_test.go's schema)
// with event time at, to the millisecond like the Kafka timestamp.
func skewValue(i int, at time.Time) []byte {
	return fmt.Appendf(nil, `{"userId":%d,"sessionNumber":%d,"pageNumber":%d,"url":"https://shop.example.com/products/%d?ref=home","referrer":"https://www.google.com/search?q=shoes+%d","userAgent":"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36","eventTime":"%s"}`,
		100000+i*7919%900000, i%50, i%30, i%10000, i%1000, at.UTC().Format("2006-01-02T15:04:05.000Z"))
}

func skewRecord(p int32, i int, at time.Time) *kgo.Record {
	at = at.Truncate(time.Millisecond)
	return &kgo.Record{Topic: skewTopic, Partition: p, Value: skewValue(i, at), Timestamp: at}
}

// produceBacklog writes every partition's backlog, event times evenly over
// the Backlog before end, and returns how many records it wrote.
func produceBacklog(tb testing.TB, cl *kgo.Client, sc skewScenario, end time.Time) int64 {
	tb.Helper()
	var total int64
	for p := range int32(skewPartitions) {
		n := sc.Light
		if p == skewHeavy {
			n = sc.Heavy
		}
		step := sc.Backlog / time.Duration(n)
		start := end.Add(-sc.Backlog)
		for first := 0; first < n; first += 10_000 {
			recs := make([]*kgo.Record, 0, min(10_000, n-first))
			for i := first; i < min(first+10_000, n); i++ {
				recs = append(recs, skewRecord(p, i, start.Add(time.Duration(i)*step)))
			}
			if err := produceSync(cl, recs); err != nil {
				tb.Fatal(err)
			}
			total += int64(len(recs))
		}
	}
	return total
}

func produceSync(cl *kgo.Client, recs []*kgo.Record) error {
	if len(recs) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return cl.ProduceSync(ctx, recs...).FirstErr()
}

// produceLive appends Rate records per second to every partition, event
// time now, for RunFor, every 20 ms what is due. The stalled partition's
// records due between StallAt and StallAt+Stall are held back and sent
// together when the stall ends. It returns how many records it wrote; it
// stops early if ctx ends or the pipeline stopped.
func produceLive(ctx context.Context, cl *kgo.Client, sc skewScenario, stopped func() bool) (int64, error) {
	start := time.Now()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	var (
		due      [skewPartitions]int // records made so far, per partition
		held     []*kgo.Record       // the stalled partition's, during the stall
		produced int64
	)
	for {
		elapsed := time.Since(start)
		stalled := elapsed >= sc.StallAt && elapsed < sc.StallAt+sc.Stall
		want := int(min(elapsed, sc.RunFor).Seconds() * float64(sc.Rate))
		var batch []*kgo.Record
		now := time.Now()
		for p := range int32(skewPartitions) {
			for ; due[p] < want; due[p]++ {
				r := skewRecord(p, due[p], now)
				if p == skewStalled && stalled {
					held = append(held, r)
					continue
				}
				batch = append(batch, r)
			}
		}
		if !stalled && len(held) > 0 {
			// The stall ends: the held records go first, keeping the
			// partition's event times in order.
			batch = append(held, batch...)
			held = nil
		}
		if err := produceSync(cl, batch); err != nil {
			return produced, fmt.Errorf("produce live records: %w", err)
		}
		produced += int64(len(batch))
		if elapsed >= sc.RunFor && len(held) == 0 {
			return produced, nil
		}
		select {
		case <-ctx.Done():
			return produced, ctx.Err()
		case <-tick.C:
		}
		if stopped() {
			return produced, errors.New("the pipeline stopped while records were produced")
		}
	}
}

// skewNoEventTime marks a partition none of whose event times was observed.
const skewNoEventTime = math.MinInt64

// plainSource is the baseline: franz-go's PollRecords(ctx, 10000) over every
// partition of the topic from the log start, without a consumer group (a
// single member owning every partition, as the fair run's single Reader
// does; the table is new, so the log start is where the table says to
// start). AllowRebalance and QueueGroupOffsets have nothing to do without
// a group (the Reader's group offsets only feed lag tools).
//
// It implements Watermarker with source.Reader's definition, so that late
// records are counted the same way for both: the minimum of the largest
// observed event times of the active partitions; a partition is idle (does
// not count) when it is caught up (its next offset at the last stable
// offset of its latest fetch) and had no record returned for IdleTimeout
// (since the start if none was); if every partition is idle, the minimum
// over those with an observed event time; not ok while an active partition
// has no observed event time; it never goes back. (OutOfOrderness is 0 in
// both runs.) Records franz-go buffered but PollRecords has not returned
// yet count as unread, as the Reader's queued records do: they are below
// the fetch's last stable offset.
type plainSource struct {
	cl        *kgo.Client
	idle      time.Duration
	closeOnce sync.Once

	parts [skewPartitions]*plainPart // eventTime lock free (ObserveEventTime)
	mu    sync.Mutex                 // guards the parts' other fields, wm and wmSet
	wm    int64
	wmSet bool
}

type plainPart struct {
	eventTime    atomic.Int64 // largest observed, micros, or skewNoEventTime
	next         int64        // next offset to return
	lso          int64        // last stable offset of the latest fetch; -1 unknown
	started      time.Time
	lastReturned time.Time // zero until a record is returned
}

var errPlainClosed = errors.New("plain source closed")

func newPlainSource(brokers []string, idle time.Duration) (*plainSource, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(skewTopic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	if err != nil {
		return nil, err
	}
	s := &plainSource{cl: cl, idle: idle}
	now := time.Now()
	for p := range s.parts {
		s.parts[p] = &plainPart{lso: -1, started: now}
		s.parts[p].eventTime.Store(skewNoEventTime)
	}
	return s, nil
}

func (s *plainSource) Poll(ctx context.Context) ([]*kgo.Record, error) {
	fs := s.cl.PollRecords(ctx, skewMaxPoll)
	if fs.IsClientClosed() {
		return nil, errPlainClosed
	}
	var ferr error
	for _, fe := range fs.Errors() {
		if !errors.Is(fe.Err, context.Canceled) && !errors.Is(fe.Err, context.DeadlineExceeded) {
			ferr = errors.Join(ferr, fmt.Errorf("partition %d: %w", fe.Partition, fe.Err))
		}
	}
	if ferr != nil {
		return nil, ferr // franz-go retries what can be retried: this cannot
	}
	s.absorb(fs)
	recs := fs.Records()
	if len(recs) == 0 && ctx.Err() != nil {
		return nil, ctx.Err()
	}
	return recs, nil
}

// absorb notes each partition's next offset, last stable offset and when a
// record of it was last returned.
func (s *plainSource) absorb(fs kgo.Fetches) {
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	fs.EachPartition(func(fp kgo.FetchTopicPartition) {
		if fp.Partition < 0 || int(fp.Partition) >= len(s.parts) || fp.Err != nil {
			return
		}
		ps := s.parts[fp.Partition]
		if fp.HighWatermark >= 0 {
			ps.lso = fp.HighWatermark
			if fp.LastStableOffset >= 0 {
				ps.lso = fp.LastStableOffset
			}
		}
		if n := len(fp.Records); n > 0 {
			ps.next = fp.Records[n-1].Offset + 1
			ps.lastReturned = now
		}
	})
}

func (s *plainSource) AllowRebalance()                   {}
func (s *plainSource) QueueGroupOffsets(map[int32]int64) {}
func (s *plainSource) Positions() map[int32]int64        { return nil } // from the log start, as the new table says

// ObserveEventTime keeps each partition's largest event time, as the
// Reader's does (and never pauses anything).
func (s *plainSource) ObserveEventTime(partition int32, eventTimeMicros int64) {
	if partition < 0 || int(partition) >= len(s.parts) {
		return
	}
	et := &s.parts[partition].eventTime
	for {
		cur := et.Load()
		if eventTimeMicros <= cur || et.CompareAndSwap(cur, eventTimeMicros) {
			return
		}
	}
}

// Watermark is source.Reader's Watermark over plainSource's partitions.
func (s *plainSource) Watermark() (int64, bool) {
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	low, active, unknown := int64(math.MaxInt64), 0, false
	lowIdle, anyIdle := int64(math.MaxInt64), false
	for _, ps := range s.parts {
		et := ps.eventTime.Load()
		if ps.idleLocked(now, s.idle) {
			if et != skewNoEventTime {
				lowIdle, anyIdle = min(lowIdle, et), true
			}
			continue
		}
		active++
		if et == skewNoEventTime {
			unknown = true
			continue
		}
		low = min(low, et)
	}
	wm, have := int64(0), false
	switch {
	case active > 0 && !unknown:
		wm, have = low, true
	case active == 0 && anyIdle:
		wm, have = lowIdle, true
	}
	if have && (!s.wmSet || wm > s.wm) {
		s.wm, s.wmSet = wm, true
	}
	return s.wm, s.wmSet
}

// idleLocked is the Reader's idleness: caught up, and nothing returned for
// idle (since the start if nothing was).
func (ps *plainPart) idleLocked(now time.Time, idle time.Duration) bool {
	if ps.lso < 0 || ps.next < ps.lso {
		return false
	}
	last := ps.lastReturned
	if last.IsZero() {
		last = ps.started
	}
	return now.Sub(last) >= idle
}

// Close closes the client; it is idempotent.
func (s *plainSource) Close() { s.closeOnce.Do(s.cl.Close) }
