package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func writeConfig(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "table.yaml")
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

const minimalConfig = `kafka:
  topic: orders
table:
  url: file:///tmp/orders
format:
  schema:
    - {name: id, type: int64, optional: false}
`

func TestConfigDefaults(t *testing.T) {
	cfg, err := loadConfig(writeConfig(t, minimalConfig))
	if err != nil {
		t.Fatal(err)
	}
	cfg.finish()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	for name, got := range map[string]any{
		"group": cfg.Kafka.Group, "table name": cfg.Table.Name, "dlq": cfg.DLQ.Topic,
		"interval": time.Duration(cfg.Checkpoint.Interval), "admin": cfg.Admin.Addr, "workers": cfg.Writer.Workers,
		"brokers": strings.Join(cfg.Kafka.Brokers, ","), "format": cfg.Format.Type,
	} {
		want := map[string]any{"group": "lakestream-orders", "table name": "orders", "dlq": "orders.dlq",
			"interval": 30 * time.Second, "admin": "127.0.0.1:9464", "workers": 2, "brokers": "localhost:9092", "format": "json"}[name]
		if got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
}

func TestConfigReportsEveryProblem(t *testing.T) {
	cfg, err := loadConfig(writeConfig(t, `kafka:
  topic: "bad topic"
  start: middle
format:
  type: xml
  schema:
    - {name: id, type: int65}
partitioning:
  template: "dt={eventTime}"
writer:
  workers: 3
  max_parallelism: 128
checkpoint:
  interval: -1s
`))
	if err != nil {
		t.Fatal(err)
	}
	cfg.finish()
	err = cfg.Validate()
	if err == nil {
		t.Fatal("invalid configuration accepted")
	}
	for _, want := range []string{"kafka.topic", "kafka.start", "table.url is required", "format.type", "format.schema", "int65",
		"partitioning.template", "not a multiple", "checkpoint.interval"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %q:\n%v", want, err)
		}
	}
}

func TestConfigUnknownKeyAndBadValues(t *testing.T) {
	for text, want := range map[string]string{
		minimalConfig + "frobnicate: true\n":                                                  "field frobnicate not found",
		minimalConfig + "checkpoint:\n  interval: soon\n":                                     "not a duration",
		minimalConfig + "writer:\n  target_file_size: lots\n":                                 "not a size",
		minimalConfig + "writer:\n  target_file_size: 64MiB\n":                                "",
		strings.Replace(minimalConfig, "format:\n", "format:\n  max_record_bytes: 2 MB\n", 1): "",
		"kafka: [not, a, map]\n":                                                              "cannot unmarshal",
	} {
		_, err := loadConfig(writeConfig(t, text))
		if want == "" && err != nil {
			t.Errorf("%q: %v", text, err)
		}
		if want != "" && (err == nil || !strings.Contains(err.Error(), want)) {
			t.Errorf("%q: error %v, want one mentioning %q", text, err, want)
		}
	}
}

// TestOverridePrecedence: defaults < YAML < environment < flags.
func TestOverridePrecedence(t *testing.T) {
	cfg, err := loadConfig(writeConfig(t, minimalConfig+"checkpoint:\n  interval: 10s\n  writer_id: from-yaml\n"))
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"LAKESTREAM_WRITER_ID": "from-env", "LAKESTREAM_CHECKPOINT_INTERVAL": "5s", "LAKESTREAM_BROKERS": "a:1,b:2", "LAKESTREAM_STATE_DIR": "/var/lib/lakestream/r1"}
	if err := cfg.applyEnv(func(k string) string { return env[k] }); err != nil {
		t.Fatal(err)
	}
	if cfg.Checkpoint.WriterID != "from-env" || time.Duration(cfg.Checkpoint.Interval) != 5*time.Second || len(cfg.Kafka.Brokers) != 2 || cfg.Checkpoint.StateDir != "/var/lib/lakestream/r1" {
		t.Fatalf("environment did not override the file: %+v", cfg.Checkpoint)
	}
	bad := map[string]string{"LAKESTREAM_CHECKPOINT_INTERVAL": "often", "LAKESTREAM_WORKERS": "many"}
	if err := cfg.applyEnv(func(k string) string { return bad[k] }); err == nil || !strings.Contains(err.Error(), "LAKESTREAM_CHECKPOINT_INTERVAL") || !strings.Contains(err.Error(), "LAKESTREAM_WORKERS") {
		t.Fatalf("bad environment values: %v", err)
	}
}

// TestRunRejectsInvalidConfiguration runs `ingestd run` with flags over a
// file and checks it exits 2 listing the problems, without touching Kafka.
func TestRunRejectsInvalidConfiguration(t *testing.T) {
	var out, errOut bytes.Buffer
	code := run(context.Background(), []string{"run", "--config", writeConfig(t, minimalConfig), "--workers", "0", "--table", ""}, &out, &errOut)
	if code != 2 || !strings.Contains(errOut.String(), "writer.workers 0") {
		t.Fatalf("exit %d, stderr:\n%s", code, errOut.String())
	}
	code = run(context.Background(), []string{"run", "--config", filepath.Join(t.TempDir(), "missing.yaml")}, &out, &errOut)
	if code != 2 {
		t.Fatalf("missing config file: exit %d", code)
	}
}
