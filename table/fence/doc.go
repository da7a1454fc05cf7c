// Package fence holds what makes a table written by several ingest
// processes exactly once, whatever its format: owner claims of Kafka
// partitions (Claims), the decision object that settles the fate of an
// instant (Decide, ReadDecision), the heartbeats of open instants
// (Heartbeats) and the Kafka offsets a commit carries (Offsets). A format
// (table/hudi) keeps them under its own metadata directory and only adds
// its metadata commit; a second format reuses them as they are.
//
// Who uses it: the format's table (table/hudi's Table.Claim, FenceOthers,
// Txn.Commit, RollbackInstant, Recover). It reads and writes through an
// objstore.Store and starts no goroutines of its own, except PutStreamed's
// one writer per call, which ends before the call returns.
package fence
