// Command compactor merges the small files of a lakestream table into large
// ones (package compaction), as Hudi clusterings, beside running ingestd
// replicas: one run for a Kubernetes CronJob, or --loop. It reads the
// table's location from the same table.yaml as ingestd (table.url) and the
// storage credentials from the same environment; the contract, exit
// statuses and metrics are in docs/operations.md ("The compactor's
// contract"). Goroutines: the signal handler and those of package
// compaction, all ended before it exits.
package main
