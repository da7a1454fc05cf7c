package compaction

import (
	"errors"
	"fmt"
	"github.com/lakestream/lakestream/internal/slowlog"
	"log/slog"
	"os"
	"time"

	"github.com/lakestream/lakestream/iceberg"
	"github.com/lakestream/lakestream/internal/failpoint"
	"github.com/lakestream/lakestream/internal/parquetfile"
	"github.com/lakestream/lakestream/table/hudi"
	"go.opentelemetry.io/otel/trace"
)

// Defaults of the options.
const (
	DefaultTargetFileBytes = 128 << 20
	DefaultSmallFileBytes  = 96 << 20
	DefaultMinFiles        = 2
	DefaultWriterID        = "compactor"
	DefaultProgressEvery   = 10 * time.Second
)

// Option configures Plan and Run.
type Option func(*options)

type options struct {
	targetFileBytes int64
	smallFileBytes  int64
	rowGroupBytes   int64
	minFiles        int
	quietPeriod     time.Duration
	shard, shards   int
	writerID        string
	tempDir         string
	logger          *slog.Logger
	failpoints      *failpoint.Set
	now             func() time.Time
	progressEvery   time.Duration
	mergeOpts       []parquetfile.MergeOption
	dryRun          bool
	retention       time.Duration
	progress        func(Progress)
	tracerProvider  trace.TracerProvider // TracerProvider (trace.go)
	slow            *slowlog.Logger      // SlowLog (slowlog.go)
	iceberg         *iceberg.Publisher
}

func defaultOptions() options {
	return options{
		targetFileBytes: DefaultTargetFileBytes,
		smallFileBytes:  DefaultSmallFileBytes,
		rowGroupBytes:   parquetfile.DefaultMergeRowGroupBytes,
		minFiles:        DefaultMinFiles,
		shards:          1,
		writerID:        DefaultWriterID,
		tempDir:         os.TempDir(),
		logger:          slog.New(slog.DiscardHandler),
		now:             time.Now,
		progressEvery:   DefaultProgressEvery,
		retention:       hudi.DefaultReplacedRetention,
	}
}

// TargetFileBytes is the size a group of inputs adds up to at most (the
// merged file's size, about). Default 128 MiB.
func TargetFileBytes(n int64) Option { return func(o *options) { o.targetFileBytes = n } }

// SmallFileBytes: files of at least n bytes are left alone. Default
// 96 MiB (3/4 of the default target).
func SmallFileBytes(n int64) Option { return func(o *options) { o.smallFileBytes = n } }

// RowGroupBytes is the target size of the merged files' row groups
// (parquetfile.MergeRowGroupBytes). Default 32 MiB, the writer's.
func RowGroupBytes(n int64) Option { return func(o *options) { o.rowGroupBytes = n } }

// MinFiles is the fewest files a group is merged from. Default 2.
func MinFiles(n int) Option { return func(o *options) { o.minFiles = n } }

// QuietPeriod leaves alone the partitions that received a file less than d
// ago (the current hour's, with a streaming writer), to avoid compacting
// them again and again. Correctness never depends on it. Default 0: every
// partition is compacted.
func QuietPeriod(d time.Duration) Option { return func(o *options) { o.quietPeriod = d } }

// Shard makes the run compact only the partitions whose path hashes to i
// of n (FNV-1a of the partition path, modulo n), so that n compactors
// share a table. Default 0 of 1: every partition.
func Shard(i, n int) Option { return func(o *options) { o.shard, o.shards = i, n } }

// WriterID names the compactor in its instants (BeginOptions.WriterID);
// Run settles at start every pending instant left under it, so it must be
// unique among live compactors (one per shard). Default "compactor".
func WriterID(id string) Option { return func(o *options) { o.writerID = id } }

// TempDir holds the inputs and output of the merge in progress. Default
// os.TempDir().
func TempDir(dir string) Option { return func(o *options) { o.tempDir = dir } }

// Logger receives the run's structured log lines (progress every
// ProgressEvery, one per group committed, the fallbacks). Default: discard.
func Logger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// Failpoints fires failpoint.AfterFileWrite once a merged file is
// uploaded and verified, before its commit (the table's own failpoints
// fire in Begin and Commit). Default nil: none.
func Failpoints(s *failpoint.Set) Option { return func(o *options) { o.failpoints = s } }

// Clock sets the clock of the quiet period. Default time.Now.
func Clock(now func() time.Time) Option { return func(o *options) { o.now = now } }

// ProgressEvery is the period of the progress log lines. Default 10s.
func ProgressEvery(d time.Duration) Option { return func(o *options) { o.progressEvery = d } }

// MergeOptions are passed to parquetfile.Merge after the compactor's own
// (MergeHudi, MergeRowGroupBytes, MergeLogger). Default none.
func MergeOptions(opts ...parquetfile.MergeOption) Option {
	return func(o *options) { o.mergeOpts = append(o.mergeOpts, opts...) }
}

// DryRun makes Run plan and stop: nothing is written. Default false.
func DryRun(b bool) Option { return func(o *options) { o.dryRun = b } }

// Retention is how long replaced files are kept after their
// replacecommit completed: queries that planned before it may still read
// them. Each run removes those past it (hudi.Table.CleanReplaced). Default
// 1h (hudi.DefaultReplacedRetention).
func Retention(d time.Duration) Option { return func(o *options) { o.retention = d } }

// Iceberg has every replacecommit of the run published as an Iceberg
// replace snapshot by p (iceberg.Publisher.Publish, after the
// replacecommit completes; a failure is logged, the replacecommit stands
// and the next publish catches up), and the Iceberg snapshots that
// reference replaced files expired (iceberg.Publisher.Expire) before
// CleanReplaced deletes those files: a replaced file is never deleted
// while an unexpired Iceberg snapshot references it. If the expiry fails,
// the run deletes no replaced file. Default nil: no Iceberg publishing.
func Iceberg(p *iceberg.Publisher) Option { return func(o *options) { o.iceberg = p } }

// Progress is how far a run is.
type Progress struct {
	GroupsDone, Groups int
	FilesDone, Files   int
	BytesDone, Bytes   int64
	Elapsed            time.Duration
}

// ProgressFunc is called with the run's progress after the plan, every
// ProgressEvery and after each group (cmd/compactor draws a progress bar
// on a terminal with it), from the goroutine of Run or the progress
// goroutine, never two at once. Default nil.
func ProgressFunc(fn func(Progress)) Option { return func(o *options) { o.progress = fn } }

// Validate reports every problem of the options at once.
func (o *options) Validate() error {
	var errs []error
	if o.targetFileBytes <= 0 {
		errs = append(errs, fmt.Errorf("target file bytes %d: must be positive", o.targetFileBytes))
	}
	if o.smallFileBytes <= 0 {
		errs = append(errs, fmt.Errorf("small file bytes %d: must be positive", o.smallFileBytes))
	} else if o.targetFileBytes > 0 && o.smallFileBytes > o.targetFileBytes {
		errs = append(errs, fmt.Errorf("small file bytes %d: must not exceed the target file bytes %d", o.smallFileBytes, o.targetFileBytes))
	}
	if o.rowGroupBytes <= 0 {
		errs = append(errs, fmt.Errorf("row group bytes %d: must be positive", o.rowGroupBytes))
	}
	if o.minFiles < 2 {
		errs = append(errs, fmt.Errorf("min files %d: must be at least 2", o.minFiles))
	}
	if o.quietPeriod < 0 {
		errs = append(errs, fmt.Errorf("quiet period %s: must not be negative", o.quietPeriod))
	}
	if o.shards < 1 || o.shard < 0 || o.shard >= o.shards {
		errs = append(errs, fmt.Errorf("shard %d/%d: want 0 <= i < n", o.shard, o.shards))
	}
	if o.writerID == "" {
		errs = append(errs, errors.New("writer ID: empty"))
	}
	if o.tempDir == "" {
		errs = append(errs, errors.New("temp dir: empty"))
	}
	if o.logger == nil {
		errs = append(errs, errors.New("logger: nil"))
	}
	if o.now == nil {
		errs = append(errs, errors.New("clock: nil"))
	}
	if o.progressEvery <= 0 {
		errs = append(errs, fmt.Errorf("progress every %s: must be positive", o.progressEvery))
	}
	if o.retention <= 0 {
		errs = append(errs, fmt.Errorf("retention %s: must be positive", o.retention))
	}
	if len(errs) > 0 {
		return fmt.Errorf("compaction: options: %w", errors.Join(errs...))
	}
	return nil
}

// Validate checks opts as Plan and New do, reporting every problem.
func Validate(opts ...Option) error {
	o := defaultOptions()
	for _, opt := range opts {
		opt(&o)
	}
	return o.Validate()
}
