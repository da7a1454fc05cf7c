// Package metrics is lakestream's metrics layer, built on OpenTelemetry.
//
// New registers asynchronous instruments (observable gauges and counters)
// on a metric.Meter with one callback that snapshots the pipeline at
// collection time, through Sources: plain functions, so that this package
// imports none of the pipeline's packages and tests can feed any values.
// Nothing is counted on the hot path: the pipeline keeps its own counters
// and the callback reads them only when a reader collects (a Prometheus
// scrape, an OTLP push).
//
// NewProvider makes the MeterProvider that the instruments live in, with a
// Prometheus exporter on its own registry (Provider.Handler serves the text
// format, for an admin endpoint's /metrics) and, when an OTLP/HTTP endpoint
// is configured, a periodic push to it.
//
// The metric names, units and attributes are the Name* constants; the
// package never touches OpenTelemetry's global MeterProvider, error handler
// or the Prometheus default registry.
package metrics
