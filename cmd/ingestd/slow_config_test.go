package main

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/lakestream/lakestream/schemas"
)

// TestSlowOperationConfig: defaults 5s and 10s; negative values are
// refused with their setting's name; threshold 0 turns the log off.
func TestSlowOperationConfig(t *testing.T) {
	cfg := defaultConfig()
	if cfg.SlowOperation.Threshold != Duration(5*time.Second) || cfg.SlowOperation.Interval != Duration(10*time.Second) {
		t.Errorf("defaults %+v", cfg.SlowOperation)
	}
	cfg.Kafka.Topic, cfg.Table.URL = "t", "/tmp/t"
	cfg.Format.Schema = []schemas.FieldSpec{{Name: "id", Type: "int64"}}
	cfg.finish()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	if l, err := cfg.SlowOperation.logger(slog.Default()); err != nil || l == nil || !l.Slow(5*time.Second) || l.Slow(4*time.Second) {
		t.Errorf("default logger %v, %v", l, err)
	}
	cfg.SlowOperation = SlowOperationConfig{Threshold: Duration(-time.Second), Interval: Duration(-time.Second)}
	err := cfg.Validate()
	for _, want := range []string{"slow_operation.threshold -1s: must not be negative", "slow_operation.interval -1s: must not be negative"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v: want %q", err, want)
		}
	}
	cfg.SlowOperation = SlowOperationConfig{}
	if l, err := cfg.SlowOperation.logger(slog.Default()); err != nil || l != nil {
		t.Errorf("threshold 0: logger %v, %v; want none", l, err)
	}
	// From YAML.
	path := writeConfig(t, "kafka: {topic: t}\ntable: {url: /tmp/t}\nslow_operation:\n  threshold: 250ms\n  interval: 0s\n")
	c, err := loadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	if c.SlowOperation.Threshold != Duration(250*time.Millisecond) || c.SlowOperation.Interval != 0 {
		t.Errorf("from YAML: %+v", c.SlowOperation)
	}
}
