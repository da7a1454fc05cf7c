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

	"github.com/lakestream/lakestream/checkpoint"
	"github.com/lakestream/lakestream/internal/objstore"
	"github.com/lakestream/lakestream/source"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestLatestStartKeepsIdlePartitionPlace: partitions started at "latest"
// keep their place in the table even when they had no record. Partition 1
// is idle during the first run, and records are produced to it while
// ingestd is stopped: the second run must ingest them, not start at the
// end again (the commit used to carry only the partitions with records).
// With partition 0 idle too, the first run commits the positions alone.
func TestLatestStartKeepsIdlePartitionPlace(t *testing.T) {
	t.Run("one-idle", func(t *testing.T) { testLatestStart(t, 10) })
	t.Run("all-idle", func(t *testing.T) { testLatestStart(t, 0) })
}

// testLatestStart runs the scenario with busy records produced to
// partition 0 during the first run.
func testLatestStart(t *testing.T, busy int) {
	const topic = "pageviews"
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, topic), kfake.GroupMinSessionTimeout(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	prod, err := kgo.NewClient(kgo.SeedBrokers(cluster.ListenAddrs()...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	next := 0 // record number, for distinct values
	produce := func(partition int32, n int) {
		t.Helper()
		recs := make([]*kgo.Record, n)
		for i := range recs {
			recs[i] = skewRecord(partition, next, time.Now())
			recs[i].Topic = topic
			next++
		}
		if err := produceSync(prod, recs); err != nil {
			t.Fatal(err)
		}
	}
	// Before the first start: not to be read, "latest" starts after them.
	produce(0, 5)
	produce(1, 7)

	root := t.TempDir()
	bucket, err := objstore.NewFilesystem(root)
	if err != nil {
		t.Fatal(err)
	}
	// run ingests until both partitions reach the end offsets in want,
	// then stops with a final checkpoint.
	run := func(want map[int32]int64, during func()) {
		t.Helper()
		p := newPipelineWith(t, bucket, 1, nil, "", nil, checkpoint.WithInterval(50*time.Millisecond))
		defer p.coord.Close()
		r, err := source.NewReader(source.Config{
			Brokers: cluster.ListenAddrs(), Topic: topic, Group: "latest", ResetOffset: source.ResetLatest,
			SessionTimeout: 3 * time.Second, RebalanceTimeout: 5 * time.Second,
		}, source.Hooks{StartOffsets: p.coord.StartOffsets, Revoked: p.coord.Revoked},
			source.WithLogger(slog.New(slog.DiscardHandler)))
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		cr := startRun(ctx, p.coord, r)
		waitPositions := func(ok func(map[int32]int64) bool, what string) {
			t.Helper()
			for deadline := time.Now().Add(30 * time.Second); !ok(r.Positions()); time.Sleep(10 * time.Millisecond) {
				if cr.stopped() || time.Now().After(deadline) {
					cancel()
					t.Fatalf("%s: positions %v (run stopped: %v, %v)", what, r.Positions(), cr.stopped(), cr.err)
				}
			}
		}
		waitPositions(func(pos map[int32]int64) bool { return len(pos) == 2 }, "both partitions assigned")
		during()
		waitPositions(func(pos map[int32]int64) bool { return pos[0] >= want[0] && pos[1] >= want[1] }, fmt.Sprintf("read up to %v", want))
		cancel()
		if err := cr.wait(); err != nil {
			t.Fatal(err)
		}
		r.Close()
		if err := p.coord.Close(); err != nil {
			t.Fatal(err)
		}
	}

	// First run: records to partition 0 only, partition 1 stays idle.
	run(map[int32]int64{0: 5 + int64(busy), 1: 7}, func() { produce(0, busy) })
	// Stopped: records to the idle partition (and the other).
	produce(1, 4)
	produce(0, 2)
	// Second run: the stopped-time records, and one more to each.
	run(map[int32]int64{0: 5 + int64(busy) + 2 + 1, 1: 7 + 4 + 1}, func() { produce(0, 1); produce(1, 1) })

	// Every record produced after the first start is in the table once;
	// none of those before it.
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	snap, err := openTable(t, bucket).Snapshot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	files := make([]string, 0, len(snap.Files))
	for _, f := range snap.Files {
		files = append(files, "'"+filepath.Join(root, f.Path)+"'")
	}
	if len(files) == 0 {
		t.Fatal("nothing committed")
	}
	for _, want := range []struct {
		partition      int32
		from, to       int64 // offsets, to exclusive
		rows, distinct int64
	}{
		{0, 5, 5 + int64(busy) + 3, int64(busy) + 3, int64(busy) + 3},
		{1, 7, 12, 5, 5},
	} {
		var rows, distinct, out int64
		q := fmt.Sprintf(`SELECT count(*), count(DISTINCT _kafka_offset), count(*) FILTER (WHERE _kafka_offset < %d OR _kafka_offset >= %d)
			FROM read_parquet([%s]) WHERE _kafka_partition = %d`, want.from, want.to, strings.Join(files, ","), want.partition)
		if err := db.QueryRow(q).Scan(&rows, &distinct, &out); err != nil {
			t.Fatal(err)
		}
		if rows != want.rows || distinct != want.distinct || out != 0 {
			t.Errorf("partition %d: %d rows, %d distinct offsets, %d outside [%d, %d); want each of offsets %d to %d once",
				want.partition, rows, distinct, out, want.from, want.to, want.from, want.to-1)
		}
	}
}
