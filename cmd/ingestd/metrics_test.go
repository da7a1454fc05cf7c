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
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lakestream/lakestream/internal/failpoint"
	"github.com/lakestream/lakestream/internal/metrics/metricstest"
	"github.com/lakestream/lakestream/internal/objstore"
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
	go func() { done <- ingestTable(ctx, nil, cfg, logger) }()
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
	// The group assigned the reader the topic's partitions; none moved.
	for event, want := range map[string]float64{"assigned": 2, "revoked": 0, "lost": 0} {
		if v, err := f.Value("lakestream_rebalance_partitions_total", labels("event", event)); err != nil || v != want || f.Type("lakestream_rebalance_partitions_total") != "COUNTER" {
			t.Errorf("lakestream_rebalance_partitions_total{event=%s} = %v, %v: want %v", event, v, err, want)
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

// getAdminCode reads a path of the admin endpoint with its status code.
func getAdminCode(addr, path string) (int, []byte, error) {
	resp, err := adminClient.Get("http://" + addr + path)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	_, err = b.ReadFrom(resp.Body)
	return resp.StatusCode, b.Bytes(), err
}

// adminStatus is the part of /status that TestStorageFailureInAdminEndpoint
// reads.
type adminStatus struct {
	Workers    []string `json:"workers"`
	Checkpoint struct {
		Ready         bool       `json:"ready"`
		Reason        string     `json:"reason"`
		Running       bool       `json:"running"`
		LastCommit    *time.Time `json:"lastCommit"`
		LastCommitAge string     `json:"lastCommitAge"`
		AgeSeconds    float64    `json:"ageSeconds"`
		Retrying      []struct {
			Op       string    `json:"op"`
			Phase    string    `json:"phase"`
			Class    string    `json:"class"`
			Worker   *int      `json:"worker"`
			Attempts int       `json:"attempts"`
			Since    time.Time `json:"since"`
			For      string    `json:"for"`
			Error    string    `json:"error"`
		} `json:"retrying"`
		LastError *struct {
			Phase   string `json:"phase"`
			Class   string `json:"class"`
			Retried bool   `json:"retried"`
			Error   string `json:"error"`
		} `json:"lastError"`
		Failures []failureCount `json:"failures"`
	} `json:"checkpoint"`
	Failpoints []failpoint.ArmedPoint `json:"failpoints"`
}

// TestStorageFailureInAdminEndpoint runs ingestd (kfake, a filesystem table
// behind objstore.Faulty) and fails every data file upload for a while:
// /metrics counts the failures and retries by phase and class and the last
// commit ages, /status says what is retried since when with the redacted
// error (and no worker claims to be idle), /readyz answers 503 with the
// reason; once storage is back, /readyz answers 200 again, the age starts
// over and every record is committed. /status lists the armed failpoints.
func TestStorageFailureInAdminEndpoint(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the pipeline against kfake")
	}
	t.Setenv("LAKESTREAM_FAILPOINTS", failpoint.BeforeGroupCommit+"=sleep(1ms)")
	const topic = "orders"
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
checkpoint:
  interval: 300ms
  writer_id: health-test
  state_dir: %s
admin:
  addr: %s
  ready_after_intervals: 3
`, topic, cluster.ListenAddrs()[0], t.TempDir(), t.TempDir(), admin))
	cfg, err := loadConfig(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	cfg.finish()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	var faulty *objstore.Faulty
	wrap := func(b objstore.Store) objstore.Store { faulty = objstore.NewFaulty(b); return faulty }
	wave := func(from int) {
		base := time.Now().UTC().Truncate(time.Hour).Add(-2 * time.Hour)
		var recs []*kgo.Record
		for i := from; i < from+100; i++ {
			recs = append(recs, &kgo.Record{Topic: topic, Partition: int32(i % 2), Value: fmt.Appendf(nil, `{"id": %d}`, i), Timestamp: base.Add(time.Duration(i) * time.Second)})
		}
		produce(t, cluster.ListenAddrs(), recs)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	logs := &syncBuffer{}
	logger := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	done := make(chan error, 1)
	go func() { done <- ingestWith(ctx, nil, cfg, logger, wrap) }()
	defer func() {
		if faulty != nil {
			faulty.SetMatcher(nil)
		}
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
	value := func(f metricstest.Families, name string, l map[string]string) float64 {
		v, err := f.Value(name, l)
		if err != nil {
			return math.NaN()
		}
		return v
	}
	readStatus := func() (adminStatus, []byte) {
		t.Helper()
		body, err := getAdmin(admin, "/status")
		if err != nil {
			t.Fatal(err)
		}
		var st adminStatus
		if err := json.Unmarshal(body, &st); err != nil {
			t.Fatalf("/status: %v\n%s", err, body)
		}
		return st, body
	}
	// waitFor polls until cond holds, with what it saw when it gives up.
	waitFor := func(what string, cond func() (bool, string)) {
		t.Helper()
		deadline := time.Now().Add(90 * time.Second)
		for {
			ok, seen := cond()
			if ok {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: not after 90s; last seen:\n%s", what, seen)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}

	wave(0)
	waitFor("the first wave committed and ready", func() (bool, string) {
		f, err := scrapeAdmin(admin)
		if err != nil {
			return false, err.Error()
		}
		code, body, err := getAdminCode(admin, "/readyz")
		return err == nil && code == http.StatusOK && value(f, "lakestream_rows_committed_total", labels()) == 100, fmt.Sprintf("%d %s", code, body)
	})
	st, body := readStatus()
	if !st.Checkpoint.Ready || !st.Checkpoint.Running || st.Checkpoint.LastCommit == nil || len(st.Checkpoint.Retrying) != 0 {
		t.Errorf("/status of a healthy pipeline:\n%s", body)
	}
	if len(st.Failpoints) != 1 || st.Failpoints[0] != (failpoint.ArmedPoint{Name: failpoint.BeforeGroupCommit, Action: "sleep(1ms)"}) {
		t.Errorf("/status failpoints %+v, want %s=sleep(1ms)", st.Failpoints, failpoint.BeforeGroupCommit)
	}
	firstCommit := *st.Checkpoint.LastCommit

	// Storage fails every data file upload.
	faulty.SetMatcher(func(op objstore.Op, key string) objstore.Injection {
		if op == objstore.OpPut && strings.HasSuffix(key, ".parquet") {
			return objstore.InjectBefore
		}
		return objstore.InjectNone
	})
	wave(100)
	upload := labels("phase", "upload", "class", "storage")
	var failingAge float64
	waitFor("failures counted, unready", func() (bool, string) {
		f, err := scrapeAdmin(admin)
		if err != nil {
			return false, err.Error()
		}
		code, body, err := getAdminCode(admin, "/readyz")
		failingAge = value(f, "lakestream_last_commit_age_seconds", labels())
		seen := fmt.Sprintf("/readyz %d %s\nfailures %v retries %v retrying %v age %v", code, body,
			value(f, "lakestream_checkpoint_failures_total", upload), value(f, "lakestream_checkpoint_retries_total", upload),
			value(f, "lakestream_checkpoint_retrying", labels()), failingAge)
		return err == nil && code == http.StatusServiceUnavailable &&
			value(f, "lakestream_checkpoint_failures_total", upload) >= 2 && value(f, "lakestream_checkpoint_retries_total", upload) >= 2 &&
			value(f, "lakestream_checkpoint_retrying", labels()) >= 1 && failingAge > 0.9, seen
	})
	code, body, err := getAdminCode(admin, "/readyz")
	var ready struct {
		Ready  bool   `json:"ready"`
		Reason string `json:"reason"`
	}
	if err != nil || code != http.StatusServiceUnavailable || json.Unmarshal(body, &ready) != nil || ready.Ready ||
		!strings.Contains(ready.Reason, "no checkpoint completed for") || !strings.Contains(ready.Reason, "close files of worker") {
		t.Errorf("/readyz while failing: %d %s %v: want 503, the age and what is retried", code, body, err)
	}
	if code, body, err := getAdminCode(admin, "/healthz"); err != nil || code != http.StatusOK {
		t.Errorf("/healthz while failing: %d %s %v: want 200 (liveness)", code, body, err)
	}
	st, body = readStatus()
	cp := st.Checkpoint
	if cp.Ready || cp.Reason == "" || len(cp.Retrying) == 0 || cp.LastCommit == nil || !cp.LastCommit.Equal(firstCommit) || cp.AgeSeconds <= 0.9 {
		t.Errorf("/status checkpoint while failing: want unready with a reason, the retry, the first commit and its age:\n%s", body)
	} else {
		r := cp.Retrying[0]
		if r.Phase != "upload" || r.Class != "storage" || r.Worker == nil || r.Attempts < 2 || r.Since.IsZero() || r.Since.Before(firstCommit) ||
			r.For == "" || !strings.Contains(r.Error, "injected fault") || !strings.HasPrefix(r.Op, "close files of worker") {
			t.Errorf("/status retry %+v", r)
		}
	}
	if !slices.ContainsFunc(cp.Failures, func(f failureCount) bool {
		return f.Phase == "upload" && f.Class == "storage" && f.Failures >= 2 && f.Retries >= 2
	}) {
		t.Errorf("/status failures %+v: want upload/storage counted", cp.Failures)
	}
	if cp.LastError == nil || cp.LastError.Phase != "upload" || cp.LastError.Class != "storage" || !cp.LastError.Retried {
		t.Errorf("/status lastError %+v", cp.LastError)
	}
	// The failed requests themselves, by operation and class.
	if f, err := scrapeAdmin(admin); err != nil {
		t.Error(err)
	} else if failed := value(f, "lakestream_storage_requests_total", labels("operation", "put", "class", "injected")); failed < 2 {
		t.Errorf("lakestream_storage_requests_total{operation=put,class=injected} = %v, want the failed uploads", failed)
	} else if ok := value(f, "lakestream_storage_requests_total", labels("operation", "put_if_absent", "class", "ok")); ok < 1 {
		t.Errorf("lakestream_storage_requests_total{operation=put_if_absent,class=ok} = %v, want the timeline's requests", ok)
	} else if f.Type("lakestream_storage_time_seconds_total") != "COUNTER" {
		t.Errorf("lakestream_storage_time_seconds_total: type %q, want COUNTER", f.Type("lakestream_storage_time_seconds_total"))
	}
	for i, s := range st.Workers {
		if s == "idle" {
			t.Errorf("/status: worker %d says idle while the checkpoint retries:\n%s", i, body)
		}
	}

	// Storage is back.
	faulty.SetMatcher(nil)
	var f metricstest.Families
	waitFor("recovered", func() (bool, string) {
		f, err = scrapeAdmin(admin)
		if err != nil {
			return false, err.Error()
		}
		code, body, err := getAdminCode(admin, "/readyz")
		return err == nil && code == http.StatusOK && value(f, "lakestream_rows_committed_total", labels()) == 200 &&
			value(f, "lakestream_checkpoint_retrying", labels()) == 0, fmt.Sprintf("/readyz %d %s", code, body)
	})
	if age := value(f, "lakestream_last_commit_age_seconds", labels()); !(age < failingAge) {
		t.Errorf("last commit age %v after recovery, %v while failing: want it started over", age, failingAge)
	}
	if ts := value(f, "lakestream_last_commit_timestamp_seconds", labels()); !(ts > unixSeconds(firstCommit)) {
		t.Errorf("last commit timestamp %v, first commit %v: want a newer commit", ts, unixSeconds(firstCommit))
	}
	if f.Type("lakestream_checkpoint_failures_total") != "COUNTER" || f.Type("lakestream_last_commit_age_seconds") != "GAUGE" {
		t.Errorf("types: failures %s, age %s", f.Type("lakestream_checkpoint_failures_total"), f.Type("lakestream_last_commit_age_seconds"))
	}
	st, body = readStatus()
	if !st.Checkpoint.Ready || len(st.Checkpoint.Retrying) != 0 || st.Checkpoint.LastError == nil {
		t.Errorf("/status after recovery: want ready, nothing retried, the last error kept:\n%s", body)
	}
}

// TestAdminWarnsBeyondLoopback: an admin address that is not a loopback
// address is logged as a warning; the loopback one is not.
func TestAdminWarnsBeyondLoopback(t *testing.T) {
	for _, c := range []struct {
		addr string
		warn bool
	}{{"127.0.0.1:0", false}, {"localhost:0", false}, {"0.0.0.0:0", true}, {":0", true}} {
		logs := &syncBuffer{}
		logger := slog.New(slog.NewJSONHandler(logs, nil))
		stop, err := serveAdmin(c.addr, func() any { return map[string]any{} }, func() (bool, string) { return true, "" }, nil, nil, logger)
		if err != nil {
			t.Fatalf("%s: %v", c.addr, err)
		}
		stop()
		warned := strings.Contains(logs.String(), `"level":"WARN","msg":"admin endpoint listens beyond the loopback interface`)
		if warned != c.warn {
			t.Errorf("admin.addr %s: warned %v, want %v; log:\n%s", c.addr, warned, c.warn, logs.String())
		}
	}
}

// TestReadyAfterIntervalsValidated: admin.ready_after_intervals must be at
// least 1, and defaults to 3.
func TestReadyAfterIntervalsValidated(t *testing.T) {
	cfg := defaultConfig()
	if cfg.Admin.ReadyAfterIntervals != 3 {
		t.Errorf("default ready_after_intervals %d, want 3", cfg.Admin.ReadyAfterIntervals)
	}
	cfg.Kafka.Topic, cfg.Table.URL = "t", "/tmp/t"
	cfg.Admin.ReadyAfterIntervals = 0
	cfg.finish()
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "admin.ready_after_intervals 0: must be at least 1") {
		t.Errorf("ready_after_intervals 0: %v", err)
	}
}
