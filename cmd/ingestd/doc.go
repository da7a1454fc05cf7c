// Command ingestd ingests one Kafka topic into a lakestream table, exactly
// once. Its subcommands also inspect tables:
//
//	ingestd table inspect [--json] <table>
//
// where <table> is file:///path, s3://bucket/prefix or a local path.
//
// While it runs, the admin endpoint (admin.addr, 127.0.0.1:9464 by default)
// serves /status (JSON: workers, partitions, hot buckets, counters),
// /metrics (Prometheus text of the metrics in docs/metrics.md) and
// /healthz; metrics.otlp_endpoint also pushes them over OTLP/HTTP.
package main
