// Package parquetfile writes Parquet files of flat schemas (every leaf
// column at most once per row: no lists or maps) column by column, without
// parquet-go's row machinery: values go straight into page buffers, byte
// arrays into a dictionary of our own (an open-addressing table kept across
// files), and each page is compressed once, with its header, CRC and page
// index entry. The writer assembles row groups, the page index and the
// footer. The on-disk result is standard Parquet (data page v1, PLAIN, RLE
// and RLE_DICTIONARY), read back by parquet-go, DuckDB, Spark and Trino;
// docs/format/parquet.md describes what is written.
//
// The writer package uses it for schemas it Supports and parquet-go for the
// rest.
package parquetfile
