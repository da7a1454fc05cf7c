package metrics

import (
	"context"
	"log/slog"
	"time"

	"github.com/lakestream/lakestream/internal/redact"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// newOTLPReader pushes every interval to endpoint (a URL checked by
// otlpURL). Failed pushes are logged through logger, never through
// OpenTelemetry's global error handler.
func newOTLPReader(ctx context.Context, endpoint string, interval time.Duration, logger *slog.Logger) (sdkmetric.Reader, error) {
	exp, err := otlpmetrichttp.New(ctx, otlpmetrichttp.WithEndpointURL(endpoint))
	if err != nil {
		return nil, err
	}
	shown := redact.URL(endpoint)
	logger.Info("pushing metrics over OTLP/HTTP", "endpoint", shown, "interval", interval.String())
	return sdkmetric.NewPeriodicReader(&loggedExporter{Exporter: exp, logger: logger, endpoint: shown},
		sdkmetric.WithInterval(interval)), nil
}

// loggedExporter logs failed exports and reports them to the reader as
// done: the next interval pushes the current values anyway.
type loggedExporter struct {
	sdkmetric.Exporter
	logger   *slog.Logger
	endpoint string
}

func (e *loggedExporter) Export(ctx context.Context, rm *metricdata.ResourceMetrics) error {
	if err := e.Exporter.Export(ctx, rm); err != nil {
		e.logger.Warn("metrics push failed", "endpoint", e.endpoint, "err", err)
	}
	return nil
}
