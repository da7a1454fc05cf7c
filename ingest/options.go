package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/lakestream/lakestream/bucketing"
	"github.com/lakestream/lakestream/checkpoint"
	"github.com/lakestream/lakestream/iceberg"
	"github.com/lakestream/lakestream/internal/objstore"
	"github.com/lakestream/lakestream/schemas"
	"github.com/lakestream/lakestream/source"
	"github.com/lakestream/lakestream/table/fence"
	"github.com/lakestream/lakestream/table/hudi"
	"github.com/lakestream/lakestream/writer"
)

// RecordKeyFields are the table's record key columns: a record is
// identified by where it was read. _hoodie_record_key holds the same as
// topic-partition-offset.
var RecordKeyFields = []string{"_kafka_partition", "_kafka_offset"}

// Options is what Open needs to run the pipeline of one table. The fields
// without a default are required; Validate reports every problem at once.
type Options struct {
	// Bucket is the table's storage. The caller opens and closes it.
	Bucket objstore.Store
	// TableName and Database name the Hudi table (created if absent; an
	// existing one must match).
	TableName string
	Database  string
	// TableOptions configure the Hudi table (logger, failpoints).
	TableOptions []hudi.Option

	// Topic is the Kafka topic; WriterID names this replica in the table
	// (unique per replica).
	Topic    string
	WriterID string

	// Schema is the table's row; Template and Router make and route its
	// partition paths.
	Schema   *schemas.TableSchema
	Template *bucketing.Template
	Router   *bucketing.Router
	// Format is "json" (default) or "avro" (with Registry, the schema
	// registry's URL).
	Format   string
	Registry string
	// MaxRecordBytes is the largest record value taken in (dead letters
	// carry values up to it: the producer's batch is sized for one).
	// Default 1 MiB, at most MaxRecordBytesLimit.
	MaxRecordBytes int64
	// MemoryBudget bounds the data all workers buffer together. Open
	// splits it: the coordinator gets all of it
	// (checkpoint.WithMemoryBudget, after CheckpointOptions), and each
	// worker's writers half of the worker's share for the page buffers
	// their open writers reserve (writer.WithWriterMemory; the other half
	// is the worker's buffered data). NoMemoryBudget turns the budget off.
	// Default 0: Open sets neither (CheckpointOptions, or the
	// coordinator's default, decide its budget; the writers reserve
	// without a bound).
	MemoryBudget int64

	// JournalDir is the checkpoint journal's directory ("": none; recovery
	// lists the table).
	JournalDir string
	// SpoolDir is where the writers spool their files. Default
	// os.TempDir().
	SpoolDir string

	// Kafka is the reader's configuration (Security included), and
	// SourceOptions its options (consumer group, logger).
	Kafka         source.Config
	SourceOptions []source.Option
	// DeadLetterTopic is the dead-letter topic; default Topic + ".dlq".
	DeadLetterTopic string
	// DeadLetterOptions are the dead-letter producer's extra options (its
	// client metrics hooks); Open adds the logger and the batch size.
	DeadLetterOptions []source.Option
	// Source and DeadLetters, if set, replace the Kafka clients Open
	// would make: the records come from Source (Run polls it, and Reader
	// is nil), the dead letters go to DeadLetters (no producer is made).
	// They are the seams for in-process sources and sinks (tests,
	// benchmarks); ingestd leaves them nil. A Source that needs the
	// coordinator's rebalance hooks takes them from Engine.Coordinator.
	Source      checkpoint.Source
	DeadLetters checkpoint.DeadLetters
	// BeforeDeadLetters, if set, runs after recovery and before the
	// dead-letter producer is made (ingestd releases the previous
	// process's static group membership there under KIP-848). Its error is
	// logged, never fatal.
	BeforeDeadLetters func(ctx context.Context) error

	// WriterOptions configure every worker's writer.Set; Open adds the
	// partition columns, the spool directory and the journal's hook.
	WriterOptions []writer.Option
	// CheckpointOptions configure the coordinator.
	CheckpointOptions []checkpoint.Option
	// Iceberg publishes the table as an Iceberg table too (package
	// iceberg). Default: off (Location ""); ingestd switches it on per
	// table.
	Iceberg IcebergOptions
	// CloseReserve bounds the closing of the Kafka clients once Run has
	// returned (leaving the group, flushing the dead-letter producer).
	// Default 5s.
	CloseReserve time.Duration
	// Logger logs the start, recovery and shutdown. Default: discard.
	Logger *slog.Logger
}

// NoMemoryBudget, as Options.MemoryBudget, turns the memory budget off.
const NoMemoryBudget = -1

// MaxRecordBytesLimit is the largest Options.MaxRecordBytes: franz-go,
// which reads the records, refuses a fetch response larger than 100 MiB,
// so no larger record can be read.
const MaxRecordBytesLimit = 100 << 20

// ErrDeadLettersReadAgain is the problem of a dead-letter topic that is
// the topic read (Options.Validate reports it as an *OptionError of
// DeadLetterTopic that wraps it).
var ErrDeadLettersReadAgain = errors.New("must not be the topic read (dead letters would be read again)")

// OptionError is a problem of one field of Options. Its message names the
// field as the engine knows it ("format \"xml\": want json or avro");
// Problem is the part after the field and its value ("want json or
// avro"), for a configuration loader that names its setting its own way.
// The writer's problems are the writer's *writer.OptionError.
type OptionError struct {
	Field   string // the field of Options: "Format", "Registry", "MaxRecordBytes", "DeadLetterTopic", "MemoryBudget"
	Problem string // what is wrong, without the field and its value
	msg     string
	err     error
}

func (e *OptionError) Error() string { return e.msg }

// Unwrap returns the cause of the problem, if any.
func (e *OptionError) Unwrap() error { return e.err }

// IcebergOptions switch the Iceberg publisher on: with a Location, Open
// makes an iceberg.Publisher on the table, runs its CatchUp once after
// recovery (a failure is logged, never fatal: the Hudi table is the
// truth), publishes after every commit (checkpoint.WithPublishers) and
// expires Iceberg snapshots before every archival of the timeline, which
// archives no further than the expiry. Unless the publisher is disabled
// (iceberg.WithEnabled(false)), every commit also writes its stats
// sidecar, from the metrics the writers record of their files.
type IcebergOptions struct {
	// Location is the table root as Iceberg readers name it
	// (iceberg.TableLocation of the table URL); "": no publishing.
	Location string
	// Options configure the publisher; Open adds the logger.
	Options []iceberg.Option
}

func (o *Options) setDefaults() {
	if o.Format == "" {
		o.Format = "json"
	}
	if o.MaxRecordBytes == 0 {
		o.MaxRecordBytes = 1 << 20
	}
	if o.CloseReserve == 0 {
		o.CloseReserve = 5 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

// Validate reports every problem of the options at once: those of
// ValidateSettings (without the per-worker rules) and the parts required.
// The options of the packages Open wires (source, checkpoint, hudi) are
// validated by those packages when Open makes their parts.
func (o Options) Validate() error {
	errs := o.settingProblems(0)
	if o.Bucket == nil {
		errs = append(errs, errors.New("bucket is required"))
	}
	if err := (hudi.Config{Name: o.TableName, Database: o.Database, RecordKeyFields: RecordKeyFields}).Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := fence.ValidateTopic(o.Topic); err != nil {
		errs = append(errs, err)
	}
	if o.WriterID == "" {
		errs = append(errs, errors.New("writer ID is required"))
	}
	if o.Schema == nil || o.Template == nil || o.Router == nil {
		errs = append(errs, errors.New("schema, partition template and router are required"))
	}
	if o.Iceberg.Location == "" && len(o.Iceberg.Options) > 0 {
		errs = append(errs, errors.New("iceberg options without an iceberg location"))
	}
	if o.CloseReserve < 0 {
		errs = append(errs, fmt.Errorf("close reserve %v must not be negative", o.CloseReserve))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("ingest options: %w", err)
	}
	return nil
}

// ValidateSettings reports every problem of the settings at once, without
// the parts a configuration loader makes only at start (Bucket, Schema,
// Template, Router, the Kafka clients): the format and its registry, the
// largest record, the dead-letter topic, the memory budget and the
// writers' options (WriterOptions with SpoolDir, writer.ValidateOptions).
// workers is the number of workers (0: unknown); with it, the memory
// budget must give each worker checkpoint's least share
// (checkpoint.ValidateOptionsForWorkers), a rule Open does not apply
// (tests run small budgets). Each problem is an *OptionError or a
// *writer.OptionError (errors.As through the joined errors), which names
// the field or the writer option, so that the loader names its setting
// (cmd/ingestd does).
func (o Options) ValidateSettings(workers int) error {
	return errors.Join(o.settingProblems(workers)...)
}

func (o Options) settingProblems(workers int) []error {
	o.setDefaults()
	var errs []error
	bad := func(field, subject, problem string, cause error) {
		errs = append(errs, &OptionError{Field: field, Problem: problem, msg: subject + ": " + problem, err: cause})
	}
	switch o.Format {
	case "json":
	case "avro":
		if o.Registry == "" {
			bad("Registry", "format avro", "needs a schema registry URL", nil)
		} else if _, err := schemas.NewRegistry(o.Registry); err != nil {
			bad("Registry", "schema registry", err.Error(), err) // NewRegistry's messages redact the URL
		}
	default:
		bad("Format", fmt.Sprintf("format %q", o.Format), "want json or avro", nil)
	}
	switch {
	case o.MaxRecordBytes < 0:
		bad("MaxRecordBytes", fmt.Sprintf("max record bytes %d", o.MaxRecordBytes), "must not be negative", nil)
	case o.MaxRecordBytes > MaxRecordBytesLimit:
		bad("MaxRecordBytes", fmt.Sprintf("max record bytes %d", o.MaxRecordBytes),
			"at most 100MiB (franz-go refuses a fetch response larger than 100MiB, so no larger record can be read)", nil)
	}
	if o.DeadLetterTopic != "" && o.DeadLetterTopic == o.Topic {
		bad("DeadLetterTopic", fmt.Sprintf("dead-letter topic %q", o.DeadLetterTopic), ErrDeadLettersReadAgain.Error(), ErrDeadLettersReadAgain)
	}
	switch {
	case o.MemoryBudget < NoMemoryBudget:
		bad("MemoryBudget", fmt.Sprintf("memory budget %d", o.MemoryBudget), "must not be negative (NoMemoryBudget turns it off)", nil)
	case o.MemoryBudget > 0:
		for _, e := range joined(checkpoint.ValidateOptionsForWorkers(workers, checkpoint.WithMemoryBudget(o.MemoryBudget))) {
			var oe *checkpoint.OptionError
			if errors.As(e, &oe) {
				bad("MemoryBudget", fmt.Sprintf("memory budget %d", o.MemoryBudget), oe.Problem, e)
			} else {
				errs = append(errs, e)
			}
		}
	}
	errs = append(errs, joined(writer.ValidateOptions(o.writerOptions()...))...)
	return errs
}

// writerOptions are the options every worker's writers get, before those
// of the worker (partition columns, journal hook, file stats).
func (o Options) writerOptions() []writer.Option {
	opts := append([]writer.Option(nil), o.WriterOptions...)
	if o.SpoolDir != "" {
		opts = append(opts, writer.WithSpoolDir(o.SpoolDir))
	}
	return opts
}

// joined lists the errors errors.Join joined (err alone if it joins none;
// nothing for nil).
func joined(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, joined(e)...)
		}
		return out
	}
	return []error{err}
}
