package metrics

import (
	"errors"
	"fmt"
	"github.com/lakestream/lakestream/internal/otlpurl"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/attribute"
)

// Defaults of NewProvider.
const (
	// DefaultOTLPInterval is how often metrics are pushed to the OTLP
	// endpoint.
	DefaultOTLPInterval = time.Minute
	// DefaultServiceName is the service.name resource attribute.
	DefaultServiceName = "lakestream"
	// otlpMetricsPath is the OTLP/HTTP metrics path, used when the
	// endpoint has none.
	otlpMetricsPath = "/v1/metrics"
)

// ProviderOption configures NewProvider. Every option has a default;
// NewProvider (and ValidateProvider) report every invalid setting at once.
type ProviderOption func(*providerOptions)

type providerOptions struct {
	otlpEndpoint string
	otlpInterval time.Duration
	resource     []attribute.KeyValue
	logger       *slog.Logger
	gatherers    []prometheus.Gatherer
}

func defaultProviderOptions() providerOptions {
	return providerOptions{
		otlpInterval: DefaultOTLPInterval,
		logger:       slog.New(slog.DiscardHandler),
	}
}

// WithOTLPEndpoint pushes metrics to an OTLP/HTTP (protobuf) endpoint, a
// URL such as http://localhost:4318 (the path defaults to /v1/metrics).
// Headers, such as credentials, come from the standard
// OTEL_EXPORTER_OTLP_HEADERS / OTEL_EXPORTER_OTLP_METRICS_HEADERS
// variables, never from the URL. Default "": no push.
func WithOTLPEndpoint(endpoint string) ProviderOption {
	return func(o *providerOptions) { o.otlpEndpoint = endpoint }
}

// WithOTLPInterval sets how often metrics are pushed to the OTLP endpoint.
// Default DefaultOTLPInterval (1m); must be positive.
func WithOTLPInterval(d time.Duration) ProviderOption {
	return func(o *providerOptions) { o.otlpInterval = d }
}

// WithResourceAttributes describes the process (OpenTelemetry resource),
// e.g. service.instance.id. Default: service.name = DefaultServiceName;
// a service.name given here replaces it.
func WithResourceAttributes(attrs ...attribute.KeyValue) ProviderOption {
	return func(o *providerOptions) { o.resource = append(o.resource, attrs...) }
}

// WithLogger sets the logger for export failures. Default: discard.
func WithLogger(l *slog.Logger) ProviderOption {
	return func(o *providerOptions) { o.logger = l }
}

// WithGatherers adds Prometheus registries whose metrics /metrics serves
// beside the provider's own (ingestd: the Kafka clients' metrics, see
// NewKafkaClientMetrics). They are not pushed to the OTLP endpoint.
// Default: none.
func WithGatherers(g ...prometheus.Gatherer) ProviderOption {
	return func(o *providerOptions) { o.gatherers = append(o.gatherers, g...) }
}

// ValidateProvider reports every problem with these options at once, or
// nil if NewProvider would accept them.
func ValidateProvider(opts ...ProviderOption) error {
	_, err := newProviderOptions(opts)
	return err
}

func newProviderOptions(opts []ProviderOption) (providerOptions, error) {
	o := defaultProviderOptions()
	for _, opt := range opts {
		opt(&o)
	}
	var errs []error
	if o.otlpEndpoint != "" {
		u, err := otlpURL(o.otlpEndpoint)
		if err != nil {
			errs = append(errs, err)
		} else {
			o.otlpEndpoint = u
		}
	}
	if o.otlpInterval <= 0 {
		errs = append(errs, fmt.Errorf("otlp interval %v: must be positive", o.otlpInterval))
	}
	for _, kv := range o.resource {
		if !kv.Valid() {
			errs = append(errs, fmt.Errorf("resource attribute %q: want a non-empty key and a value", kv.Key))
		}
	}
	if o.logger == nil {
		errs = append(errs, errors.New("logger must not be nil"))
	}
	for i, g := range o.gatherers {
		if g == nil {
			errs = append(errs, fmt.Errorf("gatherer %d is nil", i))
		}
	}
	return o, errors.Join(errs...)
}

// otlpURL checks an OTLP/HTTP endpoint and adds the default path
// (otlpurl.Parse).
func otlpURL(endpoint string) (string, error) { return otlpurl.Parse(endpoint, otlpMetricsPath) }
