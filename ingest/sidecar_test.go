package ingest

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lakestream/lakestream/e2e/harness"
	"github.com/lakestream/lakestream/iceberg"
	"github.com/lakestream/lakestream/iceberg/filestats"
	"github.com/lakestream/lakestream/internal/failpoint"
	"github.com/lakestream/lakestream/internal/objstore"
	"github.com/lakestream/lakestream/table"
	"github.com/lakestream/lakestream/table/hudi"
	"github.com/lakestream/lakestream/writer"
)

// TestSidecarsSpareFooterReads: with Iceberg publishing, each commit
// writes its stats sidecar before its commit decision, from the metrics
// the writers recorded, so that the publisher reads no footer: with a
// footer source that fails every call, every commit of four runs (each
// published by the hook, the timeline archived with its snapshots
// expired) is still published, and iceberg-go's scan equals DuckDB's read
// of the Hudi snapshot. No footer is read. The sidecars of expired
// instants are deleted, and none is left of an instant not committed.
//
// When the sidecars cannot be written (every put refused), the commits
// go on and the publisher reads the footers: two ranged reads per file.
func TestSidecarsSpareFooterReads(t *testing.T) {
	for _, storage := range []string{"filesystem", "s3"} {
		for _, fail := range []bool{false, true} {
			name := storage + "/sidecars"
			if fail {
				name = storage + "/sidecar-puts-fail"
			}
			t.Run(name, func(t *testing.T) { testSidecarsSpareFooterReads(t, storage, fail) })
		}
	}
}

func testSidecarsSpareFooterReads(t *testing.T, storage string, fail bool) {
	const n = 600
	r := newRig(t, storage)
	r.failSidecarPs.Store(fail)
	var ice []iceberg.Option
	if !fail {
		ice = append(ice, iceberg.WithStats(iceberg.SidecarStats(r.bucket, failFooters{t})))
	}
	var eng *Engine
	for i := 1; i <= 4; i++ {
		r.produce(n / 4)
		eng = r.run(rigOptions(t, r.bucket, r.brokers, r.location, ice...))
	}
	files := checkIcebergMatchesHudi(t, r.ctx, eng.Table(), r.location, n)
	reads := r.footerReads.Load()
	t.Logf("%s: %d files committed, %d footer reads (ranged reads of data files) by the publisher", storage, len(files), reads)
	if fail {
		// Every file's footer, once: the last 8 bytes, then the footer.
		if reads != int64(2*len(files)) {
			t.Fatalf("%d footer reads for %d files, want 2 each", reads, len(files))
		}
		return
	}
	if reads != 0 {
		t.Fatalf("%d footer reads, want none", reads)
	}
	// Sidecars are left only of completed instants not expired yet.
	it, err := eng.Iceberg().Table(r.ctx)
	if err != nil {
		t.Fatal(err)
	}
	expired := it.Metadata().Properties()[iceberg.PropExpiredThrough]
	if expired == "" {
		t.Fatal("nothing expired: the timeline was not archived")
	}
	tl, err := eng.Table().Timeline(r.ctx)
	if err != nil {
		t.Fatal(err)
	}
	completed := map[string]bool{}
	for _, e := range tl.Completed() {
		completed[e.Time] = true
	}
	left := 0
	err = r.inner.List(r.ctx, filestats.SidecarDir+"/", func(info objstore.ObjectInfo) error {
		ts := strings.TrimSuffix(strings.TrimPrefix(info.Key, filestats.SidecarDir+"/"), ".jsonl")
		if ts <= expired || !completed[ts] {
			t.Errorf("sidecar %s left: expired through %s, completed %v", info.Key, expired, completed[ts])
		}
		left++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if left == 0 {
		t.Fatal("no sidecar at all")
	}
}

// TestSidecarOfRolledBackInstant: a commit attempt writes its sidecar
// before its decision; if the instant is then rolled back, the sidecar
// does not stay: the coordinator's abort deletes it at once, and the
// sidecar of an instant rolled back by recovery (a crash after the
// attempt) is deleted by the Iceberg expiry before the next archival
// that passes it.
func TestSidecarOfRolledBackInstant(t *testing.T) {
	// A table with data, published.
	r := newRig(t, "filesystem")
	r.produce(100)
	ctx, bucket := r.ctx, r.inner
	ht := r.run(rigOptions(t, bucket, r.brokers, r.location)).Table()
	p, err := iceberg.New(ht, r.location)
	if err != nil {
		t.Fatal(err)
	}
	sc := newSidecars(bucket, slog.New(slog.DiscardHandler))
	tbl := icebergTable{Table: hudi.AsTable(ht), hudi: ht, pub: p, sc: sc}
	begin := func() table.Txn {
		t.Helper()
		x, err := tbl.Begin(ctx, table.BeginOptions{WriterID: "w1", Topic: rigTopic, Partitions: []int32{0}})
		if err != nil {
			t.Fatal(err)
		}
		return x
	}
	exists := func(instant string) bool {
		t.Helper()
		_, err := bucket.Stat(ctx, filestats.SidecarKey(instant))
		if err != nil && !errors.Is(err, objstore.ErrNotExist) {
			t.Fatal(err)
		}
		return err == nil
	}
	// A commit attempt that fails before its decision: the file it names
	// was never uploaded. The sidecar is written all the same.
	failedAttempt := func(x table.Txn) {
		t.Helper()
		path := hudi.BaseFilePath("dt=2026-01-01/hr=00", hudi.BaseFileName(hudi.NewFileID(), hudi.WriteToken(0, 0, 0), x.Instant()))
		sc.uploaded(writer.File{Path: path, Records: 1, SizeBytes: 100, Stats: &writer.Stats{Schema: []byte(`{"type":"struct","fields":[]}`)}})
		err := x.Commit(ctx, table.CommitRequest{Files: []table.FileStat{{Path: path, NumRecords: 1}}, CheckpointID: 1, Topic: rigTopic, Next: map[int32]int64{0: 100}})
		if err == nil {
			t.Fatal("commit of a file that does not exist succeeded")
		}
		if !exists(x.Instant()) {
			t.Fatalf("no sidecar after the commit attempt of %s", x.Instant())
		}
	}

	// Aborted by the coordinator.
	x := begin()
	failedAttempt(x)
	if err := x.Abort(ctx); err != nil {
		t.Fatal(err)
	}
	if exists(x.Instant()) {
		t.Fatalf("sidecar of aborted instant %s left", x.Instant())
	}
	x.Close()

	// Rolled back by the next start's recovery.
	x = begin()
	failedAttempt(x)
	crashed := x.Instant()
	x.Close()
	res, err := tbl.RollbackInstant(ctx, crashed, "w1", nil)
	if err != nil || res.Outcome != table.OutcomeRolledBack {
		t.Fatalf("roll back %s: %+v, %v", crashed, res, err)
	}
	if !exists(crashed) {
		t.Fatalf("sidecar of %s gone before the expiry: the test proves nothing", crashed)
	}
	// Three commits later, the archival (keep 1) passes it.
	for cp := int64(1); cp <= 3; cp++ {
		x := begin()
		if err := x.Commit(ctx, table.CommitRequest{CheckpointID: cp, Topic: rigTopic, Next: map[int32]int64{0: 100 + cp}}); err != nil {
			t.Fatal(err)
		}
		x.Close()
	}
	ar, err := tbl.Archive(ctx, 1)
	if err != nil || len(ar.Instants) == 0 {
		t.Fatalf("archive: %+v, %v", ar, err)
	}
	if exists(crashed) {
		t.Fatalf("sidecar of rolled-back instant %s left after the expiry through %s", crashed, ar.Instants[len(ar.Instants)-1])
	}
	if len(sc.files) != 0 {
		t.Fatalf("file metrics kept for %d instants after their transactions ended", len(sc.files))
	}
}

// envCrashChild, set, makes TestCrashChild the child process of
// TestCrashBetweenCommitAndPublish: it holds the child's crashChild, as
// JSON.
const envCrashChild = "LAKESTREAM_TEST_CRASH_CHILD"

// crashChild is what the child needs to ingest the parent's table.
type crashChild struct {
	Brokers  []string
	Root     string             // filesystem
	S3       *objstore.S3Config // or S3
	Location string
}

// TestCrashBetweenCommitAndPublish: ingestd's process crashes (exit 86,
// LAKESTREAM_FAILPOINTS=iceberg.before-publish=crash) after its first
// commit completed, before the commit's Iceberg publish: the Hudi commit
// and its stats sidecar are there, no snapshot names it. ingest.Open
// catches up: the commit is published (from its sidecar: no footer is
// read), and iceberg-go's scan returns exactly the rows DuckDB reads from
// the Hudi snapshot; so after the rest is ingested.
func TestCrashBetweenCommitAndPublish(t *testing.T) {
	for _, storage := range []string{"filesystem", "s3"} {
		t.Run(storage, func(t *testing.T) { testCrashBetweenCommitAndPublish(t, storage) })
	}
}

func testCrashBetweenCommitAndPublish(t *testing.T, storage string) {
	const n = 400
	r := newRig(t, storage)
	r.produce(n / 2)
	spec, err := json.Marshal(crashChild{Brokers: r.brokers, Root: r.root, S3: r.s3, Location: r.location})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(r.ctx, 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), envCrashChild+"="+string(spec), "LAKESTREAM_FAILPOINTS="+failpoint.AfterCommitBeforePublish+"=crash")
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != failpoint.CrashExitCode {
		t.Fatalf("child: %v, want exit %d; output:\n%s", err, failpoint.CrashExitCode, out)
	}
	if !strings.Contains(string(out), "failpoint "+failpoint.AfterCommitBeforePublish+": crash") {
		t.Fatalf("the child did not crash at %s:\n%s", failpoint.AfterCommitBeforePublish, out)
	}

	// The crash left a completed commit, with its sidecar, and no snapshot
	// of it.
	ht, err := hudi.Open(r.ctx, r.inner)
	if err != nil {
		t.Fatal(err)
	}
	tl, err := ht.Timeline(r.ctx)
	if err != nil {
		t.Fatal(err)
	}
	completed := tl.Completed()
	if len(completed) == 0 {
		t.Fatal("no commit before the crash")
	}
	newest := completed[len(completed)-1].Time
	if _, err := r.inner.Stat(r.ctx, filestats.SidecarKey(newest)); err != nil {
		t.Fatalf("sidecar of %s: %v", newest, err)
	}
	p, err := iceberg.New(ht, r.location)
	if err != nil {
		t.Fatal(err)
	}
	if it, err := p.Table(r.ctx); err != nil {
		t.Fatal(err)
	} else if it != nil {
		for _, sn := range it.Metadata().Snapshots() {
			if sn.Summary.Properties[iceberg.SummaryInstant] == newest {
				t.Fatalf("instant %s published before the crash", newest)
			}
		}
	}
	committed := 0
	db, _, err := harness.DuckDB(r.ctx, r.inner, t.TempDir(), "hudi")
	if err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRowContext(r.ctx, "SELECT count(*) FROM hudi").Scan(&committed); err != nil {
		t.Fatal(err)
	}
	db.Close()
	t.Logf("%s: crashed after committing %s (%d rows), before publishing it", storage, newest, committed)

	// Reopened: the catch-up publishes it, from its sidecar.
	eng, err := Open(r.ctx, rigOptions(t, r.bucket, r.brokers, r.location, iceberg.WithStats(iceberg.SidecarStats(r.bucket, failFooters{t}))))
	if err != nil {
		t.Fatal(err)
	}
	if err := eng.Close(); err != nil {
		t.Fatal(err)
	}
	checkIcebergMatchesHudi(t, r.ctx, eng.Table(), r.location, committed)

	// And the rest.
	r.produce(n / 2)
	eng = r.run(rigOptions(t, r.bucket, r.brokers, r.location, iceberg.WithStats(iceberg.SidecarStats(r.bucket, failFooters{t}))))
	checkIcebergMatchesHudi(t, r.ctx, eng.Table(), r.location, n)
	if reads := r.footerReads.Load(); reads != 0 {
		t.Fatalf("%d footer reads, want none", reads)
	}
}

// TestCrashChild is the child process of TestCrashBetweenCommitAndPublish
// (skipped otherwise): it ingests the parent's topic into the parent's
// table with the failpoints of $LAKESTREAM_FAILPOINTS, as ingestd does,
// until one stops it.
func TestCrashChild(t *testing.T) {
	spec := os.Getenv(envCrashChild)
	if spec == "" {
		t.Skip("the child process of TestCrashBetweenCommitAndPublish")
	}
	var c crashChild
	if err := json.Unmarshal([]byte(spec), &c); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var bucket objstore.Store
	var err error
	if c.S3 != nil {
		bucket, err = objstore.NewS3(ctx, *c.S3)
	} else {
		bucket, err = objstore.NewFilesystem(c.Root)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer bucket.Close()
	fps, err := failpoint.Parse(os.Getenv("LAKESTREAM_FAILPOINTS"), 1)
	if err != nil {
		t.Fatal(err)
	}
	o := rigOptions(t, bucket, c.Brokers, c.Location)
	o.TableOptions = []hudi.Option{hudi.WithFailpoints(fps)}
	eng, err := Open(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	runCtx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	err = eng.Run(runCtx)
	t.Fatalf("ran without crashing: %v", err)
}

// TestArchiveCutIsTheExpiryCut: the maintenance's archival archives
// exactly through the instant the Iceberg snapshots were expired
// through, though a commit completes between the expiry and the archival
// (which would move the cut of keepCompleted one instant further).
func TestArchiveCutIsTheExpiryCut(t *testing.T) {
	r := newRig(t, "filesystem")
	r.produce(100)
	r.run(rigOptions(t, r.bucket, r.brokers, r.location))
	ctx := r.ctx
	// Another writer's handle on the table, for the commits.
	other, err := hudi.Open(ctx, r.inner)
	if err != nil {
		t.Fatal(err)
	}
	commit := func(cp int64) string {
		t.Helper()
		x, err := hudi.AsTable(other).Begin(ctx, table.BeginOptions{WriterID: "w1", Topic: rigTopic})
		if err != nil {
			t.Fatal(err)
		}
		defer x.Close()
		if err := x.Commit(ctx, table.CommitRequest{CheckpointID: cp, Topic: rigTopic, Next: map[int32]int64{0: 1000 + cp}}); err != nil {
			t.Fatal(err)
		}
		return x.Instant()
	}
	for cp := int64(1); cp <= 4; cp++ {
		commit(cp)
	}
	// The maintenance's table, on a store on which a commit lands as the
	// expiry ends (its sweep of the stats sidecars).
	var landed atomic.Value
	var armed atomic.Bool
	armed.Store(true)
	bucket := objstore.NewFaulty(r.inner, objstore.WithMatcher(func(op objstore.Op, key string) objstore.Injection {
		if op == objstore.OpList && key == filestats.SidecarDir+"/" && armed.CompareAndSwap(true, false) {
			landed.Store(commit(5))
		}
		return objstore.InjectNone
	}))
	ht, err := hudi.Open(ctx, bucket)
	if err != nil {
		t.Fatal(err)
	}
	p, err := iceberg.New(ht, r.location)
	if err != nil {
		t.Fatal(err)
	}
	tbl := icebergTable{Table: hudi.AsTable(ht), hudi: ht, pub: p}
	const keep = 2
	res, err := tbl.Archive(ctx, keep)
	if err != nil {
		t.Fatal(err)
	}
	if landed.Load() == nil {
		t.Fatal("no commit landed during the expiry: the test proves nothing")
	}
	it, err := p.Table(ctx)
	if err != nil {
		t.Fatal(err)
	}
	expired := it.Metadata().Properties()[iceberg.PropExpiredThrough]
	if len(res.Instants) == 0 || res.Instants[len(res.Instants)-1] != expired {
		t.Fatalf("archived %v, Iceberg snapshots expired through %s: want the same cut", res.Instants, expired)
	}
	tl, err := ht.Timeline(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(tl.Completed()); n != keep+1 {
		t.Fatalf("%d completed instants left on the active timeline, want %d kept and the one that landed", n, keep)
	}
	if _, err := p.CatchUp(ctx); err != nil { // the one that landed
		t.Fatal(err)
	}
	checkIcebergMatchesHudi(t, ctx, ht, r.location, 100)
}

// TestSidecarMemoryBound: the metrics kept for one instant's sidecar are
// bounded: past the bound the instant's are dropped and it gets no
// sidecar (the publisher reads its footers), while another instant's
// sidecar is written.
func TestSidecarMemoryBound(t *testing.T) {
	ctx := context.Background()
	b := objstore.NewMemory()
	defer b.Close()
	sc := newSidecars(b, slog.New(slog.DiscardHandler))
	sc.limit = 10 << 10
	stats := &writer.Stats{Schema: []byte(`{"type":"struct","fields":[]}`), Columns: make([]filestats.Column, 20)}
	files := func(instant string, n int) []table.FileStat {
		var out []table.FileStat
		for i := range n {
			path := hudi.BaseFilePath("dt=1", hudi.BaseFileName(hudi.NewFileID(), hudi.WriteToken(0, 0, i), instant))
			sc.uploaded(writer.File{Path: path, Records: 1, SizeBytes: 100, Stats: stats})
			out = append(out, table.FileStat{Path: path, NumRecords: 1})
		}
		return out
	}
	const big, small = "20261207000000001", "20261207000000002"
	bigFiles := files(big, 20) // 20 files of 20 columns: past 10 KiB
	smallFiles := files(small, 2)
	sc.write(ctx, big, bigFiles)
	sc.write(ctx, small, smallFiles)
	if _, err := b.Stat(ctx, filestats.SidecarKey(big)); !errors.Is(err, objstore.ErrNotExist) {
		t.Fatalf("sidecar of the instant past the bound: %v, want none", err)
	}
	st, err := filestats.ReadSidecar(ctx, b, small)
	if err != nil || len(st.Files) != 2 {
		t.Fatalf("sidecar of the instant within the bound: %+v, %v", st, err)
	}
	if len(sc.files[big]) != 0 || sc.bytes[big] != 0 {
		t.Fatalf("the metrics of the instant past the bound are kept: %d files, %d bytes", len(sc.files[big]), sc.bytes[big])
	}
	sc.forget(big)
	sc.forget(small)
	if len(sc.files)+len(sc.bytes)+len(sc.over) != 0 {
		t.Fatalf("left after forget: %v %v %v", sc.files, sc.bytes, sc.over)
	}
}
