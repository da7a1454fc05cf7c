package checkpoint_test

import (
	"context"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"
	"github.com/lakestream/lakestream/checkpoint"
	"github.com/lakestream/lakestream/internal/objstore"
	"github.com/lakestream/lakestream/table/hudi"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestScenarios runs the engine scenarios in testdata/scenarios: a
// Coordinator over a Hudi table in memory (hudi.AsTable over
// objstore.Memory, behind objstore.Faulty for "storage down"), driven one
// step at a time by a scripted source. Run parks in the source's Poll
// between commands, so every command sees the coordinator idle and its
// output is deterministic.
//
// Commands:
//
//	assign partitions=0,1          StartOffsets (claim, fence, read offsets)
//	poll partition=0 records=100 [bad=N]  one batch; N bad records after them
//	checkpoint [expect=retrying]   make the checkpoint due and poll nothing
//	revoke partitions=0 [expect=retrying]  Revoked(lost=false) while Run
//	                               waits in Poll; with expect, the hook is
//	                               left retrying until storage up
//	lose partitions=0              Revoked(lost=true)
//	storage down|up                every storage operation fails, or none
//	acquire writer=w2 partitions=0 another process claims partitions (fencing)
//	stop                           end Run (final checkpoint) and print its result
//	table                          the committed instants with their offsets
//	dead-letters                   the dead-lettered records by reason
//	stats                          the coordinator's checkpoint counters
func TestScenarios(t *testing.T) {
	datadriven.Walk(t, "testdata/scenarios", func(t *testing.T, path string) {
		s := newEngineScenario(t)
		defer s.close()
		datadriven.RunTest(t, path, s.run)
	})
}

// scenarioClock is the coordinator's clock: a checkpoint is due only when
// the scenario says so.
type scenarioClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *scenarioClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *scenarioClock) advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

const scenarioInterval = time.Minute

type engineScenario struct {
	t      *testing.T
	ctx    context.Context
	clock  *scenarioClock
	mem    *objstore.Memory
	faulty *objstore.Faulty
	p      *pipeline
	src    *scriptSource

	cancelRun context.CancelFunc
	runDone   chan error
	runErr    error
	ended     bool
	idle      bool       // Run is parked in Poll and its token was taken
	revoking  chan error // a rebalance hook retrying in the background
}

func newEngineScenario(t *testing.T) *engineScenario {
	clock := &scenarioClock{now: time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)}
	mem := objstore.NewMemory()
	faulty := objstore.NewFaulty(mem)
	s := &engineScenario{t: t, ctx: context.Background(), clock: clock, mem: mem, faulty: faulty}
	s.p = newPipelineWith(t, faulty, 2, nil, "", nil,
		checkpoint.WithInterval(scenarioInterval), checkpoint.WithClock(clock.Now), checkpoint.WithRetry(time.Millisecond, 5*time.Millisecond),
		checkpoint.WithLogger(slog.New(slog.DiscardHandler)))
	s.src = &scriptSource{coord: s.p.coord, batches: make(chan []*kgo.Record), parked: make(chan struct{}, 1), pos: map[int32]int64{}}
	runCtx, cancel := context.WithCancel(context.Background())
	s.src.runCtx, s.cancelRun = runCtx, cancel
	s.runDone = make(chan error, 1)
	go func() { s.runDone <- s.p.coord.Run(runCtx, s.src) }()
	return s
}

func (s *engineScenario) close() {
	s.faulty.SetFailing(false)
	if s.revoking != nil {
		s.await(s.revoking, "the rebalance hook to return")
	}
	s.end()
	if err := s.p.coord.Close(); err != nil {
		s.t.Errorf("close: %v", err)
	}
}

// end stops Run if it still runs and returns its result.
func (s *engineScenario) end() error {
	if !s.ended {
		s.cancelRun()
		s.runErr = s.await(s.runDone, "Run to return")
		s.ended = true
	}
	return s.runErr
}

func (s *engineScenario) await(ch chan error, what string) error {
	select {
	case err := <-ch:
		return err
	case <-time.After(30 * time.Second):
		s.t.Fatalf("timed out waiting for %s", what)
		return nil
	}
}

// waitIdle waits until Run is parked in Poll, or has returned (false).
func (s *engineScenario) waitIdle() bool {
	if s.ended {
		return false
	}
	if s.idle {
		return true
	}
	select {
	case <-s.src.parked:
		s.idle = true
		return true
	case err := <-s.runDone:
		s.runErr, s.ended = err, true
		return false
	case <-time.After(30 * time.Second):
		s.t.Fatal("timed out waiting for the coordinator to poll")
		return false
	}
}

// deliver hands Run one batch and waits until it has taken it in (and made
// the checkpoint, if due): Run polls again, or returns. With retrying, it
// returns as soon as storage faults show the step is stuck retrying.
func (s *engineScenario) deliver(recs []*kgo.Record, retrying bool) string {
	if !s.waitIdle() {
		return s.runResult()
	}
	s.src.batches <- recs
	s.idle = false
	if retrying {
		before := s.faulty.TotalInjected()
		deadline := time.Now().Add(30 * time.Second)
		for s.faulty.TotalInjected() < before+3 {
			if time.Now().After(deadline) {
				s.t.Fatal("timed out waiting for storage faults")
			}
			select {
			case err := <-s.runDone:
				s.runErr, s.ended = err, true
				return s.runResult()
			case <-s.src.parked:
				s.idle = true
				return "step completed, want it retrying"
			case <-time.After(time.Millisecond):
			}
		}
		return "retrying: storage operations fail, the checkpoint waits"
	}
	if !s.waitIdle() {
		return s.runResult()
	}
	return "ok"
}

func (s *engineScenario) runResult() string {
	if s.runErr == nil {
		return "run ended: ok"
	}
	return "run ended: " + scrubInstants(s.runErr.Error())
}

var instantRE = regexp.MustCompile(`\b\d{17}\b`)

// scrubInstants hides instant times (wall-clock) from the output.
func scrubInstants(s string) string { return instantRE.ReplaceAllString(s, "<instant>") }

func (s *engineScenario) run(t *testing.T, d *datadriven.TestData) string {
	switch d.Cmd {
	case "assign":
		if !s.waitIdle() {
			return s.runResult()
		}
		parts := scenarioPartitions(t, d)
		starts, err := s.p.coord.StartOffsets(s.ctx, "pageviews", parts)
		if err != nil {
			return "error: " + scrubInstants(err.Error())
		}
		s.src.assign(parts, starts)
		return "from table: " + formatOffsets(starts)
	case "poll":
		var part, n, bad int
		d.ScanArgs(t, "partition", &part)
		d.ScanArgs(t, "records", &n)
		if d.HasArg("bad") {
			d.ScanArgs(t, "bad", &bad)
		}
		if !s.waitIdle() {
			return s.runResult()
		}
		recs, err := s.src.records(int32(part), n, bad)
		if err != nil {
			return "error: " + err.Error()
		}
		return s.deliver(recs, false)
	case "checkpoint":
		var expect string
		if d.HasArg("expect") {
			d.ScanArgs(t, "expect", &expect)
		}
		if !s.waitIdle() {
			return s.runResult()
		}
		s.clock.advance(scenarioInterval)
		out := s.deliver(nil, expect == "retrying")
		if out != "ok" {
			return out
		}
		return s.stats()
	case "revoke", "lose":
		if !s.waitIdle() {
			return s.runResult()
		}
		parts := scenarioPartitions(t, d)
		if d.HasArg("expect") {
			// The hook's checkpoint is stuck retrying: it goes on in the
			// background, as the rebalance waits for it; storage up waits
			// for it to return.
			s.revoking = make(chan error, 1)
			before := s.faulty.TotalInjected()
			go func() {
				s.p.coord.Revoked(s.ctx, parts, d.Cmd == "lose")
				s.revoking <- nil
			}()
			s.src.unassign(parts)
			deadline := time.Now().Add(30 * time.Second)
			for s.faulty.TotalInjected() < before+3 {
				if time.Now().After(deadline) {
					t.Fatal("timed out waiting for storage faults")
				}
				select {
				case <-s.revoking:
					s.revoking = nil
					return "the hook returned, want it retrying"
				case <-time.After(time.Millisecond):
				}
			}
			return "retrying: storage operations fail, the hook waits"
		}
		s.p.coord.Revoked(s.ctx, parts, d.Cmd == "lose")
		s.src.unassign(parts)
		return s.stats()
	case "storage":
		switch {
		case d.HasArg("down"):
			s.faulty.SetFailing(true)
			return "storage down"
		case d.HasArg("up"):
			s.faulty.SetFailing(false)
			if s.revoking != nil {
				s.await(s.revoking, "the rebalance hook to return")
				s.revoking = nil
			}
			if !s.waitIdle() {
				return s.runResult()
			}
			return s.stats()
		}
		t.Fatalf("storage: want down or up")
	case "acquire":
		var writer string
		d.ScanArgs(t, "writer", &writer)
		if !s.waitIdle() {
			return s.runResult()
		}
		other := hudi.AsTable(openTable(t, s.mem))
		held, fenced, err := other.Acquire(s.ctx, writer, "pageviews", scenarioPartitions(t, d))
		if err != nil {
			return "error: " + scrubInstants(err.Error())
		}
		var b strings.Builder
		fmt.Fprintf(&b, "%s holds %d claims", writer, len(held))
		for _, f := range fenced {
			fmt.Fprintf(&b, "\nfenced an instant: %s, %d files removed", f.Outcome, f.FilesRemoved)
		}
		return b.String()
	case "stop":
		s.end()
		return s.runResult()
	case "table":
		return s.table()
	case "dead-letters":
		dead := s.p.deadLetters()
		if len(dead) == 0 {
			return "none"
		}
		var lines []string
		for r, n := range dead {
			lines = append(lines, fmt.Sprintf("%s: %d", r, n))
		}
		sort.Strings(lines)
		return strings.Join(lines, "\n")
	case "stats":
		return s.stats()
	}
	t.Fatalf("unknown command %q", d.Cmd)
	return ""
}

func (s *engineScenario) stats() string {
	st := s.p.coord.Stats()
	return fmt.Sprintf("checkpoints=%d rows-committed=%d files=%d", st.Checkpoints, st.RowsCommitted, st.Files)
}

// table prints the committed instants in order, with their writer,
// checkpoint, files, rows and offsets (and any committed file missing
// from storage), then the number of pending instants and of data files
// stored.
func (s *engineScenario) table() string {
	tbl := openTable(s.t, s.mem)
	tl, err := tbl.Timeline(s.ctx)
	if err != nil {
		return "error: " + err.Error()
	}
	var b strings.Builder
	for i, e := range tl.Completed() {
		m, err := tbl.ReadCommitMetadata(s.ctx, e)
		if err != nil {
			return "error: " + err.Error()
		}
		var files, missing int
		var rows int64
		for _, stats := range m.PartitionToWriteStats {
			for _, st := range stats {
				files++
				rows += st.NumWrites
				if st.Path == nil {
					missing++
				} else if _, err := s.mem.Stat(s.ctx, *st.Path); err != nil {
					missing++
				}
			}
		}
		fmt.Fprintf(&b, "commit %d: writer=%s checkpoint=%s files=%d rows=%d offsets=%s\n", i+1,
			m.ExtraMetadata[hudi.MetaWriterID], m.ExtraMetadata[hudi.MetaCheckpointID], files, rows, m.ExtraMetadata[hudi.MetaCheckpointKey])
		if missing > 0 {
			fmt.Fprintf(&b, "  %d committed files missing from storage\n", missing)
		}
	}
	fmt.Fprintf(&b, "pending: %d\n", len(tl.Pending()))
	var dataFiles int
	s.mem.List(s.ctx, "dt=", func(o objstore.ObjectInfo) error {
		if strings.HasSuffix(o.Key, ".parquet") {
			dataFiles++
		}
		return nil
	})
	fmt.Fprintf(&b, "data files stored: %d", dataFiles)
	return b.String()
}

func scenarioPartitions(t *testing.T, d *datadriven.TestData) []int32 {
	var list string
	d.ScanArgs(t, "partitions", &list)
	var parts []int32
	for _, f := range strings.Split(list, ",") {
		p, err := strconv.Atoi(f)
		if err != nil {
			t.Fatalf("partitions=%s: %v", list, err)
		}
		parts = append(parts, int32(p))
	}
	return parts
}

func formatOffsets(m map[int32]int64) string {
	if len(m) == 0 {
		return "none"
	}
	var parts []int32
	for p := range m {
		parts = append(parts, p)
	}
	slices.Sort(parts)
	var fs []string
	for _, p := range parts {
		fs = append(fs, fmt.Sprintf("%d:%d", p, m[p]))
	}
	return strings.Join(fs, " ")
}

// scriptSource is a consumer-group source whose batches the scenario
// decides. Poll parks until the scenario hands it a batch (or Run's
// context ends), signalling parked as it enters.
type scriptSource struct {
	coord   *checkpoint.Coordinator
	runCtx  context.Context
	batches chan []*kgo.Record
	parked  chan struct{}

	mu  sync.Mutex
	pos map[int32]int64 // next offset of each assigned partition
}

func (s *scriptSource) Poll(context.Context) ([]*kgo.Record, error) {
	// Run's poll context has a deadline (the next checkpoint's, by the
	// wall clock): the scenario decides when a batch comes, so only Run's
	// own context ends the wait.
	select {
	case s.parked <- struct{}{}:
	default:
	}
	select {
	case recs := <-s.batches:
		return recs, nil
	case <-s.runCtx.Done():
		return nil, s.runCtx.Err()
	}
}

func (s *scriptSource) AllowRebalance()                   {}
func (s *scriptSource) QueueGroupOffsets(map[int32]int64) {}

func (s *scriptSource) Positions() map[int32]int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[int32]int64{}
	for p, at := range s.pos {
		out[p] = at
	}
	return out
}

func (s *scriptSource) assign(parts []int32, starts map[int32]int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range parts {
		s.pos[p] = starts[p] // 0 when the table has none
	}
}

func (s *scriptSource) unassign(parts []int32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range parts {
		delete(s.pos, p)
	}
}

// records makes the next n good records of partition p, then bad ones
// (a string user ID: dead-lettered as a schema mismatch), all with event
// times in the hour before the scenario's clock starts.
func (s *scriptSource) records(p int32, n, bad int) ([]*kgo.Record, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	at, ok := s.pos[p]
	if !ok {
		return nil, fmt.Errorf("partition %d is not assigned", p)
	}
	ts := time.Date(2026, 1, 1, 11, 30, 0, 0, time.UTC)
	var recs []*kgo.Record
	for i := range n + bad {
		v := fmt.Sprintf(`{"userId":%d,"url":"https://shop.example.com/%d","eventTime":"2026-01-01T11:30:00Z"}`, 1000+at, at)
		if i >= n {
			v = `{"userId":"x","eventTime":"2026-01-01T11:30:00Z"}`
		}
		recs = append(recs, &kgo.Record{Topic: "pageviews", Partition: p, Offset: at, Value: []byte(v), Timestamp: ts})
		at++
	}
	s.pos[p] = at
	return recs, nil
}
