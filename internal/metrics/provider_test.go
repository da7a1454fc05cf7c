package metrics_test

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lakestream/lakestream/internal/metrics"
	"github.com/lakestream/lakestream/internal/metrics/metricstest"
	"go.opentelemetry.io/otel/attribute"
	colmetrics "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	"google.golang.org/protobuf/proto"
)

func newFedProvider(t *testing.T, f *fake, opts ...metrics.ProviderOption) *metrics.Provider {
	t.Helper()
	p, err := metrics.NewProvider(t.Context(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	pl, err := metrics.New(p.Meter(), f.sources())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pl.Close() })
	return p
}

func scrape(t *testing.T, h http.Handler) metricstest.Families {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != http.StatusOK || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/plain") {
		t.Fatalf("/metrics: %d %s", rec.Code, rec.Header().Get("Content-Type"))
	}
	fams, err := metricstest.Parse(rec.Body)
	if err != nil {
		t.Fatal(err)
	}
	return fams
}

// TestPrometheusHandler: the handler serves the fed values under the
// Prometheus names, with their types and labels, plus the Go runtime's
// and the resource (target_info).
func TestPrometheusHandler(t *testing.T) {
	f := &fake{
		parts: []metrics.PartitionStat{{Partition: 2, Lag: 42, Records: 17, Bytes: 1700}, {Partition: 5, Lag: 8}},
		wm:    1_700_000_000_000_000, wmOK: true,
		workers: []metrics.WorkerStat{{Worker: 1, OpenFiles: 4, BufferedBytes: 123}},
		pipe:    metrics.PipelineStats{Records: 25, DeadLetters: map[string]int64{"decode": 3}, LastDuration: 250 * time.Millisecond},
	}
	p := newFedProvider(t, f, metrics.WithResourceAttributes(attribute.String("service.instance.id", "replica-1")))
	defer p.Shutdown(t.Context())
	fams := scrape(t, p.Handler())
	for _, c := range []struct {
		name   string
		labels map[string]string
		typ    string
		want   float64
	}{
		{"lakestream_partition_lag", map[string]string{"partition": "2"}, "GAUGE", 42},
		{"lakestream_partition_lag", map[string]string{"partition": "5"}, "GAUGE", 8},
		{"lakestream_partition_records_total", map[string]string{"partition": "2"}, "COUNTER", 17},
		{"lakestream_partition_bytes_total", map[string]string{"partition": "2"}, "COUNTER", 1700},
		{"lakestream_watermark_seconds", nil, "GAUGE", 1_700_000_000},
		{"lakestream_worker_open_files", map[string]string{"worker": "1"}, "GAUGE", 4},
		{"lakestream_worker_buffered_bytes", map[string]string{"worker": "1"}, "GAUGE", 123},
		{"lakestream_records_polled_total", nil, "COUNTER", 25},
		{"lakestream_dead_letters_total", map[string]string{"reason": "decode"}, "COUNTER", 3},
		{"lakestream_checkpoint_last_duration_seconds", nil, "GAUGE", 0.25},
		{"target_info", map[string]string{"service_name": "lakestream", "service_instance_id": "replica-1"}, "GAUGE", 1},
	} {
		got, err := fams.Value(c.name, c.labels)
		if err != nil {
			t.Error(err)
			continue
		}
		if got != c.want || fams.Type(c.name) != c.typ {
			t.Errorf("%s%v = %v (%s), want %v (%s)", c.name, c.labels, got, fams.Type(c.name), c.want, c.typ)
		}
	}
	if fams.Type("go_goroutines") == "" {
		t.Error("no Go runtime metrics")
	}
	// A new scrape reads the sources again.
	f.mu.Lock()
	f.parts[0].Lag = 0
	f.mu.Unlock()
	if got, err := scrape(t, p.Handler()).Value("lakestream_partition_lag", map[string]string{"partition": "2"}); err != nil || got != 0 {
		t.Errorf("lag after catching up: %v, %v; want 0", got, err)
	}
}

// collector is an OTLP/HTTP metrics receiver.
type collector struct {
	mu       sync.Mutex
	status   int
	paths    []string
	requests []*colmetrics.ExportMetricsServiceRequest
}

func (c *collector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	req := &colmetrics.ExportMetricsServiceRequest{}
	if err == nil && r.Header.Get("Content-Type") == "application/x-protobuf" {
		err = proto.Unmarshal(body, req)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.paths = append(c.paths, r.Method+" "+r.URL.Path)
	if err == nil {
		c.requests = append(c.requests, req)
	}
	if c.status != 0 {
		w.WriteHeader(c.status)
		return
	}
	resp, _ := proto.Marshal(&colmetrics.ExportMetricsServiceResponse{})
	w.Header().Set("Content-Type", "application/x-protobuf")
	w.Write(resp)
}

// gaugeValue finds name's data point with attribute key=value in the
// pushed requests (the last one wins).
func (c *collector) gaugeValue(name, key string, value int64) (int64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var v int64
	found := false
	for _, req := range c.requests {
		for _, rm := range req.GetResourceMetrics() {
			for _, sm := range rm.GetScopeMetrics() {
				for _, m := range sm.GetMetrics() {
					if m.GetName() != name {
						continue
					}
					for _, dp := range m.GetGauge().GetDataPoints() {
						for _, kv := range dp.GetAttributes() {
							if kv.GetKey() == key && kv.GetValue().GetIntValue() == value {
								v, found = dp.GetAsInt(), true
							}
						}
					}
				}
			}
		}
	}
	return v, found
}

// TestOTLPPush: with an endpoint, Shutdown pushes the fed values to
// /v1/metrics over OTLP/HTTP protobuf.
func TestOTLPPush(t *testing.T) {
	col := &collector{}
	srv := httptest.NewServer(col)
	defer srv.Close()
	f := &fake{parts: []metrics.PartitionStat{{Partition: 7, Lag: 99}}}
	p := newFedProvider(t, f, metrics.WithOTLPEndpoint(srv.URL), metrics.WithOTLPInterval(time.Hour))
	if err := p.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	col.mu.Lock()
	paths := col.paths
	col.mu.Unlock()
	if len(paths) == 0 || paths[0] != "POST /v1/metrics" {
		t.Fatalf("requests %v, want POST /v1/metrics", paths)
	}
	if v, ok := col.gaugeValue(metrics.NamePartitionLag, metrics.AttrPartition, 7); !ok || v != 99 {
		t.Fatalf("pushed %s{partition=7} = %d (found %v), want 99", metrics.NamePartitionLag, v, ok)
	}
}

// TestOTLPPushFailureLogged: a rejected push is logged through the given
// logger (not OpenTelemetry's global handler) and does not fail Shutdown.
func TestOTLPPushFailureLogged(t *testing.T) {
	col := &collector{status: http.StatusBadRequest}
	srv := httptest.NewServer(col)
	defer srv.Close()
	var logs bytes.Buffer
	var mu sync.Mutex
	logger := slog.New(slog.NewJSONHandler(&lockedWriter{w: &logs, mu: &mu}, nil))
	p := newFedProvider(t, &fake{hot: 1}, metrics.WithOTLPEndpoint(srv.URL+"/custom/path"), metrics.WithLogger(logger))
	if err := p.Shutdown(t.Context()); err != nil {
		t.Fatalf("Shutdown after a failed push: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if !strings.Contains(logs.String(), "metrics push failed") || !strings.Contains(logs.String(), srv.URL+"/custom/path") {
		t.Fatalf("log does not report the failed push to %s:\n%s", srv.URL+"/custom/path", logs.String())
	}
	if col.paths[0] != "POST /custom/path" {
		t.Fatalf("pushed to %v, want the configured path", col.paths)
	}
}

type lockedWriter struct {
	w  io.Writer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// TestValidateProviderReportsEveryProblem: one error lists every invalid
// setting and never shows credentials.
func TestValidateProviderReportsEveryProblem(t *testing.T) {
	err := metrics.ValidateProvider(metrics.WithOTLPEndpoint("ftp://user:s3cret@/x?token=1"), metrics.WithOTLPInterval(0),
		metrics.WithLogger(nil), metrics.WithResourceAttributes(attribute.String("", "x")))
	if err == nil {
		t.Fatal("invalid settings accepted")
	}
	for _, w := range []string{"http or https", "no host", "OTEL_EXPORTER_OTLP_HEADERS", "no query", "otlp interval", "logger", "resource attribute"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error does not mention %q:\n%v", w, err)
		}
	}
	if strings.Contains(err.Error(), "s3cret") {
		t.Errorf("error shows the password: %v", err)
	}
	if _, err := metrics.NewProvider(t.Context(), metrics.WithOTLPInterval(-time.Second)); err == nil {
		t.Error("NewProvider accepted a negative interval")
	}
	if err := metrics.ValidateProvider(metrics.WithOTLPEndpoint("https://collector.example:4318")); err != nil {
		t.Errorf("valid endpoint rejected: %v", err)
	}
}

// TestOTLPEndpointErrorsAreRedacted: a refused endpoint is shown with its
// query values and user-info masked (internal/redact), never verbatim.
func TestOTLPEndpointErrorsAreRedacted(t *testing.T) {
	for _, endpoint := range []string{
		"http://collector:4318/v1/metrics?token=SuperSecretTok",
		"http://collector:4318/v1/metrics?a=1&token=SuperSecretTok#SuperSecretTok",
		"http://user:SuperSecretTok@collector:4318/v1/metrics",
		"http://collector:4318/%zz?token=SuperSecretTok", // not a URL
	} {
		err := metrics.ValidateProvider(metrics.WithOTLPEndpoint(endpoint))
		if err == nil {
			t.Errorf("%s accepted", endpoint)
			continue
		}
		if strings.Contains(err.Error(), "SuperSecretTok") {
			t.Errorf("error shows the secret: %v", err)
		}
		if !strings.Contains(err.Error(), "collector:4318") {
			t.Errorf("error does not name the endpoint: %v", err)
		}
	}
}
