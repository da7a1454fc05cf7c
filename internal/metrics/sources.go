package metrics

import "time"

// Sources are the functions the collection callback reads. Each is called
// once per collection, from the collecting goroutine, and must be safe to
// call from any goroutine. A nil function leaves its instruments out.
type Sources struct {
	// Partitions returns the owned Kafka partitions' state.
	Partitions func() []PartitionStat
	// Watermark returns the reader's event-time watermark, micros since the
	// Unix epoch; ok false while it is unknown (nothing is observed then).
	Watermark func() (micros int64, ok bool)
	// Rebalances returns the partitions the consumer group assigned to
	// the reader, revoked from it and reported lost.
	Rebalances func() RebalanceStats
	// Workers returns each writer worker's state.
	Workers func() []WorkerStat
	// Pipeline returns the pipeline's counters.
	Pipeline func() PipelineStats
	// HotBuckets returns the number of buckets currently split over
	// several workers.
	HotBuckets func() int
	// Health returns the failures and the age of the last commit.
	Health func() HealthStats
	// Storage returns the table storage's requests (StorageRequests.Stats).
	Storage func() []StorageStat
}

// PartitionStat is one Kafka partition as the reader sees it.
type PartitionStat struct {
	Partition int32
	// Lag is the number of records left to read (high watermark, or last
	// stable offset, minus the next offset); negative when unknown, and
	// then not observed.
	Lag int64
	// Records and Bytes were consumed since the partition was assigned
	// (they start again from 0 at a new assignment).
	Records int64
	Bytes   int64
	// BufferedRecords and BufferedBytes are fetched but not yet consumed.
	BufferedRecords int64
	BufferedBytes   int64
	// Paused is true while fetching is paused, for each of PauseReasons.
	Paused       bool
	PauseReasons []string
	// Idle partitions do not hold the watermark back.
	Idle bool
	// EventTime is the largest event time seen, micros since the Unix
	// epoch; only observed if HasEventTime.
	EventTime    int64
	HasEventTime bool
}

// RebalanceStats count the partitions the consumer group moved, since the
// reader started (source.RebalanceCounts).
type RebalanceStats struct {
	Assigned, Revoked, Lost int64
}

// WorkerStat is one writer worker.
type WorkerStat struct {
	Worker        int
	OpenFiles     int   // open Parquet files (one per bucket it writes)
	BufferedBytes int64 // column data buffered in memory
}

// HealthStats say how the pipeline fares: what failed, what is being
// retried, and how long ago the table was last brought up to date.
type HealthStats struct {
	// Failures counts the failed operations by phase and error class.
	Failures []FailureStat
	// Retrying is the number of operations failing and being retried now.
	Retrying int
	// LastCommit is when the process last committed; zero: not yet (not
	// observed).
	LastCommit time.Time
	// Age is how long ago the last checkpoint completed (a commit, or
	// nothing to commit), or the pipeline started if none did yet; only
	// observed if HasAge.
	Age    time.Duration
	HasAge bool
}

// FailureStat counts the failures of one phase and error class: every
// failed attempt, and those that were retried.
type FailureStat struct {
	Phase    string
	Class    string
	Failures int64
	Retries  int64
}

// PipelineStats are the pipeline's cumulative counters and a few gauges.
type PipelineStats struct {
	Records       int64            // records polled
	Bytes         int64            // value bytes polled
	Rows          int64            // rows handed to the writers
	DeadLetters   map[string]int64 // records dead-lettered, by reason
	LateRecords   int64            // late records written
	LateBatches   int64            // batches of late records written
	LateBuffered  int64            // late records waiting for their batch (gauge)
	Checkpoints   int64            // checkpoints committed
	Files         int64            // files committed
	RowsCommitted int64            // rows committed
	BudgetFlushes int64            // buffers written out for the memory budget
	RowsStaged    int64            // committed rows that were staged (no open file)
	LastDuration  time.Duration    // how long the last checkpoint took (gauge)
}
