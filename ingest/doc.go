// Package ingest is the engine: it wires the pipeline of one table from
// Options, with one constructor, Open, which owns what every caller would
// otherwise wire by hand and in the right order: create or open the table
// (table/hudi), open the checkpoint journal (package journal), settle it,
// recover the table and sweep the writers' spool (in that order), pick the
// decoder (schemas), make the dead-letter producer (source) with its batch
// sized for the largest record, make the coordinator (checkpoint) whose
// writer sets (writer) journal every upload, and the Kafka reader (source)
// whose rebalance hooks are the coordinator's. With Options.Iceberg, it
// also makes the table's Iceberg publisher (package iceberg), catches it
// up at start, has the coordinator publish after every commit, and
// expires Iceberg snapshots before every archival of the Hudi timeline;
// and it has the writers record each file's column metrics
// (writer.WithFileStats) and every transaction write its instant's stats
// sidecar before its commit decision (sidecar.go), so that the publisher
// reads no footer. A sidecar that cannot be written is logged and the
// commit goes on (the publisher then reads that instant's footers); that
// of an aborted or fenced instant is deleted, and that of an instant
// rolled back by recovery by the Iceberg expiry
// (docs/format/iceberg.md, "Stats sidecar").
//
// Options.Source and Options.DeadLetters plug in a source of records and
// a dead-letter sink instead of the Kafka clients (tests and benchmarks
// run the pipeline without a broker that way).
//
// Open also splits Options.MemoryBudget between the coordinator and each
// worker's writers. Options.ValidateSettings holds the rules of the
// settings (the format, the largest record, the dead-letter topic, the
// memory budget per worker, the writers' options), for a configuration
// loader to check before it makes anything.
//
// Who feeds it: cmd/ingestd turns its YAML into Options and calls Open,
// then Run; the Kafka reader feeds the coordinator records. What it feeds:
// the table, through the coordinator's commits, and its Iceberg metadata.
//
// Goroutines: Open starts none of its own (the Kafka clients, the journal
// and the coordinator start theirs). Run drives the coordinator on the
// caller's goroutine until its context ends (final checkpoint) or Abort;
// Close, once Run has returned, stops them all: the reader leaves the
// group and the dead-letter producer closes within Options.CloseReserve,
// the coordinator stops its workers, the journal closes.
package ingest
