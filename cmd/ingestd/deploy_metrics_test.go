package main

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lakestream/lakestream/internal/metrics/metricstest"
	"github.com/lakestream/lakestream/internal/objstore"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// deployMetricName finds the names of ingestd's metrics (and of the Go
// runtime's and the process's, which ingestd exports too) in the alert
// rules and the dashboard under deploy/.
var deployMetricName = regexp.MustCompile(`\b(?:lakestream|go|process)_[a-z0-9_]*[a-z0-9]`)

// kafkaErrorCounter matches the Kafka client error counters
// (docs/metrics.md, "Kafka clients").
var kafkaErrorCounter = regexp.MustCompile(`^lakestream_kafka_(connect|read|write)_errors_total$`)

// deployFiles are the files under deploy/ that query metrics.
func deployFiles(t *testing.T) []string {
	t.Helper()
	var files []string
	for _, pattern := range []string{"../../deploy/prometheus/*.yml", "../../deploy/grafana/*.json"} {
		m, err := filepath.Glob(pattern)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, m...)
	}
	if len(files) < 3 {
		t.Fatalf("deploy files %v: want the rules, their tests and the dashboard", files)
	}
	return files
}

// compactorContract lists the metric names of docs/operations.md's
// "Compactor metrics" table: the compactor's, which ingestd does not
// export.
func compactorContract(t *testing.T) map[string]bool {
	t.Helper()
	b, err := os.ReadFile("../../docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(b), "\n## Compactor metrics\n")
	if !ok {
		t.Fatal(`docs/operations.md: no "## Compactor metrics"`)
	}
	section, _, _ = strings.Cut(section, "\n## ")
	names := map[string]bool{}
	for _, m := range regexp.MustCompile("(?m)^\\| `(lakestream_compactor_[a-z_]+)` \\|").FindAllStringSubmatch(section, -1) {
		names[m[1]] = true
	}
	if len(names) == 0 {
		t.Fatal(`docs/operations.md: no metric in "Compactor metrics"`)
	}
	return names
}

// TestDeployMetricsExist runs ingestd against kfake (a filesystem table
// whose first data file uploads fail, one record that is not JSON, so that
// the failure and dead-letter series exist too), scrapes /metrics, and
// checks that every ingestd, Go or process metric named in deploy/'s alert
// rules and dashboard is one ingestd exports, and every compactor metric
// one of the compactor's contract (docs/operations.md).
func TestDeployMetricsExist(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the pipeline against kfake")
	}
	compactor := compactorContract(t)
	used := map[string][]string{} // name -> files
	for _, f := range deployFiles(t) {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range deployMetricName.FindAllString(string(b), -1) {
			if !slices.Contains(used[n], filepath.Base(f)) {
				used[n] = append(used[n], filepath.Base(f))
			}
		}
	}

	const topic = "deploy"
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
  writer_id: deploy-metrics-test
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
	// The first 3 data file uploads fail: lakestream_checkpoint_failures_total
	// appears with its first failure.
	var failed atomic.Int32
	wrap := func(b objstore.Store) objstore.Store {
		return objstore.NewFaulty(b, objstore.WithMatcher(func(op objstore.Op, key string) objstore.Injection {
			if op == objstore.OpPut && strings.HasSuffix(key, ".parquet") && failed.Add(1) <= 3 {
				return objstore.InjectBefore
			}
			return objstore.InjectNone
		}))
	}
	base := time.Now().UTC().Truncate(time.Hour).Add(-time.Hour)
	recs := []*kgo.Record{{Topic: topic, Partition: 0, Value: []byte("not json"), Timestamp: base}}
	for i := range 50 {
		recs = append(recs, &kgo.Record{Topic: topic, Partition: int32(i % 2), Value: fmt.Appendf(nil, `{"id": %d}`, i), Timestamp: base.Add(time.Duration(i) * time.Second)})
	}
	produce(t, cluster.ListenAddrs(), recs)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	logs := &syncBuffer{}
	logger := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	done := make(chan error, 1)
	go func() { done <- ingestWith(ctx, nil, cfg, logger, wrap) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("ingest: %v", err)
		}
		if t.Failed() {
			t.Logf("ingestd log:\n%s", logs.String())
		}
	}()

	// exported reports whether the scrape has name (a histogram's or
	// summary's _bucket, _sum and _count are its family's).
	exported := func(f metricstest.Families, name string) bool {
		if _, ok := f[name]; ok {
			return true
		}
		for _, suffix := range []string{"_bucket", "_sum", "_count"} {
			if fam, ok := strings.CutSuffix(name, suffix); ok && (f.Type(fam) == "HISTOGRAM" || f.Type(fam) == "SUMMARY") {
				return true
			}
		}
		return false
	}
	// missingFrom lists the used names a scrape lacks. A name that is a
	// label there (target_info's lakestream_table) is not a metric the
	// files query.
	missingFrom := func(f metricstest.Families) []string {
		labelNames := map[string]bool{}
		for _, fam := range f {
			for _, m := range fam.GetMetric() {
				for _, lp := range m.GetLabel() {
					labelNames[lp.GetName()] = true
				}
			}
		}
		var missing []string
		for _, n := range slices.Sorted(maps.Keys(used)) {
			// The Kafka clients' error counters (franz-go's kprom) appear
			// with their first error, which kfake does not make: they
			// are there when the clients' metrics are.
			if kafkaErrorCounter.MatchString(n) && exported(f, "lakestream_kafka_connects_total") {
				continue
			}
			if !strings.HasPrefix(n, "lakestream_compactor_") && !exported(f, n) && !labelNames[n] {
				missing = append(missing, n)
			}
		}
		return missing
	}
	var f metricstest.Families
	for deadline := time.Now().Add(60 * time.Second); ; {
		f, err = scrapeAdmin(admin)
		if err == nil && len(missingFrom(f)) == 0 {
			if c, err := f.Value("lakestream_checkpoints_total", map[string]string{"topic": topic}); err == nil && c >= 1 {
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
	for _, n := range missingFrom(f) {
		t.Errorf("%s (in %v) is not among the metrics ingestd exports", n, used[n])
	}
	for n, files := range used {
		if !strings.HasPrefix(n, "lakestream_compactor_") {
			continue
		}
		if !compactor[n] {
			t.Errorf("%s (in %v) is not in docs/operations.md's compactor metrics", n, files)
		}
		if exported(f, n) {
			t.Errorf("%s is the compactor's, but ingestd exports it", n)
		}
	}
	if failed.Load() <= 3 {
		t.Errorf("%d data file uploads: the injected failures were not all used", failed.Load())
	}
}
