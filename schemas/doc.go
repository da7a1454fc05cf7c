// Package schemas owns the shape of a lakestream table row: the user schema
// from the table config, the Hudi meta and Kafka columns around it, and its
// Parquet and Avro forms. It also turns Kafka record values (JSON, or Avro in
// the Confluent wire format with a schema registry) straight into
// parquet.Row values, with no per-record maps or allocations.
//
// The type mapping is documented in docs/format/types.md.
package schemas
