package writer

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/lakestream/lakestream/internal/objstore"
	"github.com/parquet-go/parquet-go"
)

// pageviewSchema is a 16-column pageview table: the five meta columns,
// nine data columns and three Kafka columns.
func pageviewSchema() *parquet.Schema {
	ostr := func(id int) parquet.Node { return parquet.FieldID(parquet.Optional(parquet.String()), id) }
	return parquet.NewSchema("pageview", newOrderedGroup(withMetaColumns(
		namedNode{"userId", parquet.FieldID(parquet.Int(64), 6)},
		namedNode{"sessionNumber", parquet.FieldID(parquet.Int(32), 7)},
		namedNode{"pageNumber", parquet.FieldID(parquet.Int(32), 8)},
		namedNode{"url", parquet.FieldID(parquet.String(), 9)},
		namedNode{"referrer", ostr(10)},
		namedNode{"userAgent", ostr(11)},
		namedNode{"country", ostr(12)},
		namedNode{"eventTime", parquet.FieldID(parquet.Timestamp(parquet.Microsecond), 13)},
		namedNode{"_kafka_partition", parquet.FieldID(parquet.Int(32), 14)},
		namedNode{"_kafka_offset", parquet.FieldID(parquet.Int(64), 15)},
		namedNode{"_kafka_timestamp", parquet.FieldID(parquet.Timestamp(parquet.Millisecond), 16)},
	)...))
}

type pageviewGen struct {
	rng                          *rand.Rand
	urls, referrers, agents, cty [][]byte
	key                          []byte
	row                          parquet.Row
	offset                       int64
	eventTime                    int64
}

func newPageviewGen() *pageviewGen {
	g := &pageviewGen{rng: rand.New(rand.NewPCG(1, 2)), eventTime: 1_700_000_000_000_000}
	for i := range 2000 {
		g.urls = append(g.urls, fmt.Appendf(nil, "https://shop.example.com/catalog/%d/item/%d?utm_source=news", i%40, i))
	}
	for i := range 200 {
		g.referrers = append(g.referrers, fmt.Appendf(nil, "https://www.search%d.example/q?k=%d", i%7, i))
	}
	for i := range 30 {
		g.agents = append(g.agents, fmt.Appendf(nil, "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/%d.0 Safari/537.36", 100+i))
	}
	for _, c := range []string{"US", "DE", "FR", "JP", "BR", "IN", "GB", "NL"} {
		g.cty = append(g.cty, []byte(c))
	}
	g.row = make(parquet.Row, 16)
	for c := range 5 {
		g.row[c] = parquet.NullValue().Level(0, 0, c)
	}
	return g
}

// next fills g.row with the next record and returns its raw value bytes.
func (g *pageviewGen) next() int {
	r := g.rng
	user := r.Int64N(1_000_000)
	g.offset++
	g.eventTime += r.Int64N(2000)
	g.key = strconv.AppendInt(append(g.key[:0], "user-"...), user, 10)
	g.key = append(g.key, '-')
	g.key = strconv.AppendInt(g.key, g.offset, 10)
	url := g.urls[r.IntN(len(g.urls))]
	row := g.row
	row[2] = parquet.ByteArrayValue(g.key).Level(0, 1, 2)
	row[5] = parquet.Int64Value(user).Level(0, 0, 5)
	row[6] = parquet.Int32Value(int32(r.IntN(50))).Level(0, 0, 6)
	row[7] = parquet.Int32Value(int32(r.IntN(20))).Level(0, 0, 7)
	row[8] = parquet.ByteArrayValue(url).Level(0, 0, 8)
	n := len(g.key) + 8 + 4 + 4 + len(url) + 8 + 4 + 8 + 8
	if r.IntN(4) == 0 {
		row[9] = parquet.NullValue().Level(0, 0, 9)
	} else {
		ref := g.referrers[r.IntN(len(g.referrers))]
		row[9] = parquet.ByteArrayValue(ref).Level(0, 1, 9)
		n += len(ref)
	}
	ua := g.agents[r.IntN(len(g.agents))]
	row[10] = parquet.ByteArrayValue(ua).Level(0, 1, 10)
	c := g.cty[r.IntN(len(g.cty))]
	row[11] = parquet.ByteArrayValue(c).Level(0, 1, 11)
	n += len(ua) + len(c)
	row[12] = parquet.Int64Value(g.eventTime).Level(0, 0, 12)
	row[13] = parquet.Int32Value(3).Level(0, 0, 13)
	row[14] = parquet.Int64Value(g.offset).Level(0, 0, 14)
	row[15] = parquet.Int64Value(g.eventTime/1000+5).Level(0, 0, 15)
	return n
}

// BenchmarkSetWrite writes pageview rows into 4 buckets of a filesystem
// bucket with Write, finishing a checkpoint every 250k rows and at the end
// (the uploads are timed). MB/s is of the rows' raw value bytes, without the
// meta columns Write fills.
//
//	go test -run '^$' -bench BenchmarkSetWrite -benchtime 1000000x -cpu 1 ./writer/
func BenchmarkSetWrite(b *testing.B) {
	benchmarkSet(b, benchBuckets(4), nil, func(s *Set, g *pageviewGen, parts []string, n int) error {
		for i := range n {
			g.next()
			if err := s.Write(context.Background(), parts[i%len(parts)], g.row, g.eventTime); err != nil {
				return err
			}
		}
		return nil
	})
}

// BenchmarkSetWriteBatch is BenchmarkSetWrite with WriteBatch, 1024 rows a
// call, the rows of a bucket in runs of 256 (as the pipeline's event-time
// buckets mostly are).
func BenchmarkSetWriteBatch(b *testing.B) {
	benchmarkSet(b, benchBuckets(4), nil, batchWriter())
}

// BenchmarkSetWriteBatchStaged is BenchmarkSetWriteBatch over 16 buckets
// with 2 open files and a 1 MiB stage: most rows are staged, spilled to the
// spool, read back and written at Finish (the stage's path).
func BenchmarkSetWriteBatchStaged(b *testing.B) {
	benchmarkSet(b, benchBuckets(16), []Option{WithMaxOpenFiles(2), WithStageMemory(1 << 20)}, batchWriter())
}

// BenchmarkSetWriteBatchStagedFileStats is BenchmarkSetWriteBatchStaged
// with WithFileStats (ingestd's writers when Iceberg publishing is on):
// the cost of describing each file from its footer, on the benchmark of
// the most files.
func BenchmarkSetWriteBatchStagedFileStats(b *testing.B) {
	benchmarkSet(b, benchBuckets(16), []Option{WithMaxOpenFiles(2), WithStageMemory(1 << 20), WithFileStats(true)}, batchWriter())
}

// benchBuckets returns n hourly buckets.
func benchBuckets(n int) []string {
	var out []string
	for i := range n {
		out = append(out, fmt.Sprintf("dt=2026-11-%02d/hour=%02d", 1+i/24, i%24))
	}
	return out
}

// batchWriter returns a function writing n rows with WriteBatch, 1024 rows
// a call, the rows of a bucket in runs of 256 (as the pipeline's event-time
// buckets mostly are).
func batchWriter() func(s *Set, g *pageviewGen, parts []string, n int) error {
	const batchRows, runRows = 1024, 256
	var (
		values []parquet.Value
		arena  []byte
		rows   []parquet.Row
		bparts []string
		times  []int64
	)
	return func(s *Set, g *pageviewGen, parts []string, n int) error {
		for done := 0; done < n; {
			k := min(batchRows, n-done)
			values, arena, rows, bparts, times = values[:0], arena[:0], rows[:0], bparts[:0], times[:0]
			for i := range k {
				g.next()
				start := len(values)
				values = append(values, g.row...)
				at := len(arena)
				arena = append(arena, g.key...)
				values[start+2] = parquet.ByteArrayValue(arena[at:]).Level(0, 1, 2)
				rows = append(rows, nil)
				bparts = append(bparts, parts[(done+i)/runRows%len(parts)])
				times = append(times, g.eventTime)
			}
			// The arena may have moved: point the keys at their final place.
			at := 0
			for i := range k {
				row := values[i*16 : (i+1)*16 : (i+1)*16]
				key := row[2].ByteArray()
				row[2] = parquet.ByteArrayValue(arena[at:at+len(key)]).Level(0, 1, 2)
				at += len(key)
				rows[i] = row
			}
			if _, err := s.WriteBatch(context.Background(), bparts, rows, times); err != nil {
				return err
			}
			done += k
		}
		return nil
	}
}

// benchmarkSet times write(n) of b.N rows in checkpoints of 250k rows.
func benchmarkSet(b *testing.B, parts []string, opts []Option, write func(s *Set, g *pageviewGen, parts []string, n int) error) {
	ctx := context.Background()
	bucket, err := objstore.NewFilesystem(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	s, err := NewSet(bucket, pageviewSchema(), 3, append([]Option{WithSpoolDir(b.TempDir())}, opts...)...)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	g := newPageviewGen()
	// The row bytes of one pass, for SetBytes.
	var raw int64
	for range 10000 {
		raw += int64(g.next())
	}
	b.SetBytes(raw / 10000)
	g = newPageviewGen()

	const checkpointRows = 250_000
	var fileBytes int64
	checkpoint := int64(0)
	begin := func() {
		checkpoint++
		if err := s.Begin(fmt.Sprintf("2026110112%07d", checkpoint), checkpoint); err != nil {
			b.Fatal(err)
		}
	}
	finish := func() {
		files, err := s.Finish(ctx)
		if err != nil {
			b.Fatal(err)
		}
		for _, f := range files {
			fileBytes += f.SizeBytes
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for done := 0; done < b.N; {
		k := min(checkpointRows, b.N-done)
		begin()
		if err := write(s, g, parts, k); err != nil {
			b.Fatal(err)
		}
		finish()
		done += k
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(float64(fileBytes)/float64(b.N), "file-B/row")
}
