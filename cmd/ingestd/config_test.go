package main

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"gopkg.in/yaml.v3"
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

// TestConfigBounds: every count and size that costs memory, goroutines,
// file descriptors or reads is bounded, and the error names the setting,
// the value and the bound.
func TestConfigBounds(t *testing.T) {
	for _, c := range []struct{ yaml, want string }{
		{"writer:\n  workers: 1000000\n", "writer.workers 1000000: at most 1024"},
		{"writer:\n  max_parallelism: 65536\n", "writer.max_parallelism 65536: at most 32768"},
		{"writer:\n  max_open_files: 5000\n", "writer.max_open_files 5000: at most 1024"},
		{"writer:\n  workers: 1024\n  max_open_files: 100\n  memory_budget: 2GiB\n", "writer.workers x writer.max_open_files = 102400: at most 65536"},
		{"writer:\n  workers: 8\n  memory_budget: 4MiB\n", "writer.memory_budget 4MiB: at least 8MiB with 8 workers"},
		{"writer:\n  target_file_size: 5GiB\n", "writer.target_file_size 5GiB: at most 4GiB"},
		{"writer:\n  min_file_size: 5GiB\n", "writer.min_file_size 5GiB: at most 4GiB"},
		{"writer:\n  stage_memory: 8GiB\n", "writer.stage_memory 8GiB: at most 4GiB"},
		{"writer:\n  row_group_size: 2GiB\n", "writer.row_group_size 2GiB: at most 1GiB"},
		{"writer:\n  row_group_size: 512KiB\n", "writer.row_group_size 512KiB: must be at least 1MiB"},
		{"writer:\n  hot_bucket: {share: 0.00001, window: 2000000}\n", "writer.hot_bucket.share 1e-05: at least 0.0001"},
		{"checkpoint:\n  keep_instants: 5000\n", "checkpoint.keep_instants 5000: at most 1000"},
		{"checkpoint:\n  lateness: {buffer: 8GiB}\n", "checkpoint.lateness.buffer 8GiB: at most 4GiB"},
		{"kafka:\n  max_partition_records: 20000\n", "kafka.max_partition_records 20000: at most 10000"},
		{"kafka:\n  max_partition_bytes: 1GiB\n", "kafka.max_partition_bytes 1GiB: at most 256MiB"},
		{"kafka:\n  partition_buffer: 2GiB\n", "kafka.partition_buffer 2GiB: at most 1GiB"},
		{"format:\n  max_record_bytes: 200MiB\n", "format.max_record_bytes 200MiB: at most 100MiB"},
		{"format:\n  max_record_bytes: 0\n", "format.max_record_bytes 0B: must be at least 1B"},
	} {
		cfg, err := loadConfig(writeConfig(t, mergeYAML(t, minimalConfig, c.yaml)))
		if err != nil {
			t.Fatalf("%q: %v", c.yaml, err)
		}
		cfg.finish()
		err = cfg.Validate()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: error %v\nwant one mentioning %q", c.yaml, err, c.want)
		}
	}
	// The sizes parse without overflowing.
	if _, err := loadConfig(writeConfig(t, minimalConfig+"writer:\n  memory_budget: 99999999999GiB\n")); err == nil || !strings.Contains(err.Error(), "too large") {
		t.Errorf("overflowing size: %v", err)
	}
}

// mergeYAML adds the settings of extra to base (both YAML maps).
func mergeYAML(t *testing.T, base, extra string) string {
	t.Helper()
	var a, b map[string]any
	if err := yaml.Unmarshal([]byte(base), &a); err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal([]byte(extra), &b); err != nil {
		t.Fatal(err)
	}
	for k, v := range b {
		if m, ok := a[k].(map[string]any); ok {
			for k2, v2 := range v.(map[string]any) {
				m[k2] = v2
			}
		} else {
			a[k] = v
		}
	}
	out, err := yaml.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

// kafkaState lists the topics and consumer groups of a cluster.
func kafkaState(t *testing.T, brokers []string) (topics, groups []string) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	td, err := adm.ListTopics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	gs, err := adm.ListGroups(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return td.Names(), gs.Groups()
}

// runBadConfig runs `ingestd run` with config (which names the cluster's
// brokers and the table dir) and checks that it exits 2 with stderr
// mentioning every want, and that nothing was created: no table directory
// content, no dead-letter topic, no consumer group.
func runBadConfig(t *testing.T, brokers []string, tableDir, config string, want ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var out, errOut bytes.Buffer
	code := run(ctx, []string{"run", "--config", writeConfig(t, config)}, &out, &errOut)
	if code != 2 {
		t.Errorf("exit %d, want 2; stderr:\n%s", code, errOut.String())
	}
	for _, w := range want {
		if !strings.Contains(errOut.String(), w) {
			t.Errorf("stderr does not mention %q:\n%s", w, errOut.String())
		}
	}
	if entries, err := os.ReadDir(tableDir); err != nil || len(entries) > 0 {
		t.Errorf("table dir: %v, %d entries, want it untouched and empty", err, len(entries))
	}
	if _, err := os.Stat(filepath.Join(tableDir, ".hoodie")); err == nil {
		t.Errorf(".hoodie was created")
	}
	topics, groups := kafkaState(t, brokers)
	if len(topics) != 1 || len(groups) != 0 {
		t.Errorf("kafka has topics %v and groups %v, want only the source topic and no group", topics, groups)
	}
	return errOut.String()
}

// TestRunRefusesBeforeCreatingAnything: settings that once passed Validate
// and failed only at run time (exit 1, after the table, the dead-letter
// topic or the consumer group were created) are refused with exit 2 before
// anything is created, against a live (kfake) cluster.
func TestRunRefusesBeforeCreatingAnything(t *testing.T) {
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, "orders"))
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	brokers := cluster.ListenAddrs()
	for _, c := range []struct{ name, yaml, want string }{
		{"max_file_age", "writer:\n  max_file_age: -1s\n", "writer.max_file_age -1s: must be positive"},
		{"row_group_size", "writer:\n  row_group_size: 0\n", "writer.row_group_size 0B: must be at least 1MiB"},
		{"compression", "writer:\n  compression: lz5\n", `writer.compression "lz5"`},
		{"spool_dir", "writer:\n  spool_dir: /nonexistent/spool\n", "writer.spool_dir: stat /nonexistent/spool: no such file"},
		{"max_partition_records", "kafka:\n  max_partition_records: -5\n", "kafka.max_partition_records: max partition records -5 is negative"},
		{"idle_timeout", "kafka:\n  idle_timeout: -1s\n", "kafka.idle_timeout: idle timeout -1s"},
		{"max_event_time_skew", "kafka:\n  max_event_time_skew: -1h\n", "kafka.max_event_time_skew: max event time skew -1h0m0s"},
		{"admin_addr", "admin:\n  addr: nonsense\n", `admin.addr "nonsense": want host:port`},
		{"admin_port", "admin:\n  addr: 127.0.0.1:99999\n", `admin.addr "127.0.0.1:99999": port "99999"`},
		{"table_name", "table:\n  name: orders-v2\n", `table.name: table name "orders-v2"`},
		{"table_database", "table:\n  database: \"sales db\"\n", `table.database: database name "sales db"`},
		{"event_time_field", "format:\n  event_time_field: ts\n", `format.event_time_field: field "ts": event-time field is not a top-level field`},
		{"dlq_is_source", "dlq:\n  topic: orders\n", `dlq.topic "orders": must not be kafka.topic`},
		{"broker", "kafka:\n  brokers: [\"localhost:x\"]\n", `kafka.brokers[0] "localhost:x": port "x"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			tableDir := t.TempDir()
			base := fmt.Sprintf("kafka:\n  topic: orders\n  brokers: [%s]\ntable:\n  url: file://%s\nformat:\n  schema:\n    - {name: id, type: int64, optional: false}\ncheckpoint:\n  state_dir: %s\nadmin:\n  addr: \"\"\n",
				brokers[0], tableDir, t.TempDir())
			runBadConfig(t, brokers, tableDir, mergeYAML(t, base, c.yaml), c.want)
		})
	}
}

// TestRunReportsEveryProblemAtOnce: a value of the wrong type in one
// setting does not hide the problems of the others, and all of them are
// listed in one message.
func TestRunReportsEveryProblemAtOnce(t *testing.T) {
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, "orders"))
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	tableDir := t.TempDir()
	config := fmt.Sprintf(`kafka:
  topic: orders
  brokers: [%s]
  idle_timeout: -1s
table:
  url: file://%s
  name: "orders-v2"
format:
  schema:
    - {name: id, type: int64, optional: false}
writer:
  workers: many
  max_file_age: soon
  compression: lz5
  row_group_size: 0
  hot_bucket: {share: lots}
checkpoint:
  writer_id: "replica\e]0;TITLE\a\e[31m"
  keep_instants: 5000
admin:
  addr: nonsense
`, cluster.ListenAddrs()[0], tableDir)
	stderr := runBadConfig(t, cluster.ListenAddrs(), tableDir, config,
		"writer.workers: ", "cannot unmarshal !!str `many`",
		`writer.max_file_age: `, `"soon" is not a duration`,
		"writer.hot_bucket: ", // a flow mapping: its line holds the share
		"kafka.idle_timeout", `table.name: table name "orders-v2"`, `writer.compression "lz5"`,
		"writer.row_group_size 0B", "checkpoint.keep_instants 5000", `admin.addr "nonsense"`,
		`checkpoint.writer_id "replica\x1b]0;TITLE\a\x1b[31m": control or non-printable characters are not allowed`)
	if strings.ContainsAny(stderr, "\x1b\x07") {
		t.Errorf("stderr holds raw escape characters:\n%q", stderr)
	}
}

// TestRunRefusesControlCharacters: names that go into commits, logs and
// terminals are printable.
func TestRunRefusesControlCharacters(t *testing.T) {
	for _, c := range []struct{ yaml, want string }{
		{"checkpoint:\n  writer_id: \"a\\e[31mb\"\n", "checkpoint.writer_id"},
		{"kafka:\n  group: \"g\\u009b31m\"\n", "kafka.group"},
		{"dlq:\n  topic: \"d\\e]0;x\\a\"\n", "dlq.topic"},
		{"kafka:\n  topic: \"t\\e[2J\"\n", "kafka.topic"},
		{"table:\n  database: \"d\\e[2J\"\n", "table.database"},
		{"writer:\n  spool_dir: \"/tmp/\\e[2J\"\n", "writer.spool_dir"},
		{"checkpoint:\n  state_dir: \"/tmp/\\e[2J\"\n", "checkpoint.state_dir"},
		{"table:\n  url: \"file:///tmp/\\e[2J\"\n", "table.url"},
		{"partitioning:\n  template: \"dt={eventTime:2006-01-02}\\e[2J\"\n", "partitioning.template"},
	} {
		var out, errOut bytes.Buffer
		code := run(context.Background(), []string{"run", "--config", writeConfig(t, mergeYAML(t, minimalConfig, c.yaml))}, &out, &errOut)
		if code != 2 || !strings.Contains(errOut.String(), c.want) || strings.ContainsAny(errOut.String(), "\x1b\x07\u009b") {
			t.Errorf("%q: exit %d, stderr %q; want exit 2 naming %s, escaped", c.yaml, code, errOut.String(), c.want)
		}
	}
}

// TestRunRedactsURLs: a table URL with credentials in its endpoint or a
// secret in its query is refused without showing them.
func TestRunRedactsURLs(t *testing.T) {
	for _, u := range []string{
		"s3://bucket/prefix?endpoint=http://admin:SuperSecret123@127.0.0.1:9/",
		"s3://bucket/prefix?secret_key=SuperSecret123&path_style=true",
		"s3://admin:SuperSecret123@bucket/prefix",
		"s3://bucket/prefix?endpoint=http://127.0.0.1:9/%zz&x=SuperSecret123",
	} {
		for _, args := range [][]string{
			{"run", "--config", writeConfig(t, minimalConfig), "--table", u},
			{"run", "--config", writeConfig(t, strings.Replace(minimalConfig, "file:///tmp/orders", u, 1))},
		} {
			var out, errOut bytes.Buffer
			code := run(context.Background(), args, &out, &errOut)
			if code != 2 || !strings.Contains(errOut.String(), "table.url") || strings.Contains(errOut.String(), "SuperSecret123") {
				t.Errorf("%s: exit %d, stderr:\n%s\nwant exit 2 naming table.url without the secret", u, code, errOut.String())
			}
		}
	}
}

// TestLoggerRedactsURLs: the run's logger redacts the configuration's URLs
// from every string and error, however a package quoted them.
func TestLoggerRedactsURLs(t *testing.T) {
	var buf bytes.Buffer
	registry := "http://user:RegistryPass99@registry:8081"
	table := "s3://bucket/prefix?endpoint=http://127.0.0.1:9/&region=r"
	logger := newLogger(&buf, slog.LevelInfo, table, registry, "")
	logger.Info("open", "table", table, "registry", registry)
	logger.Error("failed", "err", fmt.Errorf("get %s/subjects: connection refused", registry), "nested", slog.GroupValue(slog.String("url", registry)))
	if strings.Contains(buf.String(), "RegistryPass99") || !strings.Contains(buf.String(), "registry:8081") {
		t.Errorf("log:\n%s", buf.String())
	}
}

// TestConfigCheck: `ingestd config check` validates as run does (file,
// environment, flags) and touches nothing: exit 0 with "configuration ok"
// for a good configuration, even with Kafka and the table unreachable; 2
// with every problem for a bad one; the table directory stays empty.
func TestConfigCheck(t *testing.T) {
	tableDir := t.TempDir()
	good := writeConfig(t, fmt.Sprintf("kafka:\n  topic: orders\n  brokers: [127.0.0.1:1]\ntable:\n  url: file://%s\nformat:\n  schema:\n    - {name: id, type: int64, optional: false}\n", tableDir))
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"config", "check", "--config", good}, &out, &errb); code != exitOK || !strings.Contains(out.String(), "configuration ok") {
		t.Fatalf("config check of a good configuration: exit %d\nstdout: %s\nstderr: %s", code, out.String(), errb.String())
	}
	out.Reset()
	errb.Reset()
	code := run(context.Background(), []string{"config", "check", "--config", good, "--workers", "0", "--table", "s3:/typo"}, &out, &errb)
	if code != exitUsage || !strings.Contains(errb.String(), "writer.workers") || !strings.Contains(errb.String(), "s3:/typo") || !strings.Contains(errb.String(), "ingestd config check: invalid configuration") {
		t.Fatalf("config check of a bad configuration: exit %d, want 2 naming each problem\nstderr: %s", code, errb.String())
	}
	if entries, err := os.ReadDir(tableDir); err != nil || len(entries) != 0 {
		t.Fatalf("config check created %v (%v) in the table directory", entries, err)
	}
}

// TestConfigIcebergSwitch: publishing as Iceberg is on by default and
// switched off per table with table.iceberg: false.
func TestConfigIcebergSwitch(t *testing.T) {
	for text, want := range map[string]bool{
		minimalConfig: true,
		mergeYAML(t, minimalConfig, "table:\n  url: file:///tmp/orders\n  iceberg: false\n"): false,
		mergeYAML(t, minimalConfig, "table:\n  url: file:///tmp/orders\n  iceberg: true\n"):  true,
	} {
		cfg, err := loadConfig(writeConfig(t, text))
		if err != nil {
			t.Fatal(err)
		}
		cfg.finish()
		if err := cfg.Validate(); err != nil {
			t.Fatal(err)
		}
		if cfg.Table.Iceberg != want {
			t.Errorf("table.iceberg = %v, want %v, in:\n%s", cfg.Table.Iceberg, want, text)
		}
	}
	if _, err := loadConfig(writeConfig(t, mergeYAML(t, minimalConfig, "table:\n  url: file:///tmp/orders\n  iceberg: maybe\n"))); err == nil || !strings.Contains(err.Error(), "iceberg") {
		t.Errorf("table.iceberg: maybe: %v, want an error naming it", err)
	}
}
