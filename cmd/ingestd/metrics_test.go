package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lakestream/lakestream/internal/metrics/metricstest"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// syncBuffer is a log sink the test reads while ingest writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// adminClient reads the admin endpoint without keeping connections.
var adminClient = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 10 * time.Second}

func getAdmin(addr, path string) ([]byte, error) {
	resp, err := adminClient.Get("http://" + addr + path)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	if _, err := b.ReadFrom(resp.Body); err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: %s", path, resp.Status)
	}
	return b.Bytes(), nil
}

func scrapeAdmin(addr string) (metricstest.Families, error) {
	body, err := getAdmin(addr, "/metrics")
	if err != nil {
		return nil, err
	}
	return metricstest.Parse(bytes.NewReader(body))
}

// TestAdminMetricsEndToEnd runs the pipeline against an in-process Kafka
// (kfake) into a filesystem table and reads /metrics and /status: every
// partition's records, lag and event time, the watermark, the workers, the
// hot bucket (writer.hot_bucket.window makes the one busy hour hot), the
// dead letters by reason and the late records (checkpoint.lateness sends
// one record to the dead-letter topic as too late and writes another).
func TestAdminMetricsEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the pipeline against kfake")
	}
	const topic = "clicks"
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, topic, topic+".dlq"))
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
writer:
  workers: 2
  hot_bucket: {window: 200}
checkpoint:
  interval: 300ms
  writer_id: metrics-test
  state_dir: %s
  lateness: {allowed: 1m, max: 1h, beyond_max: dead-letter, buffer: 64KiB}
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

	// 300 good records in one hour, event times rising in each partition,
	// and one that is not JSON.
	base := time.Now().UTC().Truncate(time.Hour).Add(-3 * time.Hour)
	var recs []*kgo.Record
	count := map[int32]int{}
	maxTime := map[int32]time.Time{}
	recs = append(recs, &kgo.Record{Topic: topic, Partition: 1, Value: []byte("not json"), Timestamp: base})
	for i := range 300 {
		p := int32(0)
		if i%7 < 3 {
			p = 1
		}
		ts := base.Add(time.Duration(i) * 100 * time.Millisecond)
		recs = append(recs, &kgo.Record{Topic: topic, Partition: p, Value: fmt.Appendf(nil, `{"id": %d}`, i), Timestamp: ts})
		count[p]++
		maxTime[p] = ts
	}
	count[1]++ // the bad record
	produce(t, cluster.ListenAddrs(), recs)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	logs := &syncBuffer{}
	logger := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	done := make(chan error, 1)
	go func() { done <- ingest(ctx, nil, cfg, logger) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("ingest: %v", err)
		}
		if t.Failed() {
			t.Logf("ingestd log:\n%s", logs.String())
		}
	}()

	labels := func(kv ...string) map[string]string {
		m := map[string]string{"topic": topic}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	// waitFor scrapes until every condition holds.
	waitFor := func(what string, conds map[string]func(f metricstest.Families) bool) metricstest.Families {
		t.Helper()
		deadline := time.Now().Add(90 * time.Second)
		for {
			f, err := scrapeAdmin(admin)
			var failing []string
			if err != nil {
				failing = append(failing, err.Error())
			} else {
				for name, ok := range conds {
					if !ok(f) {
						failing = append(failing, name)
					}
				}
			}
			if len(failing) == 0 {
				return f
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: still not %v", what, failing)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	is := func(name string, l map[string]string, want float64) func(metricstest.Families) bool {
		return func(f metricstest.Families) bool { v, err := f.Value(name, l); return err == nil && v == want }
	}

	waitFor("first wave consumed", map[string]func(metricstest.Families) bool{
		"records polled 301": is("lakestream_records_polled_total", labels(), 301),
		"lag 0 on 0":         is("lakestream_partition_lag", labels("partition", "0"), 0),
		"lag 0 on 1":         is("lakestream_partition_lag", labels("partition", "1"), 0),
	})
	// Two late records in partition 0, behind the watermark: one within
	// the maximum lateness (written, batched), one beyond it (too late).
	produce(t, cluster.ListenAddrs(), []*kgo.Record{
		{Topic: topic, Partition: 0, Value: []byte(`{"id": 1000}`), Timestamp: base.Add(-30 * time.Minute)},
		{Topic: topic, Partition: 0, Value: []byte(`{"id": 1001}`), Timestamp: base.Add(-2 * time.Hour)},
	})
	count[0] += 2
	f := waitFor("late records handled and committed", map[string]func(metricstest.Families) bool{
		"records polled 303": is("lakestream_records_polled_total", labels(), 303),
		"rows committed 301": is("lakestream_rows_committed_total", labels(), 301),
		"late records 1":     is("lakestream_late_records_total", labels(), 1),
	})

	for _, c := range []struct {
		name   string
		labels map[string]string
		typ    string
		want   float64
	}{
		{"lakestream_partition_records_total", labels("partition", "0"), "COUNTER", float64(count[0])},
		{"lakestream_partition_records_total", labels("partition", "1"), "COUNTER", float64(count[1])},
		{"lakestream_partition_lag", labels("partition", "0"), "GAUGE", 0},
		{"lakestream_partition_paused", labels("partition", "1"), "GAUGE", 0},
		{"lakestream_partition_paused_reason", labels("partition", "1", "reason", "event-time-skew"), "GAUGE", 0},
		{"lakestream_partition_event_time_seconds", labels("partition", "0"), "GAUGE", unixSeconds(maxTime[0])},
		{"lakestream_partition_event_time_seconds", labels("partition", "1"), "GAUGE", unixSeconds(maxTime[1])},
		{"lakestream_watermark_seconds", labels(), "GAUGE", unixSeconds(minTime(maxTime[0], maxTime[1]))},
		{"lakestream_dead_letters_total", labels("reason", "invalid-json"), "COUNTER", 1},
		{"lakestream_dead_letters_total", labels("reason", "too_late"), "COUNTER", 1},
		{"lakestream_rows_written_total", labels(), "COUNTER", 301}, // 300 on time, 1 late
		{"lakestream_hot_buckets", labels(), "GAUGE", 1},
		{"lakestream_late_buffered", labels(), "GAUGE", 0},
	} {
		got, err := f.Value(c.name, c.labels)
		if err != nil {
			t.Error(err)
			continue
		}
		if math.Abs(got-c.want) > 1e-6 || f.Type(c.name) != c.typ {
			t.Errorf("%s%v = %v (%s), want %v (%s)", c.name, c.labels, got, f.Type(c.name), c.want, c.typ)
		}
	}
	for _, name := range []string{"lakestream_partition_bytes_total"} {
		for p := range 2 {
			v, err := f.Value(name, labels("partition", fmt.Sprint(p)))
			if err != nil || v < float64(count[int32(p)])*8 {
				t.Errorf("%s{partition=%d} = %v, %v: want at least 8 bytes per record", name, p, v, err)
			}
		}
	}
	for _, name := range []string{"lakestream_checkpoints_total", "lakestream_files_committed_total", "lakestream_late_batches_total", "lakestream_bytes_polled_total"} {
		if v, err := f.Value(name, labels()); err != nil || v < 1 {
			t.Errorf("%s = %v, %v: want at least 1", name, v, err)
		}
	}
	for w := range 2 {
		if _, err := f.Value("lakestream_worker_open_files", labels("worker", fmt.Sprint(w))); err != nil {
			t.Error(err)
		}
		if _, err := f.Value("lakestream_worker_buffered_bytes", labels("worker", fmt.Sprint(w))); err != nil {
			t.Error(err)
		}
	}
	if v, err := f.Value("target_info", map[string]string{"service_name": "ingestd", "service_instance_id": "metrics-test"}); err != nil || v != 1 {
		t.Errorf("target_info: %v, %v", v, err)
	}

	body, err := getAdmin(admin, "/status")
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		Workers     []string `json:"workers"`
		WorkerStats []struct {
			Worker    int
			OpenFiles int
			State     string
		} `json:"workerStats"`
		HotBuckets []struct {
			Bucket string
			Share  float64
			Spread int
		} `json:"hotBuckets"`
		LateRecords int64     `json:"lateRecords"`
		Watermark   time.Time `json:"watermark"`
	}
	if err := json.Unmarshal(body, &st); err != nil {
		t.Fatalf("/status: %v\n%s", err, body)
	}
	wantBucket := base.Format("dt=2006-01-02/hr=15")
	if len(st.Workers) != 2 || len(st.WorkerStats) != 2 || st.WorkerStats[1].Worker != 1 || st.WorkerStats[0].State == "" ||
		len(st.HotBuckets) != 1 || st.HotBuckets[0].Bucket != wantBucket || st.HotBuckets[0].Spread != 2 || st.HotBuckets[0].Share <= 0.5 ||
		st.LateRecords != 1 || !st.Watermark.Equal(minTime(maxTime[0], maxTime[1])) {
		t.Errorf("/status: %+v, want 2 workers with stats, hot bucket %s spread over 2, 1 late record, watermark %v\n%s",
			st, wantBucket, minTime(maxTime[0], maxTime[1]), body)
	}
	if strings.Contains(logs.String(), `"level":"ERROR"`) {
		t.Errorf("errors logged:\n%s", logs.String())
	}
}

func produce(t *testing.T, brokers []string, recs []*kgo.Record) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ProducerLinger(0), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

func unixSeconds(t time.Time) float64 { return float64(t.UnixMicro()) / 1e6 }

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
