package hudi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"
	"github.com/lakestream/lakestream/internal/objstore"
)

// fakeClock is a settable clock shared by the table and the bucket.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// scenario is the state of one testdata/scenarios file.
type scenario struct {
	claims map[string]map[int32]int64 // held claims by writer
	t      *testing.T
	ctx    context.Context
	clock  *fakeClock
	mem    *objstore.Memory
	bucket *objstore.Faulty
	table  *Table   // the newest process's table
	tables []*Table // every process's, in order: create or open starts one
	txns   []*scenarioTxn
}

type scenarioTxn struct {
	txn   *Txn
	files []FileStat
	// A commit paused before its decision (commit ... pause): release lets
	// it go on, result says how it ended.
	release chan struct{}
	result  chan string
}

// TestScenarios runs the commit protocol scenarios in testdata/scenarios.
func TestScenarios(t *testing.T) {
	datadriven.Walk(t, "testdata/scenarios", func(t *testing.T, path string) {
		clock := &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
		mem := objstore.NewMemory()
		mem.Now = clock.Now
		s := &scenario{t: t, ctx: context.Background(), clock: clock, mem: mem, bucket: objstore.NewFaulty(mem)}
		defer func() {
			for _, x := range s.txns {
				if x.release != nil {
					close(x.release)
					<-x.result
				}
				x.txn.Close()
			}
		}()
		datadriven.RunTest(t, path, s.run)
	})
}

func (s *scenario) options() []Option {
	return []Option{WithClock(s.clock.Now), WithHeartbeat(10*time.Second, 3)}
}

func (s *scenario) run(t *testing.T, d *datadriven.TestData) (out string) {
	defer func() {
		if r := recover(); r != nil {
			t.Fatalf("%s: panic: %v", d.Pos, r)
		}
	}()
	res, err := s.exec(t, d)
	if err != nil {
		return "error: " + err.Error() + "\n"
	}
	return res
}

func (s *scenario) exec(t *testing.T, d *datadriven.TestData) (string, error) {
	switch d.Cmd {
	case "create":
		cfg := Config{Name: "events", RecordKeyFields: []string{"_hoodie_record_key"}}
		if d.HasArg("name") {
			d.ScanArgs(t, "name", &cfg.Name)
		}
		if d.HasArg("partitions") {
			var p string
			d.ScanArgs(t, "partitions", &p)
			cfg.PartitionFields = strings.Split(p, ",")
		}
		if d.HasArg("key") {
			var k string
			d.ScanArgs(t, "key", &k)
			cfg.RecordKeyFields = strings.Split(k, ",")
		}
		tbl, err := Create(s.ctx, s.bucket, cfg, s.options()...)
		if err != nil {
			return "", err
		}
		s.table = tbl
		s.tables = append(s.tables, tbl)
		return "ok\n", nil
	case "open":
		tbl, err := Open(s.ctx, s.bucket, s.options()...)
		if err != nil {
			return "", err
		}
		s.table = tbl
		s.tables = append(s.tables, tbl)
		return "ok\n", nil
	case "advance":
		var ds string
		d.ScanArgs(t, "d", &ds)
		dur, err := time.ParseDuration(ds)
		if err != nil {
			t.Fatal(err)
		}
		s.clock.Advance(dur)
		return fmt.Sprintf("now %s\n", s.clock.Now().Format(time.RFC3339Nano)), nil
	case "begin":
		var writer string
		d.ScanArgs(t, "writer", &writer)
		o := BeginOptions{WriterID: writer}
		if d.HasArg("action") {
			d.ScanArgs(t, "action", &o.Action)
		}
		if d.HasArg("topic") {
			d.ScanArgs(t, "topic", &o.Topic)
			o.Partitions = scanPartitions(t, d)
		}
		x, err := s.process(t, d).Begin(s.ctx, o)
		if err != nil {
			return "", err
		}
		s.txns = append(s.txns, &scenarioTxn{txn: x})
		return fmt.Sprintf("txn %d instant %s\n", len(s.txns), x.Instant()), nil
	case "write":
		x := s.txn(t, d)
		var part, fg string
		d.ScanArgs(t, "fg", &fg)
		if d.HasArg("partition") {
			d.ScanArgs(t, "partition", &part)
		}
		records := 1
		if d.HasArg("records") {
			d.ScanArgs(t, "records", &records)
		}
		p := BaseFilePath(part, BaseFileName(fg, WriteToken(0, 1, 0), x.txn.Instant()))
		if err := s.bucket.Put(s.ctx, p, bytes.NewReader([]byte("PAR1 fake base file PAR1"))); err != nil {
			return "", err
		}
		x.files = append(x.files, FileStat{Path: p, NumRecords: int64(records)})
		return p + "\n", nil
	case "commit":
		x := s.txn(t, d)
		req := CommitRequest{Files: x.files}
		if d.HasArg("checkpoint") {
			var id int64
			var key string
			d.ScanArgs(t, "checkpoint", &id)
			d.ScanArgs(t, "offsets", &key)
			offs, err := ParseCheckpointKey(key)
			if err != nil {
				return "", err
			}
			req.Checkpoint = &Checkpoint{ID: id, Offsets: offs}
		}
		if d.HasArg("replace") {
			var spec string
			d.ScanArgs(t, "replace", &spec)
			req.Replaced = map[string][]string{}
			for _, pf := range strings.Split(spec, ";") {
				part, fg, _ := strings.Cut(pf, ":")
				req.Replaced[part] = append(req.Replaced[part], fg)
			}
		}
		if d.HasArg("claims") {
			var w string
			d.ScanArgs(t, "claims", &w)
			// A copy: a later claim by the same writer ID (another process)
			// must not change the claims this commit holds.
			req.Claims = maps.Clone(s.claims[w])
		}
		if d.HasArg("pause") {
			return s.commitPaused(x, req), nil
		}
		return commitResult(s.ctx, x, req), nil
	case "resume":
		// resume txn=N: a commit paused before its decision goes on.
		x := s.txn(t, d)
		if x.release == nil {
			t.Fatalf("%s: txn has no paused commit", d.Pos)
		}
		close(x.release)
		out := <-x.result
		x.release, x.result = nil, nil
		return out, nil
	case "crash":
		s.txn(t, d).txn.Close()
		return "ok\n", nil
	case "abort":
		if err := s.txn(t, d).txn.Abort(s.ctx); err != nil {
			return "", err
		}
		return "ok\n", nil
	case "rollback":
		var by string
		d.ScanArgs(t, "by", &by)
		res, err := s.table.RollbackFailed(s.ctx, by)
		var b strings.Builder
		for _, r := range res {
			fmt.Fprintf(&b, "%s %s: %s (%d files removed)\n", r.Instant, r.Action, r.Outcome, r.FilesRemoved)
		}
		if err != nil {
			return b.String(), err
		}
		if b.Len() == 0 {
			return "nothing pending\n", nil
		}
		return b.String(), nil
	case "recover":
		var writer string
		d.ScanArgs(t, "writer", &writer)
		res, err := s.process(t, d).Recover(s.ctx, writer)
		var b strings.Builder
		for _, r := range res {
			fmt.Fprintf(&b, "%s %s: %s (%d files removed)\n", r.Instant, r.Action, r.Outcome, r.FilesRemoved)
		}
		return b.String(), err
	case "rollback-instant":
		// rollback-instant (txn=N | instant=T) by=W [list] [trace]
		// <one file key per line>
		// Without list, the input lines are the files (none: an empty, non-nil
		// list); with list, files is nil and the table is listed. trace prints
		// every bucket call RollbackInstant makes (it replaces a fail matcher).
		var ts, by string
		if d.HasArg("txn") {
			ts = s.txn(t, d).txn.Instant()
		} else {
			d.ScanArgs(t, "instant", &ts)
		}
		d.ScanArgs(t, "by", &by)
		var files []string
		if !d.HasArg("list") {
			files = []string{}
			for _, l := range strings.Split(d.Input, "\n") {
				if l = strings.TrimSpace(l); l != "" {
					files = append(files, l)
				}
			}
		}
		var trace []string
		if d.HasArg("trace") {
			var mu sync.Mutex
			s.bucket.SetMatcher(func(o objstore.Op, key string) objstore.Injection {
				mu.Lock()
				trace = append(trace, fmt.Sprintf("  %s %s", o, key))
				mu.Unlock()
				return objstore.InjectNone
			})
		}
		r, err := s.table.RollbackInstant(s.ctx, ts, by, files)
		if d.HasArg("trace") {
			s.bucket.SetMatcher(nil)
		}
		var b strings.Builder
		if err == nil {
			fmt.Fprintf(&b, "%s %s: %s (%d files removed)\n", r.Instant, r.Action, r.Outcome, r.FilesRemoved)
		} else {
			fmt.Fprintf(&b, "error: %v\n", err)
		}
		for _, l := range trace {
			b.WriteString(l + "\n")
		}
		return b.String(), nil
	case "claim", "fence":
		var writer, topic string
		d.ScanArgs(t, "writer", &writer)
		d.ScanArgs(t, "topic", &topic)
		parts := scanPartitions(t, d)
		if d.Cmd == "fence" {
			res, err := s.process(t, d).FenceOthers(s.ctx, writer, topic, parts)
			var b strings.Builder
			for _, r := range res {
				fmt.Fprintf(&b, "%s %s: %s (%d files removed)\n", r.Instant, r.Action, r.Outcome, r.FilesRemoved)
			}
			if b.Len() == 0 {
				b.WriteString("nothing to fence\n")
			}
			return b.String(), err
		}
		held, err := s.process(t, d).Claim(s.ctx, writer, topic, parts)
		if err != nil {
			return "", err
		}
		if s.claims == nil {
			s.claims = map[string]map[int32]int64{}
		}
		if s.claims[writer] == nil {
			s.claims[writer] = map[int32]int64{}
		}
		for p, seq := range held {
			s.claims[writer][p] = seq
		}
		return fmt.Sprintf("held %v\n", held), nil
	case "owners":
		var topic string
		d.ScanArgs(t, "topic", &topic)
		owners, err := s.table.Owners(s.ctx, topic)
		var b strings.Builder
		ps := make([]int, 0, len(owners))
		for p := range owners {
			ps = append(ps, int(p))
		}
		sort.Ints(ps)
		for _, p := range ps {
			c := owners[int32(p)]
			fmt.Fprintf(&b, "%s/%d: %s (claim %d)\n", c.Topic, c.Partition, c.WriterID, c.Seq)
		}
		return b.String(), err
	case "archive":
		var keep int
		d.ScanArgs(t, "keep", &keep)
		res, err := s.table.Archive(s.ctx, ArchiveOptions{KeepCompleted: keep})
		if err != nil {
			return "", err
		}
		if len(res.Archived) == 0 {
			return fmt.Sprintf("nothing to archive, %d files removed\n", res.FilesRemoved), nil
		}
		return fmt.Sprintf("archived %s into %s, %d files removed\n", strings.Join(res.Archived, ","), res.File, res.FilesRemoved), nil
	case "timeline":
		tl, err := s.table.Timeline(s.ctx)
		if err != nil {
			return "", err
		}
		return formatTimeline(tl), nil
	case "snapshot":
		snap, err := s.table.Snapshot(s.ctx)
		if err != nil {
			return "", err
		}
		return formatSnapshot(snap), nil
	case "checkpoints":
		cp, err := s.table.Checkpoints(s.ctx)
		if err != nil {
			return "", err
		}
		return formatCheckpoints(cp), nil
	case "ls":
		prefix := ""
		if d.HasArg("prefix") {
			d.ScanArgs(t, "prefix", &prefix)
		}
		var keys []string
		err := s.mem.List(s.ctx, prefix, func(o objstore.ObjectInfo) error {
			keys = append(keys, o.Key)
			return nil
		})
		sort.Strings(keys)
		return strings.Join(keys, "\n") + "\n", err
	case "put":
		var key string
		d.ScanArgs(t, "key", &key)
		return "ok\n", s.mem.Put(s.ctx, key, strings.NewReader(d.Input))
	case "delete":
		var key string
		d.ScanArgs(t, "key", &key)
		return "ok\n", s.mem.Delete(s.ctx, key)
	case "fail":
		// fail op=put-if-absent suffix=.commit [when=after]: fail the next
		// matching call once.
		var op, suffix string
		d.ScanArgs(t, "op", &op)
		d.ScanArgs(t, "suffix", &suffix)
		when := objstore.InjectBefore
		if d.HasArg("when") {
			var w string
			d.ScanArgs(t, "when", &w)
			if w == "after" {
				when = objstore.InjectAfter
			}
		}
		var once sync.Once
		s.bucket.SetMatcher(func(o objstore.Op, key string) objstore.Injection {
			inj := objstore.InjectNone
			if strings.ReplaceAll(string(o), " ", "-") == op && strings.HasSuffix(key, suffix) {
				once.Do(func() { inj = when })
			}
			return inj
		})
		return "ok\n", nil
	}
	t.Fatalf("%s: unknown command %q", d.Pos, d.Cmd)
	return "", errors.New("unreachable")
}

// commitPaused runs the commit of x until it is about to record its
// decision, past its claim check: a writer paused there (GC, SIGSTOP) is
// the zombie that fencing must stop. It returns once the commit is paused,
// or with its result if it ended before reaching its decision.
func (s *scenario) commitPaused(x *scenarioTxn, req CommitRequest) string {
	key := decisionKey(x.txn.Instant())
	reached, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	s.bucket.SetMatcher(func(o objstore.Op, k string) objstore.Injection {
		if o == objstore.OpPutIfAbsent && k == key {
			once.Do(func() {
				close(reached)
				<-release
			})
		}
		return objstore.InjectNone
	})
	defer s.bucket.SetMatcher(nil)
	result := make(chan string, 1)
	go func() { result <- commitResult(s.ctx, x, req) }()
	select {
	case <-reached:
		x.release, x.result = release, result
		return "paused before its decision\n"
	case out := <-result:
		return out
	}
}

func commitResult(ctx context.Context, x *scenarioTxn, req CommitRequest) string {
	m, err := x.txn.Commit(ctx, req)
	if err != nil {
		return "error: " + err.Error() + "\n"
	}
	return fmt.Sprintf("committed %s (%d files)\n", x.txn.Instant(), countStats(m))
}

// process is the table of the process=N argument (the Nth create or open,
// from 1), or of the newest process without one.
func (s *scenario) process(t *testing.T, d *datadriven.TestData) *Table {
	if !d.HasArg("process") {
		return s.table
	}
	var n int
	d.ScanArgs(t, "process", &n)
	if n < 1 || n > len(s.tables) {
		t.Fatalf("%s: no process %d", d.Pos, n)
	}
	return s.tables[n-1]
}

func (s *scenario) txn(t *testing.T, d *datadriven.TestData) *scenarioTxn {
	var n int
	d.ScanArgs(t, "txn", &n)
	if n < 1 || n > len(s.txns) {
		t.Fatalf("%s: no txn %d", d.Pos, n)
	}
	return s.txns[n-1]
}

func countStats(m *CommitMetadata) int {
	n := 0
	for _, st := range m.PartitionToWriteStats {
		n += len(st)
	}
	return n
}

func scanPartitions(t *testing.T, d *datadriven.TestData) []int32 {
	var spec string
	d.ScanArgs(t, "partitions", &spec)
	var out []int32
	for _, f := range strings.Split(spec, ",") {
		var p int32
		if _, err := fmt.Sscan(f, &p); err != nil {
			t.Fatalf("%s: partitions %q", d.Pos, spec)
		}
		out = append(out, p)
	}
	return out
}
