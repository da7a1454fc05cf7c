package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/lakestream/lakestream/bucketing"
	"github.com/lakestream/lakestream/checkpoint"
	"github.com/lakestream/lakestream/iceberg"
	"github.com/lakestream/lakestream/ingest"
	"github.com/lakestream/lakestream/internal/failpoint"
	"github.com/lakestream/lakestream/internal/metrics"
	"github.com/lakestream/lakestream/internal/objstore"
	"github.com/lakestream/lakestream/internal/redact"
	"github.com/lakestream/lakestream/internal/tasks"
	"github.com/lakestream/lakestream/schemas"
	"github.com/lakestream/lakestream/source"
	"github.com/lakestream/lakestream/table/hudi"
	"github.com/lakestream/lakestream/writer"
)

// recordKeyFields are the table's record key columns (ingest's).
var recordKeyFields = ingest.RecordKeyFields

func runIngest(ctx context.Context, abort <-chan struct{}, args []string, stdout, stderr io.Writer) int {
	cfg, logger, code := configure(args, stderr)
	if logger == nil {
		return code
	}
	defer shutdownWatchdog(ctx, time.Duration(cfg.ShutdownTimeout), logger)()
	if err := ingestTable(ctx, abort, cfg, logger); err != nil {
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

// ingestTable wires the pipeline for one table and runs it until ctx ends (final
// checkpoint) or abort closes (no commit).
func ingestTable(ctx context.Context, abort <-chan struct{}, cfg Config, logger *slog.Logger) (err error) {
	return ingestWith(ctx, abort, cfg, logger, nil)
}

// ingestWith is ingestTable with the table's bucket wrapped by wrap, if not nil
// (tests: objstore.Faulty).
func ingestWith(ctx context.Context, abort <-chan struct{}, cfg Config, logger *slog.Logger, wrap func(objstore.Store) objstore.Store) (err error) {
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
	// Bounded once Run has returned: leaving the group and closing the
	// clients get what is left of shutdown_timeout (see shutdownBudget).
	grace, closeReserve := cfg.shutdownBudget()
	// The Kafka clients' own metrics (lakestream_kafka_*, telemetry.go),
	// and what every partition, the coordinator and the workers do
	// (/debug/tasks).
	kafkaMetrics := metrics.NewKafkaClientMetrics(cfg.Kafka.Topic)
	taskReg := tasks.New()
	tracer, stopTracing, err := newTracing(setup, cfg, logger) // checkpoint spans, exported if tracing.otlp_endpoint is set
	if err != nil {
		return err
	}
	defer stopTracing()
	slow, err := cfg.SlowOperation.logger(logger) // "slow upload", "slow commit"
	if err != nil {
		return err
	}
	// Publishing as Iceberg is on unless the table switches it off.
	var ice ingest.IcebergOptions
	if cfg.Table.Iceberg {
		if ice.Location, err = iceberg.TableLocation(cfg.Table.URL); err != nil {
			return err
		}
	}
	readerCfg := cfg.sourceConfig()
	readerCfg.Security = security
	opts := cfg.ingestOptions()
	opts.Bucket, opts.Schema, opts.Template, opts.Router = bucket, ts, tmpl, router
	opts.TableOptions = []hudi.Option{hudi.WithLogger(logger), hudi.WithFailpoints(fps)}
	opts.Kafka = readerCfg
	opts.SourceOptions = append(cfg.groupOptions(), source.WithLogger(logger), kafkaClientHooks(kafkaMetrics, metrics.KafkaClientConsumer), source.WithTasks(taskReg))
	opts.Iceberg = ice
	opts.DeadLetterOptions = []source.Option{kafkaClientHooks(kafkaMetrics, metrics.KafkaClientDeadLetter)}
	opts.BeforeDeadLetters = releaseStaticMember(cfg, security, logger)
	opts.WriterOptions = append(opts.WriterOptions, writer.WithLogger(logger), writer.WithSlowLog(slow))
	opts.CheckpointOptions = append(cfg.checkpointOptions(),
		checkpoint.WithMaxRecordBytes(int(cfg.Format.MaxRecordBytes)),
		checkpoint.WithLogger(logger),
		checkpoint.WithShutdownGrace(grace),
		checkpoint.WithFailpoints(fps),
		checkpoint.WithTasks(taskReg),
		checkpoint.WithSlowLog(slow),
		checkpoint.WithTracerProvider(tracer),
	)
	opts.CloseReserve, opts.Logger = closeReserve, logger
	eng, err := ingest.Open(ctx, opts)
	if errors.Is(err, ingest.ErrStopped) {
		return nil // SIGTERM during the start: nothing was read, the stop is clean
	}
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, eng.Close()) }()
	coord, reader := eng.Coordinator(), eng.Reader()
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
			eng.Abort()
		case <-running:
		}
	}()
	logger.Info("ingestd running", "topic", cfg.Kafka.Topic, "table", redact.URL(cfg.Table.URL), "location", location, "writer", cfg.Checkpoint.WriterID, "workers", cfg.Writer.Workers,
		"hot_split", router.HotSplit().Enabled, "allowed_lateness", cfg.Checkpoint.Lateness.Allowed.String())
	err = eng.Run(ctx)
	close(running)
	return err
}

// releaseStaticMember, under KIP-848 with static membership, releases the
// previous process's membership: a crashed process's static membership
// holds its instance ID (and its partitions) for the session timeout; this
// restart takes it over at once.
func releaseStaticMember(cfg Config, security source.Security, logger *slog.Logger) func(context.Context) error {
	if !cfg.Kafka.StaticMembership || cfg.Kafka.GroupProtocol != source.GroupProtocolConsumer {
		return nil
	}
	return func(ctx context.Context) error {
		rctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		defer cancel()
		sc := cfg.sourceConfig()
		sc.Security = security // the same TLS and SASL as the reader's
		_, err := source.ReleaseStaticMember(rctx, sc, cfg.instanceID(), source.WithLogger(logger))
		return err
	}
}
