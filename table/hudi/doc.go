// Package hudi reads and writes lakestream tables: Apache Hudi tables
// (table version 6, copy-on-write) on any objstore.Bucket. It owns the table
// properties, the timeline of instants, the snapshot (which base files a
// reader sees), and the checkpoint ID and Kafka offsets every commit carries,
// so that a writer can resume exactly where its last commit ended.
//
// The layout is documented in docs/format/table.md.
package hudi
