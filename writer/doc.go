// Package writer writes the base files of a lakestream Hudi copy-on-write
// table: rolling Parquet writers, one per open bucket, owned by one
// pipeline worker. A bucket is the partition path a row goes to
// (dt=.../hr=..., "" for a table without partitions).
//
// # Who feeds it, what it feeds
//
// Package checkpoint's workers feed it: each worker owns one Set (made by
// ingest.Open's factory with NewSet) and, per checkpoint, calls Begin, WriteBatch (or
// Write) with the rows of its buckets, RollIdle on a timer, FlushLargest
// when its memory budget is exceeded, then Finish, or Abort. A Set uploads
// its files to the object store (internal/objstore) and returns them from
// Finish; the worker turns them into hudi.FileStat (File.Stat) for the
// commit, through package checkpoint.
//
// # Goroutines
//
// A Set is used by one goroutine, its worker's. It starts goroutines only
// to upload: one per file of an upload batch (up to WithUploadConcurrency
// at once), and the call that started them (Write, WriteBatch, RollIdle or
// Finish) waits for all of them before it returns, so none outlives it;
// the caller's context cancels their uploads. The before-upload hook
// (WithBeforeUpload) runs on them.
//
// # Files
//
// A Set spools each file to a local directory (WithSpoolDir, on the
// filesystem of WithSpoolFS) while it is written and uploads it to its
// final key, <bucket>/<fileId>_<worker>-<checkpoint>-<n>_<instant>.parquet,
// when it rolls (target size, max age, the open-file bound) or when the
// checkpoint finishes. When more buckets are live than files may be open,
// the rows of the buckets without a file are staged (stage.go) and written
// at the checkpoint rather than rolling small files. Every file is a new
// file group. Files are not visible to readers until the commit that lists
// them (table/hudi), so they are written to their final names directly;
// Abort deletes them. The table's layout (WithLayout, a table.Layout;
// default hudi.BaseFileLayout) names each file, gives the values of its
// per-file meta columns and the footer keys of its record key range;
// partition paths are held to table.ValidatePartitionPath.
//
// Each file has the schema given to NewSet, whose first five leaf columns
// are the Hudi meta columns. The Set fills four of them: _hoodie_commit_time
// (the instant), _hoodie_commit_seqno (<instant>_<worker>_<n>, n the
// record's index in the file), _hoodie_partition_path (the bucket) and
// _hoodie_file_name; _hoodie_record_key comes with the row. Files of flat
// schemas (no lists or maps) are encoded by internal/parquetfile, which
// makes those four columns itself (three constants of the file, one
// sequence) and is several times cheaper per value than parquet-go's row
// writer; the others by parquet-go (encoders.go). Both write what
// docs/format/parquet.md describes: data page v1 with PLAIN, RLE and
// dictionary encodings only (see writeSchema), zstd by default, no
// statistics in data page headers (readers prune pages with the page
// index, as parquet-mr has written them since 1.11), column chunk
// statistics, the page index (byte array bounds truncated to 64 bytes in
// both: parquet-go's through a parquetfile.BoundsRewriter), the schema's
// field IDs, hoodie_min_record_key / hoodie_max_record_key and "lakestream
// version <v> (build <rev>)" as the creator.
//
// With WithFileStats, each file's Iceberg schema and column metrics
// (File.Stats) are taken from the footer as it is written: the bytes the
// encoder writes at close (page index and footer) are kept and decoded,
// and nothing is read back. WithAfterUpload hands each uploaded file to
// the caller (ingest keeps them for the stats sidecar of the commit).
//
// # Parts
//
// A Set (set.go: the checkpoint state machine; openfiles.go: the open-file
// policy, which bucket gets a file or is staged and when a file is closed
// or dropped; write.go: the write path; memory.go: its memory) is made of
// parts that own their logic: the row shape check (shape.go), the encoder
// choice (encoders.go, encoder.go), the making of files (files.go, file.go)
// and of their column values (columns.go, meta.go), the spool (spool.go),
// the uploader (uploader.go) and the stage (stage.go, stagedrow.go). The
// options, their defaults and their rules are in options.go:
// ValidateOptions checks them as NewSet does, for configuration loaders.
package writer
