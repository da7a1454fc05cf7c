package checkpoint_test

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lakestream/lakestream/checkpoint"
	"github.com/lakestream/lakestream/internal/objstore"
	"github.com/lakestream/lakestream/writer"
	"github.com/twmb/franz-go/pkg/kgo"
)

// watermarkSource is a fetched source with a fixed watermark.
type watermarkSource struct {
	*fetchedSource
	wm int64
}

func (s *watermarkSource) Watermark() (int64, bool) { return s.wm, true }

// lateRecords makes n records over 2 partitions: most in the 20 minutes
// before now, every tenth 5 to 8 hours before now (three late hours).
func lateRecords(n int, now time.Time) (recs []*kgo.Record, late map[string]int) {
	late = map[string]int{}
	next := map[int32]int64{}
	for i := range n {
		p := int32(i % 2)
		at := now.Add(-time.Duration(i%1200) * time.Second)
		if i%10 == 9 {
			at = now.Add(-5*time.Hour - time.Duration(i%3)*time.Hour - time.Duration(i%600)*time.Second)
			late[at.UTC().Format("dt=2006-01-02/hr=15")]++
		}
		v := fmt.Sprintf(`{"userId":%d,"sessionNumber":1,"pageNumber":2,"url":"https://shop.example.com/p/%d","eventTime":%q}`, i, i, at.UTC().Format(time.RFC3339Nano))
		recs = append(recs, &kgo.Record{Topic: "pageviews", Partition: p, Offset: next[p], Value: []byte(v), Timestamp: now})
		next[p]++
	}
	return recs, late
}

// filesPerBucket counts the snapshot's files per partition path and the
// rows DuckDB reads from them (total and distinct Kafka positions).
func filesPerBucket(t *testing.T, p *pipeline, root string) (map[string]int, int64, int64) {
	t.Helper()
	snap, err := p.table.Snapshot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	per := map[string]int{}
	var paths []string
	for _, f := range snap.Files {
		per[f.Partition]++
		paths = append(paths, "'"+filepath.Join(root, f.Path)+"'")
	}
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var rows, distinct int64
	q := fmt.Sprintf(`SELECT count(*), count(DISTINCT (_kafka_partition, _kafka_offset)) FROM read_parquet([%s])`, strings.Join(paths, ","))
	if err := db.QueryRow(q).Scan(&rows, &distinct); err != nil {
		t.Fatal(err)
	}
	return per, rows, distinct
}

// Late records are written to their buckets in one batch per checkpoint:
// with one open file per worker, interleaved late records would otherwise
// roll a file at nearly every record.
func TestLateRecordsAreBatched(t *testing.T) {
	now := time.Now().UTC().Truncate(time.Hour).Add(30 * time.Minute)
	const n = 3000
	recs, late := lateRecords(n, now)
	totalLate := 0
	for _, c := range late {
		totalLate += c
	}
	run := func(t *testing.T, withWatermark bool) (map[string]int, *pipeline) {
		root := t.TempDir()
		b, err := objstore.NewFilesystem(root)
		if err != nil {
			t.Fatal(err)
		}
		p := newPipelineWith(t, b, 1, recs, "", []writer.Option{writer.WithMaxOpenFiles(1), writer.WithMinFileSize(0)}, checkpoint.WithInterval(time.Hour), checkpoint.WithBatchRows(64))
		p.src.batch = 500
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		p.src.done = cancel
		var src checkpoint.Source = p.src
		if withWatermark {
			src = &watermarkSource{fetchedSource: p.src, wm: now.Add(-30 * time.Minute).UnixMicro()}
		}
		if err := p.coord.Run(ctx, src); err != nil {
			t.Fatal(err)
		}
		if err := p.coord.Close(); err != nil {
			t.Fatal(err)
		}
		per, rows, distinct := filesPerBucket(t, p, root)
		if rows != n || distinct != n {
			t.Fatalf("DuckDB reads %d rows, %d distinct positions; want %d", rows, distinct, n)
		}
		return per, p
	}

	per, p := run(t, true)
	for bucket, count := range late {
		if per[bucket] != 1 {
			t.Errorf("late bucket %s (%d records): %d files, want 1", bucket, count, per[bucket])
		}
	}
	st := p.coord.Stats()
	if st.LateRecords != int64(totalLate) || st.LateFlushes != 1 || st.LateBuffered != 0 {
		t.Errorf("stats: %d late records in %d flushes (%d buffered), want %d in 1 (0)", st.LateRecords, st.LateFlushes, st.LateBuffered, totalLate)
	}

	// The same records without a watermark (nothing is late): the late
	// buckets are written as the records come, a file per switch.
	unbatched, _ := run(t, false)
	for bucket := range late {
		if unbatched[bucket] <= 10 {
			t.Errorf("without batching, late bucket %s has %d files: the test does not exercise the open-file bound", bucket, unbatched[bucket])
		}
	}
}

// Beyond the maximum lateness records are dead-lettered when configured;
// the rest of the late records are written.
func TestTooLateRecordsAreDeadLettered(t *testing.T) {
	now := time.Now().UTC().Truncate(time.Hour).Add(30 * time.Minute)
	const n = 2000
	recs, _ := lateRecords(n, now)
	wm := now.Add(-30 * time.Minute)
	tooLate := 0
	for i := range n {
		if i%10 == 9 {
			at := now.Add(-5*time.Hour - time.Duration(i%3)*time.Hour - time.Duration(i%600)*time.Second)
			if wm.Sub(at) > 6*time.Hour {
				tooLate++
			}
		}
	}
	root := t.TempDir()
	b, err := objstore.NewFilesystem(root)
	if err != nil {
		t.Fatal(err)
	}
	p := newPipeline(t, b, 2, recs, checkpoint.WithInterval(time.Hour), checkpoint.WithLateData(time.Minute, 6*time.Hour, checkpoint.LateDeadLetter, 1<<20))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	p.src.done = cancel
	if err := p.coord.Run(ctx, &watermarkSource{fetchedSource: p.src, wm: wm.UnixMicro()}); err != nil {
		t.Fatal(err)
	}
	if err := p.coord.Close(); err != nil {
		t.Fatal(err)
	}
	if dead := p.deadLetters(); tooLate == 0 || dead[checkpoint.ReasonTooLate] != int64(tooLate) {
		t.Fatalf("dead letters %v, want %d %s", dead, tooLate, checkpoint.ReasonTooLate)
	}
	_, rows, distinct := filesPerBucket(t, p, root)
	if rows != int64(n-tooLate) || distinct != rows {
		t.Fatalf("DuckDB reads %d rows (%d distinct), want %d", rows, distinct, n-tooLate)
	}
	if st := p.coord.Stats(); st.LateRecords != int64(n/10-tooLate) {
		t.Fatalf("%d late records written, want %d", st.LateRecords, n/10-tooLate)
	}
}

// Ordinary jitter (records a few minutes behind the watermark) is not late
// with the default allowed lateness; with none allowed it would be.
func TestJitterIsNotLateByDefault(t *testing.T) {
	now := time.Now().UTC().Truncate(time.Hour).Add(30 * time.Minute)
	var recs []*kgo.Record
	for i := range 1000 {
		at := now.Add(-time.Duration(i%300) * time.Second) // up to 5 minutes behind
		v := fmt.Sprintf(`{"userId":%d,"eventTime":%q}`, i, at.Format(time.RFC3339Nano))
		recs = append(recs, &kgo.Record{Topic: "pageviews", Partition: 0, Offset: int64(i), Value: []byte(v), Timestamp: now})
	}
	for _, c := range []struct {
		opts     []checkpoint.Option
		wantLate bool
	}{{nil, false}, {[]checkpoint.Option{checkpoint.WithLateData(0, 0, checkpoint.LateWrite, 1<<20)}, true}} {
		b, err := objstore.NewFilesystem(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		p := newPipeline(t, b, 1, recs, append([]checkpoint.Option{checkpoint.WithInterval(time.Hour)}, c.opts...)...)
		ctx, cancel := context.WithCancel(context.Background())
		p.src.done = cancel
		if err := p.coord.Run(ctx, &watermarkSource{fetchedSource: p.src, wm: now.Add(-time.Minute).UnixMicro()}); err != nil {
			t.Fatal(err)
		}
		cancel()
		if err := p.coord.Close(); err != nil {
			t.Fatal(err)
		}
		if late := p.coord.Stats().LateRecords; (late > 0) != c.wantLate {
			t.Errorf("options %d: %d late records, want late: %v", len(c.opts), late, c.wantLate)
		}
	}
}
