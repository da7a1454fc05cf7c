// Package journal keeps ingestd's local checkpoint journal: a pebble
// database, in a directory of its own on a local volume, of the
// checkpoints begun and not yet settled and of every object key their
// files were (or were about to be) uploaded to. After a crash it tells the
// next start which files an incomplete checkpoint left behind, so that
// they are removed without listing the table. docs/format/journal.md
// describes its keys and its behaviour on a full disk.
//
// Who feeds it: the coordinator (package checkpoint) calls BeginCheckpoint
// when it opens an instant and Settled once the instant is committed,
// aborted or fenced; every worker's writer.Set calls BeforeUpload before
// each upload (writer.WithBeforeUpload). What it feeds: at start, Settle
// hands its pending instants to the table's recovery
// (table.Recoverer.RollbackInstant), before the table's own Recover.
//
// Goroutines: OpenContext may leave one goroutine holding the directory's
// lock while pebble's open retries on a full volume (it ends once the open
// returns, and closes the journal); pebble starts its own, which Close
// ends. Its layout of data file keys is the table's (WithLayout; default
// hudi.BaseFileLayout).
package journal
