package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
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
	"github.com/lakestream/lakestream/internal/objstore"
	"github.com/lakestream/lakestream/internal/objstore/s3test"
	"github.com/lakestream/lakestream/schemas"
	"github.com/lakestream/lakestream/source"
	"github.com/lakestream/lakestream/table/hudi"
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
	published := iceberg.Published(md)
	for _, e := range tl.Completed() {
		if !published(e.Time) {
			t.Errorf("completed instant %s has no Iceberg snapshot (expired through %q, after %q)", e.Time,
				md.Properties()[iceberg.PropExpiredThrough], md.Properties()[iceberg.PropExpiredAfter])
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
