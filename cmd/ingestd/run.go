package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/lakestream/lakestream/bucketing"
	"github.com/lakestream/lakestream/checkpoint"
	"github.com/lakestream/lakestream/internal/failpoint"
	"github.com/lakestream/lakestream/internal/metrics"
	"github.com/lakestream/lakestream/internal/objstore"
	"github.com/lakestream/lakestream/internal/redact"
	"github.com/lakestream/lakestream/internal/tasks"
	"github.com/lakestream/lakestream/schemas"
	"github.com/lakestream/lakestream/source"
	"github.com/lakestream/lakestream/table/hudi"
	"github.com/lakestream/lakestream/writer"
	"github.com/twmb/franz-go/pkg/kgo"
)

// recordKeyFields are the table's record key columns: a record is
// identified by where it was read. _hoodie_record_key holds the same as
// topic-partition-offset.
var recordKeyFields = []string{"_kafka_partition", "_kafka_offset"}

func runIngest(ctx context.Context, abort <-chan struct{}, args []string, stdout, stderr io.Writer) int {
	cfg, logger, code := configure(args, stderr)
	if logger == nil {
		return code
	}
	defer shutdownWatchdog(ctx, time.Duration(cfg.ShutdownTimeout), logger)()
	if err := ingest(ctx, abort, cfg, logger); err != nil {
		logger.Error("ingestd stopped", "err", err)
		return 1
	}
	logger.Info("ingestd stopped cleanly")
	return 0
}

// exitProcess ends the process when shutdown_timeout has passed (tests
// replace it).
var exitProcess = os.Exit

// shutdownWatchdog exits the process with status 1 once bound has passed
// since ctx ended (SIGTERM), whatever is still running: the final
// checkpoint and the clients' closing are bounded on their own, this is
// the backstop. Nothing more is committed: the table keeps what was, and
// the next start resumes from it. Call the returned function when ingest
// has returned.
func shutdownWatchdog(ctx context.Context, bound time.Duration, logger *slog.Logger) (stop func()) {
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		select {
		case <-ctx.Done():
		case <-done:
			return
		}
		t := time.NewTimer(bound)
		defer t.Stop()
		select {
		case <-t.C:
			logger.Error("shutdown_timeout passed: exiting now; nothing more is committed and the next start resumes from the table",
				"shutdown_timeout", bound.String())
			exitProcess(exitFailed)
		case <-done:
		}
	}()
	return func() {
		close(done)
		<-finished
	}
}

// ingest wires the pipeline for one table and runs it until ctx ends (final
// checkpoint) or abort closes (no commit).
func ingest(ctx context.Context, abort <-chan struct{}, cfg Config, logger *slog.Logger) (err error) {
	return ingestWith(ctx, abort, cfg, logger, nil)
}

// ingestWith is ingest with the table's bucket wrapped by wrap, if not nil
// (tests: objstore.Faulty).
func ingestWith(ctx context.Context, abort <-chan struct{}, cfg Config, logger *slog.Logger, wrap func(objstore.Bucket) objstore.Bucket) (err error) {
	setup, cancelSetup := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancelSetup()
	// Kafka first: a refused password or certificate stops the start at
	// once, with a clear error, before the table is touched.
	security, err := cfg.kafkaSecurity(os.Getenv)
	if err != nil {
		return err
	}
	// Kafka may be down while ingestd starts (a broker restart, a cluster
	// started after it): it is waited for, as long as it takes, honouring
	// SIGTERM. A stop meanwhile is clean: nothing was read.
	if err := checkKafka(ctx, cfg.Kafka.Brokers, security, logger); err != nil {
		if errors.Is(err, errStoppedWaiting) {
			logger.Info("stopped while waiting for Kafka: nothing was read")
			return nil
		}
		return err
	}
	bucket, err := objstore.Open(setup, cfg.Table.URL)
	if err != nil {
		return err
	}
	if wrap != nil {
		bucket = wrap(bucket)
	}
	location := objstore.Describe(bucket)
	// Every request to the table's storage is counted by operation and
	// outcome (lakestream_storage_requests_total).
	storage := metrics.NewStorageRequests(objstore.ObserveOps(), objstore.ErrorClasses(), objstore.ErrorClass)
	bucket = objstore.Observe(bucket, storage.Observe)
	defer bucket.Close()
	user, err := schemas.SchemaFromSpecs(cfg.Format.Schema)
	if err != nil {
		return err
	}
	tmpl, err := bucketing.ParseTemplate(cfg.Partitioning.Template)
	if err != nil {
		return err
	}
	// The partition fields that are not fields of the schema (dt and hr by
	// default) become columns of their own: Hudi's Spark reader looks every
	// partition field up among the table's columns.
	ts, err := schemas.NewTableSchema(user, schemas.TableOptions{
		IncludeKafkaKey: cfg.Format.IncludeKey, EventTimeField: cfg.Format.EventTimeField,
		PartitionColumns: tmpl.ColumnFields(),
	})
	if err != nil {
		return err
	}
	router, err := bucketing.NewRouter(cfg.Writer.Workers, cfg.Writer.MaxParallelism, cfg.Writer.routerOptions()...)
	if err != nil {
		return err
	}
	// Failpoints are for the torture tests: $LAKESTREAM_FAILPOINTS, e.g.
	// "commit.before-complete=crash@0.2" (see internal/failpoint).
	seed, _ := strconv.ParseUint(os.Getenv("LAKESTREAM_FAILPOINT_SEED"), 10, 64)
	fps, err := failpoint.Parse(os.Getenv("LAKESTREAM_FAILPOINTS"), seed)
	if err != nil {
		return err
	}
	if fps != nil {
		logger.Warn("failpoints armed", "spec", os.Getenv("LAKESTREAM_FAILPOINTS"))
	}
	table, err := hudi.Create(setup, bucket, hudi.Config{
		Name: cfg.Table.Name, Database: cfg.Table.Database, RecordKeyFields: recordKeyFields,
		PartitionFields: tmpl.PartitionFields(), Schema: ts.Avro(cfg.Table.Name+"_record", "hoodie."+cfg.Table.Name),
	}, hudi.WithLogger(logger), hudi.WithFailpoints(fps))
	if err != nil {
		return err
	}
	journal, err := openJournal(ctx, cfg.Checkpoint.StateDir, logger)
	if err != nil {
		if ctx.Err() != nil {
			// SIGTERM during the start: nothing was read, the stop is clean.
			logger.Info("stopped while opening the journal: nothing was read")
			return nil
		}
		return err
	}
	if journal != nil {
		defer journal.Close()
		if err := checkpoint.SettleJournal(setup, journal, table, cfg.Checkpoint.WriterID, logger); err != nil {
			return fmt.Errorf("settle journal: %w", err)
		}
	}
	recovered, err := table.Recover(setup, cfg.Checkpoint.WriterID)
	if err != nil {
		return fmt.Errorf("recover: %w", err)
	}
	for _, r := range recovered {
		logger.Info("recovered instant", "instant", r.Instant, "outcome", r.Outcome, "files_removed", r.FilesRemoved)
	}
	spool := cfg.Writer.SpoolDir
	if spool == "" {
		spool = os.TempDir()
	}
	if n, err := writer.SweepSpool(spool, time.Hour); err != nil {
		logger.Warn("sweep spool files", "dir", spool, "err", err)
	} else if n > 0 {
		logger.Info("removed spool files left by a crash", "dir", spool, "files", n)
	}
	var decoder schemas.Decoder
	switch cfg.Format.Type {
	case "avro":
		reg, err := schemas.NewRegistry(cfg.Format.Registry)
		if err != nil {
			return err
		}
		decoder = schemas.NewAvroDecoder(ts, reg)
	default:
		decoder = schemas.NewJSONDecoder(ts)
	}
	if cfg.Kafka.StaticMembership && cfg.Kafka.GroupProtocol == source.GroupProtocolConsumer {
		// Under KIP-848 a crashed process's static membership holds its
		// instance ID (and its partitions) for the session timeout: let
		// this restart take it over at once.
		rctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		_, err := source.ReleaseStaticMember(rctx, cfg.sourceConfig(), cfg.instanceID(), source.WithLogger(logger))
		cancel()
		if err != nil {
			logger.Warn("could not release the previous process's group membership: its partitions may wait for the session timeout", "err", err)
		}
	}
	// Dead letters carry the original value (a too-large one cut to
	// checkpoint.MaxDeadLetterValue): let the producer batch hold one.
	dlqBatch := int32(max(int64(cfg.Format.MaxRecordBytes), checkpoint.MaxDeadLetterValue) + 64<<10)
	// Bounded once Run has returned: leaving the group and closing the
	// clients get what is left of shutdown_timeout (see shutdownBudget).
	grace, closeReserve := cfg.shutdownBudget()
	closing := closeBudget{reserve: closeReserve}
	// The Kafka clients' own metrics (lakestream_kafka_*, telemetry.go),
	// and what every partition, the coordinator and the workers do
	// (/debug/tasks).
	kafkaMetrics := metrics.NewKafkaClientMetrics(cfg.Kafka.Topic)
	taskReg := tasks.New()
	slow, err := cfg.SlowOperation.logger(logger) // "slow upload", "slow commit"
	if err != nil {
		return err
	}
	dlq, err := source.NewDeadLetter(source.DeadLetterConfig{SourceTopic: cfg.Kafka.Topic, Topic: cfg.DLQ.Topic, Brokers: cfg.Kafka.Brokers, EnsureTopic: true, Security: security},
		source.WithLogger(logger), source.WithKgoOpts(kgo.ProducerBatchMaxBytes(max(dlqBatch, 1_000_012))),
		kafkaClientHooks(kafkaMetrics, metrics.KafkaClientDeadLetter))
	if err != nil {
		return err
	}
	defer closeBounded(&closing, "dead-letter producer", logger, func(context.Context) error { dlq.Close(); return nil })
	coord, err := checkpoint.New(setup, checkpoint.Config{
		Table: table, Topic: cfg.Kafka.Topic, WriterID: cfg.Checkpoint.WriterID,
		Schema: ts, Decoder: decoder, Template: tmpl, Router: router, DeadLetters: dlq, Journal: journal,
		NewWriterSet: func(worker int) (*writer.Set, error) {
			opts := []writer.Option{
				writer.WithTargetFileSize(int64(cfg.Writer.TargetFileSize)),
				writer.WithMaxFileAge(time.Duration(cfg.Writer.MaxFileAge)),
				writer.WithMaxOpenFiles(cfg.Writer.MaxOpenFiles),
				writer.WithMinFileSize(int64(cfg.Writer.MinFileSize)),
				writer.WithStageMemory(int64(cfg.Writer.StageMemory)),
				writer.WithUploadConcurrency(cfg.Writer.UploadConcurrency),
				// Half of the worker's share of the budget for the open
				// writers' page buffers (the other half: buffered data).
				writer.WithWriterMemory(int64(cfg.Writer.MemoryBudget) / int64(cfg.Writer.Workers) / 2),
				writer.WithRowGroupBytes(int64(cfg.Writer.RowGroupSize)),
				writer.WithCompression(cfg.Writer.Compression),
				writer.WithLogger(logger),
				writer.WithSlowLog(slow),
				writer.WithPartitionColumns(ts.PartitionColumns(), tmpl.ColumnValues),
			}
			if journal != nil {
				opts = append(opts, writer.WithBeforeUpload(journal.BeforeUpload))
			}
			if cfg.Writer.SpoolDir != "" {
				opts = append(opts, writer.WithSpoolDir(cfg.Writer.SpoolDir))
			}
			return writer.NewSet(bucket, ts.Parquet(), worker, opts...)
		},
	},
		checkpoint.WithInterval(time.Duration(cfg.Checkpoint.Interval)),
		checkpoint.WithMaxRecordBytes(int(cfg.Format.MaxRecordBytes)),
		checkpoint.WithEventTimeBounds(time.Duration(cfg.Partitioning.MaxPast), time.Duration(cfg.Partitioning.MaxFuture)),
		checkpoint.WithLogger(logger),
		checkpoint.WithTimelineMaintenance(cfg.Checkpoint.KeepInstants, 10),
		checkpoint.WithMemoryBudget(int64(cfg.Writer.MemoryBudget)),
		checkpoint.WithShutdownGrace(grace),
		cfg.Checkpoint.Lateness.option(),
		checkpoint.WithFailpoints(fps),
		checkpoint.WithTasks(taskReg),
		checkpoint.WithSlowLog(slow))
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, coord.Close()) }()
	readerCfg := cfg.sourceConfig()
	readerCfg.Security = security
	reader, err := source.NewReader(readerCfg, source.Hooks{StartOffsets: coord.StartOffsets, Revoked: coord.Revoked},
		append(cfg.groupOptions(), source.WithLogger(logger), kafkaClientHooks(kafkaMetrics, metrics.KafkaClientConsumer), source.WithTasks(taskReg))...)
	if err != nil {
		return err
	}
	defer closeBounded(&closing, "Kafka reader (leaving the group)", logger, reader.CloseContext)
	var metricsHandler http.Handler
	if cfg.Admin.Addr != "" || cfg.Metrics.OTLPEndpoint != "" {
		provider, stop, err := newMetrics(setup, cfg, metricSources(coord, reader, router, storage), logger, kafkaMetrics)
		if err != nil {
			return err
		}
		defer stop()
		metricsHandler = provider.Handler()
	}
	if cfg.Admin.Addr != "" {
		stop, err := serveAdmin(cfg.Admin.Addr, pipelineStatus(coord, reader, router, cfg.Admin.ReadyAfterIntervals, fps),
			readiness(coord, cfg.Admin.ReadyAfterIntervals), metricsHandler, taskReg, logger)
		if err != nil {
			return err
		}
		defer stop()
	}
	running := make(chan struct{})
	go func() {
		select {
		case <-abort:
			logger.Warn("second signal: aborting without a final checkpoint")
			coord.Abort()
		case <-running:
		}
	}()
	logger.Info("ingestd running", "topic", cfg.Kafka.Topic, "table", redact.URL(cfg.Table.URL), "location", location, "writer", cfg.Checkpoint.WriterID, "workers", cfg.Writer.Workers,
		"hot_split", router.HotSplit().Enabled, "allowed_lateness", cfg.Checkpoint.Lateness.Allowed.String())
	err = coord.Run(ctx, reader)
	close(running)
	closing.start()
	return err
}

// closeBudget bounds the closing of the clients once Run has returned:
// together they get reserve (see Config.shutdownBudget).
type closeBudget struct {
	reserve  time.Duration
	deadline time.Time // zero until start
}

func (b *closeBudget) start() { b.deadline = time.Now().Add(b.reserve) }

// closeBounded runs close within what is left of b's budget (all of the
// reserve if Run did not return normally), logging when it is cut short.
func closeBounded(b *closeBudget, what string, logger *slog.Logger, close func(context.Context) error) {
	if b.deadline.IsZero() {
		b.start()
	}
	ctx, cancel := context.WithDeadline(context.Background(), b.deadline)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- close(ctx) }()
	select {
	case err := <-done:
		if err != nil {
			logger.Warn("closing "+what+": cut short by shutdown_timeout", "err", err)
		}
	case <-ctx.Done():
		logger.Warn("closing " + what + ": cut short by shutdown_timeout; exiting without waiting for it")
	}
}

// journalOpenTimeout bounds the opening of the journal: past it, ingestd
// goes on without one.
const journalOpenTimeout = 30 * time.Second

// openJournal opens the checkpoint journal in dir. A corrupt journal is
// moved aside and a fresh one opened. A journal that cannot be opened
// (its volume is full, it takes longer than journalOpenTimeout, or it is
// corrupt again) is logged once and left out: recovery lists the table
// instead. It returns an error when the journal is locked by another
// process, when a corrupt one cannot be moved aside, or when ctx ends
// (SIGTERM while starting).
func openJournal(ctx context.Context, dir string, logger *slog.Logger) (*checkpoint.Journal, error) {
	open := func() (*checkpoint.Journal, error) {
		octx, cancel := context.WithTimeout(ctx, journalOpenTimeout)
		defer cancel()
		return checkpoint.OpenJournalContext(octx, dir, checkpoint.WithJournalLogger(logger))
	}
	j, err := open()
	if errors.Is(err, checkpoint.ErrJournalCorrupt) {
		logger.Error("journal corrupt: moving it aside and starting afresh", "dir", dir, "err", err)
		if rerr := checkpoint.ResetJournal(dir); rerr != nil {
			return nil, rerr
		}
		j, err = open()
	}
	switch {
	case err == nil:
		return j, nil
	case ctx.Err() != nil:
		return nil, fmt.Errorf("stopped while opening the journal %s: %w", dir, ctx.Err())
	case errors.Is(err, checkpoint.ErrJournalLocked):
		// Two replicas on one journal most often share a writer ID (the
		// default state_dir follows it): giving them separate state_dirs
		// alone would leave two writers with one ID, and each one's start
		// (Table.Recover) rolls back the other's open checkpoint.
		return nil, fmt.Errorf("journal %s is used by another process: stop it if it is this replica's previous process; otherwise give each replica its own checkpoint.writer_id (the default state_dir follows it) and, if set, its own checkpoint.state_dir: %w", dir, err)
	default:
		logger.Error("journal unavailable: running without it; recovery lists the table", "dir", dir, "err", err)
		return nil, nil
	}
}
