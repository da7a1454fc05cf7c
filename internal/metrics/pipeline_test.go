package metrics_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lakestream/lakestream/internal/metrics"
	"github.com/lakestream/lakestream/internal/objstore"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
)

// fake is a pipeline whose state the test sets between collections.
type fake struct {
	mu        sync.Mutex
	parts     []metrics.PartitionStat
	wm        int64
	wmOK      bool
	workers   []metrics.WorkerStat
	pipe      metrics.PipelineStats
	hot       int
	rebalance metrics.RebalanceStats
	collected int
}

func (f *fake) sources() metrics.Sources {
	return metrics.Sources{
		Partitions: func() []metrics.PartitionStat {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.collected++
			return append([]metrics.PartitionStat(nil), f.parts...)
		},
		Watermark:  func() (int64, bool) { f.mu.Lock(); defer f.mu.Unlock(); return f.wm, f.wmOK },
		Rebalances: func() metrics.RebalanceStats { f.mu.Lock(); defer f.mu.Unlock(); return f.rebalance },
		Workers: func() []metrics.WorkerStat {
			f.mu.Lock()
			defer f.mu.Unlock()
			return append([]metrics.WorkerStat(nil), f.workers...)
		},
		Pipeline:   func() metrics.PipelineStats { f.mu.Lock(); defer f.mu.Unlock(); return f.pipe },
		HotBuckets: func() int { f.mu.Lock(); defer f.mu.Unlock(); return f.hot },
	}
}

func newReader(t *testing.T) (*sdkmetric.ManualReader, *sdkmetric.MeterProvider) {
	t.Helper()
	r := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(r))
	t.Cleanup(func() { mp.Shutdown(t.Context()) })
	return r, mp
}

// want checks one data point: kind, attributes and value.
func want(t *testing.T, got map[string]series, name, kind, attrs string, value float64) {
	t.Helper()
	s, ok := got[name]
	if !ok {
		t.Errorf("%s: not collected", name)
		return
	}
	if s.kind != kind {
		t.Errorf("%s: %s, want %s", name, s.kind, kind)
	}
	v, ok := s.points[attrs]
	switch {
	case !ok:
		t.Errorf("%s{%s}: no point; points %v", name, attrs, s.points)
	case v != value:
		t.Errorf("%s{%s} = %v, want %v", name, attrs, v, value)
	}
}

func absent(t *testing.T, got map[string]series, name, attrs string) {
	t.Helper()
	if v, ok := got[name].points[attrs]; ok {
		t.Errorf("%s{%s} = %v, want no point", name, attrs, v)
	}
}

// TestCollectsFedSources: every instrument reports what the sources say
// at collection time, with its attributes, and follows them between
// collections.
func TestCollectsFedSources(t *testing.T) {
	r, mp := newReader(t)
	f := &fake{
		parts: []metrics.PartitionStat{
			{Partition: 0, Lag: 42, Records: 1000, Bytes: 64000, BufferedRecords: 7, BufferedBytes: 700,
				Paused: true, PauseReasons: []string{"buffered-bytes", "event-time-skew"}, EventTime: 1_700_000_000_250_000, HasEventTime: true},
			{Partition: 3, Lag: -1, Records: 5, Bytes: 50, Idle: true},
		},
		wm: 1_699_999_999_500_000, wmOK: true,
		workers: []metrics.WorkerStat{{Worker: 0, OpenFiles: 3, BufferedBytes: 4096}, {Worker: 1, OpenFiles: 0, BufferedBytes: 0}},
		pipe: metrics.PipelineStats{Records: 1005, Bytes: 64050, Rows: 990, DeadLetters: map[string]int64{"decode": 4, "too_large": 1},
			LateRecords: 12, LateBatches: 2, LateBuffered: 3, Checkpoints: 6, Files: 9, RowsCommitted: 900, LastDuration: 1500 * time.Millisecond, BudgetFlushes: 4, RowsStaged: 7},
		hot:       2,
		rebalance: metrics.RebalanceStats{Assigned: 6, Revoked: 2, Lost: 1},
	}
	p, err := metrics.New(mp.Meter("test"), f.sources(), metrics.WithAttributes(attribute.String("topic", "orders")))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()

	got := collect(t, r)
	p0, p3 := "partition=0,topic=orders", "partition=3,topic=orders"
	want(t, got, metrics.NamePartitionLag, "gauge", p0, 42)
	absent(t, got, metrics.NamePartitionLag, p3) // unknown lag
	want(t, got, metrics.NamePartitionRecords, "counter", p0, 1000)
	want(t, got, metrics.NamePartitionRecords, "counter", p3, 5)
	want(t, got, metrics.NamePartitionBytes, "counter", p0, 64000)
	want(t, got, metrics.NamePartitionBufferedRecords, "gauge", p0, 7)
	want(t, got, metrics.NamePartitionBufferedBytes, "gauge", p0, 700)
	want(t, got, metrics.NamePartitionPaused, "gauge", p0, 1)
	want(t, got, metrics.NamePartitionPaused, "gauge", p3, 0)
	want(t, got, metrics.NamePartitionPausedReason, "gauge", "partition=0,reason=buffered-bytes,topic=orders", 1)
	want(t, got, metrics.NamePartitionPausedReason, "gauge", "partition=0,reason=event-time-skew,topic=orders", 1)
	if n := len(got[metrics.NamePartitionPausedReason].points); n != 2 {
		t.Errorf("paused reasons: %d points, want 2 (no known reasons configured)", n)
	}
	want(t, got, metrics.NamePartitionIdle, "gauge", p0, 0)
	want(t, got, metrics.NamePartitionIdle, "gauge", p3, 1)
	want(t, got, metrics.NamePartitionEventTime, "gauge", p0, 1_700_000_000.25)
	absent(t, got, metrics.NamePartitionEventTime, p3) // no event time seen
	want(t, got, metrics.NameWatermark, "gauge", "topic=orders", 1_699_999_999.5)
	want(t, got, metrics.NameRebalancePartitions, "counter", "event=assigned,topic=orders", 6)
	want(t, got, metrics.NameRebalancePartitions, "counter", "event=revoked,topic=orders", 2)
	want(t, got, metrics.NameRebalancePartitions, "counter", "event=lost,topic=orders", 1)
	want(t, got, metrics.NameWorkerOpenFiles, "gauge", "topic=orders,worker=0", 3)
	want(t, got, metrics.NameWorkerOpenFiles, "gauge", "topic=orders,worker=1", 0)
	want(t, got, metrics.NameWorkerBufferedBytes, "gauge", "topic=orders,worker=0", 4096)
	want(t, got, metrics.NameRecordsPolled, "counter", "topic=orders", 1005)
	want(t, got, metrics.NameBytesPolled, "counter", "topic=orders", 64050)
	want(t, got, metrics.NameRowsWritten, "counter", "topic=orders", 990)
	want(t, got, metrics.NameDeadLetters, "counter", "reason=decode,topic=orders", 4)
	want(t, got, metrics.NameDeadLetters, "counter", "reason=too_large,topic=orders", 1)
	want(t, got, metrics.NameLateRecords, "counter", "topic=orders", 12)
	want(t, got, metrics.NameLateBatches, "counter", "topic=orders", 2)
	want(t, got, metrics.NameBudgetFlushes, "counter", "topic=orders", 4)
	want(t, got, metrics.NameRowsStaged, "counter", "topic=orders", 7)
	want(t, got, metrics.NameLateBuffered, "gauge", "topic=orders", 3)
	want(t, got, metrics.NameCheckpoints, "counter", "topic=orders", 6)
	want(t, got, metrics.NameFilesCommitted, "counter", "topic=orders", 9)
	want(t, got, metrics.NameRowsCommitted, "counter", "topic=orders", 900)
	want(t, got, metrics.NameCheckpointLastDuration, "gauge", "topic=orders", 1.5)
	want(t, got, metrics.NameHotBuckets, "gauge", "topic=orders", 2)

	// The pipeline moves on: the next collection sees the new state.
	f.mu.Lock()
	f.parts[0].Lag, f.parts[0].Records, f.parts[0].Paused = 0, 1042, false
	f.parts[1].Lag = 9
	f.wmOK = false
	f.pipe.Records, f.pipe.DeadLetters = 2000, map[string]int64{"decode": 5, "too_late": 2}
	f.workers[1].OpenFiles = 8
	f.hot = 0
	f.mu.Unlock()
	got = collect(t, r)
	want(t, got, metrics.NamePartitionLag, "gauge", p0, 0)
	want(t, got, metrics.NamePartitionLag, "gauge", p3, 9)
	want(t, got, metrics.NamePartitionRecords, "counter", p0, 1042)
	want(t, got, metrics.NamePartitionPaused, "gauge", p0, 0)
	if n := len(got[metrics.NamePartitionPausedReason].points); n != 0 {
		t.Errorf("paused reasons after resuming: %v, want none", got[metrics.NamePartitionPausedReason].points)
	}
	absent(t, got, metrics.NameWatermark, "topic=orders")
	want(t, got, metrics.NameRecordsPolled, "counter", "topic=orders", 2000)
	want(t, got, metrics.NameDeadLetters, "counter", "reason=too_late,topic=orders", 2)
	want(t, got, metrics.NameDeadLetters, "counter", "reason=decode,topic=orders", 5)
	want(t, got, metrics.NameWorkerOpenFiles, "gauge", "topic=orders,worker=1", 8)
	want(t, got, metrics.NameHotBuckets, "gauge", "topic=orders", 0)
	if f.collected != 2 {
		t.Errorf("partition source read %d times for 2 collections, want 2", f.collected)
	}
}

// TestKnownPauseReasons: with the reasons named, a partition not paused
// for one reports 0 for it.
func TestKnownPauseReasons(t *testing.T) {
	r, mp := newReader(t)
	f := &fake{parts: []metrics.PartitionStat{
		{Partition: 1, Lag: 1, Paused: true, PauseReasons: []string{"event-time-skew"}},
		{Partition: 2, Lag: 1, PauseReasons: []string{"stale"}}, // not paused: its reasons do not count
	}}
	p, err := metrics.New(mp.Meter("test"), metrics.Sources{Partitions: f.sources().Partitions},
		metrics.WithPauseReasons("buffered-bytes", "event-time-skew"))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	got := collect(t, r)
	for attrs, v := range map[string]float64{
		"partition=1,reason=buffered-bytes": 0, "partition=1,reason=event-time-skew": 1,
		"partition=2,reason=buffered-bytes": 0, "partition=2,reason=event-time-skew": 0,
	} {
		want(t, got, metrics.NamePartitionPausedReason, "gauge", attrs, v)
	}
	absent(t, got, metrics.NamePartitionPausedReason, "partition=2,reason=stale")
}

// TestNilSourcesLeaveInstrumentsOut: only the instruments of the given
// sources exist.
func TestNilSourcesLeaveInstrumentsOut(t *testing.T) {
	r, mp := newReader(t)
	f := &fake{workers: []metrics.WorkerStat{{Worker: 0, OpenFiles: 1}}}
	p, err := metrics.New(mp.Meter("test"), metrics.Sources{Workers: f.sources().Workers})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	got := collect(t, r)
	for name := range got {
		if !strings.HasPrefix(name, "lakestream.worker.") {
			t.Errorf("%s collected without its source", name)
		}
	}
	want(t, got, metrics.NameWorkerOpenFiles, "gauge", "worker=0", 1)
}

// TestCloseUnregisters: after Close the sources are not read any more.
func TestCloseUnregisters(t *testing.T) {
	r, mp := newReader(t)
	f := &fake{parts: []metrics.PartitionStat{{Partition: 0, Lag: 1}}}
	p, err := metrics.New(mp.Meter("test"), f.sources())
	if err != nil {
		t.Fatal(err)
	}
	collect(t, r)
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	got := collect(t, r)
	if len(got[metrics.NamePartitionLag].points) != 0 || f.collected != 1 {
		t.Fatalf("after Close: lag %v, sources read %d times, want no points and 1 read", got[metrics.NamePartitionLag].points, f.collected)
	}
}

// TestNewReportsEveryProblem: one error lists every invalid setting.
func TestNewReportsEveryProblem(t *testing.T) {
	_, err := metrics.New(nil, metrics.Sources{},
		metrics.WithAttributes(attribute.String("partition", "x"), attribute.String("topic", "a"), attribute.String("topic", "b")),
		metrics.WithPauseReasons(""))
	if err == nil {
		t.Fatal("invalid settings accepted")
	}
	for _, w := range []string{"meter is nil", "every source is nil", `"partition"`, `"topic"`, "pause reasons"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error does not mention %q:\n%v", w, err)
		}
	}
}

// TestHealthInstruments: the failure and retry counters by phase and class,
// the operations being retried, the last commit's time and the age.
func TestHealthInstruments(t *testing.T) {
	r, mp := newReader(t)
	var mu sync.Mutex
	last := time.Unix(1_700_000_000, 500_000_000)
	h := metrics.HealthStats{}
	p, err := metrics.New(mp.Meter("test"), metrics.Sources{Health: func() metrics.HealthStats { mu.Lock(); defer mu.Unlock(); return h }},
		metrics.WithAttributes(attribute.String("topic", "orders")))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()

	// Before Run: nothing failed, no commit, no age.
	got := collect(t, r)
	want(t, got, metrics.NameCheckpointRetrying, "gauge", "topic=orders", 0)
	absent(t, got, metrics.NameLastCommitTime, "topic=orders")
	absent(t, got, metrics.NameLastCommitAge, "topic=orders")
	if n := len(got[metrics.NameCheckpointFailures].points); n != 0 {
		t.Errorf("failures before any: %v", got[metrics.NameCheckpointFailures].points)
	}

	mu.Lock()
	h = metrics.HealthStats{
		Failures: []metrics.FailureStat{
			{Phase: "upload", Class: "no_space", Failures: 7, Retries: 7},
			{Phase: "commit", Class: "fenced", Failures: 1, Retries: 0},
		},
		Retrying: 2, LastCommit: last, Age: 42500 * time.Millisecond, HasAge: true,
	}
	mu.Unlock()
	got = collect(t, r)
	want(t, got, metrics.NameCheckpointFailures, "counter", "class=no_space,phase=upload,topic=orders", 7)
	want(t, got, metrics.NameCheckpointRetries, "counter", "class=no_space,phase=upload,topic=orders", 7)
	want(t, got, metrics.NameCheckpointFailures, "counter", "class=fenced,phase=commit,topic=orders", 1)
	want(t, got, metrics.NameCheckpointRetries, "counter", "class=fenced,phase=commit,topic=orders", 0)
	want(t, got, metrics.NameCheckpointRetrying, "gauge", "topic=orders", 2)
	want(t, got, metrics.NameLastCommitTime, "gauge", "topic=orders", 1_700_000_000.5)
	want(t, got, metrics.NameLastCommitAge, "gauge", "topic=orders", 42.5)
}

// TestReservedHealthAttributes: phase and class are the health counters'.
func TestReservedHealthAttributes(t *testing.T) {
	_, mp := newReader(t)
	f := &fake{}
	_, err := metrics.New(mp.Meter("test"), f.sources(), metrics.WithAttributes(attribute.String("phase", "x"), attribute.String("class", "y")))
	if err == nil || !strings.Contains(err.Error(), `"phase"`) || !strings.Contains(err.Error(), `"class"`) {
		t.Fatalf("phase and class accepted as extra attributes: %v", err)
	}
}

// TestStorageInstruments: requests to a real (in-memory) store through
// objstore.Observe are counted by operation and outcome class, with their
// time.
func TestStorageInstruments(t *testing.T) {
	r, mp := newReader(t)
	reqs := metrics.NewStorageRequests(objstore.ObserveOps(), objstore.ErrorClasses(), objstore.ErrorClass)
	p, err := metrics.New(mp.Meter("test"), metrics.Sources{Storage: reqs.Stats})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	ctx := context.Background()
	b := objstore.Observe(objstore.NewMemory(), reqs.Observe)
	for range 3 {
		if err := b.Put(ctx, "a", strings.NewReader("x")); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.PutIfAbsent(ctx, "a", strings.NewReader("y")); !errors.Is(err, objstore.ErrExists) {
		t.Fatal(err)
	}
	if _, err := b.Stat(ctx, "missing"); !errors.Is(err, objstore.ErrNotExist) {
		t.Fatal(err)
	}
	got := collect(t, r)
	want(t, got, metrics.NameStorageRequests, "counter", "class=ok,operation=put", 3)
	want(t, got, metrics.NameStorageRequests, "counter", "class=exists,operation=put_if_absent", 1)
	want(t, got, metrics.NameStorageRequests, "counter", "class=not_found,operation=stat", 1)
	if n := len(got[metrics.NameStorageRequests].points); n != 3 {
		t.Errorf("%d series, want 3: %v", n, got[metrics.NameStorageRequests].points)
	}
	if pts := got[metrics.NameStorageTime].points; len(pts) != 3 {
		t.Errorf("time series %v, want 3", pts)
	}
}
