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
package parquetfile
