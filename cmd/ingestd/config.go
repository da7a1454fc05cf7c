package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/lakestream/lakestream/bucketing"
	"github.com/lakestream/lakestream/checkpoint"
	"github.com/lakestream/lakestream/iceberg"
	"github.com/lakestream/lakestream/internal/metrics"
	"github.com/lakestream/lakestream/internal/objstore"
	"github.com/lakestream/lakestream/internal/redact"
	"github.com/lakestream/lakestream/internal/slowlog"
	"github.com/lakestream/lakestream/schemas"
	"github.com/lakestream/lakestream/source"
	"github.com/lakestream/lakestream/table/hudi"
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
	// SlowOperation: uploads and commits slower than this are logged
	// ("slow upload", "slow commit"; config_sections.go).
	SlowOperation SlowOperationConfig `yaml:"slow_operation"`
	// Tracing: checkpoint traces over OTLP/HTTP (config_sections.go).
	Tracing TracingConfig `yaml:"tracing"`
	// ShutdownTimeout bounds a stop on SIGTERM: the final checkpoint (all
	// but the last fifth, at most 5s, of it), leaving the group and
	// closing the Kafka clients; past it the process exits with status 1,
	// committing nothing more (the table keeps what was committed, and
	// the next start resumes from it). Default 25s (Kubernetes sends
	// SIGKILL 30s after SIGTERM by default).
	ShutdownTimeout Duration `yaml:"shutdown_timeout"`
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
	// TLS and SASL to the brokers, for the consumer and the dead-letter
	// producer alike (kafka_security.go). Default: plaintext, no
	// authentication.
	TLS  KafkaTLSConfig  `yaml:"tls"`
	SASL KafkaSASLConfig `yaml:"sasl"`
	// StaticMembership makes each replica a static member of the group
	// (group.instance.id, derived from checkpoint.writer_id): a replica
	// restarted within the session timeout takes its partitions back at
	// once, without a rebalance. A stopped replica keeps its partitions,
	// unread, until it is back or the session timeout passes, unless
	// LeaveGroupOnShutdown. Default true.
	StaticMembership bool `yaml:"static_membership"`
	// LeaveGroupOnShutdown: a static member leaves the group on SIGTERM,
	// handing its partitions on at once (for replicas stopped for good;
	// a restarted one then rebalances the group twice). Default false.
	LeaveGroupOnShutdown bool `yaml:"leave_group_on_shutdown"`
	// GroupProtocol: classic (default; JoinGroup/SyncGroup, the members
	// assign) or consumer (KIP-848, Kafka 4.0+: the broker assigns; the
	// session timeout is then the broker's group.consumer.session.timeout.ms
	// and session_timeout is not used).
	GroupProtocol string `yaml:"group_protocol"`
}

// TableConfig says where the table lives.
type TableConfig struct {
	URL      string `yaml:"url"`      // required: file:///path, s3://bucket/prefix or a local path
	Name     string `yaml:"name"`     // default: the topic, with other characters than [A-Za-z0-9_] as _
	Database string `yaml:"database"` // default "default"
	// Iceberg publishes the table as an Iceberg table too: every commit
	// is also an Iceberg snapshot of the same files (metadata/ beside
	// .hoodie/; docs/format/iceberg.md, docs/querying.md). Default true.
	Iceberg bool `yaml:"iceberg"`
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
	// UploadConcurrency: finished files uploaded at once, per worker
	// (default 8): a checkpoint of thousands of buckets uploads thousands
	// of files, each waiting on the store.
	UploadConcurrency int `yaml:"upload_concurrency"`
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
		Kafka:        KafkaConfig{Brokers: []string{"localhost:9092"}, Start: "earliest", StaticMembership: true, GroupProtocol: source.GroupProtocolClassic},
		Table:        TableConfig{Database: "default", Iceberg: true},
		Format:       FormatConfig{Type: "json", MaxRecordBytes: 1 << 20},
		Partitioning: PartitioningConfig{Template: bucketing.DefaultTemplate, MaxPast: Duration(720 * time.Hour), MaxFuture: Duration(time.Hour)},
		Writer: WriterConfig{Workers: 2, TargetFileSize: 128 << 20, MaxFileAge: Duration(10 * time.Minute),
			MaxOpenFiles: 16, MinFileSize: writer.DefaultMinFileSize, StageMemory: writer.DefaultStageMemory, UploadConcurrency: writer.DefaultUploadConcurrency, MemoryBudget: 256 << 20, RowGroupSize: 32 << 20, Compression: "zstd"},
		Checkpoint: CheckpointConfig{Interval: Duration(30 * time.Second), KeepInstants: 30,
			Lateness: LatenessConfig{Allowed: Duration(checkpoint.DefaultAllowedLateness), BeyondMax: lateWrite, Buffer: 32 << 20}},
		Admin:         AdminConfig{Addr: "127.0.0.1:9464", ReadyAfterIntervals: 3},
		Metrics:       MetricsConfig{OTLPInterval: Duration(metrics.DefaultOTLPInterval)},
		SlowOperation: SlowOperationConfig{Threshold: Duration(slowlog.DefaultThreshold), Interval: Duration(slowlog.DefaultInterval)},

		ShutdownTimeout: Duration(defaultShutdownTimeout),
	}
}

// defaultShutdownTimeout is shutdown_timeout's default.
const defaultShutdownTimeout = 25 * time.Second

// shutdownBudget splits the shutdown bound: the final checkpoint gets all
// but closeReserve, which is left for leaving the group and closing the
// clients (a fifth of the bound, at most 5s).
func (c Config) shutdownBudget() (grace, closeReserve time.Duration) {
	total := time.Duration(c.ShutdownTimeout)
	closeReserve = min(total/5, 5*time.Second)
	return total - closeReserve, closeReserve
}

// instanceID is the replica's group.instance.id: the writer ID, with
// characters Kafka does not allow replaced by '_' and, when that changed
// it or it is too long, a hash of the writer ID appended (two writer IDs
// never share an instance ID).
func (c Config) instanceID() string {
	id := c.Checkpoint.WriterID
	b := []rune(id)
	changed := false
	for i, r := range b {
		if !source.IsInstanceIDChar(r) {
			b[i], changed = '_', true
		}
	}
	out := string(b)
	if changed || len(out) > 200 {
		sum := sha256.Sum256([]byte(id))
		if len(out) > 200 {
			out = out[:200]
		}
		out += "-" + hex.EncodeToString(sum[:6])
	}
	return out
}

// groupOptions are the reader's consumer group options.
func (c Config) groupOptions() []source.Option {
	opts := []source.Option{source.WithGroupProtocol(c.Kafka.GroupProtocol), source.WithLeaveOnClose(c.Kafka.LeaveGroupOnShutdown)}
	if c.Kafka.StaticMembership {
		opts = append(opts, source.WithStaticMember(c.instanceID()))
	}
	return opts
}

// loadConfig reads a YAML file over the defaults. Unknown keys are errors.
// A value of the wrong type (or an unknown key) does not stop the decoding:
// the error is a *yaml.TypeError that lists every such problem, each with
// its setting's path, and the Config holds everything else the file sets,
// so that Validate can report the other problems with it. Any other error
// (an unreadable file, a YAML syntax error) means nothing was decoded.
func loadConfig(path string) (Config, error) {
	cfg := defaultConfig()
	if path == "" {
		return cfg, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return cfg, err
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return cfg, fmt.Errorf("%s: %w", path, err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	err = dec.Decode(&cfg)
	if err == nil || errors.Is(err, io.EOF) {
		return cfg, nil
	}
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return cfg, fmt.Errorf("%s: %w", path, err)
	}
	paths := settingLines(&root)
	out := &yaml.TypeError{}
	for _, msg := range te.Errors {
		var line int
		if _, err := fmt.Sscanf(msg, "line %d:", &line); err == nil && paths[line] != "" {
			msg = paths[line] + ": " + msg
		}
		out.Errors = append(out.Errors, path+": "+msg)
	}
	return cfg, out
}

// settingLines maps each line of a YAML document to the path of the setting
// written on it (writer.workers, format.schema[1].type); a line holding
// several settings (a flow mapping) maps to their common parent.
func settingLines(root *yaml.Node) map[int]string {
	lines := map[int]string{}
	note := func(line int, path string) {
		cur, ok := lines[line]
		if !ok {
			lines[line] = path
			return
		}
		for !(path == cur || strings.HasPrefix(path, cur+".") || strings.HasPrefix(path, cur+"[")) && cur != "" {
			i := strings.LastIndexAny(cur, ".[")
			if i < 0 {
				cur = ""
			} else {
				cur = cur[:i]
			}
		}
		lines[line] = cur
	}
	var walk func(n *yaml.Node, path string)
	walk = func(n *yaml.Node, path string) {
		switch n.Kind {
		case yaml.DocumentNode:
			for _, c := range n.Content {
				walk(c, path)
			}
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, v := n.Content[i], n.Content[i+1]
				p := k.Value
				if path != "" {
					p = path + "." + k.Value
				}
				note(k.Line, p)
				if v.Kind == yaml.ScalarNode && v.Line != k.Line {
					note(v.Line, p)
				}
				walk(v, p)
			}
		case yaml.SequenceNode:
			for i, c := range n.Content {
				p := fmt.Sprintf("%s[%d]", path, i)
				note(c.Line, p)
				walk(c, p)
			}
		}
	}
	walk(root, "")
	return lines
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

// Upper bounds of the counts and sizes of the configuration. Each one
// guards something that grows with the value: memory or goroutines set up
// at start, memory held per worker, file or partition, file descriptors,
// or reads at every start. README.md ("Limits") says why each is where it
// is.
const (
	maxWorkers          = 1024    // writer.workers: goroutines, writer sets and row batches made at start
	maxKeyGroups        = 32768   // writer.max_parallelism: Flink's bound on key groups
	maxOpenFiles        = 1024    // writer.max_open_files: per worker; each holds a spool file and its buffers
	maxOpenFilesTotal   = 65536   // workers x max_open_files: file descriptors of the spool files
	maxFileSize         = 4 << 30 // writer.target_file_size, min_file_size: spooled on local disk while open
	minRowGroupSize     = 1 << 20 // writer.row_group_size
	maxRowGroupSize     = 1 << 30 // writer.row_group_size: buffered in memory per open file
	maxStageMemory      = 4 << 30 // writer.stage_memory: held in memory per worker
	minHotShare         = 1e-4    // writer.hot_bucket.share: the router preallocates 8/share tracked buckets
	maxLateBuffer       = 4 << 30 // checkpoint.lateness.buffer: late rows held in memory
	maxKeepInstants     = 1000    // checkpoint.keep_instants: every start reads each kept instant's metadata
	maxPartitionRecords = source.DefaultMaxPollRecords
	maxPartitionBytes   = 256 << 20 // kafka.max_partition_bytes
	maxPartitionBuffer  = 1 << 30   // kafka.partition_buffer: held per owned partition
	maxNameBytes        = 255       // writer_id, group: recorded in every commit, logged
)

// problems collects validation errors.
type problems []error

func (p *problems) add(format string, args ...any) { *p = append(*p, fmt.Errorf(format, args...)) }

// count checks lo <= v <= hi for a count; why says what grows with it.
func (p *problems) count(setting string, v, lo, hi int64, why string) {
	switch {
	case v < lo:
		p.add("%s %d: must be at least %d", setting, v, lo)
	case v > hi:
		p.add("%s %d: at most %d (%s)", setting, v, hi, why)
	}
}

// size checks lo <= v <= hi for a size.
func (p *problems) size(setting string, v ByteSize, lo, hi int64, why string) {
	switch {
	case int64(v) < lo:
		p.add("%s %v: must be at least %v", setting, v, ByteSize(lo))
	case int64(v) > hi:
		p.add("%s %v: at most %v (%s)", setting, v, ByteSize(hi), why)
	}
}

// name checks an identifier that goes into commits, logs and the terminal:
// non-empty, printable, at most maxNameBytes.
func (p *problems) name(setting, v string) {
	switch {
	case v == "":
		p.add("%s is required", setting)
	case !isPrintable(v):
		p.add("%s %q: control or non-printable characters are not allowed", setting, v)
	case len(v) > maxNameBytes:
		p.add("%s %q: at most %d bytes", setting, v, maxNameBytes)
	}
}

// path checks a local path setting: printable if set.
func (p *problems) path(setting, v string) {
	if !isPrintable(v) {
		p.add("%s %q: control or non-printable characters are not allowed", setting, v)
	}
}

// isPrintable reports whether s is valid UTF-8 without control or other
// non-printable characters (spaces are allowed).
func isPrintable(s string) bool {
	for _, r := range s {
		if r == utf8.RuneError || !strconv.IsPrint(r) {
			return false
		}
	}
	return true
}

// Validate reports every problem at once, each naming its setting (and,
// for a bound, the value and the bound). It has no side effects: it reads
// the spool directory's metadata and nothing else.
func (c Config) Validate() error {
	var p problems
	c.validateKafka(&p)
	c.validateTable(&p)
	user, tmpl := c.validateFormat(&p)
	if user != nil && tmpl != nil {
		// A partition field that is not a field of its own segment
		// ("{name}") becomes a column: it must not be a field too.
		if err := schemas.CheckPartitionColumns(*user, tmpl.ColumnFields()); err != nil {
			p.add("partitioning.template: %v", err)
		}
	}
	if tmpl != nil {
		c.validateTableConfig(&p, tmpl)
	}
	c.Writer.validate(&p)
	c.validateCheckpoint(&p)
	c.validateAdmin(&p)
	// The rules of ingest's and the writer's options, for the settings
	// not reported above.
	p = append(p, c.validateIngestOptions(p)...)
	p = append(p, c.Metrics.validate()...)
	p = append(p, c.SlowOperation.validate()...)
	p = append(p, c.Tracing.validate()...)
	// Every URL in a message is redacted already; this catches one that a
	// package's message quoted as given.
	return scrubError(errors.Join(p...), c.urls()...)
}

// urls are the configuration's URLs, which may hold credentials.
func (c Config) urls() []string {
	return []string{c.Table.URL, c.Format.Registry, c.Metrics.OTLPEndpoint, c.Tracing.OTLPEndpoint}
}

func (c Config) validateKafka(p *problems) {
	if len(c.Kafka.Brokers) == 0 {
		p.add("kafka.brokers: at least one broker is required")
	}
	for i, b := range c.Kafka.Brokers {
		if err := validateBroker(b); err != nil {
			p.add("kafka.brokers[%d] %q: %v", i, redact.URL(b), err)
		}
	}
	if c.Kafka.Topic == "" {
		p.add("kafka.topic is required")
	} else if err := hudi.ValidateTopic(c.Kafka.Topic); err != nil {
		p.add("kafka.topic: %v", err)
	}
	p.name("kafka.group", c.Kafka.Group)
	if c.Kafka.Start != "earliest" && c.Kafka.Start != "latest" {
		p.add("kafka.start %q: want earliest or latest", c.Kafka.Start)
	}
	switch c.Kafka.GroupProtocol {
	case source.GroupProtocolClassic, source.GroupProtocolConsumer:
	default:
		p.add("kafka.group_protocol %q: want %s or %s (KIP-848, Kafka 4.0 and later)", c.Kafka.GroupProtocol, source.GroupProtocolClassic, source.GroupProtocolConsumer)
	}
	if c.Kafka.LeaveGroupOnShutdown && !c.Kafka.StaticMembership {
		p.add("kafka.leave_group_on_shutdown is for static members (kafka.static_membership: true): a dynamic member always leaves")
	}
	if c.Kafka.SessionTimeout < 0 || c.Kafka.RebalanceTimeout < 0 {
		p.add("kafka.session_timeout and rebalance_timeout must not be negative")
	}
	if c.Kafka.MaxPartitionRecords > maxPartitionRecords {
		p.add("kafka.max_partition_records %d: at most %d (a poll returns at most %d records, so a larger quota does nothing)",
			c.Kafka.MaxPartitionRecords, maxPartitionRecords, source.DefaultMaxPollRecords)
	}
	if c.Kafka.MaxPartitionBytes > maxPartitionBytes {
		p.add("kafka.max_partition_bytes %v: at most %v (one partition's share of a poll, held in memory)", c.Kafka.MaxPartitionBytes, ByteSize(maxPartitionBytes))
	}
	if c.Kafka.PartitionBuffer > maxPartitionBuffer {
		p.add("kafka.partition_buffer %v: at most %v (held in memory for every owned partition)", c.Kafka.PartitionBuffer, ByteSize(maxPartitionBuffer))
	}
	// The source's own rules (negative quotas, timeouts below their
	// minimum), named by their settings. Those checked above are left out.
	for _, e := range splitErrors(c.sourceConfig().Validate()) {
		msg := strings.TrimPrefix(e, "source: ")
		setting := ""
		for prefix, s := range map[string]string{
			"session timeout": "kafka.session_timeout", "rebalance timeout": "kafka.rebalance_timeout",
			"max partition records": "kafka.max_partition_records", "max partition bytes": "kafka.max_partition_bytes",
			"partition buffer bytes": "kafka.partition_buffer", "max event time skew": "kafka.max_event_time_skew",
			"idle timeout": "kafka.idle_timeout",
		} {
			if strings.HasPrefix(msg, prefix) {
				setting = s
			}
		}
		if setting == "" {
			continue // brokers, topic, group, start: checked above
		}
		p.add("%s: %s", setting, msg)
	}
	c.validateKafkaSecurity(p)
	if c.DLQ.Topic == "" {
		p.add("dlq.topic is required")
	} else if err := hudi.ValidateTopic(c.DLQ.Topic); err != nil {
		p.add("dlq.topic: %v", err)
	} // one that is kafka.topic: ingest's rule (validateIngestOptions)
}

// validateBroker checks a seed broker: host or host:port (franz-go uses
// port 9092 when none is given), printable, without spaces.
func validateBroker(b string) error {
	switch {
	case strings.TrimSpace(b) == "":
		return errors.New("empty")
	case !isPrintable(b) || strings.ContainsAny(b, " /"):
		return errors.New("want host or host:port, without spaces, slashes or control characters")
	}
	host, port := b, ""
	if strings.Contains(b, ":") {
		var err error
		if host, port, err = net.SplitHostPort(b); err != nil {
			return fmt.Errorf("want host or host:port: %s", addrProblem(err))
		}
		if err := validatePort(port); err != nil {
			return err
		}
	}
	if host == "" {
		return errors.New("no host")
	}
	return nil
}

// addrProblem is what net.SplitHostPort found wrong, without the address.
func addrProblem(err error) string {
	var ae *net.AddrError
	if errors.As(err, &ae) {
		return ae.Err
	}
	return err.Error()
}

func validatePort(port string) error {
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("port %q: want 1 to 65535", port)
	}
	return nil
}

// sourceConfig is the Kafka reader's configuration.
func (c Config) sourceConfig() source.Config {
	return source.Config{
		Brokers: c.Kafka.Brokers, Topic: c.Kafka.Topic, Group: c.Kafka.Group, ResetOffset: c.Kafka.Start,
		SessionTimeout: time.Duration(c.Kafka.SessionTimeout), RebalanceTimeout: time.Duration(c.Kafka.RebalanceTimeout),
		MaxPartitionRecords: c.Kafka.MaxPartitionRecords, MaxPartitionBytes: int(c.Kafka.MaxPartitionBytes),
		PartitionBufferBytes: int(c.Kafka.PartitionBuffer), MaxEventTimeSkew: time.Duration(c.Kafka.MaxEventTimeSkew),
		IdleTimeout: time.Duration(c.Kafka.IdleTimeout),
	}
}

func (c Config) validateTable(p *problems) {
	if c.Table.URL == "" {
		p.add("table.url is required (file:///path, s3://bucket/prefix or a local path)")
	} else if err := validateLocation(c.Table.URL); err != nil {
		p.add("table.url %s: %v", redact.URL(c.Table.URL), err)
	} else if c.Table.Iceberg {
		if _, err := iceberg.TableLocation(c.Table.URL); err != nil {
			p.add("table.url %s: its iceberg location: %v (or set table.iceberg: false)", redact.URL(c.Table.URL), err)
		}
	}
}

// validateTableConfig applies table/hudi's rules to the table's name,
// database and partition fields.
func (c Config) validateTableConfig(p *problems, tmpl *bucketing.Template) {
	err := hudi.Config{Name: c.Table.Name, Database: c.Table.Database, RecordKeyFields: recordKeyFields, PartitionFields: tmpl.PartitionFields()}.Validate()
	for _, e := range splitErrors(err) {
		switch {
		case strings.HasPrefix(e, "table name"):
			p.add("table.name: %s", e)
		case strings.HasPrefix(e, "database name"):
			p.add("table.database: %s", e)
		default:
			p.add("partitioning.template: %s", e)
		}
	}
}

func (c Config) validateFormat(p *problems) (*schemas.Schema, *bucketing.Template) {
	// format.type and format.registry: ingest's rules
	// (validateIngestOptions), but for control characters.
	if c.Format.Type == "avro" && !isPrintable(c.Format.Registry) {
		p.add("format.registry %s: control or non-printable characters are not allowed", redact.URL(c.Format.Registry))
	}
	var user *schemas.Schema
	if len(c.Format.Schema) == 0 {
		p.add("format.schema: declare at least one column")
	} else if u, err := schemas.SchemaFromSpecs(c.Format.Schema); err != nil {
		p.add("format.schema: %v", err)
	} else {
		user = &u
	}
	if user != nil && c.Format.EventTimeField != "" {
		if _, err := schemas.NewTableSchema(*user, schemas.TableOptions{EventTimeField: c.Format.EventTimeField}); err != nil {
			p.add("format.event_time_field: %v", err)
		}
	}
	if c.Format.MaxRecordBytes < 1 { // 0 would be ingest's default: refused here, as the setting says its bound; the upper bound is ingest's
		p.add("format.max_record_bytes %v: must be at least %v", c.Format.MaxRecordBytes, ByteSize(1))
	}
	if !isPrintable(c.Partitioning.Template) {
		// Partition paths are directory names, logged and printed.
		p.add("partitioning.template %q: control or non-printable characters are not allowed", c.Partitioning.Template)
		return user, nil
	}
	tmpl, err := bucketing.ParseTemplate(c.Partitioning.Template)
	if err != nil {
		p.add("partitioning.template: %v", err)
		return user, nil
	}
	return user, tmpl
}

func (w WriterConfig) validate(p *problems) {
	p.count("writer.workers", int64(w.Workers), 1, maxWorkers,
		"each worker is a goroutine with its own Parquet writers, open files and row batches, all set up at start; more workers than cores do not write faster")
	if w.Workers >= 1 && w.Workers <= maxWorkers {
		p.count("writer.max_parallelism", int64(w.MaxParallelism), 0, maxKeyGroups, "key groups; Flink's bound")
		*p = append(*p, w.validateRouter(w.Workers, w.MaxParallelism)...)
		if w.MaxOpenFiles >= 1 && w.MaxOpenFiles <= maxOpenFiles && w.Workers*w.MaxOpenFiles > maxOpenFilesTotal {
			p.add("writer.workers x writer.max_open_files = %d: at most %d (every open file holds a spool file descriptor)",
				w.Workers*w.MaxOpenFiles, maxOpenFilesTotal)
		}
	}
	if h := w.HotBucket.Share; h != 0 && h < minHotShare {
		p.add("writer.hot_bucket.share %v: at least %v (the router counts 8/share buckets, allocated at start)", h, minHotShare)
	}
	p.size("writer.target_file_size", w.TargetFileSize, 1<<20, maxFileSize,
		"an open file is spooled on local disk until it is uploaded; Hudi's own default is 120MB")
	// writer.max_file_age, and the lower bounds of writer.max_open_files
	// and writer.upload_concurrency and its upper bound, are the writer's
	// rules (validateIngestOptions).
	if w.MaxOpenFiles > maxOpenFiles {
		p.add("writer.max_open_files %d: at most %d (per worker: each open file holds a spool file and its column buffers)", w.MaxOpenFiles, maxOpenFiles)
	}
	p.size("writer.min_file_size", w.MinFileSize, 0, maxFileSize, "a minimum above the target file size acts as the target")
	p.size("writer.stage_memory", w.StageMemory, 1<<20, maxStageMemory, "staged rows held in memory per worker before they spill")
	p.size("writer.row_group_size", w.RowGroupSize, minRowGroupSize, maxRowGroupSize,
		"a row group is buffered in memory for every open file, and readers hold one in memory")
	// writer.compression and writer.spool_dir (an existing directory):
	// the writer's rules (validateIngestOptions), but for control
	// characters.
	p.path("writer.spool_dir", w.SpoolDir)
}

func (c Config) validateCheckpoint(p *problems) {
	if c.ShutdownTimeout < Duration(time.Second) || c.ShutdownTimeout > Duration(time.Hour) {
		p.add("shutdown_timeout %v: want 1s to 1h (the bound on a stop after SIGTERM, final checkpoint included)", time.Duration(c.ShutdownTimeout))
	}
	p.name("checkpoint.writer_id", c.Checkpoint.WriterID)
	if c.Checkpoint.KeepInstants > maxKeepInstants { // at least 1: checkpoint's rule (validateCheckpointOptions)
		p.add("checkpoint.keep_instants %d: at most %d (%s)", c.Checkpoint.KeepInstants, maxKeepInstants,
			"every start, recovery and inspection reads the metadata of each instant on the active timeline; Hudi keeps 30")
	}
	p.path("checkpoint.state_dir", c.Checkpoint.StateDir)
	*p = append(*p, c.Checkpoint.Lateness.validate()...)
	// The rules of the coordinator's options (interval, event-time bounds,
	// kept instants, memory budget, lateness) are checkpoint's.
	*p = append(*p, c.validateCheckpointOptions()...)
}

// validateAdmin: "" (off) or host:port with a port from 1 to 65535.
func (c Config) validateAdmin(p *problems) {
	if c.Admin.ReadyAfterIntervals < 1 {
		p.add("admin.ready_after_intervals %d: must be at least 1 (checkpoint intervals without a completed checkpoint before /readyz answers 503)", c.Admin.ReadyAfterIntervals)
	}
	a := c.Admin.Addr
	if a == "" {
		return
	}
	if !isPrintable(a) {
		p.add("admin.addr %q: control or non-printable characters are not allowed", a)
		return
	}
	host, port, err := net.SplitHostPort(a)
	if err != nil {
		p.add("admin.addr %q: want host:port such as 127.0.0.1:9464, or \"\" to turn it off: %s", a, addrProblem(err))
		return
	}
	if err := validatePort(port); err != nil {
		p.add("admin.addr %q: %v", a, err)
	}
	if strings.ContainsAny(host, " /") {
		p.add("admin.addr %q: host %q is not a host name or IP address", a, host)
	}
}

// splitErrors lists the lines of an error (errors.Join joins with "\n").
func splitErrors(err error) []string {
	if err == nil {
		return nil
	}
	return strings.Split(err.Error(), "\n")
}

// validateLocation checks a table location as objstore.Open reads it
// (objstore.ParseLocation), without opening or creating anything and
// without quoting what a URL may hide: file:///abs/path, a local path, or
// s3://bucket/prefix with the query parameters endpoint (http or https,
// without credentials), path_style and region. Credentials belong in the
// environment (AWS_ACCESS_KEY_ID...), never in the URL.
func validateLocation(loc string) error {
	if !isPrintable(loc) {
		return errors.New("control or non-printable characters are not allowed")
	}
	_, err := objstore.ParseLocation(loc)
	return err
}

// Duration is a time.Duration written as "30s" in YAML.
type Duration time.Duration

// UnmarshalYAML parses a Go duration string.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(n.Value)
	if n.Kind != yaml.ScalarNode || err != nil {
		// A *yaml.TypeError lets the decoder go on with the other fields.
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: %q is not a duration like 30s or 10m", n.Line, n.Value)}}
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
	if n.Kind != yaml.ScalarNode || err != nil {
		if err == nil {
			err = fmt.Errorf("%q is not a size like 128MiB", n.Value)
		}
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: %v", n.Line, err)}}
	}
	*s = ByteSize(v)
	return nil
}

// String writes the size in the largest binary unit that divides it
// (32MiB, 1536KiB, 10B).
func (s ByteSize) String() string {
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if s != 0 && int64(s)%u.mult == 0 {
			return strconv.FormatInt(int64(s)/u.mult, 10) + u.suffix
		}
	}
	return strconv.FormatInt(int64(s), 10) + "B"
}

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
	if n > math.MaxInt64/mult {
		return 0, fmt.Errorf("%q is too large", v)
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
	{"kafka-tls", "LAKESTREAM_KAFKA_TLS", "TLS to the brokers: true or false", func(c *Config, v string) error {
		b, err := strconv.ParseBool(v)
		c.Kafka.TLS.Enabled = b
		return err
	}},
	{"kafka-tls-ca-file", "LAKESTREAM_KAFKA_TLS_CA_FILE", "PEM CA certificates of the brokers", func(c *Config, v string) error { c.Kafka.TLS.CAFile = v; return nil }},
	{"kafka-tls-cert-file", "LAKESTREAM_KAFKA_TLS_CERT_FILE", "PEM client certificate", func(c *Config, v string) error { c.Kafka.TLS.CertFile = v; return nil }},
	{"kafka-tls-key-file", "LAKESTREAM_KAFKA_TLS_KEY_FILE", "PEM client key", func(c *Config, v string) error { c.Kafka.TLS.KeyFile = v; return nil }},
	{"kafka-tls-server-name", "LAKESTREAM_KAFKA_TLS_SERVER_NAME", "name the brokers' certificates must be valid for", func(c *Config, v string) error {
		c.Kafka.TLS.ServerName = v
		return nil
	}},
	{"kafka-sasl-mechanism", "LAKESTREAM_KAFKA_SASL_MECHANISM", "PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or AWS_MSK_IAM", func(c *Config, v string) error {
		c.Kafka.SASL.Mechanism = v
		return nil
	}},
	{"kafka-sasl-username", "LAKESTREAM_KAFKA_SASL_USERNAME", "SASL user", func(c *Config, v string) error { c.Kafka.SASL.Username = v; return nil }},
	// The password itself has no flag (a command line is visible to every
	// user of the host): a file, or a variable named here.
	{"kafka-sasl-password-file", "LAKESTREAM_KAFKA_SASL_PASSWORD_FILE", "file holding the SASL password", func(c *Config, v string) error {
		c.Kafka.SASL.PasswordFile, c.Kafka.SASL.PasswordEnv = v, ""
		return nil
	}},
	{"kafka-sasl-password-env", "LAKESTREAM_KAFKA_SASL_PASSWORD_ENV", "environment variable holding the SASL password", func(c *Config, v string) error {
		c.Kafka.SASL.PasswordEnv, c.Kafka.SASL.PasswordFile = v, ""
		return nil
	}},
	{"admin-addr", "LAKESTREAM_ADMIN_ADDR", "admin HTTP address (empty disables)", func(c *Config, v string) error { c.Admin.Addr = v; return nil }},
	{"otlp-endpoint", "LAKESTREAM_OTLP_ENDPOINT", "OTLP/HTTP endpoint to push metrics to (empty: none)", func(c *Config, v string) error {
		c.Metrics.OTLPEndpoint = v
		return nil
	}},
	{"otlp-traces-endpoint", "LAKESTREAM_OTLP_TRACES_ENDPOINT", "OTLP/HTTP endpoint to export checkpoint traces to (empty: none)", func(c *Config, v string) error {
		c.Tracing.OTLPEndpoint = v
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

// configure reads `ingestd run`'s command line: the YAML file, then the
// environment, then the flags over it. Every problem (a value of the wrong
// type in the file, a bad flag or variable, every invalid setting) is
// printed at once, redacted and escaped, and the exit code is 2. On
// success it returns the configuration and the logger, which redacts the
// configuration's URLs from every line.
func configure(args []string, stderr io.Writer) (Config, *slog.Logger, int) {
	return configureAs("ingestd run", args, stderr)
}

// configureAs is configure for the command name (in messages).
func configureAs(name string, args []string, stderr io.Writer) (Config, *slog.Logger, int) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", "", "table configuration (YAML)")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	set := map[string]*string{}
	for _, o := range overrides {
		set[o.flag] = fs.String(o.flag, "", o.help+" (env "+o.env+")")
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return Config{}, nil, 0
		}
		return Config{}, nil, 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "%s: unexpected argument %q\n", name, fs.Arg(0))
		return Config{}, nil, 2
	}
	cfg, err := loadConfig(*configPath)
	var te *yaml.TypeError
	if err != nil && !errors.As(err, &te) {
		fmt.Fprintf(stderr, "%s: %s\n", name, printableLines(scrub(err.Error(), cfg.urls()...)))
		return Config{}, nil, 2
	}
	var errs []error
	if te != nil {
		for _, e := range te.Errors {
			errs = append(errs, errors.New(e))
		}
	}
	errs = append(errs, cfg.applyEnv(os.Getenv))
	fs.Visit(func(f *flag.Flag) {
		for _, o := range overrides {
			if o.flag == f.Name {
				if err := o.apply(&cfg, *set[o.flag]); err != nil {
					errs = append(errs, fmt.Errorf("--%s: %w", o.flag, err))
				}
			}
		}
	})
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		errs = append(errs, fmt.Errorf("--log-level %q: want debug, info, warn or error", *logLevel))
	}
	cfg.finish()
	errs = append(errs, cfg.Validate())
	if err := errors.Join(errs...); err != nil {
		msg := printableLines(scrub(err.Error(), cfg.urls()...))
		fmt.Fprintf(stderr, "%s: invalid configuration:\n  %s\n", name, strings.ReplaceAll(msg, "\n", "\n  "))
		return Config{}, nil, 2
	}
	// The SASL password is masked from every log line too, however a
	// package would quote it (none does).
	scrub := newScrubber(cfg.urls()...)
	if sec, err := cfg.kafkaSecurity(os.Getenv); err == nil {
		scrub.addSecrets(sec.SASL.Password.Reveal())
	}
	return cfg, newScrubbingLogger(stderr, level, scrub), 0
}
