package compaction

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/lakestream/lakestream/internal/failpoint"
	"github.com/lakestream/lakestream/internal/objstore"
	"github.com/lakestream/lakestream/table/hudi"
)

// TestRun: ten checkpoints leave ten files in each of two partitions; a
// run merges each partition's into one file group, in one replacecommit
// whose requested file holds the clustering plan, and DuckDB reads the
// same multiset of rows before and after. A second run finds nothing.
func TestRun(t *testing.T) {
	for _, storage := range []string{"filesystem", "s3"} {
		t.Run(storage, func(t *testing.T) {
			f := newFixture(t, storage)
			for range 10 {
				f.commit(300, 0, 1)
			}
			before := f.rows()
			if total(before) != 6000 {
				t.Fatalf("%d rows before", total(before))
			}
			var last Progress
			reports := 0
			c := f.compactor(f.table, ProgressFunc(func(p Progress) { last = p; reports++ }))
			res, err := c.Run(f.ctx)
			if err != nil {
				t.Fatal(err)
			}
			if reports < 3 || last.GroupsDone != 2 || last.Groups != 2 || last.FilesDone != 20 || last.BytesDone != last.Bytes {
				t.Fatalf("%d progress reports, the last %+v", reports, last)
			}
			tot := res.Totals()
			if len(res.Groups) != 2 || tot.InputFiles != 20 || tot.Rows != 6000 {
				t.Fatalf("groups %d, files in %d, rows %d; want 2, 20, 6000", len(res.Groups), tot.InputFiles, tot.Rows)
			}
			snap := f.snapshot()
			for _, h := range []int{0, 1} {
				files := snap[partitionOf(h)]
				if len(files) != 1 {
					t.Fatalf("partition %s: %d files after compaction, want 1", partitionOf(h), len(files))
				}
			}
			sameRows(t, f.rows(), before)
			// table check: every committed file there, its footer's rows
			// as the commit says.
			rep, err := f.table.Check(f.ctx, hudi.CheckOptions{Footers: true})
			if err != nil || len(rep.Problems) != 0 {
				t.Fatalf("check: %v, %+v", err, rep)
			}
			// The replacecommit is a clustering: its plan names the inputs.
			for _, g := range res.Groups {
				p, err := f.table.ReadClusteringPlan(f.ctx, g.Instant)
				if err != nil || p == nil {
					t.Fatalf("plan of %s: %v, %v", g.Instant, p, err)
				}
				if ids := p.FileGroups()[g.Partition]; len(ids) != 10 {
					t.Fatalf("plan of %s names %d file groups, want 10", g.Instant, len(ids))
				}
				tl, err := f.table.Timeline(f.ctx)
				if err != nil {
					t.Fatal(err)
				}
				e, _ := tl.Find(g.Instant)
				m, err := f.table.ReadCommitMetadata(f.ctx, e)
				if err != nil {
					t.Fatal(err)
				}
				if m.OperationType != hudi.OperationCluster || len(m.PartitionToReplaceFileIDs[g.Partition]) != 10 {
					t.Fatalf("replacecommit %s: operation %s, replaced %v", g.Instant, m.OperationType, m.PartitionToReplaceFileIDs)
				}
			}
			res, err = c.Run(f.ctx)
			if err != nil || len(res.Plan.Groups) != 0 {
				t.Fatalf("second run: %v, %d groups", err, len(res.Plan.Groups))
			}
		})
	}
}

// TestRunBesideIngest: files an ingest commits between the plan and the
// compaction's commit are left alone, and every row is there once.
func TestRunBesideIngest(t *testing.T) {
	f := newFixture(t, "filesystem")
	for range 4 {
		f.commit(200, 0)
	}
	c := f.compactor(f.table)
	p, err := Plan(f.ctx, f.table, SmallFileBytes(1<<20), TargetFileBytes(4<<20))
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Groups) != 1 {
		t.Fatalf("%d groups", len(p.Groups))
	}
	// Ingest commits meanwhile, to the same partition and another.
	f.commit(100, 0, 1)
	want := f.rows()
	if total(want) != 1000 {
		t.Fatalf("%d rows", total(want))
	}
	if _, err := c.runGroup(f.ctx, 0, &p.Groups[0], p.settled); err != nil {
		t.Fatal(err)
	}
	f.commit(100, 0)
	if got := f.snapshot()[partitionOf(0)]; len(got) != 3 {
		t.Fatalf("%d files in the partition, want the merged one and two ingested", len(got))
	}
	got := f.rows()
	if total(got) != 1100 {
		t.Fatalf("%d rows, want 1100", total(got))
	}
	for r, n := range want {
		if got[r] != n {
			t.Fatalf("row %s: %d times, want %d", r, got[r], n)
		}
	}
}

// TestConflict: two compactors never both replace a file group. The
// second to check sees the other's plan, pending or completed, gives its
// group up (ErrConflict) and leaves no file behind.
func TestConflict(t *testing.T) {
	f := newFixture(t, "filesystem")
	for range 4 {
		f.commit(100, 0)
	}
	before := f.rows()
	a := f.compactor(f.open(), WriterID("compactor-a"))
	b := f.compactor(f.open(), WriterID("compactor-b"))
	pb, err := plan(f.ctx, b.tbl, &b.o)
	if err != nil {
		t.Fatal(err)
	}
	// a completes first; b's plan is now stale.
	if _, err := a.Run(f.ctx); err != nil {
		t.Fatal(err)
	}
	filesBefore := f.baseFiles()
	_, err = b.runGroup(f.ctx, 0, &pb.Groups[0], pb.settled)
	var ce *ConflictError
	if !errors.Is(err, ErrConflict) || !errors.As(err, &ce) || len(ce.Conflicts[0].With) != 1 {
		t.Fatalf("b: %v, want a conflict with a", err)
	}
	if got := f.baseFiles(); strings.Join(got, "\n") != strings.Join(filesBefore, "\n") {
		t.Fatalf("b left files:\n%v\nwant\n%v", got, filesBefore)
	}
	sameRows(t, f.rows(), before)

	// Pending against pending: a replacecommit whose requested file holds
	// a plan over the same files, not yet committed.
	f.commit(100, 0)
	f.commit(100, 0)
	pc, err := plan(f.ctx, b.tbl, &b.o)
	if err != nil || len(pc.Groups) != 1 {
		t.Fatalf("plan: %v, %+v", err, pc)
	}
	req, err := hudi.EncodeClusteringPlan(pc.Groups[0].ClusteringPlan())
	if err != nil {
		t.Fatal(err)
	}
	x, err := f.table.Begin(f.ctx, hudi.BeginOptions{WriterID: "compactor-x", Action: hudi.ActionReplaceCommit, Requested: req})
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	if _, err := b.runGroup(f.ctx, 0, &pc.Groups[0], pc.settled); !errors.Is(err, ErrConflict) {
		t.Fatalf("b beside a pending plan: %v, want a conflict", err)
	}
	// And its plan leaves them out of the next plan.
	pd, err := plan(f.ctx, b.tbl, &b.o)
	if err != nil || len(pd.Groups) != 0 || pd.Skipped[SkipPending] != 3 {
		t.Fatalf("plan beside a pending plan: %v, %+v", err, pd)
	}
	if err := x.Abort(f.ctx); err != nil {
		t.Fatal(err)
	}
	res, err := b.Run(f.ctx)
	if err != nil || len(res.Groups) != 1 {
		t.Fatalf("after the abort: %v, %+v", err, res)
	}
	if len(f.snapshot()[partitionOf(0)]) != 1 {
		t.Fatal("not one file")
	}
}

var _ = objstore.ErrNotExist

// TestRunCleans: a run removes the files replaced more than the retention
// ago, and only those.
func TestRunCleans(t *testing.T) {
	f := newFixture(t, "filesystem")
	for range 3 {
		f.commit(100, 0)
	}
	before := f.rows()
	if _, err := f.compactor(f.table).Run(f.ctx); err != nil {
		t.Fatal(err)
	}
	n := len(f.baseFiles())
	if n != 4 {
		t.Fatalf("%d base files after the compaction, want 3 replaced and 1 merged", n)
	}
	res, err := f.compactor(f.table).Run(f.ctx)
	if err != nil || res.Cleaned != 0 || len(f.baseFiles()) != 4 {
		t.Fatalf("within the retention: %v, cleaned %d, %d files", err, res.Cleaned, len(f.baseFiles()))
	}
	time.Sleep(50 * time.Millisecond)
	res, err = f.compactor(f.table, Retention(10*time.Millisecond)).Run(f.ctx)
	if err != nil || res.Cleaned != 3 || len(f.baseFiles()) != 1 {
		t.Fatalf("past the retention: %v, cleaned %d, %d files", err, res.Cleaned, len(f.baseFiles()))
	}
	sameRows(t, f.rows(), before)
}

// TestConcurrentCompactors: two compactors run at once, again and again,
// beside ingest commits: each run succeeds or gives groups up
// (ErrConflict), and the table always holds every row once.
func TestConcurrentCompactors(t *testing.T) {
	f := newFixture(t, "filesystem")
	a := f.compactor(f.open(), WriterID("compactor-a"))
	b := f.compactor(f.open(), WriterID("compactor-b"))
	conflicts := 0
	for range 6 {
		for range 3 {
			f.commit(50, 0, 1)
		}
		want := f.rows()
		errs := make(chan error, 2)
		for _, c := range []*Compactor{a, b} {
			go func() {
				_, err := c.Run(f.ctx)
				errs <- err
			}()
		}
		for range 2 {
			err := <-errs
			if errors.Is(err, ErrConflict) {
				conflicts++
			} else if err != nil {
				t.Fatal(err)
			}
		}
		sameRows(t, f.rows(), want)
		f.checkNoOrphans()
		// Of overlapping plans the earliest wins: never both give up.
		for part, files := range f.snapshot() {
			if len(files) != 1 {
				t.Fatalf("partition %s: %d files after both runs, want 1", part, len(files))
			}
		}
	}
	t.Logf("%d runs gave groups up to the other compactor", conflicts)
}

// TestFencedGivesUp: a compactor whose instant another compactor fenced
// (an earlier plan over the same files) gives the group up: ErrConflict,
// no file left, the rows as before.
func TestFencedGivesUp(t *testing.T) {
	f := newFixture(t, "filesystem")
	for range 3 {
		f.commit(100, 0)
	}
	before := f.rows()
	filesBefore := f.baseFiles()
	// The fence lands after the file is uploaded and verified, before the
	// second check: a sleep failpoint holds the run there.
	set, err := failpoint.Parse(failpoint.AfterFileWrite+"=sleep(300ms)", 1)
	if err != nil {
		t.Fatal(err)
	}
	b := f.compactor(f.open(), WriterID("compactor-b"), Failpoints(set))
	errc := make(chan error, 1)
	go func() {
		_, err := b.Run(f.ctx)
		errc <- err
	}()
	// Wait for b's instant, then fence it.
	var ts string
	for deadline := time.Now().Add(10 * time.Second); ts == "" && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		intents, err := f.table.Replacements(f.ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(intents) > 0 {
			ts = intents[0].Instant
		}
	}
	if fenced, err := f.table.FenceClustering(f.ctx, ts, "compactor-a"); err != nil || !fenced {
		t.Fatalf("fence %s: %v, %v", ts, fenced, err)
	}
	if err := <-errc; !errors.Is(err, ErrConflict) {
		t.Fatalf("fenced run: %v, want ErrConflict", err)
	}
	if got := f.baseFiles(); strings.Join(got, "\n") != strings.Join(filesBefore, "\n") {
		t.Fatalf("files after the fenced run:\n%v\nwant\n%v", got, filesBefore)
	}
	sameRows(t, f.rows(), before)
}
