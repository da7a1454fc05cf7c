// Package checkpoint runs ingestion as a sequence of checkpoints. Package
// ingest makes its Coordinator (New) and feeds it the Kafka reader
// (source); it feeds the writers (writer, one Set per worker goroutine) and
// the table, through the format-independent seam (table.Table; the Hudi
// table is hudi.AsTable), and records each checkpoint in the journal
// (journal).
//
// A Coordinator polls records, decodes them straight into rows, routes each
// row by bucket to the worker that owns it and, every interval and at
// shutdown, stops intake at a barrier, has every worker close its files,
// and makes exactly one table commit carrying the checkpoint ID, the files
// and the next offset of every partition the process owns. A restart
// resumes from that commit. After each commit, the publishers
// (WithPublishers, table.Publisher: the Iceberg publisher) observe it; a
// publisher's failure is logged and counted, never undoes the commit.
//
// The source's rebalance hooks plug in: StartOffsets claims newly assigned
// partitions and reads their offsets from the table; Revoked checkpoints
// revoked partitions before they move, and for lost ones abandons the open
// checkpoint (rolled back, its files deleted) while Run goes on, so that
// they resume from the table when assigned again. A shutdown (Run's
// context ends) stops a decode retry at once and makes the final
// checkpoint within the grace period (WithShutdownGrace).
//
// Coordinator.Health reports how it fares, for readiness checks, the admin
// endpoint and metrics: the failed and retried operations by phase and
// error class, what is being retried since when, and when a checkpoint last
// completed. It is recorded when an operation fails or recovers and at
// each checkpoint, never per record. With WithTasks, the coordinator's
// phase and each worker's state are also tasks of an internal/tasks
// registry (/debug/tasks). With WithTracerProvider, each checkpoint is a
// span with its phases (and each worker's close and upload) as children,
// recorded at the same points (trace.go).
//
// Parts: the Coordinator (coordinator.go) keeps the state machine and
// delegates to parts that own their state, one file each: kafkaPartitions
// (partitions.go), openInstant (instant.go), checkpointSchedule
// (schedule.go), publishQueue (publish.go), retrier (retry.go), workerPool
// (pool.go), runContexts (runctx.go), and the intake's bucketPaths
// (bucketpath.go), router (route.go) and eventClock (late.go). The lock
// order is on the Coordinator type.
//
// Goroutines: Run runs on its caller's goroutine and starts one goroutine
// per worker (each owns its writer.Set) and one that ends Run's work once
// the shutdown grace period passes; Close stops the workers.
package checkpoint
