package checkpoint

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/lakestream/lakestream/bucketing"
	"github.com/lakestream/lakestream/internal/objstore"
	"github.com/lakestream/lakestream/journal"
	"github.com/lakestream/lakestream/schemas"
	"github.com/lakestream/lakestream/table/hudi"
	"github.com/lakestream/lakestream/writer"
	"github.com/twmb/franz-go/pkg/kgo"
	"gopkg.in/yaml.v3"
)

// fetchedSource serves records that were already fetched, in batches, then
// calls done and waits for the run to end: the pipeline without Kafka.
// The records are recs, or fetched (made off the Go heap by a benchmark).
// With gen set, it makes records 0..n-1 batch by batch instead, so that
// the input does not sit in memory (benchmarks that measure the RSS). With
// fill set, it does too, into one []kgo.Record per Kafka record batch of
// kafkaBatch records, as franz-go decodes a fetch.
type fetchedSource struct {
	mu      sync.Mutex
	recs    []*kgo.Record
	gen     func(i int) *kgo.Record
	fill    func(i int, r *kgo.Record)
	fetched []kgo.Record // made already: handed out batch by batch
	n       int
	batch   int
	pos     int
	pause   time.Duration // between batches, to spread records over checkpoints
	done    func()
	onPoll  func() // called at every Poll, if set
	commits []map[int32]int64
}

func (s *fetchedSource) Poll(ctx context.Context) ([]*kgo.Record, error) {
	if s.onPoll != nil {
		s.onPoll()
	}
	if s.pause > 0 {
		time.Sleep(s.pause)
	}
	s.mu.Lock()
	if s.fetched != nil && s.pos < len(s.fetched) {
		end := min(s.pos+s.batch, len(s.fetched))
		out := make([]*kgo.Record, 0, end-s.pos)
		for i := s.pos; i < end; i++ {
			out = append(out, &s.fetched[i])
		}
		s.pos = end
		s.mu.Unlock()
		return out, nil
	}
	if s.fill != nil && s.pos < s.n {
		end := min(s.pos+s.batch, s.n)
		out := make([]*kgo.Record, 0, end-s.pos)
		for i := s.pos; i < end; i += kafkaBatch {
			recs := make([]kgo.Record, min(kafkaBatch, end-i))
			for j := range recs {
				s.fill(i+j, &recs[j])
				out = append(out, &recs[j])
			}
		}
		s.pos = end
		s.mu.Unlock()
		return out, nil
	}
	if s.gen != nil && s.pos < s.n {
		end := min(s.pos+s.batch, s.n)
		out := make([]*kgo.Record, 0, end-s.pos)
		for i := s.pos; i < end; i++ {
			out = append(out, s.gen(i))
		}
		s.pos = end
		s.mu.Unlock()
		return out, nil
	}
	if s.pos < len(s.recs) {
		end := min(s.pos+s.batch, len(s.recs))
		out := s.recs[s.pos:end]
		s.pos = end
		s.mu.Unlock()
		return out, nil
	}
	s.mu.Unlock()
	if s.done != nil {
		s.done()
	}
	<-ctx.Done()
	return nil, ctx.Err()
}

// kafkaBatch is the records of a Kafka record batch fetchedSource makes
// with fill: about 16 KiB of pageviews, the Java producer's default
// batch.size (franz-go's producer batches up to 1 MiB).
const kafkaBatch = 64

func (s *fetchedSource) AllowRebalance() {}

func (s *fetchedSource) polledCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pos
}

func (s *fetchedSource) QueueGroupOffsets(next map[int32]int64) {
	s.mu.Lock()
	s.commits = append(s.commits, next)
	s.mu.Unlock()
}

// deadLetterList keeps dead letters in memory; Flush can be made to fail.
type deadLetterList struct {
	mu      sync.Mutex
	reasons map[string]int
	failing int // Flush fails this many more times
}

func (d *deadLetterList) Send(_ *kgo.Record, reason, _ string) {
	d.mu.Lock()
	if d.reasons == nil {
		d.reasons = map[string]int{}
	}
	d.reasons[reason]++
	d.mu.Unlock()
}

func (d *deadLetterList) Flush(context.Context) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.failing > 0 {
		d.failing--
		return fmt.Errorf("dead-letter topic unavailable")
	}
	return nil
}

const pageviewSchema = `
- {name: userId, type: int64, optional: false}
- {name: sessionNumber, type: int32}
- {name: pageNumber, type: int32}
- {name: url, type: string}
- {name: referrer, type: string}
- {name: userAgent, type: string}
- {name: eventTime, type: timestamp, optional: false}`

// pipeline is a coordinator over a fetched source, for tests and benchmarks.
type pipeline struct {
	coord  *Coordinator
	table  *hudi.Table
	bucket objstore.Store
	src    *fetchedSource
	dlq    *deadLetterList
}

func newPipeline(tb testing.TB, bucket objstore.Store, workers int, recs []*kgo.Record, opts ...Option) *pipeline {
	return newJournaledPipeline(tb, bucket, workers, recs, nil, opts...)
}

func newJournaledPipeline(tb testing.TB, bucket objstore.Store, workers int, recs []*kgo.Record, j *journal.Journal, opts ...Option) *pipeline {
	tb.Helper()
	return newPipelineWith(tb, bucket, workers, recs, j, nil, opts...)
}

// newPipelineWith is newJournaledPipeline with extra writer options.
func newPipelineWith(tb testing.TB, bucket objstore.Store, workers int, recs []*kgo.Record, j *journal.Journal, wopts []writer.Option, opts ...Option) *pipeline {
	tb.Helper()
	ctx := context.Background()
	var specs []schemas.FieldSpec
	if err := yaml.Unmarshal([]byte(pageviewSchema), &specs); err != nil {
		tb.Fatal(err)
	}
	user, err := schemas.SchemaFromSpecs(specs)
	if err != nil {
		tb.Fatal(err)
	}
	tmpl, err := bucketing.ParseTemplate(bucketing.DefaultTemplate)
	if err != nil {
		tb.Fatal(err)
	}
	// As ingestd wires them: dt and hr are columns too.
	ts, err := schemas.NewTableSchema(user, schemas.TableOptions{EventTimeField: "eventTime", PartitionColumns: tmpl.ColumnFields()})
	if err != nil {
		tb.Fatal(err)
	}
	router, err := bucketing.NewRouter(workers, 0)
	if err != nil {
		tb.Fatal(err)
	}
	table, err := hudi.Create(ctx, bucket, hudi.Config{Name: "pageviews", RecordKeyFields: []string{"_kafka_partition", "_kafka_offset"},
		PartitionFields: tmpl.PartitionFields(), Schema: ts.Avro("pageviews_record", "hoodie.pageviews")})
	if err != nil {
		tb.Fatal(err)
	}
	p := &pipeline{table: table, bucket: bucket, src: &fetchedSource{recs: recs, batch: 10000}, dlq: &deadLetterList{}}
	spool := tb.TempDir()
	p.coord, err = New(ctx, Config{
		Table: hudi.AsTable(table), Topic: "pageviews", WriterID: "bench-0", Schema: ts, Decoder: schemas.NewJSONDecoder(ts),
		Template: tmpl, Router: router, DeadLetters: p.dlq,
		NewWriterSet: func(w int) (*writer.Set, error) {
			wo := append([]writer.Option{writer.WithSpoolDir(spool), writer.WithPartitionColumns(ts.PartitionColumns(), tmpl.ColumnValues)}, wopts...)
			if j != nil {
				wo = append(wo, writer.WithBeforeUpload(j.BeforeUpload))
			}
			return writer.NewSet(bucket, ts.Parquet(), w, wo...)
		},
		Journal: j,
	}, opts...)
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

func (p *pipeline) polled() int { return p.src.polledCount() }

// run ingests every record and returns when the final checkpoint is made.
func (p *pipeline) run(tb testing.TB) {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	p.src.done = cancel
	if err := p.coord.Run(ctx, p.src); err != nil {
		tb.Fatal(err)
	}
	if err := p.coord.Close(); err != nil {
		tb.Fatal(err)
	}
}

// pageviewRecords makes n records of about 300 bytes over 8 partitions with
// event times spread over the 6 hours before end.
func pageviewRecords(n int, end time.Time) []*kgo.Record {
	recs := make([]*kgo.Record, n)
	for i := range recs {
		v, p, offset, at := pageviewRecord(nil, i, end)
		recs[i] = &kgo.Record{Topic: "pageviews", Partition: p, Offset: offset, Value: v, Timestamp: at}
	}
	return recs
}

// pageviewRecord appends the value of pageview record i (of those ending at
// end) to dst and returns it with the record's partition, offset and
// timestamp: partition i%8, offsets counting from 0 in each. It appends
// without fmt (benchmarks make millions of records before they start).
func pageviewRecord(dst []byte, i int, end time.Time) (value []byte, partition int32, offset int64, at time.Time) {
	at = end.Add(-time.Duration(i%21600) * time.Second)
	value = append(dst, `{"userId":`...)
	value = strconv.AppendInt(value, int64(100000+i*7919%900000), 10)
	value = append(value, `,"sessionNumber":`...)
	value = strconv.AppendInt(value, int64(i%50), 10)
	value = append(value, `,"pageNumber":`...)
	value = strconv.AppendInt(value, int64(i%30), 10)
	value = append(value, `,"url":"https://shop.example.com/products/`...)
	value = strconv.AppendInt(value, int64(i%10000), 10)
	value = append(value, `?ref=home","referrer":"https://www.google.com/search?q=shoes+`...)
	value = strconv.AppendInt(value, int64(i%1000), 10)
	value = append(value, `","userAgent":"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36","eventTime":"`...)
	value = at.UTC().AppendFormat(value, "2006-01-02T15:04:05.000Z")
	value = append(value, `"}`...)
	return value, int32(i % 8), int64(i / 8), at
}

// Positions: fetchedSource's partitions start at their first record, so
// there is nothing to keep for a partition without records.
func (s *fetchedSource) Positions() map[int32]int64 { return nil }
