package main

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/lakestream/lakestream/bucketing"
	"github.com/lakestream/lakestream/checkpoint"
	"github.com/lakestream/lakestream/ingest"
	"github.com/lakestream/lakestream/internal/metrics"
	"github.com/lakestream/lakestream/internal/slowlog"
	"github.com/lakestream/lakestream/internal/tracing"
	"github.com/lakestream/lakestream/writer"
)

// The values of checkpoint.lateness.beyond_max.
const (
	lateWrite      = "write"
	lateDeadLetter = "dead-letter"
)

// option is checkpoint.WithLateData of these settings (after Validate).
func (l LatenessConfig) option() checkpoint.Option {
	policy := checkpoint.LateWrite
	if l.BeyondMax == lateDeadLetter {
		policy = checkpoint.LateDeadLetter
	}
	return checkpoint.WithLateData(time.Duration(l.Allowed), time.Duration(l.Max), policy, int64(l.Buffer))
}

// validate checks what only the YAML has (the beyond_max word, the
// buffer's upper bound); the rules between the settings are checkpoint's
// own (Config.validateCheckpointOptions).
func (l LatenessConfig) validate() []error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if l.BeyondMax != lateWrite && l.BeyondMax != lateDeadLetter {
		add("checkpoint.lateness.beyond_max %q: want %s or %s", l.BeyondMax, lateWrite, lateDeadLetter)
	}
	if l.Buffer > maxLateBuffer {
		add("checkpoint.lateness.buffer %v: at most %v (late rows are held in memory until they pass it)", l.Buffer, ByteSize(maxLateBuffer))
	}
	return errs
}

// maintainEvery: the coordinator rolls back dead writers' instants and
// archives the timeline every this many checkpoints.
const maintainEvery = 10

// checkpointOptions are the coordinator's options that the settings make.
// run.go adds the runtime ones (logger, shutdown grace, failpoints, tasks,
// slow log, tracer) and the maximum record size; the memory budget is
// ingest's (ingest.Options.MemoryBudget, split between the coordinator
// and the writers).
func (c Config) checkpointOptions() []checkpoint.Option {
	return []checkpoint.Option{
		checkpoint.WithInterval(time.Duration(c.Checkpoint.Interval)),
		checkpoint.WithEventTimeBounds(time.Duration(c.Partitioning.MaxPast), time.Duration(c.Partitioning.MaxFuture)),
		checkpoint.WithTimelineMaintenance(c.Checkpoint.KeepInstants, maintainEvery),
		c.Checkpoint.Lateness.option(),
	}
}

// validateCheckpointOptions checks the settings of checkpointOptions with
// checkpoint's own rules (checkpoint.ValidateOptions), each problem naming
// its setting: "setting value: problem" for a setting of one value, the
// section and checkpoint's message for the lateness settings.
func (c Config) validateCheckpointOptions() []error {
	settings := map[string]string{ // by checkpoint option: the setting and its value, up to the problem
		"WithInterval":            fmt.Sprintf("checkpoint.interval %v: ", c.Checkpoint.Interval),
		"WithTimelineMaintenance": fmt.Sprintf("checkpoint.keep_instants %d: ", c.Checkpoint.KeepInstants),
		"WithEventTimeBounds":     "partitioning.max_past and max_future ",
	}
	var errs []error
	for _, e := range joinedErrors(checkpoint.ValidateOptions(c.checkpointOptions()...)) {
		var oe *checkpoint.OptionError
		switch {
		case !errors.As(e, &oe):
			errs = append(errs, fmt.Errorf("checkpoint: %w", e))
		case oe.Option == "WithLateData":
			errs = append(errs, fmt.Errorf("checkpoint.lateness: %w", e))
		case settings[oe.Option] != "":
			errs = append(errs, errors.New(settings[oe.Option]+oe.Problem))
		default:
			errs = append(errs, fmt.Errorf("checkpoint: %w", e))
		}
	}
	return errs
}

// writerOptions are the writers' options that the settings make. run.go
// adds the logger and the slow log; ingest adds the spool directory
// (ingestOptions), the partition columns, the writers' share of the memory
// budget and the journal's hook.
func (w WriterConfig) writerOptions() []writer.Option {
	return []writer.Option{
		writer.WithTargetFileSize(int64(w.TargetFileSize)),
		writer.WithMaxFileAge(time.Duration(w.MaxFileAge)),
		writer.WithMaxOpenFiles(w.MaxOpenFiles),
		writer.WithMinFileSize(int64(w.MinFileSize)),
		writer.WithStageMemory(int64(w.StageMemory)),
		writer.WithUploadConcurrency(w.UploadConcurrency),
		writer.WithRowGroupBytes(int64(w.RowGroupSize)),
		writer.WithCompression(w.Compression),
	}
}

// ingestOptions are the engine's options that the settings make, without
// the parts made at start (run.go adds the storage, schema, template,
// router, Kafka configuration and the runtime options).
func (c Config) ingestOptions() ingest.Options {
	return ingest.Options{
		TableName: c.Table.Name, Database: c.Table.Database,
		Topic: c.Kafka.Topic, WriterID: c.Checkpoint.WriterID,
		Format: c.Format.Type, Registry: c.Format.Registry, MaxRecordBytes: int64(c.Format.MaxRecordBytes),
		JournalDir: c.Checkpoint.StateDir, SpoolDir: c.Writer.SpoolDir,
		DeadLetterTopic: c.DLQ.Topic,
		MemoryBudget:    cmp.Or(int64(c.Writer.MemoryBudget), ingest.NoMemoryBudget), // memory_budget 0 turns it off
		WriterOptions:   c.Writer.writerOptions(),
	}
}

// validateIngestOptions checks the settings of ingestOptions with the
// rules of ingest and of the writer (ingest.Options.ValidateSettings with
// the workers: format, registry, the largest record, the dead-letter
// topic, the memory budget, the writers' options), each problem naming
// its setting. A setting that p already reports (out of its bounds in
// README "Limits", or with control characters) is not reported again.
func (c Config) validateIngestOptions(p problems) []error {
	workers := c.Writer.Workers
	if workers < 1 || workers > maxWorkers {
		workers = 0 // reported as writer.workers; the per-worker rule waits for a valid count
	}
	w := c.Writer
	settings := map[string][2]string{ // by writer option or ingest field: the setting, and its value
		"WithTargetFileSize":    {"writer.target_file_size", fmt.Sprintf(" %v", w.TargetFileSize)},
		"WithMaxFileAge":        {"writer.max_file_age", fmt.Sprintf(" %v", w.MaxFileAge)},
		"WithMaxOpenFiles":      {"writer.max_open_files", fmt.Sprintf(" %d", w.MaxOpenFiles)},
		"WithMinFileSize":       {"writer.min_file_size", fmt.Sprintf(" %v", w.MinFileSize)},
		"WithStageMemory":       {"writer.stage_memory", fmt.Sprintf(" %v", w.StageMemory)},
		"WithUploadConcurrency": {"writer.upload_concurrency", fmt.Sprintf(" %d", w.UploadConcurrency)},
		"WithRowGroupBytes":     {"writer.row_group_size", fmt.Sprintf(" %v", w.RowGroupSize)},
		"WithCompression":       {"writer.compression", fmt.Sprintf(" %q", w.Compression)},
		"WithSpoolDir":          {"writer.spool_dir", ""}, // the problem names the directory
		"MemoryBudget":          {"writer.memory_budget", fmt.Sprintf(" %v", w.MemoryBudget)},
		"Format":                {"format.type", fmt.Sprintf(" %q", c.Format.Type)},
		"Registry":              {"format.registry", ""}, // the problem names the URL, redacted
		"MaxRecordBytes":        {"format.max_record_bytes", fmt.Sprintf(" %v", c.Format.MaxRecordBytes)},
		"DeadLetterTopic":       {"dlq.topic", fmt.Sprintf(" %q", c.DLQ.Topic)},
	}
	var errs []error
	for _, e := range joinedErrors(c.ingestOptions().ValidateSettings(workers)) {
		var we *writer.OptionError
		var ie *ingest.OptionError
		name, problem := "", ""
		switch {
		case errors.As(e, &we):
			name, problem = we.Option, we.Problem
		case errors.As(e, &ie):
			name, problem = ie.Field, ie.Problem
		}
		if errors.Is(e, ingest.ErrDeadLettersReadAgain) {
			problem = "must not be kafka.topic (dead letters would be read again)"
		}
		s, ok := settings[name]
		switch {
		case !ok:
			errs = append(errs, fmt.Errorf("ingest: %w", e))
		case !p.mention(s[0]):
			errs = append(errs, errors.New(s[0]+s[1]+": "+problem))
		}
	}
	return errs
}

// joinedErrors lists the errors errors.Join joined (err alone if it joins
// none; nothing for nil).
func joinedErrors(err error) []error {
	if err == nil {
		return nil
	}
	j, ok := err.(interface{ Unwrap() []error })
	if !ok {
		return []error{err}
	}
	var out []error
	for _, e := range j.Unwrap() {
		out = append(out, joinedErrors(e)...)
	}
	return out
}

// routerOptions are the hot-bucket settings; zero values keep bucketing's
// defaults.
func (w WriterConfig) routerOptions() []bucketing.RouterOption {
	h := w.HotBucket
	return []bucketing.RouterOption{bucketing.HotShare(h.Share), bucketing.HotSpread(h.Spread), bucketing.HotWindow(h.Window)}
}

// validateRouter names the setting of each problem NewRouter would have.
func (w WriterConfig) validateRouter(workers, maxParallelism int) []error {
	err := bucketing.ValidateRouter(workers, maxParallelism, w.routerOptions()...)
	var rce *bucketing.RouterConfigError
	if err == nil {
		return nil
	}
	if !errors.As(err, &rce) {
		return []error{fmt.Errorf("writer: %w", err)}
	}
	var errs []error
	for _, p := range rce.Problems {
		setting := "writer.hot_bucket"
		if strings.HasPrefix(p, "max parallelism") {
			setting = "writer.max_parallelism"
		}
		errs = append(errs, fmt.Errorf("%s: %s", setting, p))
	}
	return errs
}

// providerOptions are the metrics exporters' settings.
func (m MetricsConfig) providerOptions() []metrics.ProviderOption {
	return []metrics.ProviderOption{metrics.WithOTLPEndpoint(m.OTLPEndpoint), metrics.WithOTLPInterval(time.Duration(m.OTLPInterval))}
}

func (m MetricsConfig) validate() []error {
	err := metrics.ValidateProvider(m.providerOptions()...)
	if err == nil {
		return nil
	}
	var errs []error
	for _, line := range splitErrors(scrubError(err, m.OTLPEndpoint)) {
		errs = append(errs, fmt.Errorf("metrics: %s", line))
	}
	return errs
}

// SlowOperationConfig: an upload of a data file or a checkpoint's commit
// that takes Threshold or longer logs one warning ("slow upload", "slow
// commit") with its bucket or partitions, rows, bytes and phase durations;
// at most one line of each kind per Interval (the lines left out are
// counted in the next one).
type SlowOperationConfig struct {
	Threshold Duration `yaml:"threshold"` // default 5s; 0 disables
	Interval  Duration `yaml:"interval"`  // default 10s; 0 logs every one
}

func (s SlowOperationConfig) validate() []error {
	var errs []error
	if s.Threshold < 0 {
		errs = append(errs, fmt.Errorf("slow_operation.threshold %v: must not be negative (0 disables the slow-operation log)", time.Duration(s.Threshold)))
	}
	if s.Interval < 0 {
		errs = append(errs, fmt.Errorf("slow_operation.interval %v: must not be negative", time.Duration(s.Interval)))
	}
	return errs
}

// logger is the slow-operation logger of these settings (after Validate),
// nil when the threshold is 0.
func (s SlowOperationConfig) logger(l *slog.Logger) (*slowlog.Logger, error) {
	if s.Threshold == 0 {
		return nil, nil
	}
	return slowlog.New(slowlog.WithThreshold(time.Duration(s.Threshold)), slowlog.WithInterval(time.Duration(s.Interval)), slowlog.WithLogger(l))
}

// TracingConfig: every checkpoint is traced (a span per checkpoint, its
// phases as children: checkpoint.WithTracerProvider); the spans are
// exported over OTLP/HTTP when OTLPEndpoint is set, else dropped.
// Credentials go in $OTEL_EXPORTER_OTLP_HEADERS (or
// $OTEL_EXPORTER_OTLP_TRACES_HEADERS), never in the URL.
type TracingConfig struct {
	OTLPEndpoint string `yaml:"otlp_endpoint"` // default "": no export; e.g. http://localhost:4318 (path /v1/traces)
}

func (t TracingConfig) options() []tracing.Option {
	return []tracing.Option{tracing.WithOTLPEndpoint(t.OTLPEndpoint)}
}

func (t TracingConfig) validate() []error {
	err := tracing.Validate(t.options()...)
	if err == nil {
		return nil
	}
	var errs []error
	for _, line := range splitErrors(scrubError(err, t.OTLPEndpoint)) {
		errs = append(errs, fmt.Errorf("tracing: %s", line))
	}
	return errs
}

// mention reports whether a problem of p is about setting (its message
// starts with it).
func (p problems) mention(setting string) bool {
	for _, e := range p {
		if m := e.Error(); strings.HasPrefix(m, setting+" ") || strings.HasPrefix(m, setting+":") {
			return true
		}
	}
	return false
}
