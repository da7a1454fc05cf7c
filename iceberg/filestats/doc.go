// Package filestats describes the base files of a Hudi instant as an
// Iceberg manifest needs them: the Iceberg schema of their rows (with the
// Parquet field IDs the files carry) and, per file, record count, size and
// per-column sizes, value and null counts and lower and upper bounds in
// Iceberg's binary form.
//
// Two sources: FromFooter computes them from a Parquet footer (the
// writer's own, in memory, at commit time; or one ReadFooter reads back
// from the store, two ranged reads per file), and the stats sidecar
// (WriteSidecar, ReadSidecar), one object per instant under
// .hoodie/.lakestream/stats/, which the committer puts before its commit
// decision so that the Iceberg publisher reads no footer. The format, who
// writes it and what happens when it cannot be written (the commit goes
// on; the publisher reads the footers) are in docs/format/iceberg.md,
// "Stats sidecar".
//
// The package depends on parquet-go's footer types only, not on
// iceberg-go, so that the writer can record stats without linking the
// publisher. It is fed by the writer (writer.WithFileStats decodes each
// file's footer from the bytes it wrote, FooterFromTail), package ingest
// (which writes the sidecar of each commit), package compaction (that of
// each replacecommit, from the merged file's footer, ReadFooterAt) and
// package iceberg (which reads sidecars, and footers without one). It
// starts no goroutines but WriteSidecar's encoder, which ends before it
// returns.
package filestats
