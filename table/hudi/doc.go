// Package hudi reads and writes lakestream tables: Apache Hudi tables
// (table version 6, copy-on-write) on any objstore.Store. It owns the table
// properties, the timeline of instants, the snapshot (which base files a
// reader sees), and the checkpoint ID and Kafka offsets every commit carries,
// so that a writer can resume exactly where its last commit ended.
//
// It is the Hudi implementation of the table seam (package table): its
// BaseFileLayout names the files the writer makes, its Table is what the
// coordinator (package checkpoint) claims partitions of, begins
// transactions on, commits to and maintains. What is not Hudi's own (owner
// claims, the decision that settles an instant, heartbeats, the Kafka
// offsets) is table/fence's, kept under .hoodie/.lakestream and
// .hoodie/.heartbeat; this package adds the Hudi timeline (with the claim
// that makes an instant time unique whatever its action,
// .hoodie/.lakestream/instants), commit metadata, rollbacks, the archive
// and the snapshot. Readers of the timeline that race another process's
// archival read again or from the archive. The Hudi meta column names are
// in table/hudi/hudimeta.
//
// Goroutines: a Txn keeps its instant's heartbeat fresh from a goroutine of
// its own, from Begin until Commit, Abort or Close; the other methods do
// their work (some with bounded parallelism) before they return.
//
// The layout is documented in docs/format/table.md.
package hudi
