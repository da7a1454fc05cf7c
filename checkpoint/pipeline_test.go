package checkpoint_test

import (
	"context"
	"log/slog"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/lakestream/lakestream/bucketing"
	"github.com/lakestream/lakestream/checkpoint"
	"github.com/lakestream/lakestream/ingest"
	"github.com/lakestream/lakestream/internal/objstore"
	"github.com/lakestream/lakestream/schemas"
	"github.com/lakestream/lakestream/source"
	"github.com/lakestream/lakestream/table/hudi"
	"github.com/lakestream/lakestream/writer"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
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

// deadLetterList keeps the dead letters' reasons in memory
// (ingest.Options.DeadLetters); the coordinator's Stats count them too.
type deadLetterList struct {
	mu      sync.Mutex
	reasons map[string]int
}

func (d *deadLetterList) Send(_ *kgo.Record, reason, _ string) {
	d.mu.Lock()
	if d.reasons == nil {
		d.reasons = map[string]int{}
	}
	d.reasons[reason]++
	d.mu.Unlock()
}

func (d *deadLetterList) Flush(context.Context) error { return nil }

const pageviewSchema = `
- {name: userId, type: int64, optional: false}
- {name: sessionNumber, type: int32}
- {name: pageNumber, type: int32}
- {name: url, type: string}
- {name: referrer, type: string}
- {name: userAgent, type: string}
- {name: eventTime, type: timestamp, optional: false}`

// pipeline is the engine of one table as ingestd opens it (ingest.Open),
// whose records come from a fetched source (ingest.Options.Source) and
// whose dead letters go to a list (ingest.Options.DeadLetters): no Kafka
// client runs, so the tests and benchmarks see the pipeline alone. A
// pipeline made by newKafkaDeadLetterPipeline has the engine's Kafka
// dead-letter producer instead, against a kfake cluster whose faults the
// test injects.
type pipeline struct {
	eng     *ingest.Engine
	coord   *checkpoint.Coordinator
	table   *hudi.Table
	bucket  objstore.Store
	router  *bucketing.Router
	src     *fetchedSource
	dlq     *deadLetterList // nil with the Kafka producer
	cluster *kfake.Cluster  // nil without

	closeOnce sync.Once
	closeErr  error
}

// The pipeline's names: the topic its records carry (and the table's
// commits name), and the writer ID.
const (
	pipelineTopic  = "pageviews"
	pipelineWriter = "bench-0"
)

func newPipeline(tb testing.TB, bucket objstore.Store, workers int, recs []*kgo.Record, opts ...checkpoint.Option) *pipeline {
	tb.Helper()
	return newPipelineWith(tb, bucket, workers, recs, "", nil, opts...)
}

// newPipelineWith is newPipeline with a checkpoint journal in journalDir
// ("": none) and extra writer options.
func newPipelineWith(tb testing.TB, bucket objstore.Store, workers int, recs []*kgo.Record, journalDir string, wopts []writer.Option, opts ...checkpoint.Option) *pipeline {
	tb.Helper()
	return openPipeline(tb, bucket, workers, recs, journalDir, wopts, false, opts...)
}

// newKafkaDeadLetterPipeline is newPipeline whose dead letters go through
// the engine's Kafka producer to a kfake cluster (pipeline.cluster).
func newKafkaDeadLetterPipeline(tb testing.TB, bucket objstore.Store, workers int, recs []*kgo.Record, opts ...checkpoint.Option) *pipeline {
	tb.Helper()
	return openPipeline(tb, bucket, workers, recs, "", nil, true, opts...)
}

func openPipeline(tb testing.TB, bucket objstore.Store, workers int, recs []*kgo.Record, journalDir string, wopts []writer.Option, kafkaDeadLetters bool, opts ...checkpoint.Option) *pipeline {
	tb.Helper()
	var err error
	p := &pipeline{bucket: bucket, src: &fetchedSource{recs: recs, batch: 10000}}
	if kafkaDeadLetters {
		if p.cluster, err = kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, pipelineTopic+".dlq")); err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(p.cluster.Close)
	} else {
		p.dlq = &deadLetterList{}
	}
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
	ts, err := schemas.NewTableSchema(user, schemas.TableOptions{EventTimeField: "eventTime", PartitionColumns: tmpl.ColumnFields()})
	if err != nil {
		tb.Fatal(err)
	}
	router, err := bucketing.NewRouter(workers, 0)
	if err != nil {
		tb.Fatal(err)
	}
	o := ingest.Options{
		Bucket: bucket, TableName: "pageviews", Topic: pipelineTopic, WriterID: pipelineWriter,
		Schema: ts, Template: tmpl, Router: router, SpoolDir: tb.TempDir(),
		Source:     p.src,
		JournalDir: journalDir, WriterOptions: wopts, CheckpointOptions: opts,
	}
	if p.cluster != nil {
		o.Kafka = source.Config{Brokers: p.cluster.ListenAddrs()}
		o.DeadLetterOptions = []source.Option{source.WithLogger(slog.New(slog.DiscardHandler))}
	} else {
		o.DeadLetters = p.dlq
	}
	eng, err := ingest.Open(context.Background(), o)
	if err != nil {
		tb.Fatal(err)
	}
	p.eng, p.coord, p.table, p.router = eng, eng.Coordinator(), eng.Table(), o.Router
	tb.Cleanup(func() { p.close() })
	return p
}

// close closes the engine (the coordinator, the Kafka clients and the
// journal), once.
func (p *pipeline) close() error {
	p.closeOnce.Do(func() { p.closeErr = p.eng.Close() })
	return p.closeErr
}

// failNextDeadLetters (newKafkaDeadLetterPipeline) has the broker refuse the next produce request of
// the dead-letter producer with an error it does not retry: the records
// in it fail, and Flush reports it.
func (p *pipeline) failNextDeadLetters() {
	p.cluster.ControlKey(kmsg.Produce.Int16(), func(kreq kmsg.Request) (kmsg.Response, error, bool) {
		req := kreq.(*kmsg.ProduceRequest)
		resp := req.ResponseKind().(*kmsg.ProduceResponse)
		for _, rt := range req.Topics {
			st := kmsg.NewProduceResponseTopic()
			st.Topic, st.TopicID = rt.Topic, rt.TopicID
			for _, rp := range rt.Partitions {
				sp := kmsg.NewProduceResponseTopicPartition()
				sp.Partition = rp.Partition
				sp.ErrorCode = kerr.InvalidRecord.Code
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return resp, nil, true
	})
}

// deadLetters counts the dead-lettered records by reason.
func (p *pipeline) deadLetters() map[string]int64 { return p.coord.Stats().DeadLetters }

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
