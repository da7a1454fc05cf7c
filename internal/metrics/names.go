package metrics

// Instrument names (OpenTelemetry style; the Prometheus exporter turns the
// dots into underscores and adds the unit and _total suffixes, e.g.
// lakestream.partition.bytes becomes lakestream_partition_bytes_total).
// docs/metrics.md lists them with their units and attributes.
const (
	// Per partition (attribute partition).
	NamePartitionLag             = "lakestream.partition.lag"              // gauge, {record}
	NamePartitionRecords         = "lakestream.partition.records"          // counter, {record}
	NamePartitionBytes           = "lakestream.partition.bytes"            // counter, By
	NamePartitionBufferedRecords = "lakestream.partition.buffered.records" // gauge, {record}
	NamePartitionBufferedBytes   = "lakestream.partition.buffered.bytes"   // gauge, By
	NamePartitionPaused          = "lakestream.partition.paused"           // gauge, 0 or 1
	NamePartitionPausedReason    = "lakestream.partition.paused.reason"    // gauge, 0 or 1; attribute reason too
	NamePartitionIdle            = "lakestream.partition.idle"             // gauge, 0 or 1
	NamePartitionEventTime       = "lakestream.partition.event_time"       // gauge, s since the Unix epoch

	// The reader's event-time watermark.
	NameWatermark = "lakestream.watermark" // gauge, s since the Unix epoch
	// The partitions the consumer group moved (attribute event).
	NameRebalancePartitions = "lakestream.rebalance.partitions" // counter, {partition}

	// Per worker (attribute worker).
	NameWorkerOpenFiles     = "lakestream.worker.open_files"     // gauge, {file}
	NameWorkerBufferedBytes = "lakestream.worker.buffered_bytes" // gauge, By

	// Pipeline.
	NameRecordsPolled          = "lakestream.records.polled"           // counter, {record}
	NameBytesPolled            = "lakestream.bytes.polled"             // counter, By
	NameRowsWritten            = "lakestream.rows.written"             // counter, {row}
	NameDeadLetters            = "lakestream.dead_letters"             // counter, {record}; attribute reason
	NameLateRecords            = "lakestream.late.records"             // counter, {record}
	NameLateBatches            = "lakestream.late.batches"             // counter, {batch}
	NameLateBuffered           = "lakestream.late.buffered"            // gauge, {record}
	NameCheckpoints            = "lakestream.checkpoints"              // counter, {checkpoint}
	NameFilesCommitted         = "lakestream.files.committed"          // counter, {file}
	NameRowsCommitted          = "lakestream.rows.committed"           // counter, {row}
	NameCheckpointLastDuration = "lakestream.checkpoint.last_duration" // gauge, s
	NameHotBuckets             = "lakestream.hot_buckets"              // gauge, {bucket}
	NameBudgetFlushes          = "lakestream.memory_budget.flushes"    // counter, {flush}
	NameRowsStaged             = "lakestream.rows.staged"              // counter, {row}

	// Health (attributes phase and class on the counters).
	NameCheckpointFailures = "lakestream.checkpoint.failures"   // counter, {failure}
	NameCheckpointRetries  = "lakestream.checkpoint.retries"    // counter, {retry}
	NameCheckpointRetrying = "lakestream.checkpoint.retrying"   // gauge, {operation}
	NameLastCommitTime     = "lakestream.last_commit.timestamp" // gauge, s since the Unix epoch
	NameLastCommitAge      = "lakestream.last_commit.age"       // gauge, s

	// Table storage requests (attributes operation and class).
	NameStorageRequests = "lakestream.storage.requests" // counter, {request}
	NameStorageTime     = "lakestream.storage.time"     // counter, s: the requests' total time
)

// Attribute keys.
const (
	AttrPartition = "partition" // Kafka partition number
	AttrWorker    = "worker"    // writer worker number
	AttrReason    = "reason"    // dead-letter reason, or pause reason
	AttrPhase     = "phase"     // the pipeline phase an operation failed in
	AttrClass     = "class"     // the class of an error
	AttrOperation = "operation" // a storage operation (put, get, list, ...)
	AttrEvent     = "event"     // what a rebalance did to a partition: assigned, revoked, lost
)
