package metrics

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/otlptranslator"
	"go.opentelemetry.io/otel/attribute"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
)

// ScopeName is the instrumentation scope of lakestream's instruments.
const ScopeName = "github.com/lakestream/lakestream"

// Provider is an OpenTelemetry MeterProvider with a Prometheus exporter on
// its own registry and, if configured, a periodic OTLP/HTTP push.
type Provider struct {
	mp      *sdkmetric.MeterProvider
	handler http.Handler
}

// NewProvider makes the MeterProvider and its exporters. Shutdown releases
// them (and pushes a last time to the OTLP endpoint).
func NewProvider(ctx context.Context, opts ...ProviderOption) (*Provider, error) {
	o, err := newProviderOptions(opts)
	if err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	reg := prometheus.NewRegistry()
	if err := errors.Join(
		reg.Register(collectors.NewGoCollector()),
		reg.Register(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})),
	); err != nil {
		return nil, fmt.Errorf("metrics: runtime collectors: %w", err)
	}
	prom, err := otelprom.New(otelprom.WithRegisterer(reg), otelprom.WithoutScopeInfo(),
		otelprom.WithTranslationStrategy(otlptranslator.UnderscoreEscapingWithSuffixes))
	if err != nil {
		return nil, fmt.Errorf("metrics: prometheus exporter: %w", err)
	}
	res := resource.NewSchemaless(append([]attribute.KeyValue{attribute.String("service.name", DefaultServiceName)}, o.resource...)...)
	mpOpts := []sdkmetric.Option{sdkmetric.WithResource(res), sdkmetric.WithReader(prom)}
	if o.otlpEndpoint != "" {
		push, err := newOTLPReader(ctx, o.otlpEndpoint, o.otlpInterval, o.logger)
		if err != nil {
			return nil, fmt.Errorf("metrics: %w", err)
		}
		mpOpts = append(mpOpts, sdkmetric.WithReader(push))
	}
	return &Provider{
		mp:      sdkmetric.NewMeterProvider(mpOpts...),
		handler: promhttp.HandlerFor(append(prometheus.Gatherers{reg}, o.gatherers...), promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError}),
	}, nil
}

// Meter returns the meter for lakestream's instruments.
func (p *Provider) Meter() metric.Meter { return p.mp.Meter(ScopeName) }

// Handler serves the metrics in the Prometheus text format (for /metrics).
func (p *Provider) Handler() http.Handler { return p.handler }

// Shutdown pushes a last time to the OTLP endpoint, if any, and stops the
// exporters. ctx bounds the push.
func (p *Provider) Shutdown(ctx context.Context) error { return p.mp.Shutdown(ctx) }
