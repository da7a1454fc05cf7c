package ingest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/lakestream/lakestream/bucketing"
	"github.com/lakestream/lakestream/checkpoint"
	"github.com/lakestream/lakestream/e2e/harness"
	"github.com/lakestream/lakestream/iceberg"
	"github.com/lakestream/lakestream/iceberg/filestats"
	"github.com/lakestream/lakestream/internal/failpoint"
	"github.com/lakestream/lakestream/internal/objstore"
	"github.com/lakestream/lakestream/internal/objstore/s3test"
	"github.com/lakestream/lakestream/schemas"
	"github.com/lakestream/lakestream/source"
	"github.com/lakestream/lakestream/table"
	"github.com/lakestream/lakestream/table/hudi"
	"github.com/lakestream/lakestream/writer"
)

// rigTopic is the topic of the Iceberg tests' rig.
const rigTopic = "pv"

// rig is a table ingested from a kfake topic, with Iceberg publishing, on
// the local filesystem or on versitygw, through a store that counts the
// footer reads (ranged reads of .parquet keys) and can refuse the puts of
// stats sidecars.
type rig struct {
	t        *testing.T
	ctx      context.Context
	brokers  []string
	prod     *kgo.Client
	produced int
	inner    objstore.Store
	bucket   objstore.Store // inner, through the counting Faulty
	location string
	s3       *objstore.S3Config // nil: filesystem at root
	root     string

	footerReads   atomic.Int64
	failSidecarPs atomic.Bool
}

func newRig(t *testing.T, storage string) *rig {
	t.Helper()
	r := &rig{t: t, ctx: context.Background()}
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, rigTopic), kfake.GroupMinSessionTimeout(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cluster.Close)
	r.brokers = cluster.ListenAddrs()
	r.prod, err = kgo.NewClient(kgo.SeedBrokers(r.brokers...), kgo.DefaultProduceTopic(rigTopic))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.prod.Close)
	switch storage {
	case "filesystem":
		r.root = filepath.Join(t.TempDir(), "pv")
		fs, err := objstore.NewFilesystem(r.root)
		if err != nil {
			t.Fatal(err)
		}
		r.inner = fs
		if r.location, err = iceberg.TableLocation(r.root); err != nil {
			t.Fatal(err)
		}
	case "s3":
		srv := s3test.Start(t)
		cfg := srv.Config("warehouse/pv")
		r.s3 = &cfg
		r.inner = srv.NewBucket(t, "warehouse/pv")
		r.location = "s3://" + srv.Bucket + "/warehouse/pv"
	default:
		t.Fatalf("storage %q", storage)
	}
	t.Cleanup(func() { r.inner.Close() })
	r.bucket = objstore.NewFaulty(r.inner, objstore.WithMatcher(func(op objstore.Op, key string) objstore.Injection {
		if op == objstore.OpGetRange && strings.HasSuffix(key, ".parquet") {
			r.footerReads.Add(1)
		}
		if op == objstore.OpPut && strings.HasPrefix(key, filestats.SidecarDir+"/") && r.failSidecarPs.Load() {
			return objstore.InjectBefore
		}
		return objstore.InjectNone
	}))
	return r
}

// produce produces n more records.
func (r *rig) produce(n int) {
	r.t.Helper()
	now := time.Now().UTC()
	for i := r.produced; i < r.produced+n; i++ {
		v := fmt.Sprintf(`{"userId":%d,"eventTime":%q}`, i, now.Add(-time.Duration(i)*time.Minute).Format(time.RFC3339))
		if err := r.prod.ProduceSync(r.ctx, &kgo.Record{Value: []byte(v)}).FirstErr(); err != nil {
			r.t.Fatal(err)
		}
	}
	r.produced += n
}

// rigOptions are the engine's options for a rig's table in bucket.
func rigOptions(t *testing.T, bucket objstore.Store, brokers []string, location string, ice ...iceberg.Option) Options {
	t.Helper()
	opt := func(b bool) *bool { return &b }
	user, err := schemas.SchemaFromSpecs([]schemas.FieldSpec{{Name: "userId", Type: "int64", Optional: opt(false)}, {Name: "eventTime", Type: "timestamp", Optional: opt(false)}})
	if err != nil {
		t.Fatal(err)
	}
	tmpl, err := bucketing.ParseTemplate(bucketing.DefaultTemplate)
	if err != nil {
		t.Fatal(err)
	}
	ts, err := schemas.NewTableSchema(user, schemas.TableOptions{EventTimeField: "eventTime", PartitionColumns: tmpl.ColumnFields()})
	if err != nil {
		t.Fatal(err)
	}
	router, err := bucketing.NewRouter(2, 0)
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.DiscardHandler)
	return Options{
		Bucket: bucket, TableName: "pv", Topic: rigTopic, WriterID: "w0",
		Schema: ts, Template: tmpl, Router: router, SpoolDir: t.TempDir(),
		Kafka: source.Config{Brokers: brokers, Topic: rigTopic, Group: "pv", ResetOffset: source.ResetEarliest,
			SessionTimeout: 3 * time.Second, RebalanceTimeout: 5 * time.Second},
		SourceOptions: []source.Option{source.WithLogger(logger)},
		CheckpointOptions: []checkpoint.Option{checkpoint.WithInterval(100 * time.Millisecond), checkpoint.WithLogger(logger),
			checkpoint.WithTimelineMaintenance(2, 1)},
		Iceberg: IcebergOptions{Location: location, Options: ice},
		Logger:  logger,
	}
}

// run opens the engine, runs it until every record produced is committed,
// stops and closes it.
func (r *rig) run(o Options) *Engine {
	r.t.Helper()
	eng, err := Open(r.ctx, o)
	if err != nil {
		r.t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(r.ctx)
	done := make(chan error, 1)
	go func() { done <- eng.Run(runCtx) }()
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		cps, err := eng.Table().Checkpoints(r.ctx)
		if err != nil {
			r.t.Fatal(err)
		}
		p0, _ := cps.Next(rigTopic, 0)
		p1, _ := cps.Next(rigTopic, 1)
		if p0.Next+p1.Next == int64(r.produced) {
			break
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("not every record committed: %v", cps.Partitions)
		}
	}
	cancel()
	if err := <-done; err != nil {
		r.t.Fatal(err)
	}
	if err := eng.Close(); err != nil {
		r.t.Fatal(err)
	}
	return eng
}

// failFooters is the publisher's footer source in tests that must read
// none: every call is an error.
type failFooters struct{ t *testing.T }

func (s failFooters) InstantStats(_ context.Context, instant string, _ []hudi.WriteStat) (*filestats.Instant, error) {
	s.t.Errorf("instant %s: the publisher read its footers: no stats sidecar", instant)
	return nil, errors.New("no footer reads in this test")
}

// checkIcebergMatchesHudi checks that every completed commit of the
// active timeline is published (or expired), and that iceberg-go's scan
// of the Iceberg table returns exactly the rows DuckDB reads from the
// Hudi snapshot, want of them. It returns the snapshot's files.
func checkIcebergMatchesHudi(t *testing.T, ctx context.Context, tbl *hudi.Table, location string, want int) []hudi.BaseFile {
	t.Helper()
	db, files, err := harness.DuckDB(ctx, tbl.Bucket(), t.TempDir(), "hudi")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var hudiRows []string
	if len(files) > 0 {
		rows, err := db.QueryContext(ctx, `SELECT _hoodie_commit_time, _hoodie_record_key, userId, dt, hr FROM hudi`)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var ct, key, dt, hr string
			var uid int64
			if err := rows.Scan(&ct, &key, &uid, &dt, &hr); err != nil {
				t.Fatal(err)
			}
			hudiRows = append(hudiRows, fmt.Sprint(ct, "|", key, "|", uid, "|", dt, "|", hr))
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		rows.Close()
	}
	// A publisher that only reads.
	p, err := iceberg.New(tbl, location)
	if err != nil {
		t.Fatal(err)
	}
	it, err := p.Table(ctx)
	if err != nil || it == nil {
		t.Fatalf("iceberg table: %v, %v", it, err)
	}
	md := it.Metadata()
	tl, err := tbl.Timeline(ctx)
	if err != nil {
		t.Fatal(err)
	}
	published := map[string]bool{}
	for _, sn := range md.Snapshots() {
		published[sn.Summary.Properties[iceberg.SummaryInstant]] = true
	}
	expired := md.Properties()[iceberg.PropExpiredThrough]
	for _, e := range tl.Completed() {
		if !published[e.Time] && e.Time > expired {
			t.Errorf("completed instant %s has no Iceberg snapshot (expired through %q)", e.Time, expired)
		}
	}
	_, batches, err := it.Scan().ToArrowRecords(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var iceRows []string
	for rec, err := range batches {
		if err != nil {
			t.Fatal(err)
		}
		col := func(name string) int {
			js := rec.Schema().FieldIndices(name)
			if len(js) != 1 {
				t.Fatalf("iceberg scan has no column %s", name)
			}
			return js[0]
		}
		ct, key, uid, dt, hr := rec.Column(col("_hoodie_commit_time")), rec.Column(col("_hoodie_record_key")), rec.Column(col("userId")).(*array.Int64), rec.Column(col("dt")), rec.Column(col("hr"))
		for r := range int(rec.NumRows()) {
			iceRows = append(iceRows, fmt.Sprint(ct.ValueStr(r), "|", key.ValueStr(r), "|", uid.Value(r), "|", dt.ValueStr(r), "|", hr.ValueStr(r)))
		}
		rec.Release()
	}
	slices.Sort(hudiRows)
	slices.Sort(iceRows)
	if len(hudiRows) != want || !slices.Equal(hudiRows, iceRows) {
		for i := range min(len(hudiRows), len(iceRows)) {
			if hudiRows[i] != iceRows[i] {
				t.Errorf("first difference: hudi %s, iceberg %s", hudiRows[i], iceRows[i])
				break
			}
		}
		t.Fatalf("hudi snapshot %d rows, iceberg scan %d rows, want %d and the same", len(hudiRows), len(iceRows), want)
	}
	return files
}

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
