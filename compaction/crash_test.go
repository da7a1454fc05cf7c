package compaction

import (
	"errors"
	"path"
	"strings"
	"testing"

	"github.com/lakestream/lakestream/internal/failpoint"
	"github.com/lakestream/lakestream/table/hudi"
)

// TestCrash: a run that stops at any step of a group (an injected error
// leaves the instant as a crash does: no abort, heartbeat stopped) leaves
// the table readable with the same rows, and the next run, in another
// process (another Table), finishes or undoes the work: one file per
// partition, the same rows, and no base file that is neither in the
// snapshot nor replaced by a completed replacecommit.
func TestCrash(t *testing.T) {
	points := []string{failpoint.BeforeRequested, failpoint.AfterInflight, failpoint.AfterFileWrite,
		failpoint.BeforeComplete, failpoint.AfterComplete, failpoint.AfterCommitBeforePublish}
	for _, fp := range points {
		t.Run(fp, func(t *testing.T) {
			f := newFixture(t, "filesystem")
			for range 5 {
				f.commit(200, 0, 1)
			}
			before := f.rows()
			set, err := failpoint.Parse(fp+"=error", 1)
			if err != nil {
				t.Fatal(err)
			}
			c := f.compactor(f.open(hudi.WithFailpoints(set)), Failpoints(set))
			if _, err := c.Run(f.ctx); !errors.Is(err, failpoint.ErrInjected) {
				t.Fatalf("first run: %v, want the injected error", err)
			}
			sameRows(t, f.rows(), before)
			// The next run, in another process.
			res, err := f.compactor(f.open()).Run(f.ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range res.Recovered {
				t.Logf("recovered %s: %s, %d files removed", r.Instant, r.Outcome, r.FilesRemoved)
			}
			snap := f.snapshot()
			for _, h := range []int{0, 1} {
				if n := len(snap[partitionOf(h)]); n != 1 {
					t.Fatalf("partition %s: %d files, want 1", partitionOf(h), n)
				}
			}
			sameRows(t, f.rows(), before)
			f.checkNoOrphans()
		})
	}
}

// checkNoOrphans fails for a base file that is neither in the snapshot nor
// in a file group a completed replacecommit replaced.
func (f *fixture) checkNoOrphans() {
	f.t.Helper()
	intents, err := f.table.Replacements(f.ctx, nil)
	if err != nil {
		f.t.Fatal(err)
	}
	replaced := map[string]bool{}
	for _, ri := range intents {
		if ri.State != hudi.StateCompleted {
			f.t.Fatalf("replacecommit %s still pending", ri.Instant)
		}
		for part, ids := range ri.FileGroups {
			for _, id := range ids {
				replaced[part+"\x00"+id] = true
			}
		}
	}
	live := map[string]bool{}
	for _, files := range f.snapshot() {
		for _, bf := range files {
			live[bf.Path] = true
		}
	}
	for _, p := range f.baseFiles() {
		part, name := path.Split(p)
		part = strings.TrimSuffix(part, "/")
		id, _, _, _ := hudi.ParseBaseFileName(name)
		if !live[p] && !replaced[part+"\x00"+id] {
			f.t.Errorf("orphan base file %s", p)
		}
	}
}

// TestCrashDuringRecovery: a run stops after uploading its file; the next
// stops part way through rolling that instant back (its files removed,
// its timeline files not); the one after finishes: the same rows, one
// file per partition, no orphan.
func TestCrashDuringRecovery(t *testing.T) {
	f := newFixture(t, "filesystem")
	for range 4 {
		f.commit(200, 0, 1)
	}
	before := f.rows()
	for _, fp := range []string{failpoint.AfterFileWrite, failpoint.DuringRollback} {
		set, err := failpoint.Parse(fp+"=error", 1)
		if err != nil {
			t.Fatal(err)
		}
		c := f.compactor(f.open(hudi.WithFailpoints(set)), Failpoints(set))
		if _, err := c.Run(f.ctx); !errors.Is(err, failpoint.ErrInjected) {
			t.Fatalf("run with %s: %v, want the injected error", fp, err)
		}
		sameRows(t, f.rows(), before)
	}
	res, err := f.compactor(f.open()).Run(f.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Recovered) == 0 || len(res.Groups) != 2 {
		t.Fatalf("recovered %+v, %d groups", res.Recovered, len(res.Groups))
	}
	for part, files := range f.snapshot() {
		if len(files) != 1 {
			t.Fatalf("partition %s: %d files", part, len(files))
		}
	}
	sameRows(t, f.rows(), before)
	f.checkNoOrphans()
}
