package hudi

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/lakestream/lakestream/internal/objstore"
	"github.com/lakestream/lakestream/internal/objstore/s3test"
)

// offsetClock is the real time plus a settable offset, so that heartbeat
// expiry can be simulated on stores that stamp real modification times.
type offsetClock struct {
	mu     sync.Mutex
	offset time.Duration
}

func (c *offsetClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

func (c *offsetClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.offset += d
	c.mu.Unlock()
}

// TestProtocolOnEveryStore runs concurrent writers, a crash, its rollback
// and archival on the local filesystem, in memory and on S3 (versitygw).
func TestProtocolOnEveryStore(t *testing.T) {
	stores := map[string]func(t *testing.T) objstore.Store{
		"memory": func(t *testing.T) objstore.Store { return objstore.NewMemory() },
		"filesystem": func(t *testing.T) objstore.Store {
			b, err := objstore.NewFilesystem(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			return b
		},
		"s3": func(t *testing.T) objstore.Store { return s3test.Start(t).NewBucket(t, "tables/events") },
	}
	for name, newBucket := range stores {
		t.Run(name, func(t *testing.T) {
			b := newBucket(t)
			defer b.Close()
			testProtocol(t, b)
		})
	}
}

func testProtocol(t *testing.T, b objstore.Store) {
	ctx := context.Background()
	clock := &offsetClock{}
	opts := []Option{WithClock(clock.Now), WithHeartbeat(time.Hour, 1)}
	if _, err := Create(ctx, b, Config{Name: "events", RecordKeyFields: []string{"_hoodie_record_key"}, PartitionFields: []string{"dt"}}, opts...); err != nil {
		t.Fatal(err)
	}
	const writers, commits = 4, 5
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tbl, err := Open(ctx, b, opts...)
			if err != nil {
				errs <- err
				return
			}
			for c := 1; c <= commits; c++ {
				if err := commitOne(ctx, tbl, w, c); err != nil {
					errs <- fmt.Errorf("writer %d commit %d: %w", w, c, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	tbl, err := Open(ctx, b, opts...)
	if err != nil {
		t.Fatal(err)
	}
	snap, err := tbl.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.Files) != writers*commits {
		t.Fatalf("snapshot has %d files, want %d", len(snap.Files), writers*commits)
	}
	wantCheckpoints := func() {
		t.Helper()
		cps, err := tbl.Checkpoints(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for w := range writers {
			id := fmt.Sprintf("w%d", w)
			if cp := cps.Writers[id]; cp.CheckpointID != commits {
				t.Errorf("writer %s: checkpoint %d, want %d", id, cp.CheckpointID, commits)
			}
			if pos, ok := cps.Next("events", int32(w)); !ok || pos.Next != commits*10 || pos.WriterID != id {
				t.Errorf("partition %d: %+v, want next %d from %s", w, pos, commits*10, id)
			}
		}
	}
	wantCheckpoints()

	// A writer crashes mid-checkpoint; once its heartbeat expires the next
	// writer rolls it back and its file never shows.
	x, err := tbl.Begin(ctx, BeginOptions{WriterID: "w0"})
	if err != nil {
		t.Fatal(err)
	}
	orphan := BaseFilePath("dt=crash", BaseFileName(NewFileID(), WriteToken(0, 99, 0), x.Instant()))
	if err := b.Put(ctx, orphan, bytes.NewReader([]byte("PAR1"))); err != nil {
		t.Fatal(err)
	}
	x.Close()
	if res, err := tbl.RollbackFailed(ctx, "w1"); err != nil || len(res) != 1 || res[0].Outcome != OutcomeLive {
		t.Fatalf("rollback of a fresh instant: %+v, %v; want it left alone as live", res, err)
	}
	clock.Advance(2 * time.Hour)
	res, err := tbl.RollbackFailed(ctx, "w1")
	if err != nil || len(res) != 1 || res[0].Outcome != OutcomeRolledBack || res[0].FilesRemoved != 1 {
		t.Fatalf("rollback: %+v, %v; want one instant rolled back with its file", res, err)
	}
	if _, err := b.Stat(ctx, orphan); err == nil {
		t.Fatalf("rolled-back file %s still exists", orphan)
	}
	if _, err := x.Commit(ctx, CommitRequest{Files: []FileStat{{Path: orphan}}}); err == nil {
		t.Fatal("the rolled-back writer committed")
	}

	// Archival keeps every offset and the snapshot.
	ar, err := tbl.Archive(ctx, ArchiveOptions{KeepCompleted: 3})
	if err != nil {
		t.Fatal(err)
	}
	if len(ar.Archived) != writers*commits-3 {
		t.Fatalf("archived %d instants, want %d", len(ar.Archived), writers*commits-3)
	}
	wantCheckpoints()
	snap2, err := tbl.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(snap2.Files) != fmt.Sprint(snap.Files) {
		t.Fatalf("snapshot changed by archival:\n%v\n%v", snap.Files, snap2.Files)
	}
}

// commitOne writes one base file for writer w and commits checkpoint c,
// which moves the writer's own partition w to offset c*10.
func commitOne(ctx context.Context, tbl *Table, w, c int) error {
	x, err := tbl.Begin(ctx, BeginOptions{WriterID: fmt.Sprintf("w%d", w)})
	if err != nil {
		return err
	}
	defer x.Close()
	p := BaseFilePath(fmt.Sprintf("dt=w%d", w), BaseFileName(NewFileID(), WriteToken(w, int64(c), 0), x.Instant()))
	if err := tbl.Bucket().Put(ctx, p, bytes.NewReader([]byte("PAR1 base file PAR1"))); err != nil {
		return err
	}
	_, err = x.Commit(ctx, CommitRequest{
		Files:      []FileStat{{Path: p, NumRecords: 10}},
		Checkpoint: &Checkpoint{ID: int64(c), Offsets: Offsets{Topic: "events", Next: map[int32]int64{int32(w): int64(c * 10)}}},
	})
	return err
}
