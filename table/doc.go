// Package table is the seam between the ingest engine and a table format:
// what the coordinator (package checkpoint) and the writer (package writer)
// ask of a table, whatever its format. It holds no state and starts no
// goroutines; it is interfaces and their types.
//
//   - Table: where a writer resumes (LastCheckpoint, NextOffsets), the
//     Kafka partitions it owns (Acquire: claim, then fence the previous
//     owner's open instant), one transaction per checkpoint (Begin → Txn:
//     Instant, Commit, Abort, Close), maintenance between checkpoints
//     (Maintainer: RollbackFailed, Archive) and the recovery of a previous
//     run's pending work (Recoverer: RollbackInstant, Recover).
//   - Layout: the names and keys of the data files the writer makes, their
//     per-file constant columns and footer keys (writer.WithLayout).
//   - ValidatePartitionPath: the one rule a new partition path follows.
//   - Publisher: the hook through which a commit is observed after it
//     completes (checkpoint.WithPublishers); the Iceberg publisher (package
//     iceberg) plugs in there. Its contract says what a publisher may do and
//     that the table's commit stays the truth when it fails.
//
// The Hudi format (table/hudi: hudi.AsTable, hudi.BaseFileLayout) is the
// one implementation. What is not format-specific (owner claims, the
// decision that settles an instant, heartbeats, Kafka offsets) is in
// table/fence, so that a second format reuses it and only implements its
// metadata commit. The compactor (package compaction) writes replacecommits
// through table/hudi directly.
package table
