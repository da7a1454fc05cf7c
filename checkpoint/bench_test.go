package checkpoint_test

import (
	"bufio"
	"database/sql"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"
	"unsafe"

	"github.com/lakestream/lakestream/checkpoint"
	"github.com/lakestream/lakestream/internal/objstore"
	"github.com/twmb/franz-go/pkg/kgo"
)

// BenchmarkPipeline measures the pipeline in process: records already
// fetched (JSON pageviews of about 300 bytes) are decoded, bucketed by event
// hour and written as zstd Parquet to the local filesystem, with a commit
// every 250ms and a final one. One op is one record. Run with -cpu 1,2.
// file-B/record is the size of the table's Parquet files per record: it
// grows with the number of commits (more, smaller files), so compare it
// between runs with the same number of commits.
//
// The records, kgo.Records as franz-go hands them out, are made before the
// timer starts and kept off the Go heap (pageviewArena), so that the
// collector does not mark them: the heap it marks is what a running
// ingestd holds, not the whole input. BenchmarkPipelineFetch makes them
// during the run instead.
func BenchmarkPipeline(b *testing.B) { benchmarkPipeline(b, false) }

// BenchmarkPipelineFetch is BenchmarkPipeline with the kgo.Records made
// during the run, fetch by fetch, as franz-go decodes a fetch response: one
// []kgo.Record per Kafka record batch (of 64 records here, about the Java
// producer's default batch size). The difference to BenchmarkPipeline is
// about what the Kafka client spends per record.
func BenchmarkPipelineFetch(b *testing.B) { benchmarkPipeline(b, true) }

func benchmarkPipeline(b *testing.B, fetch bool) {
	arena := newPageviewArena(b, b.N, time.Now().UTC())
	root := b.TempDir()
	bucket, err := objstore.NewFilesystem(root)
	if err != nil {
		b.Fatal(err)
	}
	p := newPipeline(b, bucket, runtime.GOMAXPROCS(0), nil, checkpoint.WithInterval(benchInterval()), checkpoint.WithEventTimeBounds(0, 0))
	p.src.n = b.N
	if fetch {
		p.src.fill = arena.fill
	} else {
		p.src.fetched = arena.records(b)
	}
	runtime.GC()
	b.ReportAllocs()
	b.ResetTimer()
	cpu0, cpuOK := processCPU()
	start := time.Now()
	p.run(b)
	elapsed := time.Since(start)
	cpu1, _ := processCPU()
	b.StopTimer()
	st := p.coord.Stats()
	if st.RowsCommitted != int64(b.N) {
		b.Fatalf("committed %d rows, want %d", st.RowsCommitted, b.N)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "records/s")
	b.ReportMetric(float64(len(arena.values))/elapsed.Seconds()/1e6, "MB/s")
	b.ReportMetric(float64(st.Checkpoints), "commits")
	b.ReportMetric(float64(parquetBytes(b, root))/float64(b.N), "file-B/record")
	if cpuOK {
		// CPU time per record, every goroutine and the collector included:
		// on a shared machine it varies less than ns/op, which also counts
		// the time the host lent the CPU to someone else.
		b.ReportMetric(float64(cpu1-cpu0)/float64(b.N), "cpu-ns/record")
	}
}

// pageviewArena holds the records of pageviewRecord without pointers and
// outside the Go heap (offHeap): the values back to back in one byte
// slice, the rest in a pointer-free array. Off the heap, the input does
// not count toward the collector's heap goal: a heap that held it would
// let the garbage grow to its size between collections, so every batch
// would land on fresh pages (page faults) instead of reused, cached memory.
type pageviewArena struct {
	values []byte
	recs   []arenaRecord
}

type arenaRecord struct {
	end       int64 // of the value in values
	offset    int64
	unixNanos int64
	partition int32
}

func newPageviewArena(tb testing.TB, n int, end time.Time) *pageviewArena {
	var scratch []byte
	recBytes := offHeap(tb, n*int(unsafe.Sizeof(arenaRecord{})))
	a := &pageviewArena{values: offHeap(tb, n*320)[:0], recs: unsafe.Slice((*arenaRecord)(unsafe.Pointer(unsafe.SliceData(recBytes))), n)}
	for i := range n {
		var p int32
		var off int64
		var at time.Time
		scratch, p, off, at = pageviewRecord(scratch[:0], i, end)
		if len(a.values)+len(scratch) > cap(a.values) {
			tb.Fatalf("pageview %d does not fit the arena", i)
		}
		a.values = append(a.values, scratch...)
		a.recs[i] = arenaRecord{end: int64(len(a.values)), offset: off, unixNanos: at.UnixNano(), partition: p}
	}
	return a
}

// fill sets rec to record i; its value is the arena's bytes.
func (a *pageviewArena) fill(i int, rec *kgo.Record) {
	start := int64(0)
	if i > 0 {
		start = a.recs[i-1].end
	}
	r := a.recs[i]
	*rec = kgo.Record{Topic: "pageviews", Partition: r.partition, Offset: r.offset,
		Value: a.values[start:r.end:r.end], Timestamp: time.Unix(0, r.unixNanos)}
}

// records returns every record, made off the Go heap: their pointers are
// to the arena, to a string constant and to time.Local, none of them in
// the Go heap, so the collector need not see them.
func (a *pageviewArena) records(tb testing.TB) []kgo.Record {
	n := len(a.recs)
	mem := offHeap(tb, n*int(unsafe.Sizeof(kgo.Record{})))
	recs := unsafe.Slice((*kgo.Record)(unsafe.Pointer(unsafe.SliceData(mem))), n)
	for i := range recs {
		a.fill(i, &recs[i])
	}
	return recs
}

// record returns record i (see fill).
func (a *pageviewArena) record(i int) *kgo.Record {
	r := new(kgo.Record)
	a.fill(i, r)
	return r
}

// parquetBytes returns the total size of the Parquet files under root.
func parquetBytes(tb testing.TB, root string) int64 {
	tb.Helper()
	var n int64
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || filepath.Ext(path) != ".parquet" {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		n += info.Size()
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	return n
}

// BenchmarkDuckDBReference is the reference for BenchmarkPipeline: DuckDB
// converting the same records, as a JSON-lines file, to zstd Parquet with
// as many threads as GOMAXPROCS. One op is one record.
func BenchmarkDuckDBReference(b *testing.B) {
	arena := newPageviewArena(b, b.N, time.Now().UTC())
	dir := b.TempDir()
	in := filepath.Join(dir, "pageviews.jsonl")
	f, err := os.Create(in)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriter(f)
	for i := range b.N {
		w.Write(arena.record(i).Value)
		w.WriteByte('\n')
	}
	bytes := int64(len(arena.values))
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	f.Close()
	db, err := sql.Open("duckdb", "")
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if _, err := db.Exec(fmt.Sprintf("SET threads = %d", runtime.GOMAXPROCS(0))); err != nil {
		b.Fatal(err)
	}
	q := fmt.Sprintf(`COPY (SELECT * FROM read_json('%s', format = 'newline_delimited', columns = {userId: 'BIGINT', sessionNumber: 'INTEGER',
		pageNumber: 'INTEGER', url: 'VARCHAR', referrer: 'VARCHAR', userAgent: 'VARCHAR', eventTime: 'TIMESTAMPTZ'}))
		TO '%s' (FORMAT parquet, COMPRESSION zstd)`, in, filepath.Join(dir, "out.parquet"))
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	if _, err := db.Exec(q); err != nil {
		b.Fatal(err)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "records/s")
	b.ReportMetric(float64(bytes)/elapsed.Seconds()/1e6, "MB/s")
}

// benchInterval is the checkpoint interval of the pipeline benchmarks:
// 250ms, or LAKESTREAM_BENCH_INTERVAL.
func benchInterval() time.Duration {
	if d, err := time.ParseDuration(os.Getenv("LAKESTREAM_BENCH_INTERVAL")); err == nil {
		return d
	}
	return 250 * time.Millisecond
}
