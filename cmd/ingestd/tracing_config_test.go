package main

import (
	"strings"
	"testing"
)

// TestTracingConfig: tracing.otlp_endpoint is off by default, read from
// the file and from $LAKESTREAM_OTLP_TRACES_ENDPOINT, validated with the
// rest (every problem named, credentials never shown), and among the URLs
// the logger and the error messages redact.
func TestTracingConfig(t *testing.T) {
	if ep := defaultConfig().Tracing.OTLPEndpoint; ep != "" {
		t.Fatalf("tracing on by default: %q", ep)
	}
	cfg, err := loadConfig(writeConfig(t, minimalConfig+`tracing:
  otlp_endpoint: http://127.0.0.1:4318
`))
	if err != nil {
		t.Fatal(err)
	}
	cfg.finish()
	if err := cfg.Validate(); err != nil || cfg.Tracing.OTLPEndpoint != "http://127.0.0.1:4318" {
		t.Fatalf("endpoint %q, %v", cfg.Tracing.OTLPEndpoint, err)
	}

	cfg, err = loadConfig(writeConfig(t, minimalConfig+`tracing:
  otlp_endpoint: http://user:hunter2@collector:4318/?token=s3cret
metrics:
  otlp_interval: 0s
`))
	if err != nil {
		t.Fatal(err)
	}
	cfg.finish()
	err = cfg.Validate()
	if err == nil {
		t.Fatal("an endpoint with credentials accepted")
	}
	for _, w := range []string{"tracing: otlp endpoint", "OTEL_EXPORTER_OTLP_HEADERS", "no query or fragment", "metrics: otlp interval 0s"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error does not mention %q:\n%v", w, err)
		}
	}
	for _, secret := range []string{"hunter2", "s3cret"} {
		if strings.Contains(err.Error(), secret) {
			t.Errorf("error shows %s:\n%v", secret, err)
		}
	}
	found := false
	for _, u := range cfg.urls() {
		found = found || u == cfg.Tracing.OTLPEndpoint
	}
	if !found {
		t.Error("the tracing endpoint is not among the URLs the logger redacts")
	}

	cfg = defaultConfig()
	env := map[string]string{"LAKESTREAM_OTLP_TRACES_ENDPOINT": "https://otel.example:4318/v1/traces"}
	if err := cfg.applyEnv(func(k string) string { return env[k] }); err != nil {
		t.Fatal(err)
	}
	if cfg.Tracing.OTLPEndpoint != env["LAKESTREAM_OTLP_TRACES_ENDPOINT"] {
		t.Fatalf("otlp traces endpoint %q", cfg.Tracing.OTLPEndpoint)
	}
}
