package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/lakestream/lakestream/bucketing"
	"github.com/lakestream/lakestream/checkpoint"
	"github.com/lakestream/lakestream/commitlog"
	"github.com/lakestream/lakestream/internal/metrics"
	"github.com/lakestream/lakestream/schemas"
	"github.com/lakestream/lakestream/writer"
	"gopkg.in/yaml.v3"
)

// Config is one table's ingestd configuration (table.yaml). Every field has
// a default; see defaultConfig.
type Config struct {
	Kafka        KafkaConfig        `yaml:"kafka"`
	Table        TableConfig        `yaml:"table"`
	Format       FormatConfig       `yaml:"format"`
	Partitioning PartitioningConfig `yaml:"partitioning"`
	Writer       WriterConfig       `yaml:"writer"`
	Checkpoint   CheckpointConfig   `yaml:"checkpoint"`
	DLQ          DLQConfig          `yaml:"dlq"`
	Admin        AdminConfig        `yaml:"admin"`
	Metrics      MetricsConfig      `yaml:"metrics"`
}

// KafkaConfig says where records come from.
type KafkaConfig struct {
	Brokers []string `yaml:"brokers"` // default [localhost:9092]
	Topic   string   `yaml:"topic"`   // required
	Group   string   `yaml:"group"`   // default lakestream-<topic>
	Start   string   `yaml:"start"`   // earliest (default) or latest, for partitions the table has no offset for
	// SessionTimeout and RebalanceTimeout of the consumer group; 0 means
	// franz-go's defaults (45s, 60s). A checkpoint at revocation must fit
	// in the rebalance timeout.
	SessionTimeout   Duration `yaml:"session_timeout"`
	RebalanceTimeout Duration `yaml:"rebalance_timeout"`
	// Fair reading: per-partition quotas of each poll (default 1000 records,
	// 1MiB), a partition is paused past PartitionBuffer buffered bytes
	// (default 4MiB) or when its event time runs ahead of the slowest by
	// more than MaxEventTimeSkew (default 0: off); a partition without data
	// for IdleTimeout (default 1m) stops holding the watermark back.
	MaxPartitionRecords int      `yaml:"max_partition_records"`
	MaxPartitionBytes   ByteSize `yaml:"max_partition_bytes"`
	PartitionBuffer     ByteSize `yaml:"partition_buffer"`
	MaxEventTimeSkew    Duration `yaml:"max_event_time_skew"`
	IdleTimeout         Duration `yaml:"idle_timeout"`
}

// TableConfig says where the table lives.
type TableConfig struct {
	URL      string `yaml:"url"`      // required: file:///path, s3://bucket/prefix or a local path
	Name     string `yaml:"name"`     // default: the topic, with other characters than [A-Za-z0-9_] as _
	Database string `yaml:"database"` // default "default"
}

// FormatConfig says how record values are decoded.
type FormatConfig struct {
	Type           string              `yaml:"type"`             // json (default) or avro
	Registry       string              `yaml:"registry"`         // Schema Registry URL, required for avro
	Schema         []schemas.FieldSpec `yaml:"schema"`           // the table's columns (required)
	EventTimeField string              `yaml:"event_time_field"` // default: the Kafka timestamp
	IncludeKey     bool                `yaml:"include_key"`      // add _kafka_key
	MaxRecordBytes ByteSize            `yaml:"max_record_bytes"` // default 1MiB; larger records are dead-lettered
}

// PartitioningConfig says which bucket a record goes to.
type PartitioningConfig struct {
	Template  string   `yaml:"template"`   // default dt={eventTime:2006-01-02}/hr={eventTime:15}
	MaxPast   Duration `yaml:"max_past"`   // default 720h; older event times are dead-lettered (0: no bound)
	MaxFuture Duration `yaml:"max_future"` // default 1h
}

// WriterConfig shapes the Parquet files.
type WriterConfig struct {
	Workers        int      `yaml:"workers"`          // default 2
	MaxParallelism int      `yaml:"max_parallelism"`  // key groups; default 128 rounded up to a multiple of workers
	TargetFileSize ByteSize `yaml:"target_file_size"` // default 128MiB
	MaxFileAge     Duration `yaml:"max_file_age"`     // default 10m
	MaxOpenFiles   int      `yaml:"max_open_files"`   // per worker; default 16
	// MinFileSize: an open file smaller than this is not rolled to make
	// room for another bucket; that bucket's rows are staged (compact,
	// spilled to the spool dir past StageMemory) and written at the
	// checkpoint. Default 16MiB; 0 always rolls the least recently
	// written file.
	MinFileSize ByteSize `yaml:"min_file_size"`
	StageMemory ByteSize `yaml:"stage_memory"` // per worker; default 16MiB
	// MemoryBudget bounds the column data buffered by all workers; past
	// it the largest buffers are written to their spool files. Default
	// 256MiB; 0 turns it off.
	MemoryBudget ByteSize `yaml:"memory_budget"`
	RowGroupSize ByteSize `yaml:"row_group_size"` // default 32MiB
	Compression  string   `yaml:"compression"`    // zstd (default), snappy, gzip, none
	SpoolDir     string   `yaml:"spool_dir"`      // default: the system temporary directory
	// HotBucket splits a bucket that gets more than its share of the
	// records (a live stream's current hour) over several workers.
	HotBucket HotBucketConfig `yaml:"hot_bucket"`
}

// HotBucketConfig is the hot-bucket split (bucketing.HotShare, HotSpread,
// HotWindow); 0 means the default.
type HotBucketConfig struct {
	Share  float64 `yaml:"share"`  // share of a window's records past which a bucket is hot; default 1/workers
	Spread int     `yaml:"spread"` // workers a hot bucket is split over; default workers; 1 disables the split
	Window int     `yaml:"window"` // records over which shares are measured; default max(10000, 64/share)
}

// CheckpointConfig says how often data is committed.
type CheckpointConfig struct {
	Interval Duration `yaml:"interval"`  // default 30s
	WriterID string   `yaml:"writer_id"` // default: the host name; unique per replica
	// KeepInstants completed instants stay on the active timeline; older ones
	// are archived every 10 checkpoints. Default 30.
	KeepInstants int `yaml:"keep_instants"`
	// StateDir holds local state (the checkpoint journal). Recovery never
	// depends on it: a fresh volume recovers from the table alone. Default:
	// <system temporary directory>/lakestream/<table name>/<writer id>.
	StateDir string `yaml:"state_dir"`
	// Lateness says what happens to records behind the event-time
	// watermark (checkpoint.WithLateData).
	Lateness LatenessConfig `yaml:"lateness"`
}

// LatenessConfig: a record older than the watermark minus Allowed is late;
// late records are written in batches (at the next checkpoint, or when they
// pass Buffer bytes). One later than Max is written anyway (beyond_max:
// write) or dead-lettered with reason too_late (beyond_max: dead-letter).
type LatenessConfig struct {
	Allowed   Duration `yaml:"allowed"`    // default 10m: ordinary jitter is not late
	Max       Duration `yaml:"max"`        // default 0: no maximum
	BeyondMax string   `yaml:"beyond_max"` // write (default) or dead-letter
	Buffer    ByteSize `yaml:"buffer"`     // default 32MiB; at least 1KiB
}

// DLQConfig says where bad records go.
type DLQConfig struct {
	Topic string `yaml:"topic"` // default <topic>.dlq
}

// AdminConfig is the admin HTTP endpoint (status, metrics).
type AdminConfig struct {
	Addr string `yaml:"addr"` // default 127.0.0.1:9464; "" disables
	// ReadyAfterIntervals: /readyz answers 503 once no checkpoint has
	// completed for this many checkpoint intervals. Default 3; at least 1.
	ReadyAfterIntervals int `yaml:"ready_after_intervals"`
}

// MetricsConfig: metrics are always served on the admin endpoint's
// /metrics (Prometheus text); they are also pushed over OTLP/HTTP when
// OTLPEndpoint is set. Credentials go in $OTEL_EXPORTER_OTLP_HEADERS, never
// in the URL.
type MetricsConfig struct {
	OTLPEndpoint string   `yaml:"otlp_endpoint"` // default "": no push; e.g. http://localhost:4318 (path /v1/metrics)
	OTLPInterval Duration `yaml:"otlp_interval"` // default 1m
}

func defaultConfig() Config {
	return Config{
		Kafka:        KafkaConfig{Brokers: []string{"localhost:9092"}, Start: "earliest"},
		Table:        TableConfig{Database: "default"},
		Format:       FormatConfig{Type: "json", MaxRecordBytes: 1 << 20},
		Partitioning: PartitioningConfig{Template: bucketing.DefaultTemplate, MaxPast: Duration(720 * time.Hour), MaxFuture: Duration(time.Hour)},
		Writer: WriterConfig{Workers: 2, TargetFileSize: 128 << 20, MaxFileAge: Duration(10 * time.Minute),
			MaxOpenFiles: 16, MinFileSize: writer.DefaultMinFileSize, StageMemory: writer.DefaultStageMemory, MemoryBudget: 256 << 20, RowGroupSize: 32 << 20, Compression: "zstd"},
		Checkpoint: CheckpointConfig{Interval: Duration(30 * time.Second), KeepInstants: 30,
			Lateness: LatenessConfig{Allowed: Duration(checkpoint.DefaultAllowedLateness), BeyondMax: lateWrite, Buffer: 32 << 20}},
		Admin:   AdminConfig{Addr: "127.0.0.1:9464", ReadyAfterIntervals: 3},
		Metrics: MetricsConfig{OTLPInterval: Duration(metrics.DefaultOTLPInterval)},
	}
}

// loadConfig reads a YAML file over the defaults. Unknown keys are errors.
func loadConfig(path string) (Config, error) {
	cfg := defaultConfig()
	if path == "" {
		return cfg, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return cfg, err
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil && !errors.Is(err, io.EOF) {
		return cfg, fmt.Errorf("%s: %w", path, err)
	}
	return cfg, nil
}

// finish fills the defaults that depend on other fields.
func (c *Config) finish() {
	if c.Kafka.Group == "" && c.Kafka.Topic != "" {
		c.Kafka.Group = "lakestream-" + c.Kafka.Topic
	}
	if c.Table.Name == "" {
		c.Table.Name = identifier(c.Kafka.Topic)
	}
	if c.DLQ.Topic == "" && c.Kafka.Topic != "" {
		c.DLQ.Topic = c.Kafka.Topic + ".dlq"
	}
	if c.Checkpoint.WriterID == "" {
		host, err := os.Hostname()
		if err != nil || host == "" {
			host = "ingestd"
		}
		c.Checkpoint.WriterID = host
	}
	if c.Checkpoint.StateDir == "" {
		c.Checkpoint.StateDir = filepath.Join(os.TempDir(), "lakestream", identifier(c.Table.Name), identifier(c.Checkpoint.WriterID))
	}
}

func identifier(s string) string {
	b := []byte(s)
	for i, ch := range b {
		if !(ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9' || ch == '_') {
			b[i] = '_'
		}
	}
	return string(b)
}

// Validate reports every problem at once.
func (c Config) Validate() error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if len(c.Kafka.Brokers) == 0 {
		add("kafka.brokers: at least one broker is required")
	}
	if c.Kafka.Topic == "" {
		add("kafka.topic is required")
	} else if err := commitlog.ValidateTopic(c.Kafka.Topic); err != nil {
		add("kafka.topic: %v", err)
	}
	if c.Kafka.SessionTimeout < 0 || c.Kafka.RebalanceTimeout < 0 {
		add("kafka.session_timeout and rebalance_timeout must not be negative")
	}
	if c.Kafka.Start != "earliest" && c.Kafka.Start != "latest" {
		add("kafka.start %q: want earliest or latest", c.Kafka.Start)
	}
	if c.Table.URL == "" {
		add("table.url is required (file:///path, s3://bucket/prefix or a local path)")
	}
	switch c.Format.Type {
	case "json":
	case "avro":
		if c.Format.Registry == "" {
			add("format.registry is required for avro")
		}
	default:
		add("format.type %q: want json or avro", c.Format.Type)
	}
	var user *schemas.Schema
	if len(c.Format.Schema) == 0 {
		add("format.schema: declare at least one column")
	} else if u, err := schemas.SchemaFromSpecs(c.Format.Schema); err != nil {
		add("format.schema: %v", err)
	} else {
		user = &u
	}
	if c.Format.MaxRecordBytes <= 0 {
		add("format.max_record_bytes must be positive")
	}
	if tmpl, err := bucketing.ParseTemplate(c.Partitioning.Template); err != nil {
		add("partitioning.template: %v", err)
	} else if user != nil {
		// A partition field that is not a field of its own segment
		// ("{name}") becomes a column: it must not be a field too.
		if err := schemas.CheckPartitionColumns(*user, tmpl.ColumnFields()); err != nil {
			add("partitioning.template: %v", err)
		}
	}
	if c.Partitioning.MaxPast < 0 || c.Partitioning.MaxFuture < 0 {
		add("partitioning.max_past and max_future must not be negative")
	}
	if c.Writer.Workers < 1 {
		add("writer.workers %d: must be at least 1", c.Writer.Workers)
	} else {
		errs = append(errs, c.Writer.validateRouter(c.Writer.Workers, c.Writer.MaxParallelism)...)
	}
	if c.Writer.TargetFileSize < 1<<20 {
		add("writer.target_file_size %v: must be at least 1MiB", c.Writer.TargetFileSize)
	}
	if c.Writer.MemoryBudget < 0 || (c.Writer.MemoryBudget > 0 && c.Writer.MemoryBudget < 1<<20) {
		add("writer.memory_budget %d: want 0 (off) or at least 1MiB", c.Writer.MemoryBudget)
	}
	if c.Writer.MaxOpenFiles < 1 {
		add("writer.max_open_files must be at least 1")
	}
	if c.Writer.MinFileSize < 0 {
		add("writer.min_file_size %d: must not be negative", c.Writer.MinFileSize)
	}
	if c.Writer.StageMemory < 1<<20 {
		add("writer.stage_memory %d: must be at least 1MiB", c.Writer.StageMemory)
	}
	if c.Checkpoint.KeepInstants < 1 {
		add("checkpoint.keep_instants %d: must be at least 1", c.Checkpoint.KeepInstants)
	}
	if c.Checkpoint.Interval <= 0 {
		add("checkpoint.interval must be positive")
	}
	if c.Checkpoint.WriterID == "" || strings.ContainsAny(c.Checkpoint.WriterID, "\n\r") {
		add("checkpoint.writer_id must be a non-empty single line")
	}
	if c.Admin.ReadyAfterIntervals < 1 {
		add("admin.ready_after_intervals %d: must be at least 1 (checkpoint intervals without a completed checkpoint before /readyz answers 503)", c.Admin.ReadyAfterIntervals)
	}
	errs = append(errs, c.Checkpoint.Lateness.validate()...)
	errs = append(errs, c.Metrics.validate()...)
	return errors.Join(errs...)
}

// Duration is a time.Duration written as "30s" in YAML.
type Duration time.Duration

// UnmarshalYAML parses a Go duration string.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %q is not a duration like 30s or 10m", n.Line, n.Value)
	}
	*d = Duration(v)
	return nil
}

func (d Duration) String() string { return time.Duration(d).String() }

// ByteSize is a size written as "128MiB", "1GB" or a plain number of bytes.
type ByteSize int64

// UnmarshalYAML parses a size.
func (s *ByteSize) UnmarshalYAML(n *yaml.Node) error {
	v, err := parseByteSize(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*s = ByteSize(v)
	return nil
}

func (s ByteSize) String() string { return strconv.FormatInt(int64(s), 10) + "B" }

func parseByteSize(v string) (int64, error) {
	units := []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"B", 1}}
	num, mult := strings.TrimSpace(v), int64(1)
	for _, u := range units {
		if strings.HasSuffix(num, u.suffix) {
			num, mult = strings.TrimSpace(strings.TrimSuffix(num, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%q is not a size like 128MiB", v)
	}
	return n * mult, nil
}

// override is one setting that an environment variable and a flag of
// `ingestd run` can set, over the YAML file.
type override struct {
	flag, env, help string
	apply           func(c *Config, v string) error
}

var overrides = []override{
	{"brokers", "LAKESTREAM_BROKERS", "comma-separated Kafka brokers", func(c *Config, v string) error {
		c.Kafka.Brokers = strings.Split(v, ",")
		return nil
	}},
	{"topic", "LAKESTREAM_TOPIC", "Kafka topic", func(c *Config, v string) error { c.Kafka.Topic = v; return nil }},
	{"group", "LAKESTREAM_GROUP", "consumer group", func(c *Config, v string) error { c.Kafka.Group = v; return nil }},
	{"table", "LAKESTREAM_TABLE_URL", "table URL", func(c *Config, v string) error { c.Table.URL = v; return nil }},
	{"registry", "LAKESTREAM_REGISTRY", "Schema Registry URL", func(c *Config, v string) error { c.Format.Registry = v; return nil }},
	{"writer-id", "LAKESTREAM_WRITER_ID", "writer ID, unique per replica", func(c *Config, v string) error { c.Checkpoint.WriterID = v; return nil }},
	{"state-dir", "LAKESTREAM_STATE_DIR", "local state directory (checkpoint journal), one per replica", func(c *Config, v string) error {
		c.Checkpoint.StateDir = v
		return nil
	}},
	{"admin-addr", "LAKESTREAM_ADMIN_ADDR", "admin HTTP address (empty disables)", func(c *Config, v string) error { c.Admin.Addr = v; return nil }},
	{"otlp-endpoint", "LAKESTREAM_OTLP_ENDPOINT", "OTLP/HTTP endpoint to push metrics to (empty: none)", func(c *Config, v string) error {
		c.Metrics.OTLPEndpoint = v
		return nil
	}},
	{"checkpoint-interval", "LAKESTREAM_CHECKPOINT_INTERVAL", "checkpoint interval", func(c *Config, v string) error {
		d, err := time.ParseDuration(v)
		c.Checkpoint.Interval = Duration(d)
		return err
	}},
	{"workers", "LAKESTREAM_WORKERS", "writer workers", func(c *Config, v string) error {
		n, err := strconv.Atoi(v)
		c.Writer.Workers = n
		return err
	}},
}

// applyEnv applies the environment's overrides; getenv is os.Getenv.
func (c *Config) applyEnv(getenv func(string) string) error {
	var errs []error
	for _, o := range overrides {
		if v := getenv(o.env); v != "" {
			if err := o.apply(c, v); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", o.env, err))
			}
		}
	}
	return errors.Join(errs...)
}
