package ingest

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/lakestream/lakestream/bucketing"
	"github.com/lakestream/lakestream/checkpoint"
	"github.com/lakestream/lakestream/iceberg"
	"github.com/lakestream/lakestream/internal/objstore"
	"github.com/lakestream/lakestream/schemas"
	"github.com/lakestream/lakestream/source"
)

// TestOpenPublishesIceberg: with Options.Iceberg, every commit is
// published as it completes (the engine's hook; nothing is caught up
// after the fact), the timeline is archived every checkpoint with the
// Iceberg snapshots expired first, and iceberg-go's scan of the Iceberg
// table returns exactly the rows of the Hudi snapshot. Without it, no
// metadata/ directory is written.
func TestOpenPublishesIceberg(t *testing.T) {
	for _, on := range []bool{true, false} {
		t.Run(fmt.Sprintf("iceberg=%v", on), func(t *testing.T) { testOpenPublishesIceberg(t, on) })
	}
}

func testOpenPublishesIceberg(t *testing.T, on bool) {
	const topic, n = "pv", 600
	ctx := context.Background()
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, topic), kfake.GroupMinSessionTimeout(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	prod, err := kgo.NewClient(kgo.SeedBrokers(cluster.ListenAddrs()...), kgo.DefaultProduceTopic(topic))
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	now := time.Now().UTC()
	produce := func(from, to int) {
		t.Helper()
		for i := from; i < to; i++ {
			v := fmt.Sprintf(`{"userId":%d,"eventTime":%q}`, i, now.Add(-time.Duration(i)*time.Minute).Format(time.RFC3339))
			if err := prod.ProduceSync(ctx, &kgo.Record{Value: []byte(v)}).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
	}
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
	root := filepath.Join(t.TempDir(), "pv")
	bucket, err := objstore.NewFilesystem(root)
	if err != nil {
		t.Fatal(err)
	}
	defer bucket.Close()
	location, err := iceberg.TableLocation(root)
	if err != nil {
		t.Fatal(err)
	}
	var ice IcebergOptions
	if on {
		ice.Location = location
	}

	// Four runs (a commit each, at least): the later ones open a table whose
	// Iceberg metadata exists, and archive.
	logger := slog.New(slog.DiscardHandler)
	run := func(total int64) *Engine {
		t.Helper()
		eng, err := Open(ctx, Options{
			Bucket: bucket, TableName: "pv", Topic: topic, WriterID: "w0",
			Schema: ts, Template: tmpl, Router: router, SpoolDir: t.TempDir(),
			Kafka: source.Config{Brokers: cluster.ListenAddrs(), Topic: topic, Group: "pv", ResetOffset: source.ResetEarliest,
				SessionTimeout: 3 * time.Second, RebalanceTimeout: 5 * time.Second},
			SourceOptions: []source.Option{source.WithLogger(logger)},
			CheckpointOptions: []checkpoint.Option{checkpoint.WithInterval(100 * time.Millisecond), checkpoint.WithLogger(logger),
				checkpoint.WithTimelineMaintenance(2, 1)},
			Iceberg: ice,
			Logger:  logger,
		})
		if err != nil {
			t.Fatal(err)
		}
		if (eng.Iceberg() != nil) != on {
			t.Fatalf("publisher %v with iceberg %v", eng.Iceberg(), on)
		}
		runCtx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- eng.Run(runCtx) }()
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			cps, err := eng.Table().Checkpoints(ctx)
			if err != nil {
				t.Fatal(err)
			}
			p0, _ := cps.Next(topic, 0)
			p1, _ := cps.Next(topic, 1)
			if p0.Next+p1.Next == total {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("not every record committed: %v", cps.Partitions)
			}
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if err := eng.Close(); err != nil {
			t.Fatal(err)
		}
		return eng
	}
	var eng *Engine
	for i := 1; i <= 4; i++ {
		produce((i-1)*n/4, i*n/4)
		eng = run(int64(i * n / 4))
	}

	var metadata bool
	if err := bucket.List(ctx, iceberg.MetadataDir+"/", func(objstore.ObjectInfo) error { metadata = true; return nil }); err != nil {
		t.Fatal(err)
	}
	if !on {
		if metadata {
			t.Fatal("iceberg switched off, but metadata/ was written")
		}
		return
	}

	// The Hudi snapshot, read with DuckDB.
	snap, err := eng.Table().Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	for _, f := range snap.Files {
		files = append(files, "'"+filepath.Join(root, f.Path)+"'")
	}
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.QueryContext(ctx, fmt.Sprintf(`SELECT _hoodie_commit_time, _hoodie_record_key, userId, dt, hr FROM read_parquet([%s], hive_partitioning = false)`, strings.Join(files, ",")))
	if err != nil {
		t.Fatal(err)
	}
	var hudiRows []string
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

	// The Iceberg table, scanned with iceberg-go: a new publisher that
	// only reads (it publishes nothing: the hook already did).
	p, err := iceberg.New(eng.Table(), location)
	if err != nil {
		t.Fatal(err)
	}
	tbl, err := p.Table(ctx)
	if err != nil || tbl == nil {
		t.Fatalf("iceberg table: %v, %v", tbl, err)
	}
	md := tbl.Metadata()
	tl, err := eng.Table().Timeline(ctx)
	if err != nil {
		t.Fatal(err)
	}
	completed := tl.Completed()
	if cur := md.CurrentSnapshot(); cur == nil || cur.Summary.Properties[iceberg.SummaryInstant] != completed[len(completed)-1].Time {
		t.Fatalf("current snapshot %+v, newest completed instant %s", cur, completed[len(completed)-1].Time)
	}
	// The timeline was archived (keep 2): the snapshots were expired with it.
	if md.Properties()[iceberg.PropExpiredThrough] == "" || len(md.Snapshots()) > len(completed) {
		t.Fatalf("%d snapshots, expired through %q; %d completed instants on the active timeline",
			len(md.Snapshots()), md.Properties()[iceberg.PropExpiredThrough], len(completed))
	}
	_, batches, err := tbl.Scan().ToArrowRecords(ctx)
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
	if len(hudiRows) != n || !slices.Equal(hudiRows, iceRows) {
		for i := range min(len(hudiRows), len(iceRows)) {
			if hudiRows[i] != iceRows[i] {
				t.Errorf("first difference: hudi %s, iceberg %s", hudiRows[i], iceRows[i])
				break
			}
		}
		t.Fatalf("hudi snapshot %d rows, iceberg scan %d rows, want %d and the same", len(hudiRows), len(iceRows), n)
	}
}
