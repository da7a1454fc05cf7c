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
// .hoodie/.lakestream/stats/, which the writer puts before its commit
// decision so that the Iceberg publisher reads no footer. The format is in
// docs/format/iceberg.md.
//
// The package depends on parquet-go's footer types only, not on
// iceberg-go, so that the writer can record stats without linking the
// publisher. It is fed by the writer (later) and package iceberg, and
// starts no goroutines but WriteSidecar's encoder, which ends before it
// returns.
package filestats
