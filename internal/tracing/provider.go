package tracing

import (
	"context"
	"errors"
	"fmt"
	"github.com/lakestream/lakestream/internal/otlpurl"
	"log/slog"

	"github.com/lakestream/lakestream/internal/redact"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// otlpTracesPath is the OTLP/HTTP traces path, used when the endpoint has
// none.
const otlpTracesPath = "/v1/traces"

// Option configures NewProvider.
type Option func(*options)

type options struct {
	endpoint string
	resource []attribute.KeyValue
	logger   *slog.Logger
}

// WithOTLPEndpoint exports spans to an OTLP/HTTP (protobuf) endpoint, a
// URL like http://localhost:4318 (path /v1/traces added when it has
// none). Credentials go in OTEL_EXPORTER_OTLP_HEADERS (or
// OTEL_EXPORTER_OTLP_TRACES_HEADERS), never in the URL: one with user
// information, a query or a fragment is refused. Default "": no export,
// and the provider is a no-op.
func WithOTLPEndpoint(endpoint string) Option { return func(o *options) { o.endpoint = endpoint } }

// WithResourceAttributes describe the process (service.name, ...) on
// every exported span. Default none.
func WithResourceAttributes(kv ...attribute.KeyValue) Option {
	return func(o *options) { o.resource = append(o.resource, kv...) }
}

// WithLogger receives the failed exports. Default: discard.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// Validate reports every problem of the options at once, the endpoint
// redacted.
func Validate(opts ...Option) error {
	_, err := newOptions(opts)
	return err
}

func newOptions(opts []Option) (options, error) {
	o := options{logger: slog.New(slog.DiscardHandler)}
	for _, opt := range opts {
		opt(&o)
	}
	var errs []error
	if o.endpoint != "" {
		u, err := otlpURL(o.endpoint)
		if err != nil {
			errs = append(errs, err)
		} else {
			o.endpoint = u
		}
	}
	for _, kv := range o.resource {
		if !kv.Valid() {
			errs = append(errs, fmt.Errorf("resource attribute %q: want a non-empty key and a value", kv.Key))
		}
	}
	if o.logger == nil {
		errs = append(errs, errors.New("logger must not be nil"))
	}
	return o, errors.Join(errs...)
}

// otlpURL checks an OTLP/HTTP endpoint and adds the default path
// (otlpurl.Parse).
func otlpURL(endpoint string) (string, error) { return otlpurl.Parse(endpoint, otlpTracesPath) }

// Provider is a TracerProvider with a Shutdown that exports the spans
// still buffered.
type Provider struct {
	trace.TracerProvider
	sdk *sdktrace.TracerProvider // nil: no-op
}

// Enabled says whether spans are exported.
func (p *Provider) Enabled() bool { return p.sdk != nil }

// Shutdown exports the buffered spans and stops the exporter (a no-op
// for a no-op provider). Idempotent.
func (p *Provider) Shutdown(ctx context.Context) error {
	if p.sdk == nil {
		return nil
	}
	return p.sdk.Shutdown(ctx)
}

// NewProvider returns a no-op provider without an endpoint, else an SDK
// provider that samples every span and exports them in batches to the
// endpoint.
func NewProvider(ctx context.Context, opts ...Option) (*Provider, error) {
	o, err := newOptions(opts)
	if err != nil {
		return nil, fmt.Errorf("tracing: %w", err)
	}
	if o.endpoint == "" {
		return &Provider{TracerProvider: noop.NewTracerProvider()}, nil
	}
	exp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(o.endpoint))
	if err != nil {
		return nil, fmt.Errorf("tracing: otlp endpoint %q: %w", redact.URL(o.endpoint), err)
	}
	shown := redact.URL(o.endpoint)
	res, err := resource.Merge(resource.Default(), resource.NewSchemaless(o.resource...))
	if err != nil {
		res = resource.NewSchemaless(o.resource...)
	}
	sdk := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(&loggedExporter{SpanExporter: exp, logger: o.logger, endpoint: shown}),
		sdktrace.WithResource(res))
	o.logger.Info("exporting traces over OTLP/HTTP", "endpoint", shown)
	return &Provider{TracerProvider: sdk, sdk: sdk}, nil
}

// loggedExporter logs failed exports and drops their spans: a collector
// that is down must not grow the process's memory. The endpoint holds no
// credentials (otlpURL refuses them), so the error may be logged as is.
type loggedExporter struct {
	sdktrace.SpanExporter
	logger   *slog.Logger
	endpoint string
}

func (e *loggedExporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	if err := e.SpanExporter.ExportSpans(ctx, spans); err != nil {
		e.logger.Warn("trace export failed", "endpoint", e.endpoint, "spans", len(spans), "err", err)
	}
	return nil
}
