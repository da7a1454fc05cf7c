package tracing

import (
	"context"
	"strings"
	"testing"
)

func TestValidateEndpoint(t *testing.T) {
	for _, tc := range []struct {
		endpoint string
		want     []string // substrings of the error; nil: valid
	}{
		{"", nil},
		{"http://localhost:4318", nil},
		{"https://collector.example:4318/custom/v1/traces", nil},
		{"ftp://collector:4318", []string{"want an http or https URL"}},
		{"http://", []string{"no host"}},
		{"http://alice:s3cret@collector:4318", []string{"credentials do not belong in the URL", "REDACTED@collector"}},
		{"http://collector:4318/?token=s3cret", []string{"no query or fragment", "token=REDACTED"}},
	} {
		err := Validate(WithOTLPEndpoint(tc.endpoint))
		if tc.want == nil {
			if err != nil {
				t.Errorf("%q: %v", tc.endpoint, err)
			}
			continue
		}
		if err == nil {
			t.Errorf("%q: no error", tc.endpoint)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%q: error %q does not contain %q", tc.endpoint, err, w)
			}
		}
		if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("%q: error %q shows the secret", tc.endpoint, err)
		}
	}
}

func TestOTLPURLAddsPath(t *testing.T) {
	got, err := otlpURL("http://localhost:4318")
	if err != nil || got != "http://localhost:4318/v1/traces" {
		t.Fatalf("otlpURL = %q, %v; want http://localhost:4318/v1/traces", got, err)
	}
}

func TestNewProviderOffByDefault(t *testing.T) {
	p, err := NewProvider(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if p.Enabled() {
		t.Fatal("a provider without an endpoint exports")
	}
	_, span := p.Tracer("t").Start(context.Background(), "s")
	if span.SpanContext().IsValid() || span.IsRecording() {
		t.Fatal("the no-op provider records spans")
	}
	span.End()
	if err := p.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	p, err = NewProvider(context.Background(), WithOTLPEndpoint("http://127.0.0.1:1"))
	if err != nil {
		t.Fatal(err)
	}
	if !p.Enabled() {
		t.Fatal("a provider with an endpoint does not export")
	}
	_, span = p.Tracer("t").Start(context.Background(), "s")
	if !span.IsRecording() {
		t.Fatal("the SDK provider does not record")
	}
	span.End()
	ctx, cancel := context.WithTimeout(context.Background(), 0)
	defer cancel()
	p.Shutdown(ctx) // the export fails (nothing listens): logged, not returned
}
