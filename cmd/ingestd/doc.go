// Command ingestd ingests one Kafka topic into a lakestream table, exactly
// once. Its subcommands also inspect tables:
//
//	ingestd table inspect [--json] <table>
//
// where <table> is file:///path, s3://bucket/prefix or a local path.
//
// While it runs, the admin endpoint (admin.addr, 127.0.0.1:9464 by default;
// a warning is logged for an address beyond the loopback interface) serves
// /status (JSON: workers, partitions, hot buckets, counters, the
// checkpoint's health, armed failpoints), /metrics (Prometheus text of the
// metrics in docs/metrics.md), /readyz (503 once no checkpoint completed
// for admin.ready_after_intervals checkpoint intervals) and /healthz
// (liveness); metrics.otlp_endpoint also pushes them over OTLP/HTTP.
package main
