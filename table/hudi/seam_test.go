package hudi

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/lakestream/lakestream/internal/objstore"
	"github.com/lakestream/lakestream/table"
)

// TestSeam drives a Hudi table through table.Table as the coordinator
// does: acquire, begin, commit; the table then resumes the writer's
// checkpoint and offsets; a second owner of a partition fences the first's
// open instant; abort and the maintainer run.
func TestSeam(t *testing.T) {
	ctx := context.Background()
	mem := objstore.NewMemory()
	raw, err := Create(ctx, mem, Config{Name: "events", RecordKeyFields: []string{"_hoodie_record_key"}, PartitionFields: []string{"dt"}})
	if err != nil {
		t.Fatal(err)
	}
	tbl := AsTable(raw)
	if Unwrap(tbl) != raw {
		t.Fatal("Unwrap does not give the table back")
	}
	commit := func(writer string, held map[int32]int64, id int64, next map[int32]int64) error {
		x, err := tbl.Begin(ctx, table.BeginOptions{WriterID: writer, Topic: "pv", Partitions: []int32{0, 1}})
		if err != nil {
			t.Fatal(err)
		}
		defer x.Close()
		f, err := BaseFileLayout{}.NewFile("dt=2026-11-01", table.FileSpec{Instant: x.Instant(), Checkpoint: id})
		if err != nil {
			t.Fatal(err)
		}
		if err := mem.Put(ctx, f.Key, bytes.NewReader([]byte("PAR1"))); err != nil {
			t.Fatal(err)
		}
		return x.Commit(ctx, table.CommitRequest{Files: []table.FileStat{{Path: f.Key, NumRecords: 1}},
			CheckpointID: id, Topic: "pv", Next: next, Claims: held})
	}
	held, fenced, err := tbl.Acquire(ctx, "a", "pv", []int32{0, 1})
	if err != nil || len(fenced) != 0 || len(held) != 2 {
		t.Fatalf("acquire: %v %v %v", held, fenced, err)
	}
	if err := commit("a", held, 7, map[int32]int64{0: 10, 1: 20}); err != nil {
		t.Fatal(err)
	}
	if id, err := tbl.LastCheckpoint(ctx, "a"); err != nil || id != 7 {
		t.Fatalf("LastCheckpoint = %d, %v; want 7", id, err)
	}
	next, err := tbl.NextOffsets(ctx, "pv", []int32{0, 1, 2})
	if err != nil || len(next) != 2 || next[0] != 10 || next[1] != 20 {
		t.Fatalf("NextOffsets = %v, %v", next, err)
	}
	// b takes partition 1: a's next commit is fenced.
	if _, _, err := tbl.Acquire(ctx, "b", "pv", []int32{1}); err != nil {
		t.Fatal(err)
	}
	if err := commit("a", held, 8, map[int32]int64{0: 11, 1: 21}); !errors.Is(err, table.ErrFenced) {
		t.Fatalf("commit after losing a partition: %v, want ErrFenced", err)
	}
	x, err := tbl.Begin(ctx, table.BeginOptions{WriterID: "b", Topic: "pv", Partitions: []int32{1}})
	if err != nil {
		t.Fatal(err)
	}
	if err := x.Abort(ctx); err != nil {
		t.Fatal(err)
	}
	if res, err := tbl.RollbackFailed(ctx, "b"); err != nil || len(res) != 0 {
		t.Fatalf("RollbackFailed = %v, %v", res, err)
	}
	if _, err := tbl.Archive(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if res, err := tbl.Recover(ctx, "a"); err != nil || len(res) != 0 {
		t.Fatalf("Recover = %v, %v", res, err)
	}
	if r, err := tbl.RollbackInstant(ctx, "20261101000000000", "a", []string{}); err != nil || r.Outcome != table.OutcomeAbsent {
		t.Fatalf("RollbackInstant of an unknown instant = %+v, %v", r, err)
	}
}
