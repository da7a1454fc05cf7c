package checkpoint_test

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "github.com/duckdb/duckdb-go/v2"
	"github.com/lakestream/lakestream/checkpoint"
	"github.com/lakestream/lakestream/internal/objstore"
	"github.com/lakestream/lakestream/journal"
	"github.com/lakestream/lakestream/table/hudi"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestCheckpointsCommitEverythingOnce ingests records in several
// checkpoints and checks the table: one commit per checkpoint, each with
// its checkpoint ID and offsets, every record once, files in hourly
// partitions, bad records dead-lettered with their offsets advanced.
func TestCheckpointsCommitEverythingOnce(t *testing.T) {
	root := t.TempDir()
	b, err := objstore.NewFilesystem(root)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	recs := pageviewRecords(30000, now)
	// Three bad records in partition 1.
	bad := []string{`{"userId":"x"}`, `{`, fmt.Sprintf(`{"userId":1,"eventTime":%q}`, now.Add(48*time.Hour).Format(time.RFC3339))}
	for i, v := range bad {
		recs = append(recs, &kgo.Record{Topic: "pageviews", Partition: 1, Offset: int64(3750 + i), Value: []byte(v), Timestamp: now})
	}
	p := newPipeline(t, b, 2, recs, checkpoint.WithInterval(50*time.Millisecond), checkpoint.WithBatchRows(256), checkpoint.WithTimelineMaintenance(2, 2))
	p.src.batch, p.src.pause = 2000, 25*time.Millisecond
	p.run(t)

	ctx := context.Background()
	tl, err := p.table.Timeline(ctx)
	if err != nil {
		t.Fatal(err)
	}
	completed := tl.Completed()
	if st := p.coord.Stats(); st.Checkpoints < 4 {
		t.Fatalf("%d checkpoints, want several", st.Checkpoints)
	}
	if len(tl.Pending()) != 0 {
		t.Fatalf("pending instants left: %v", tl.Pending())
	}
	// Maintenance archived all but the newest few instants; the archive
	// carries the offsets of the archived ones.
	if len(completed) > 3 {
		t.Fatalf("%d completed instants on the active timeline, want at most 3 with keep 2 every 2", len(completed))
	}
	var lastID int64 = -1
	for _, e := range completed {
		m, err := p.table.ReadCommitMetadata(ctx, e)
		if err != nil {
			t.Fatal(err)
		}
		var id int64
		fmt.Sscan(m.ExtraMetadata[hudi.MetaCheckpointID], &id)
		if lastID >= 0 && id != lastID+1 {
			t.Fatalf("commit %s has checkpoint %d after %d", e.Time, id, lastID)
		}
		lastID = id
		if m.ExtraMetadata[hudi.MetaSchema] == "" || m.ExtraMetadata[hudi.MetaCheckpointKey] == "" {
			t.Fatalf("commit %s lacks schema or offsets: %v", e.Time, m.ExtraMetadata)
		}
	}
	cps, err := p.table.Checkpoints(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for part := int32(0); part < 8; part++ {
		want := int64(3750)
		if part == 1 {
			want += int64(len(bad))
		}
		if pos, ok := cps.Next("pageviews", part); !ok || pos.Next != want {
			t.Fatalf("partition %d: next %v, want %d", part, pos, want)
		}
	}
	if got := p.deadLetters(); got["schema-mismatch"] != 1 || got["invalid-json"] != 1 || got[checkpoint.ReasonBadTimestamp] != 1 {
		t.Fatalf("dead letters %v", got)
	}
	if n := len(p.src.commits); int64(n) != p.coord.Stats().Checkpoints {
		t.Fatalf("%d group commits for %d table commits", n, p.coord.Stats().Checkpoints)
	}

	// DuckDB over the snapshot: every good record exactly once.
	snap, err := p.table.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	for _, f := range snap.Files {
		if !strings.HasPrefix(f.Partition, "dt=") || !strings.Contains(f.Partition, "/hr=") {
			t.Fatalf("file %s outside dt=/hr=", f.Path)
		}
		files = append(files, "'"+filepath.Join(root, f.Path)+"'")
	}
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var rows, distinct, hours int64
	q := fmt.Sprintf(`SELECT count(*), count(DISTINCT (_kafka_partition, _kafka_offset)), count(DISTINCT _hoodie_partition_path) FROM read_parquet([%s])`, strings.Join(files, ","))
	if err := db.QueryRow(q).Scan(&rows, &distinct, &hours); err != nil {
		t.Fatal(err)
	}
	if rows != 30000 || distinct != 30000 || hours < 6 {
		t.Fatalf("rows %d, distinct positions %d, hours %d; want 30000, 30000, >= 6", rows, distinct, hours)
	}
}

// TestStorageFaultsAreRetried runs the pipeline on storage that fails one
// call in five: every checkpoint is eventually committed whole, nothing
// lost or doubled.
func TestStorageFaultsAreRetried(t *testing.T) {
	mem := objstore.NewMemory()
	faulty := objstore.NewFaulty(mem, objstore.WithSeed(7))
	now := time.Now().UTC()
	recs := pageviewRecords(20000, now)
	p := newPipeline(t, faulty, 2, recs, checkpoint.WithInterval(20*time.Millisecond), checkpoint.WithRetry(time.Millisecond, 5*time.Millisecond), checkpoint.WithBatchRows(128))
	p.src.batch, p.src.pause = 500, 3*time.Millisecond
	faulty.SetErrorRate(0.2, objstore.OpPut, objstore.OpPutIfAbsent, objstore.OpStat, objstore.OpGet, objstore.OpList)
	p.run(t)
	faulty.SetErrorRate(0)
	if faulty.TotalInjected() < 5 {
		t.Fatalf("only %d faults injected", faulty.TotalInjected())
	}
	ctx := context.Background()
	tbl := openTable(t, mem)
	snap, err := tbl.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tl, _ := tbl.Timeline(ctx)
	total := committedRows(t, tbl, tl.Completed())
	if total != int64(len(recs)) {
		t.Fatalf("commits record %d rows, want %d (faults injected: %d)", total, len(recs), faulty.TotalInjected())
	}
	for _, f := range snap.Files {
		if _, err := mem.Stat(ctx, f.Path); err != nil {
			t.Fatalf("snapshot file %s missing: %v", f.Path, err)
		}
	}
	t.Logf("%d faults injected, %d commits", faulty.TotalInjected(), len(tl.Completed()))
}

// TestAbortCommitsNothingMore: Abort (ingestd's second SIGTERM) stops at
// once; what was committed stays, the open instant is settled at the next
// start, and nothing half-written shows.
func TestAbortCommitsNothingMore(t *testing.T) {
	mem := objstore.NewMemory()
	recs := pageviewRecords(50000, time.Now().UTC())
	p := newPipeline(t, mem, 2, recs, checkpoint.WithInterval(30*time.Millisecond))
	p.src.batch, p.src.pause = 500, 5*time.Millisecond
	abortAfterCheckpoints(p, 2)
	err := p.coord.Run(context.Background(), p.src)
	p.coord.Close()
	if err == nil {
		t.Fatal("Run returned nil after Abort")
	}
	ctx := context.Background()
	tbl := openTable(t, mem)
	if _, err := tbl.Recover(ctx, "bench-0"); err != nil {
		t.Fatal(err)
	}
	tl, err := tbl.Timeline(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(tl.Pending()) != 0 {
		t.Fatalf("pending after recovery: %v", tl.Pending())
	}
	cps, err := tbl.Checkpoints(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var committedOffsets int64
	for _, pos := range cps.SortedPartitions() {
		committedOffsets += pos.Next
	}
	rows := committedRows(t, tbl, tl.Completed())
	if rows != committedOffsets || rows == 0 || rows == int64(len(recs)) {
		t.Fatalf("rows committed %d, offsets committed %d (of %d): want equal, and the run cut short", rows, committedOffsets, len(recs))
	}
	snap, err := tbl.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if files := storedParquetFiles(mem); files != len(snap.Files) {
		t.Fatalf("%d Parquet files in storage, %d in the snapshot: the aborted checkpoint left files behind", files, len(snap.Files))
	}
}

// TestJournalSettlesAbortedCheckpoint: after an abort, the journal knows
// the open checkpoint's files and the next start removes exactly those,
// leaving storage with the snapshot's files only.
func TestJournalSettlesAbortedCheckpoint(t *testing.T) {
	mem := objstore.NewMemory()
	jdir := t.TempDir()
	recs := pageviewRecords(50000, time.Now().UTC())
	p := newPipelineWith(t, mem, 2, recs, jdir, nil, checkpoint.WithInterval(30*time.Millisecond))
	p.src.batch, p.src.pause = 500, 5*time.Millisecond
	abortAfterCheckpoints(p, 2)
	if err := p.coord.Run(context.Background(), p.src); err == nil {
		t.Fatal("Run returned nil after Abort")
	}
	p.close() // the engine's journal too
	j, err := journal.Open(jdir)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	ctx := context.Background()
	pending, err := j.Pending()
	if err != nil {
		t.Fatal(err)
	}
	tbl := openTable(t, mem)
	tl, _ := tbl.Timeline(ctx)
	if len(pending) != len(tl.Pending()) {
		t.Fatalf("journal knows %d open checkpoints, the timeline has %d pending instants", len(pending), len(tl.Pending()))
	}
	if err := journal.Settle(ctx, j, hudi.AsTable(tbl), pipelineWriter, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	if left, _ := j.Pending(); len(left) != 0 {
		t.Fatalf("journal still holds %v", left)
	}
	tl, _ = tbl.Timeline(ctx)
	if len(tl.Pending()) != 0 {
		t.Fatalf("pending after settling the journal: %v", tl.Pending())
	}
	snap, err := tbl.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if files := storedParquetFiles(mem); files != len(snap.Files) {
		t.Fatalf("%d Parquet files in storage, %d in the snapshot", files, len(snap.Files))
	}
}

// TestDeadLetterFailureStops: a dead letter that could not be produced
// (the producer already retried it until its delivery timeout) stops the
// run before any offset moves past it.
func TestDeadLetterFailureStops(t *testing.T) {
	mem := objstore.NewMemory()
	recs := pageviewRecords(2000, time.Now().UTC())
	recs[1000].Value = []byte("{not json")
	p := newKafkaDeadLetterPipeline(t, mem, 1, recs, checkpoint.WithInterval(time.Hour))
	p.failNextDeadLetters()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	p.src.done = cancel
	err := p.coord.Run(ctx, p.src)
	p.coord.Close()
	if err == nil || !strings.Contains(err.Error(), "dead letters") {
		t.Fatalf("Run = %v, want the dead-letter failure", err)
	}
	tbl := openTable(t, mem)
	cps, err := tbl.Checkpoints(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(cps.SortedPartitions()) != 0 {
		t.Fatalf("offsets committed despite the failed dead letter: %v", cps.SortedPartitions())
	}
}
