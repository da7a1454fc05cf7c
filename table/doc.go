// Package table is the seam between the ingest engine and a table format:
// the types the coordinator (package checkpoint) uses to talk to a table,
// whatever its format. The Hudi format (table/hudi) is the one
// implementation; what is not format-specific (owner claims, fencing
// decisions, heartbeats, Kafka offsets) is in table/fence, so that a second
// format reuses it and only implements its metadata commit.
//
// A commit is observed through one hook, Publisher: the Iceberg publisher
// (package iceberg) plugs in there. It starts no goroutines.
package table
