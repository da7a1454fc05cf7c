// Command ingestd ingests one Kafka topic into a lakestream table, exactly
// once. Its subcommands also inspect and check tables:
//
//	ingestd run --config table.yaml [flags]
//	ingestd table inspect [--json] <table>
//	ingestd table check [--json] <table>
//
// where <table> is file:///path, s3://bucket/prefix or a local path.
//
// run reads the YAML configuration, then the environment and flags over it
// (config.go), and validates all of it at once before it creates anything:
// every problem (a value of the wrong type, a count or size past its bound,
// a value a package would refuse at run time, checked with that package's
// own rules: checkpoint.ValidateOptions, ingest.Options.ValidateSettings
// with writer.ValidateOptions, bucketing.ValidateRouter, hudi.Config's
// Validate, source.Config's Validate; the bounds of README "Limits" are
// ingestd's) is printed, with URLs redacted (internal/redact) and control characters escaped, and the exit
// status is 2. Then it starts the pipeline (run.go): first a connection to
// the brokers with kafka.tls and kafka.sasl (source.Check; a refused
// password or certificate ends the start at once, exit 1, before the table
// is touched), then the engine (ingest.Open, from the configuration turned
// into ingest.Options: the table (table/hudi), the journal and recovery,
// the dead-letter producer and the Kafka reader (source, both with the
// same TLS and SASL), the coordinator and its workers (checkpoint,
// writer)), then the metrics and the admin endpoint. Its logger redacts the configuration's URLs and the SASL
// password (read from kafka.sasl.password_file or password_env, never from
// the YAML) from every line.
//
// table inspect prints the timeline, the snapshot, the checkpoints and the
// offsets, and the committed files of the active timeline that are missing,
// hidden or of another size than recorded (hudi.Table.Check). table
// check verifies every committed file of the snapshot, archived instants
// included, and reads every Parquet footer. Both escape what they print
// from the table (text: Go escapes; JSON: \u escapes) and exit 0 when all
// is well, 3 when committed files are missing or damaged, 1 when the table
// cannot be read, 2 for a bad command line or location. They only read.
//
// While run runs, the admin endpoint (admin.addr, 127.0.0.1:9464 by
// default; a warning is logged for an address beyond the loopback
// interface) serves /status (JSON: workers, partitions, hot buckets,
// counters, the checkpoint's health, armed failpoints), /metrics
// (Prometheus text of the metrics in docs/metrics.md), /readyz (503 once no
// checkpoint completed for admin.ready_after_intervals checkpoint
// intervals), /healthz (liveness), /debug/tasks (what every partition, the
// coordinator and each worker does and since when: internal/tasks) and
// /debug/pprof/ (Go's profiles); metrics.otlp_endpoint also pushes them
// over OTLP/HTTP. /metrics also has the Kafka clients' own metrics
// (franz-go's kprom: lakestream_kafka_*, by client and broker).
// Besides the goroutines of the packages it wires, ingestd runs one for
// signals, one that turns a second signal into an abort, the admin
// server's, a shutdown watchdog (exit 1 once shutdown_timeout has passed
// since SIGTERM) and, while the clients close after Run, one per client
// whose Close is bounded by what is left of that timeout.
package main
