package checkpoint

import (
	"context"
	"errors"

	"github.com/lakestream/lakestream/bucketing"
	"github.com/lakestream/lakestream/journal"
	"github.com/lakestream/lakestream/schemas"
	"github.com/lakestream/lakestream/table"
	"github.com/lakestream/lakestream/table/fence"
	"github.com/lakestream/lakestream/writer"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Source is the Kafka side of the pipeline (source.Reader).
type Source interface {
	Poll(ctx context.Context) ([]*kgo.Record, error)
	AllowRebalance()
	// QueueGroupOffsets hands the next offsets to the consumer group, for
	// lag tools, without waiting: a group commit can wait for a rebalance,
	// and a rebalance waits for this checkpoint.
	QueueGroupOffsets(next map[int32]int64)
	// Positions returns the next offset of every owned partition whose
	// start is known: after the last record Poll returned, or where the
	// partition started if Poll returned none of it yet. A checkpoint
	// stores it for the partitions without records, so that a partition
	// started at "latest" keeps its place across restarts and rebalances.
	Positions() map[int32]int64
}

// EventTimeObserver is implemented by sources that pause partitions whose
// event time runs ahead (source.Reader): the intake reports each written
// record's event time.
type EventTimeObserver interface {
	ObserveEventTime(partition int32, eventTimeMicros int64)
}

// DeadLetters receives the records that cannot be written (source.DeadLetter).
type DeadLetters interface {
	Send(rec *kgo.Record, reason, detail string)
	Flush(ctx context.Context) error
}

// Config holds what a Coordinator works with. Every field is required.
type Config struct {
	Table       table.Table // hudi.AsTable for a Hudi table
	Topic       string
	WriterID    string
	Schema      *schemas.TableSchema
	Decoder     schemas.Decoder
	Template    *bucketing.Template
	Router      *bucketing.Router
	DeadLetters DeadLetters
	// NewWriterSet opens the file writers of one worker. With a Journal,
	// its sets must call Journal.BeforeUpload before every upload
	// (writer.WithBeforeUpload).
	NewWriterSet func(worker int) (*writer.Set, error)
	// Journal, optional, records each checkpoint's files before they are
	// uploaded, so that a restart removes an incomplete checkpoint's files
	// without listing the table.
	Journal *journal.Journal
}

func (c Config) validate() error {
	var errs []error
	if c.Table == nil {
		errs = append(errs, errors.New("table is required"))
	}
	if err := fence.ValidateTopic(c.Topic); err != nil {
		errs = append(errs, err)
	}
	if c.WriterID == "" {
		errs = append(errs, errors.New("writer ID is required"))
	}
	if c.Schema == nil || c.Decoder == nil {
		errs = append(errs, errors.New("schema and decoder are required"))
	}
	if c.Template == nil || c.Router == nil {
		errs = append(errs, errors.New("partition template and router are required"))
	}
	if c.DeadLetters == nil {
		errs = append(errs, errors.New("dead-letter queue is required"))
	}
	if c.NewWriterSet == nil {
		errs = append(errs, errors.New("writer factory is required"))
	}
	return errors.Join(errs...)
}
