// Package compat checks lakestream's tables with real engines: Spark with
// the Hudi 0.15 and Hudi 1.x Spark bundles (PySpark), and hudi-rs (the
// `hudi` Python package); and, published as Iceberg, DuckDB, pyiceberg,
// Spark and Trino. It has no library code: its tests, built only
// with the `compat` tag, are `make compat` (go test -tags compat
// ./compat/...), which installs the engines under .tools/ first.
//
// The test makes four tables with the ingestd binary and the e2e harness
// (kfake in process): the e2e table (a stop and a restart mid-stream), a
// torture table (ingestd crashed at every failpoint of the commit path,
// rolled back, SIGKILLed, archived), a table with dead-lettered
// (malformed, schema-mismatched) and late records, unicode and binary
// values, and a compacted table: the compactor binary (compactor run)
// merges its small files beside the running ingestd, with Iceberg
// publishing on, and ingestd writes to it again after. DuckDB reads each
// table's snapshot (the files table/hudi says a reader sees) for the
// reference: row count, a checksum of every column, the rows per
// partition, an older snapshot for time travel (with the files a later
// replacecommit retired) and the rows committed after it for an
// incremental query. spark_check.py and hudirs_check.py run the same
// queries through the engines and print JSON, and list the clusterings
// (Spark's show_clustering, hudi-rs's replacecommits); the test compares,
// one engine at a time.
//
// ingestd and the compactor publish every table as Iceberg too; the
// iceberg publisher's catch-up, before any reader, publishes what they
// did not (the copied torture_pending table). The Iceberg readers, DuckDB
// with its iceberg extension and pyiceberg (iceberg_check.py), Spark with
// the Iceberg runtime (spark_iceberg_check.py) and Trino (trino_test.go: a
// server started, queried over its HTTP API and stopped by the test),
// answer the snapshot, a partition filter and the data files it read, the
// partitions, time travel and the snapshots' summaries; the test compares
// with DuckDB's read of the Hudi snapshot. docs/compatibility.md lists
// what is checked and the results.
package compat
