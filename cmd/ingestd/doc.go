// Command ingestd ingests one Kafka topic into a lakestream table, exactly
// once. Its subcommands also inspect tables:
//
//	ingestd table inspect [--json] <table>
//
// where <table> is file:///path, s3://bucket/prefix or a local path.
package main
