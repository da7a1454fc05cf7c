package hudi

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/lakestream/lakestream/internal/objstore"
)

// replacedTable is a table whose first two file groups of dt=1 a
// replacecommit retired, with commits before and after it, on a clock the
// test moves.
type replacedTable struct {
	*checkTable
	mu       sync.Mutex
	now      time.Time
	replace  string
	replaced []string
}

func newReplacedTable(t *testing.T) *replacedTable {
	ctx := context.Background()
	r := &replacedTable{now: time.Now()}
	b := objstore.NewMemory()
	t.Cleanup(func() { b.Close() })
	tbl, err := Create(ctx, b, Config{Name: "events", RecordKeyFields: []string{"_hoodie_record_key"}, PartitionFields: []string{"dt"}},
		WithClock(func() time.Time { r.mu.Lock(); defer r.mu.Unlock(); return r.now }))
	if err != nil {
		t.Fatal(err)
	}
	r.checkTable = &checkTable{t: t, ctx: ctx, b: b, tbl: tbl}
	for range 3 {
		r.commit("dt=1", 10, 10)
	}
	r.replaced = slices.Clone(r.files[:2])
	var ids []string
	for _, p := range r.replaced {
		_, name := splitTablePath(p)
		id, _, _, _ := ParseBaseFileName(name)
		ids = append(ids, id)
	}
	x, err := tbl.Begin(ctx, BeginOptions{WriterID: "compactor", Action: ActionReplaceCommit})
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	merged := BaseFilePath("dt=1", BaseFileName(NewFileID(), WriteToken(0, 0, 0), x.Instant()))
	if err := b.Put(ctx, merged, bytes.NewReader(parquetRows(t, 20, 100))); err != nil {
		t.Fatal(err)
	}
	if _, err := x.Commit(ctx, CommitRequest{Files: []FileStat{{Path: merged, NumRecords: 20}}, Replaced: map[string][]string{"dt=1": ids}}); err != nil {
		t.Fatal(err)
	}
	r.replace = x.Instant()
	for range 2 {
		r.commit("dt=1", 10, 10)
	}
	return r
}

func (r *replacedTable) advance(d time.Duration) {
	r.mu.Lock()
	r.now = r.now.Add(d)
	r.mu.Unlock()
}

func (r *replacedTable) exist() int {
	n := 0
	for _, p := range r.replaced {
		if _, err := r.b.Stat(r.ctx, p); err == nil {
			n++
		} else if !errors.Is(err, objstore.ErrNotExist) {
			r.t.Fatal(err)
		}
	}
	return n
}

func (r *replacedTable) snapshotFiles() int {
	snap, err := r.tbl.Snapshot(r.ctx)
	if err != nil {
		r.t.Fatal(err)
	}
	return len(snap.Files)
}

// TestArchiveHoldsReplacecommit: archival never takes a replacecommit off
// the active timeline while its replaced files exist within the
// retention (apache/hudi#6938: they would be read again, their rows
// twice); past it, it removes them first, then archives.
func TestArchiveHoldsReplacecommit(t *testing.T) {
	r := newReplacedTable(t)
	if n := r.snapshotFiles(); n != 4 {
		t.Fatalf("%d files in the snapshot, want 4", n)
	}
	res, err := r.tbl.Archive(r.ctx, ArchiveOptions{KeepCompleted: 1})
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(res.Archived, r.replace) || len(res.Archived) != 3 {
		t.Fatalf("archived %v: want the 3 commits before the replacecommit %s only", res.Archived, r.replace)
	}
	if n := r.exist(); n != 2 {
		t.Fatalf("%d of the replaced files left within the retention, want 2", n)
	}
	if n := r.snapshotFiles(); n != 4 {
		t.Fatalf("%d files in the snapshot after archival, want 4", n)
	}
	r.advance(2 * time.Hour)
	res, err = r.tbl.Archive(r.ctx, ArchiveOptions{KeepCompleted: 1})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(res.Archived, r.replace) {
		t.Fatalf("archived %v past the retention: want the replacecommit %s", res.Archived, r.replace)
	}
	if n := r.exist(); n != 0 {
		t.Fatalf("%d replaced files left after their replacecommit was archived", n)
	}
	if n := r.snapshotFiles(); n != 4 {
		t.Fatalf("%d files in the snapshot, want 4", n)
	}
}

// TestCleanReplaced: replaced files are removed only after the retention.
func TestCleanReplaced(t *testing.T) {
	r := newReplacedTable(t)
	res, err := r.tbl.CleanReplaced(r.ctx, CleanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.FilesRemoved != 0 || res.Kept != 2 || r.exist() != 2 {
		t.Fatalf("within the retention: %+v, %d left", res, r.exist())
	}
	r.advance(30 * time.Minute)
	if res, err = r.tbl.CleanReplaced(r.ctx, CleanOptions{Retention: 20 * time.Minute}); err != nil {
		t.Fatal(err)
	}
	if res.FilesRemoved != 2 || r.exist() != 0 {
		t.Fatalf("past the retention: %+v, %d left", res, r.exist())
	}
	if n := r.snapshotFiles(); n != 4 {
		t.Fatalf("%d files in the snapshot, want 4", n)
	}
	// Now archival may take the replacecommit.
	ares, err := r.tbl.Archive(r.ctx, ArchiveOptions{KeepCompleted: 1})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(ares.Archived, r.replace) {
		t.Fatalf("archived %v: want the cleaned replacecommit %s", ares.Archived, r.replace)
	}
	if _, err := r.tbl.CleanReplaced(r.ctx, CleanOptions{Retention: -1}); err == nil {
		t.Fatal("negative retention accepted")
	}
}

// TestArchiveThrough: an archival bounded by Through archives no instant
// after it, though KeepCompleted alone would archive more (a commit that
// completed after the archival was planned moves that cut).
func TestArchiveThrough(t *testing.T) {
	r := newReplacedTable(t)
	r.advance(2 * time.Hour)
	tl, err := r.tbl.Timeline(r.ctx)
	if err != nil {
		t.Fatal(err)
	}
	through := tl.ArchiveThrough(2)
	r.commit("dt=1", 10, 10) // completes after the plan
	res, err := r.tbl.Archive(r.ctx, ArchiveOptions{KeepCompleted: 2, Through: through})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Archived) == 0 || res.Archived[len(res.Archived)-1] != through {
		t.Fatalf("archived %v, want through %s exactly", res.Archived, through)
	}
	// Unbounded, the same call archives one more.
	res, err = r.tbl.Archive(r.ctx, ArchiveOptions{KeepCompleted: 2})
	if err != nil || len(res.Archived) != 1 {
		t.Fatalf("unbounded: archived %v, %v; want the one instant the commit moved the cut by", res.Archived, err)
	}
}
