// Package writer writes the base files of a lakestream Hudi copy-on-write
// table: rolling Parquet writers, one per open bucket (partition path),
// owned by one pipeline worker.
//
// A Set spools each file to a local directory while it is written and
// uploads it to its final key, <partition>/<fileId>_<worker>-<checkpoint>-<n>_<instant>.parquet,
// when it rolls (target size, max age, the open-file bound) or when the
// checkpoint finishes. When more buckets are live than files may be open,
// the rows of the buckets without a file are staged (stage.go) and written
// at the checkpoint rather than rolling small files. Every file is a new
// file group. Files are not visible
// to readers until the commit that lists them (commitlog), so they are
// written to their final names directly; Abort deletes them.
//
// Each file has the schema given to NewSet, whose first five leaf columns
// are the Hudi meta columns. The Set fills four of them: _hoodie_commit_time
// (the instant), _hoodie_commit_seqno (<instant>_<worker>_<n>, n the
// record's index in the file), _hoodie_partition_path and
// _hoodie_file_name; _hoodie_record_key comes with the row. Files of flat
// schemas (no lists or maps) are encoded by internal/parquetfile, which
// makes those four columns itself (three constants of the file, one
// sequence) and is several times cheaper per value than parquet-go's row
// writer; the others by parquet-go (encoder.go). Both write what
// docs/format/parquet.md describes: data page v1 with PLAIN, RLE and
// dictionary encodings only (see writeSchema), zstd by default, no
// statistics in data page headers (readers prune pages with the page
// index, as parquet-mr has written them since 1.11), column chunk
// statistics, the page index (byte array bounds truncated to 64 bytes in
// both: parquet-go's through a parquetfile.BoundsRewriter), the schema's
// field IDs,
// hoodie_min_record_key / hoodie_max_record_key and "lakestream version
// <v> (build <rev>)" as the creator.
package writer
