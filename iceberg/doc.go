// Package iceberg publishes a lakestream Hudi table as an Apache Iceberg v2
// table in the same place: metadata/v<N>.metadata.json, manifest lists and
// manifests beside .hoodie/, every path absolute, the data files Hudi's
// own. Iceberg readers (pyiceberg, DuckDB's iceberg_scan, Spark, Trino
// through a registered table) then read the table without a Hudi reader.
// The layout and the protocol are in docs/format/iceberg.md.
//
// One Iceberg snapshot per completed Hudi commit (an append) or
// replacecommit (a replace that deletes the retired file groups), whose
// summary names the Hudi instant, the checkpoint ID and the writer ID. The
// Hudi timeline stays the truth: CatchUp publishes every completed instant
// that no snapshot names, oldest first, so that a crash between a Hudi
// commit and its Iceberg publish, or publishing switched off for a while,
// loses nothing; a backlog of several instants is published up to
// WithInstantsPerCommit snapshots per metadata version. Appends merge
// manifests (at WithManifestMergeCount), so that the current snapshot
// does not list one manifest per commit ever made. Publishers in several processes (ingestd replicas, the
// compactor) serialise through the put-if-absent of the next metadata
// version (objstore.Store.PutIfAbsent: a compare-and-swap on the local
// filesystem and on S3), and the loser re-reads what is published and
// retries: no instant is published twice, none is skipped. Expire expires
// snapshots with Hudi's archival, before the archival deletes the files
// of retired file groups; the instants whose snapshots are gone stay
// published through the table properties PropExpiredThrough and
// PropExpiredAfter (Published is the rule).
//
// The schema is the files' own (their Parquet field IDs, the _hoodie_* and
// Kafka columns included); partitions are identity transforms of the Hudi
// partition fields, which are columns of the files; a
// __HIVE_DEFAULT_PARTITION__ value is null. Column metrics come from a
// Stats source: the per-instant stats sidecar the committer records
// before its commit decision (package filestats; ingest for its commits,
// compaction for its replacecommits), else, for an instant without a
// usable one, the Parquet footers, read back (two ranged reads per file).
// Expire deletes the sidecars of the instants it expires through, those
// of instants rolled back included. The hook (Hook) hits failpoint
// AfterCommitBeforePublish of the table's failpoints before it publishes.
//
// Who feeds it: the owner of the hudi.Table (ingestd, the compactor)
// calls CatchUp at start, Publish after each commit and Expire before each
// archival. It feeds nothing inside lakestream: it writes the Iceberg
// metadata, which outside readers read. It starts no goroutines (the
// default Stats reads footers with up to WithFooterConcurrency goroutines
// inside a call); Close is idempotent and releases nothing.
package iceberg
