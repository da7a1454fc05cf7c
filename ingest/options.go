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
	// Default 1 MiB.
	MaxRecordBytes int64

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

// Validate reports every problem of the options at once. The options of
// the packages Open wires (source, checkpoint, writer, hudi) are validated
// by those packages when Open makes their parts.
func (o Options) Validate() error {
	o.setDefaults()
	var errs []error
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
	switch o.Format {
	case "json":
	case "avro":
		if o.Registry == "" {
			errs = append(errs, errors.New("format avro needs a schema registry URL"))
		}
	default:
		errs = append(errs, fmt.Errorf("format %q: want json or avro", o.Format))
	}
	if o.Iceberg.Location == "" && len(o.Iceberg.Options) > 0 {
		errs = append(errs, errors.New("iceberg options without an iceberg location"))
	}
	if o.MaxRecordBytes < 0 || o.CloseReserve < 0 {
		errs = append(errs, fmt.Errorf("max record bytes %d and close reserve %v must not be negative", o.MaxRecordBytes, o.CloseReserve))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("ingest options: %w", err)
	}
	return nil
}
