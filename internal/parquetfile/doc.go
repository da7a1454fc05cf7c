// Package parquetfile writes Parquet files of flat schemas (every leaf
// column at most once per row: no lists or maps) column by column, without
// parquet-go's row machinery: values go straight into page buffers, byte
// arrays into dictionaries whose values are interned in tables kept across
// files (Shared), columns the caller does not send (constants, sequences)
// are made in the page buffers, and each page is compressed once, with its
// header, CRC and page index entry. The Writer assembles row groups, the
// page index and the footer.
//
// The result is plain Parquet (data page v1; PLAIN, RLE and
// RLE_DICTIONARY), as docs/format/parquet.md describes; the tests read it
// back with parquet-go and DuckDB. The writer package uses it for the
// schemas it Supports and parquet-go for the rest, whose files it writes
// through a BoundsRewriter: byte array bounds (column index and chunk
// statistics) are truncated to 64 bytes in both.
//
// Merge (merge*.go), the engine of the compactor, writes one file of the
// rows of many files of one schema in large row groups without decoding
// values: pages are copied, dictionary indexes remapped, constants written
// as runs, the page index, statistics and footer built again; chunks it
// cannot merge so are re-encoded by the Writer's column encoders. Its
// caller gives it the input files (MergeInput), the output and the new
// file's name (MergeHudi); VerifyMerge reads the result back with
// parquet-go before it is committed; Fingerprint groups files that merge
// without re-encoding. Merge runs on its caller's goroutine, or with
// MergeConcurrency(n) on n goroutines it starts and ends before it
// returns. See docs/format/parquet.md, "Merged files".
package parquetfile
