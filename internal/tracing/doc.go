// Package tracing makes the OpenTelemetry TracerProvider that ingestd and
// the compactor hand to the checkpoint coordinator
// (checkpoint.WithTracerProvider) and the compactor
// (compaction.TracerProvider): a no-op provider unless an OTLP/HTTP
// endpoint is configured, then an SDK provider that batches spans and
// exports them to it. Nothing is registered globally.
//
// The SDK's batch span processor runs one goroutine, from NewProvider
// until Shutdown; a failed export is logged through the configured logger
// (the endpoint redacted), never through OpenTelemetry's global handler.
package tracing
