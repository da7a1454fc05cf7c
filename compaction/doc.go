// Package compaction merges the small base files of a lakestream table
// into large ones, as Hudi clusterings (replacecommits), beside running
// ingestd writers (issue 15, docs/operations.md "The compactor's
// contract").
//
// Who feeds it: cmd/compactor (and tests) open a table (table/hudi) and
// call Plan, or New(...).Run for a whole run. What it feeds: the table's
// timeline (one replacecommit per group of files, its requested file
// carrying the clustering plan, its completed file the new file group and
// partitionToReplaceFileIds), its partitions (the merged files, written
// by parquetfile.Merge without decoding values) and, with the Iceberg
// option, the table's Iceberg metadata (package iceberg).
//
// A run:
//  1. settles instants left by failed runs (hudi.Table.Recover rolls back
//     dead writers' pending instants and removes their base files; a
//     decided commit is finished instead);
//  2. plans (Plan): per partition, the snapshot's files below the small-file
//     size that no replacecommit holds, grouped by parquetfile.Fingerprint
//     and bin-packed to the target file size;
//  3. for each group: opens a replacecommit whose requested file carries
//     the group's clustering plan, checks which other replacecommits hold
//     one of its file groups (hudi.Table.ClusteringConflicts), merges the
//     inputs into a new file group, verifies the output
//     (parquetfile.VerifyMerge, locally and read back from the store),
//     with the Iceberg option writes the instant's stats sidecar from the
//     output's footer (filestats.WriteSidecar; read from the local file,
//     so the publisher reads no footer back; a failure is logged and the
//     publisher reads it instead; a rolled-back instant's sidecar is
//     deleted), checks again and commits. Of overlapping plans the earliest instant
//     wins: a later pending one is fenced (hudi.Table.FenceClustering); an
//     earlier or completed one makes the group give up, its instant rolled
//     back and its output removed (an error matching ErrConflict); with
//     the Iceberg option, publishes the replacecommit as an Iceberg
//     replace snapshot (a failure is logged; failpoint
//     iceberg.before-publish stops the run just before);
//  4. removes the files replaced more than the retention ago
//     (hudi.Table.CleanReplaced), with the Iceberg option only after the
//     Iceberg snapshots that reference them are expired.
//
// Ingest commits only create file groups, so they never conflict with a
// compaction. Goroutines: Run's progress reporter, the table's heartbeat
// of each open instant (hudi.Txn), parquetfile.Merge's workers, and
// Plan's footer readers (8 at a time), all ended before Run or Plan
// returns.
package compaction
