package ingest

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "github.com/duckdb/duckdb-go/v2"
	"github.com/lakestream/lakestream/bucketing"
	"github.com/lakestream/lakestream/checkpoint"
	"github.com/lakestream/lakestream/internal/objstore"
	"github.com/lakestream/lakestream/journal"
	"github.com/lakestream/lakestream/schemas"
	"github.com/lakestream/lakestream/source"
	"github.com/lakestream/lakestream/table"
	"github.com/lakestream/lakestream/table/hudi"
	"github.com/lakestream/lakestream/writer"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestOpenRecoversThenRuns: Open finds what a crashed run left (a pending
// instant the journal knows, with a file, and a stale spool file), settles
// the journal, recovers the table and sweeps the spool before it builds
// the pipeline; Run then ingests every record of the topic once, through
// writer sets that journal their uploads.
func TestOpenRecoversThenRuns(t *testing.T) {
	const topic, n = "pv", 400
	ctx := context.Background()
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, topic), kfake.GroupMinSessionTimeout(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	prod, err := kgo.NewClient(kgo.SeedBrokers(cluster.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	now := time.Now().UTC()
	for i := range n {
		v := fmt.Sprintf(`{"userId":%d,"eventTime":%q}`, i, now.Add(-time.Duration(i)*time.Minute).Format(time.RFC3339))
		if err := prod.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte(v)}).FirstErr(); err != nil {
			t.Fatal(err)
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
	root, jdir, spool := t.TempDir(), t.TempDir(), t.TempDir()
	bucket, err := objstore.NewFilesystem(root)
	if err != nil {
		t.Fatal(err)
	}
	defer bucket.Close()

	// A crashed run of w0: an instant begun, journaled, one file uploaded.
	tbl, err := hudi.Create(ctx, bucket, hudi.Config{Name: "pv", RecordKeyFields: RecordKeyFields, PartitionFields: tmpl.PartitionFields(),
		Schema: ts.Avro("pv_record", "hoodie.pv")}, hudi.WithHeartbeat(50*time.Millisecond, 1))
	if err != nil {
		t.Fatal(err)
	}
	x, err := tbl.Begin(ctx, hudi.BeginOptions{WriterID: "w0", Topic: topic, Partitions: []int32{0, 1}})
	if err != nil {
		t.Fatal(err)
	}
	j, err := journal.Open(jdir)
	if err != nil {
		t.Fatal(err)
	}
	if err := j.BeginCheckpoint(x.Instant(), 1); err != nil {
		t.Fatal(err)
	}
	left, err := hudi.BaseFileLayout{}.NewFile("dt=2026-01-01/hr=00", table.FileSpec{Instant: x.Instant(), Checkpoint: 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := j.BeforeUpload(left.Key); err != nil {
		t.Fatal(err)
	}
	if err := bucket.Put(ctx, left.Key, bytes.NewReader([]byte("PAR1"))); err != nil {
		t.Fatal(err)
	}
	x.Close()
	j.Close()
	stale := filepath.Join(spool, writer.SpoolPrefix+"crashed")
	if err := os.WriteFile(stale, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-2 * time.Hour)
	if err := os.Chtimes(stale, old, old); err != nil {
		t.Fatal(err)
	}

	logger := slog.New(slog.DiscardHandler)
	eng, err := Open(ctx, Options{
		Bucket: bucket, TableName: "pv", Topic: topic, WriterID: "w0",
		Schema: ts, Template: tmpl, Router: router, JournalDir: jdir, SpoolDir: spool,
		Kafka: source.Config{Brokers: cluster.ListenAddrs(), Topic: topic, Group: "pv", ResetOffset: source.ResetEarliest,
			SessionTimeout: 3 * time.Second, RebalanceTimeout: 5 * time.Second},
		SourceOptions:     []source.Option{source.WithLogger(logger)},
		WriterOptions:     []writer.Option{writer.WithLogger(logger)},
		CheckpointOptions: []checkpoint.Option{checkpoint.WithInterval(100 * time.Millisecond), checkpoint.WithLogger(logger)},
		Logger:            logger,
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bucket.Stat(ctx, left.Key); err == nil {
		t.Fatalf("the crashed instant's file %s is still there", left.Key)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Fatalf("stale spool file: %v", err)
	}
	tl, err := eng.Table().Timeline(ctx)
	if err != nil || len(tl.Pending()) != 0 {
		t.Fatalf("pending instants after Open: %v, %v", tl.Pending(), err)
	}

	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- eng.Run(runCtx) }()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		cps, err := eng.Table().Checkpoints(ctx)
		if err != nil {
			t.Fatal(err)
		}
		p0, ok0 := cps.Next(topic, 0)
		p1, ok1 := cps.Next(topic, 1)
		if ok0 && ok1 && p0.Next+p1.Next == n {
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

	snap, err := tbl.Snapshot(ctx)
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
	var rows, distinct int64
	q := fmt.Sprintf(`SELECT count(*), count(DISTINCT userId) FROM read_parquet([%s])`, strings.Join(files, ","))
	if err := db.QueryRow(q).Scan(&rows, &distinct); err != nil {
		t.Fatal(err)
	}
	if rows != n || distinct != n {
		t.Fatalf("%d rows, %d distinct, want %d once each", rows, distinct, n)
	}
	j, err = journal.Open(jdir)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	if p, err := j.Pending(); err != nil || len(p) != 0 {
		t.Fatalf("journal pending after a clean stop: %v, %v", p, err)
	}
}

// TestOpenWithPluggedSource: with Options.Source and Options.DeadLetters
// set, Open makes no Kafka client (there is no broker to reach), Run polls
// the source until its context ends, the good records are committed with
// their offsets and the bad one goes to the sink with its reason.
func TestOpenWithPluggedSource(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	bucket, err := objstore.NewFilesystem(root)
	if err != nil {
		t.Fatal(err)
	}
	defer bucket.Close()
	now := time.Now().UTC()
	var recs []*kgo.Record
	for i := range 300 {
		v := fmt.Sprintf(`{"userId":%d,"eventTime":%q}`, i, now.Add(-time.Duration(i)*time.Minute).Format(time.RFC3339))
		if i == 150 {
			v = "{not json"
		}
		recs = append(recs, &kgo.Record{Topic: rigTopic, Partition: int32(i % 2), Offset: int64(i / 2), Value: []byte(v), Timestamp: now})
	}
	src := &sliceSource{recs: recs}
	sink := &deadLetterSink{}
	o := rigOptions(t, bucket, nil, "")
	o.Kafka = source.Config{} // no broker: Open must not need one
	o.Source, o.DeadLetters = src, sink
	eng, err := Open(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	if eng.Reader() != nil {
		t.Fatal("Open made a Kafka reader beside Options.Source")
	}
	runCtx, cancel := context.WithCancel(ctx)
	src.done = cancel
	if err := eng.Run(runCtx); err != nil {
		t.Fatal(err)
	}
	if err := eng.Close(); err != nil {
		t.Fatal(err)
	}
	cps, err := eng.Table().Checkpoints(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for p := range int32(2) {
		if c, _ := cps.Next(rigTopic, p); c.Next != 150 {
			t.Errorf("partition %d: next offset %d committed, want 150", p, c.Next)
		}
	}
	if got := eng.Coordinator().Stats().RowsCommitted; got != 299 {
		t.Errorf("%d rows committed, want 299", got)
	}
	if len(sink.reasons) != 1 || sink.reasons[0] != "invalid-json" {
		t.Errorf("dead letters %v, want one invalid-json", sink.reasons)
	}
}

// sliceSource hands out its records in one poll, then calls done and
// waits for the end of the run.
type sliceSource struct {
	recs []*kgo.Record
	done func()
	sent bool
}

func (s *sliceSource) Poll(ctx context.Context) ([]*kgo.Record, error) {
	if !s.sent {
		s.sent = true
		return s.recs, nil
	}
	s.done()
	<-ctx.Done()
	return nil, ctx.Err()
}
func (s *sliceSource) AllowRebalance()                   {}
func (s *sliceSource) QueueGroupOffsets(map[int32]int64) {}
func (s *sliceSource) Positions() map[int32]int64        { return nil }

// deadLetterSink records the reasons of the dead letters it is sent.
type deadLetterSink struct{ reasons []string }

func (d *deadLetterSink) Send(_ *kgo.Record, reason, _ string) { d.reasons = append(d.reasons, reason) }
func (d *deadLetterSink) Flush(context.Context) error          { return nil }
