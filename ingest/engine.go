package ingest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/lakestream/lakestream/checkpoint"
	"github.com/lakestream/lakestream/iceberg"
	"github.com/lakestream/lakestream/journal"
	"github.com/lakestream/lakestream/schemas"
	"github.com/lakestream/lakestream/source"
	"github.com/lakestream/lakestream/table/hudi"
	"github.com/lakestream/lakestream/writer"
	"github.com/twmb/franz-go/pkg/kgo"
)

// ErrStopped is returned by Open when its context ended while it waited
// (for the journal): nothing was read, and the stop is clean.
var ErrStopped = errors.New("stopped while starting: nothing was read")

// setupTimeout bounds the table operations of Open.
const setupTimeout = 2 * time.Minute

// Engine is the pipeline of one table, wired: the table, the journal, the
// dead-letter producer, the coordinator with its writer sets, and the
// Kafka reader whose rebalance hooks are the coordinator's. Run drives it;
// Close releases it.
type Engine struct {
	opts    Options
	table   *hudi.Table
	journal *journal.Journal   // nil: none
	dlq     *source.DeadLetter // nil with Options.DeadLetters
	coord   *checkpoint.Coordinator
	iceberg *iceberg.Publisher // nil: not published
	// sidecars collects the writers' file metrics for the stats sidecars
	// (nil: publishing off).
	sidecars *sidecars
	reader   *source.Reader    // nil with Options.Source
	src      checkpoint.Source // what Run polls: reader or Options.Source
	closing  closeBudget
}

// Open wires the pipeline of one table, in this order:
//
//  1. create the Hudi table, or open it if it exists (its configuration
//     must match);
//  2. open the journal (a corrupt one is reset, an unavailable one left
//     out), settle it (journal.Settle), then recover the table
//     (Table.Recover) and sweep the spool directory of a crash's files:
//     the journal first, since it knows the files of its instants, the
//     table's recovery for the rest;
//  3. with Options.Iceberg, make the Iceberg publisher and catch it up
//     (a failure is logged, not returned);
//  4. pick the decoder of Options.Format;
//  5. run BeforeDeadLetters, then make the dead-letter producer, its batch
//     sized for the largest record (unless Options.DeadLetters is set);
//  6. make the coordinator, whose writer sets journal every upload
//     (writer.WithBeforeUpload) when there is a journal, and which, with
//     Iceberg publishing, publishes after every commit and expires
//     Iceberg snapshots before every archival;
//  7. make the Kafka reader, with the coordinator's rebalance hooks
//     (unless Options.Source is set).
//
// Open returns ErrStopped (wrapped) if ctx ends while it waits for the
// journal. On an error it closes what it made.
func Open(ctx context.Context, o Options) (_ *Engine, err error) {
	o.setDefaults()
	if err := o.Validate(); err != nil {
		return nil, err
	}
	log := o.Logger
	setup, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	e := &Engine{opts: o, closing: closeBudget{reserve: o.CloseReserve}}
	defer func() {
		if err != nil {
			e.Close()
		}
	}()
	ts, tmpl := o.Schema, o.Template
	e.table, err = hudi.Create(setup, o.Bucket, hudi.Config{
		Name: o.TableName, Database: o.Database, RecordKeyFields: RecordKeyFields,
		PartitionFields: tmpl.PartitionFields(), Schema: ts.Avro(o.TableName+"_record", "hoodie."+o.TableName),
	}, o.TableOptions...)
	if err != nil {
		return nil, err
	}
	if o.JournalDir != "" {
		e.journal, err = openJournal(ctx, o.JournalDir, log)
		if err != nil {
			if ctx.Err() != nil {
				log.Info("stopped while opening the journal: nothing was read")
				return nil, fmt.Errorf("%w: %w", ErrStopped, err)
			}
			return nil, err
		}
	}
	if e.journal != nil {
		if err := journal.Settle(setup, e.journal, hudi.AsTable(e.table), o.WriterID, log); err != nil {
			return nil, fmt.Errorf("settle journal: %w", err)
		}
	}
	recovered, err := e.table.Recover(setup, o.WriterID)
	if err != nil {
		return nil, fmt.Errorf("recover: %w", err)
	}
	for _, r := range recovered {
		log.Info("recovered instant", "instant", r.Instant, "outcome", r.Outcome, "files_removed", r.FilesRemoved)
	}
	spool := o.SpoolDir
	if spool == "" {
		spool = os.TempDir()
	}
	if n, err := writer.SweepSpool(spool, time.Hour); err != nil {
		log.Warn("sweep spool files", "dir", spool, "err", err)
	} else if n > 0 {
		log.Info("removed spool files left by a crash", "dir", spool, "files", n)
	}
	if o.Iceberg.Location != "" {
		if err := e.openIceberg(setup); err != nil {
			return nil, err
		}
	}
	var decoder schemas.Decoder
	switch o.Format {
	case "avro":
		reg, err := schemas.NewRegistry(o.Registry)
		if err != nil {
			return nil, err
		}
		decoder = schemas.NewAvroDecoder(ts, reg)
	default:
		decoder = schemas.NewJSONDecoder(ts)
	}
	if o.BeforeDeadLetters != nil {
		if err := o.BeforeDeadLetters(ctx); err != nil {
			log.Warn("could not release the previous process's group membership: its partitions may wait for the session timeout", "err", err)
		}
	}
	deadLetters := o.DeadLetters
	if deadLetters == nil {
		// Dead letters carry the original value (a too-large one cut to
		// checkpoint.MaxDeadLetterValue): let the producer batch hold one.
		dlqBatch := int32(max(o.MaxRecordBytes, checkpoint.MaxDeadLetterValue) + 64<<10)
		e.dlq, err = source.NewDeadLetter(source.DeadLetterConfig{SourceTopic: o.Topic, Topic: o.DeadLetterTopic, Brokers: o.Kafka.Brokers, EnsureTopic: true, Security: o.Kafka.Security},
			append([]source.Option{source.WithLogger(log), source.WithKgoOpts(kgo.ProducerBatchMaxBytes(max(dlqBatch, 1_000_012)))}, o.DeadLetterOptions...)...)
		if err != nil {
			return nil, err
		}
		deadLetters = e.dlq
	}
	tbl, cpOpts := hudi.AsTable(e.table), append([]checkpoint.Option(nil), o.CheckpointOptions...)
	if o.MemoryBudget != 0 {
		cpOpts = append(cpOpts, checkpoint.WithMemoryBudget(max(o.MemoryBudget, 0)))
	}
	if e.iceberg != nil {
		tbl = icebergTable{Table: tbl, hudi: e.table, pub: e.iceberg, sc: e.sidecars}
		cpOpts = append(cpOpts, checkpoint.WithPublishers(e.iceberg.Hook()))
	}
	e.coord, err = checkpoint.New(setup, checkpoint.Config{
		Table: tbl, Topic: o.Topic, WriterID: o.WriterID,
		Schema: ts, Decoder: decoder, Template: tmpl, Router: o.Router, DeadLetters: deadLetters, Journal: e.journal,
		NewWriterSet: e.newWriterSet,
	}, cpOpts...)
	if err != nil {
		return nil, err
	}
	if e.src = o.Source; e.src == nil {
		e.reader, err = source.NewReader(o.Kafka, source.Hooks{StartOffsets: e.coord.StartOffsets, Revoked: e.coord.Revoked}, o.SourceOptions...)
		if err != nil {
			return nil, err
		}
		e.src = e.reader
	}
	return e, nil
}

// newWriterSet opens the file writers of one worker: Options.WriterOptions
// with the spool directory, the table's partition columns, the writers'
// half of the worker's share of the memory budget, with a journal its hook
// before every upload, and with Iceberg publishing the recording of every
// file's column metrics for the stats sidecars.
func (e *Engine) newWriterSet(worker int) (*writer.Set, error) {
	o := e.opts
	opts := append(o.writerOptions(), writer.WithPartitionColumns(o.Schema.PartitionColumns(), o.Template.ColumnValues))
	if o.MemoryBudget > 0 {
		// Half of the worker's share for the open writers' page buffers
		// (the other half: the worker's buffered data).
		opts = append(opts, writer.WithWriterMemory(o.MemoryBudget/int64(o.Router.Parallelism())/2))
	}
	if e.journal != nil {
		opts = append(opts, writer.WithBeforeUpload(e.journal.BeforeUpload))
	}
	if e.sidecars != nil {
		opts = append(opts, writer.WithFileStats(true), writer.WithAfterUpload(e.sidecars.uploaded))
	}
	return writer.NewSet(o.Bucket, o.Schema.Parquet(), worker, opts...)
}

// Iceberg is the table's Iceberg publisher, nil when publishing is off
// (Options.Iceberg).
func (e *Engine) Iceberg() *iceberg.Publisher { return e.iceberg }

// Table is the Hudi table.
func (e *Engine) Table() *hudi.Table { return e.table }

// Coordinator is the pipeline's coordinator (health, stats, worker
// states).
func (e *Engine) Coordinator() *checkpoint.Coordinator { return e.coord }

// Reader is the Kafka reader (its lag and partitions, for metrics); nil
// with Options.Source.
func (e *Engine) Reader() *source.Reader { return e.reader }

// Run ingests until ctx ends (then makes the final checkpoint) or a
// checkpoint fails; see checkpoint.Coordinator.Run. The closing budget
// (Options.CloseReserve) starts when it returns.
func (e *Engine) Run(ctx context.Context) error {
	err := e.coord.Run(ctx, e.src)
	e.closing.start()
	return err
}

// Abort stops Run at once without committing (a second signal).
func (e *Engine) Abort() { e.coord.Abort() }

// Close releases the engine: the reader leaves the group, the coordinator
// stops its workers, the dead-letter producer and the journal close. The
// Kafka clients get what is left of the closing budget. It returns the
// coordinator's error. Call it once, after Run has returned.
func (e *Engine) Close() error {
	log := e.opts.Logger
	if e.reader != nil {
		closeBounded(&e.closing, "Kafka reader (leaving the group)", log, e.reader.CloseContext)
	}
	var err error
	if e.coord != nil {
		err = e.coord.Close()
	}
	if e.dlq != nil {
		closeBounded(&e.closing, "dead-letter producer", log, func(context.Context) error { e.dlq.Close(); return nil })
	}
	if e.journal != nil {
		e.journal.Close()
	}
	return err
}
