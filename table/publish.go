package table

import "context"

// Commit describes a commit that completed on the table: the checkpoint it
// made and what it published. A Publisher reads the rest from the table.
type Commit struct {
	// Instant is the completed instant (Hudi: the commit's timestamp).
	Instant string
	// WriterID is the writer that committed it.
	WriterID string
	// CheckpointID is the writer's checkpoint the commit made.
	CheckpointID int64
	// Topic is the Kafka topic, and Next the next offset of every
	// partition the commit carries.
	Topic string
	Next  map[int32]int64
	// Files and Rows count the files the commit added and their rows.
	Files int
	Rows  int64
}

// Publisher observes the commits of a table: after every commit that
// completes, the coordinator (checkpoint.WithPublishers) calls Publish with
// it, outside the checkpoint's lock and in commit order, from its Run
// goroutine (the commit of a checkpoint made in a rebalance hook is
// published at the next turn of Run, and the final checkpoint's before Run
// returns).
//
// What a publisher may do: read the table (its timeline, metadata and
// files), and write its own metadata beside it (an Iceberg publisher writes
// Iceberg metadata). It must never write the table's files or timeline.
//
// What happens when it fails: the table's commit stays the truth. An error
// from Publish is logged and counted (phase "publish" of the checkpoint
// health and lakestream_checkpoint_failures_total), never retried by the
// coordinator, and never undoes, delays or blocks a commit or a checkpoint:
// ingestion goes on. A publisher therefore catches up by itself: each
// Publish (and a start) should publish every commit it has not published
// yet, not only the one it is given. Publish runs on the pipeline's Run
// goroutine: a slow publisher delays the next poll, so bound its work with
// ctx (which ends with the coordinator's shutdown grace period).
type Publisher interface {
	Publish(ctx context.Context, c Commit) error
}

// PublisherFunc is a function that is a Publisher.
type PublisherFunc func(ctx context.Context, c Commit) error

// Publish calls f.
func (f PublisherFunc) Publish(ctx context.Context, c Commit) error { return f(ctx, c) }
