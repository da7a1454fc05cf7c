package main

import (
	"strings"
	"testing"
	"time"

	"github.com/lakestream/lakestream/bucketing"
)

// TestConfigSectionDefaults: lateness, hot bucket and metrics settings
// default to the packages' defaults.
func TestConfigSectionDefaults(t *testing.T) {
	cfg, err := loadConfig(writeConfig(t, minimalConfig))
	if err != nil {
		t.Fatal(err)
	}
	cfg.finish()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	if l := cfg.Checkpoint.Lateness; l != (LatenessConfig{Allowed: Duration(10 * time.Minute), BeyondMax: "write", Buffer: 32 << 20}) {
		t.Errorf("lateness defaults %+v", l)
	}
	if m := cfg.Metrics; m != (MetricsConfig{OTLPInterval: Duration(time.Minute)}) {
		t.Errorf("metrics defaults %+v", m)
	}
	r, err := bucketing.NewRouter(cfg.Writer.Workers, cfg.Writer.MaxParallelism, cfg.Writer.routerOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	if hs := r.HotSplit(); !hs.Enabled || hs.Spread != 2 || hs.HotShare != 0.5 || hs.Window != bucketing.DefaultHotWindow {
		t.Errorf("hot split defaults with 2 workers: %+v", hs)
	}
}

// TestConfigSectionsParse: the YAML reaches the router and the options.
func TestConfigSectionsParse(t *testing.T) {
	cfg, err := loadConfig(writeConfig(t, minimalConfig+`writer:
  workers: 4
  hot_bucket: {share: 0.25, spread: 3, window: 400}
checkpoint:
  lateness: {allowed: 5m, max: 2h, beyond_max: dead-letter, buffer: 8MiB}
metrics:
  otlp_endpoint: http://127.0.0.1:4318
  otlp_interval: 15s
`))
	if err != nil {
		t.Fatal(err)
	}
	cfg.finish()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	r, err := bucketing.NewRouter(cfg.Writer.Workers, cfg.Writer.MaxParallelism, cfg.Writer.routerOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	if hs := r.HotSplit(); hs.HotShare != 0.25 || hs.Spread != 3 || hs.Window != 400 {
		t.Errorf("hot split %+v, want share 0.25, spread 3, window 400", hs)
	}
	want := LatenessConfig{Allowed: Duration(5 * time.Minute), Max: Duration(2 * time.Hour), BeyondMax: "dead-letter", Buffer: 8 << 20}
	if cfg.Checkpoint.Lateness != want {
		t.Errorf("lateness %+v, want %+v", cfg.Checkpoint.Lateness, want)
	}
	if cfg.Metrics.OTLPEndpoint != "http://127.0.0.1:4318" || time.Duration(cfg.Metrics.OTLPInterval) != 15*time.Second {
		t.Errorf("metrics %+v", cfg.Metrics)
	}
	// spread 1 turns the split off.
	cfg.Writer.HotBucket = HotBucketConfig{Spread: 1}
	r, err = bucketing.NewRouter(cfg.Writer.Workers, cfg.Writer.MaxParallelism, cfg.Writer.routerOptions()...)
	if err != nil || r.HotSplit().Enabled {
		t.Errorf("spread 1: %v, %+v; want the split off", err, r.HotSplit())
	}
}

// TestConfigSectionsReportEveryProblem: one error names every bad setting
// of the new sections, with its YAML path, and never shows credentials.
func TestConfigSectionsReportEveryProblem(t *testing.T) {
	cfg, err := loadConfig(writeConfig(t, minimalConfig+`writer:
  workers: 4
  max_parallelism: 130
  hot_bucket: {share: 1.5, spread: 9, window: -1}
checkpoint:
  lateness: {allowed: 1h, max: 10m, beyond_max: drop, buffer: 10B}
metrics:
  otlp_endpoint: http://user:hunter2@collector:4318
  otlp_interval: 0s
`))
	if err != nil {
		t.Fatal(err)
	}
	cfg.finish()
	err = cfg.Validate()
	if err == nil {
		t.Fatal("invalid configuration accepted")
	}
	for _, w := range []string{"writer.max_parallelism: max parallelism 130 is not a multiple", "writer.hot_bucket: hot spread 9",
		"writer.hot_bucket: hot share 1.5", "checkpoint.lateness: max lateness 10m0s is below the allowed lateness 1h0m0s", `checkpoint.lateness.beyond_max "drop"`,
		"checkpoint.lateness: late buffer 10 bytes: want at least 1 KiB", "metrics: otlp endpoint", "OTEL_EXPORTER_OTLP_HEADERS", "metrics: otlp interval 0s"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error does not mention %q:\n%v", w, err)
		}
	}
	if strings.Contains(err.Error(), "hunter2") {
		t.Errorf("error shows the password:\n%v", err)
	}
	cfg.Checkpoint.Lateness = LatenessConfig{Allowed: Duration(-time.Second), BeyondMax: "write", Buffer: 1 << 20}
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "checkpoint.lateness: allowed lateness -1s, max lateness 0s: must not be negative") {
		t.Errorf("negative lateness: %v", err)
	}
}

func TestOTLPEndpointOverride(t *testing.T) {
	cfg := defaultConfig()
	env := map[string]string{"LAKESTREAM_OTLP_ENDPOINT": "https://otel.example:4318/v1/metrics"}
	if err := cfg.applyEnv(func(k string) string { return env[k] }); err != nil {
		t.Fatal(err)
	}
	if cfg.Metrics.OTLPEndpoint != env["LAKESTREAM_OTLP_ENDPOINT"] {
		t.Fatalf("otlp endpoint %q", cfg.Metrics.OTLPEndpoint)
	}
}

// TestConfigCheckpointRules: the rules of the coordinator's options are
// checkpoint's (checkpoint.ValidateOptionsForWorkers), reported at once,
// each naming its setting and value, each once.
func TestConfigCheckpointRules(t *testing.T) {
	cfg, err := loadConfig(writeConfig(t, minimalConfig+`checkpoint:
  interval: -1s
  keep_instants: 0
writer:
  workers: 2
  memory_budget: 512KiB
partitioning:
  max_past: -1h
`))
	if err != nil {
		t.Fatal(err)
	}
	cfg.finish()
	err = cfg.Validate()
	if err == nil {
		t.Fatal("invalid configuration accepted")
	}
	for _, w := range []string{"checkpoint.interval -1s: must be positive", "checkpoint.keep_instants 0: want keep >= 1",
		"writer.memory_budget 512KiB: want 0 (off) or at least 1 MiB",
		"writer.memory_budget 512KiB: at least 2MiB with 2 workers (1MiB per worker), or 0 to turn it off",
		"partitioning.max_past and max_future must not be negative"} {
		if n := strings.Count(err.Error(), w); n != 1 {
			t.Errorf("error mentions %q %d times, want once:\n%v", w, n, err)
		}
	}
	if strings.Contains(err.Error(), "checkpoint: ") {
		t.Errorf("a problem without its setting:\n%v", err)
	}
}

// TestConfigIngestAndWriterRules: the rules of the writer's options and of
// ingest's settings are theirs (ingest.Options.ValidateSettings,
// writer.ValidateOptions), reported at once, each naming its setting and
// value, each once; a setting out of its bounds (README "Limits") is not
// reported again by the package's rule.
func TestConfigIngestAndWriterRules(t *testing.T) {
	cfg, err := loadConfig(writeConfig(t, minimalConfig+`writer:
  workers: 4
  memory_budget: 2MiB
  max_file_age: -1s
  max_open_files: 0
  upload_concurrency: 300
  target_file_size: 0
  compression: lz5
  spool_dir: /nonexistent/spool
dlq:
  topic: orders
`))
	if err != nil {
		t.Fatal(err)
	}
	cfg.finish()
	cfg.Format.Type, cfg.Format.MaxRecordBytes = "xml", 200<<20
	err = cfg.Validate()
	if err == nil {
		t.Fatal("invalid configuration accepted")
	}
	for _, w := range []string{
		"writer.memory_budget 2MiB: at least 4MiB with 4 workers (1MiB per worker), or 0 to turn it off",
		"writer.max_file_age -1s: must be positive",
		"writer.max_open_files 0: must be at least 1",
		"writer.upload_concurrency 300: must be between 1 and 256",
		"writer.target_file_size 0B: must be at least 1MiB",
		`writer.compression "lz5": want zstd, zstd-fast, snappy, gzip or none`,
		"writer.spool_dir: stat /nonexistent/spool: no such file",
		`dlq.topic "orders": must not be kafka.topic (dead letters would be read again)`,
		`format.type "xml": want json or avro`,
		"format.max_record_bytes 200MiB: at most 100MiB",
	} {
		if n := strings.Count(err.Error(), w); n != 1 {
			t.Errorf("error mentions %q %d times, want once:\n%v", w, n, err)
		}
	}
	if n := strings.Count(err.Error(), "writer.target_file_size"); n != 1 {
		t.Errorf("writer.target_file_size reported %d times, want once (its bound):\n%v", n, err)
	}
	if strings.Contains(err.Error(), "ingest: ") {
		t.Errorf("a problem without its setting:\n%v", err)
	}
}
