package main

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/lakestream/lakestream/internal/metrics/metricstest"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// sumSeries adds up every series of name whose labels include labels
// (counters and gauges; a histogram's sample count), and counts them.
func sumSeries(f metricstest.Families, name string, labels map[string]string) (sum float64, n int) {
	for _, m := range f[name].GetMetric() {
		have := map[string]string{}
		for _, lp := range m.GetLabel() {
			have[lp.GetName()] = lp.GetValue()
		}
		match := true
		for k, v := range labels {
			if have[k] != v {
				match = false
			}
		}
		if !match {
			continue
		}
		n++
		switch {
		case m.Counter != nil:
			sum += m.GetCounter().GetValue()
		case m.Gauge != nil:
			sum += m.GetGauge().GetValue()
		case m.Histogram != nil:
			sum += float64(m.GetHistogram().GetSampleCount())
		}
	}
	return sum, n
}

// TestKafkaClientMetrics runs the pipeline against kfake with one record
// that is not JSON (so the dead-letter producer writes to the broker too)
// and checks that /metrics serves franz-go's client metrics for both
// clients, told apart by the client label, with nonzero values: bytes read
// and written, connections, fetched and produced bytes by topic, and the
// request latency histogram by broker.
func TestKafkaClientMetrics(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the pipeline against kfake")
	}
	const topic = "kclients"
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, topic, topic+".dlq"))
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	admin := freeAddr(t)
	cfgPath := writeConfig(t, fmt.Sprintf(`kafka:
  topic: %s
  brokers: [%s]
table:
  url: file://%s
format:
  schema:
    - {name: id, type: int64, optional: false}
checkpoint:
  interval: 300ms
  writer_id: kafka-metrics-test
  state_dir: %s
admin:
  addr: %s
`, topic, cluster.ListenAddrs()[0], t.TempDir(), t.TempDir(), admin))
	cfg, err := loadConfig(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	cfg.finish()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	base := time.Now().UTC().Truncate(time.Hour)
	recs := []*kgo.Record{{Topic: topic, Value: []byte("not json"), Timestamp: base}}
	for i := range 20 {
		recs = append(recs, &kgo.Record{Topic: topic, Value: fmt.Appendf(nil, `{"id": %d}`, i), Timestamp: base})
	}
	produce(t, cluster.ListenAddrs(), recs)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	logs := &syncBuffer{}
	logger := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	done := make(chan error, 1)
	go func() { done <- ingestWith(ctx, nil, cfg, logger, nil) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("ingest: %v", err)
		}
		if t.Failed() {
			t.Logf("ingestd log:\n%s", logs.String())
		}
	}()

	type want struct {
		name   string
		labels map[string]string
	}
	var wants []want
	for _, client := range []string{"consumer", "dead_letter"} {
		for _, name := range []string{"lakestream_kafka_read_bytes_total", "lakestream_kafka_write_bytes_total",
			"lakestream_kafka_connects_total", "lakestream_kafka_request_duration_e2e_seconds"} {
			wants = append(wants, want{name, map[string]string{"client": client, "topic": topic}})
		}
	}
	wants = append(wants,
		want{"lakestream_kafka_fetch_bytes_total", map[string]string{"client": "consumer", "topic": topic}},
		want{"lakestream_kafka_produce_bytes_total", map[string]string{"client": "dead_letter", "topic": topic}})
	missing := func(f metricstest.Families) []string {
		var out []string
		// The pipeline's own metrics are still served beside them.
		if v, err := f.Value("lakestream_records_polled_total", map[string]string{"topic": topic}); err != nil || v != float64(len(recs)) {
			out = append(out, fmt.Sprintf("lakestream_records_polled_total = %v, %v; want %d", v, err, len(recs)))
		}
		for _, w := range wants {
			if v, _ := sumSeries(f, w.name, w.labels); v <= 0 {
				out = append(out, fmt.Sprintf("%s%v = %v", w.name, w.labels, v))
			}
		}
		return out
	}
	var (
		f    metricstest.Families
		miss []string
	)
	for deadline := time.Now().Add(30 * time.Second); ; {
		f, err = scrapeAdmin(admin)
		if err == nil {
			if miss = missing(f); len(miss) == 0 {
				break
			}
		}
		if time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range miss {
		t.Errorf("after 30s: %s", m)
	}
	// The broker label: every read_bytes series names a broker.
	if _, n := sumSeries(f, "lakestream_kafka_read_bytes_total", map[string]string{"client": "consumer", "node_id": "0"}); n != 1 {
		t.Errorf("lakestream_kafka_read_bytes_total{client=consumer,node_id=0}: %d series, want 1", n)
	}
}
