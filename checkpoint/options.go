package checkpoint

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"time"

	"github.com/lakestream/lakestream/internal/failpoint"
	"github.com/lakestream/lakestream/internal/slowlog"
	"github.com/lakestream/lakestream/internal/tasks"
	"github.com/lakestream/lakestream/table"
	"go.opentelemetry.io/otel/trace"
)

// Option configures a Coordinator.
type Option func(*options)

type options struct {
	tasks          *tasks.Registry      // WithTasks (tasks.go)
	slow           *slowlog.Logger      // WithSlowLog (slowlog.go)
	tracerProvider trace.TracerProvider // WithTracerProvider (trace.go)
	interval       time.Duration
	maxRecordBytes int
	maxPast        time.Duration
	maxFuture      time.Duration
	batchRows      int
	retryMin       time.Duration
	retryMax       time.Duration
	shutdownGrace  time.Duration
	logger         *slog.Logger
	now            func() time.Time
	failpoints     *failpoint.Set
	publishers     []table.Publisher
	keepInstants   int
	maintainEvery  int

	allowedLateness time.Duration
	maxLateness     time.Duration
	beyondMax       LatePolicy
	lateBufferBytes int64
	memoryBudget    int64
}

func defaultOptions() options {
	return options{
		interval:       30 * time.Second,
		maxRecordBytes: 1 << 20,
		maxPast:        30 * 24 * time.Hour,
		maxFuture:      time.Hour,
		batchRows:      1024,
		retryMin:       100 * time.Millisecond,
		retryMax:       10 * time.Second,
		shutdownGrace:  2 * time.Minute,
		logger:         slog.New(slog.DiscardHandler),
		now:            time.Now,
		keepInstants:   30,
		maintainEvery:  10,

		allowedLateness: DefaultAllowedLateness,
		lateBufferBytes: 32 << 20,
		memoryBudget:    256 << 20,
	}
}

// WithInterval sets the checkpoint interval. Default 30s.
func WithInterval(d time.Duration) Option { return func(o *options) { o.interval = d } }

// WithMaxRecordBytes dead-letters records whose value is larger. Default
// 1 MiB.
func WithMaxRecordBytes(n int) Option { return func(o *options) { o.maxRecordBytes = n } }

// WithEventTimeBounds dead-letters records whose event time is older than
// maxPast or further ahead than maxFuture (0 disables a bound). Default 30
// days and 1 hour.
func WithEventTimeBounds(maxPast, maxFuture time.Duration) Option {
	return func(o *options) { o.maxPast, o.maxFuture = maxPast, maxFuture }
}

// WithBatchRows sets how many rows are handed to a worker at once. Default
// 1024.
func WithBatchRows(n int) Option { return func(o *options) { o.batchRows = n } }

// WithRetry sets the backoff of retried storage operations. Default 100ms
// doubling to 10s.
func WithRetry(min, max time.Duration) Option {
	return func(o *options) { o.retryMin, o.retryMax = min, max }
}

// WithShutdownGrace bounds the shutdown: from the end of Run's context,
// the checkpoint in progress and the final one must complete within it,
// or Run returns an error without committing. Default 2m.
func WithShutdownGrace(d time.Duration) Option { return func(o *options) { o.shutdownGrace = d } }

// WithLogger sets the logger. Default: discard.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithClock sets the clock for checkpoint timing and event-time bounds.
// Default time.Now.
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

// WithTimelineMaintenance sets how many completed instants stay on the
// active timeline (older ones are archived) and every how many checkpoints
// the coordinator archives and rolls back dead writers' instants. Default
// 30 and 10; every 0 disables it.
func WithTimelineMaintenance(keep, every int) Option {
	return func(o *options) { o.keepInstants, o.maintainEvery = keep, every }
}

// WithLateData sets how late records are treated. A record is late when its
// event time is older than the source's watermark (Watermarker) minus
// allowed; late records are counted and written to their buckets in
// batches (at the next checkpoint, or when the late rows pass bufferBytes),
// never one file per late record. A record later than max (0: no maximum)
// is written anyway (LateWrite) or dead-lettered (LateDeadLetter). Default:
// allowed DefaultAllowedLateness, max 0, LateWrite, 32 MiB.
func WithLateData(allowed, max time.Duration, beyondMax LatePolicy, bufferBytes int64) Option {
	return func(o *options) {
		o.allowedLateness, o.maxLateness, o.beyondMax, o.lateBufferBytes = allowed, max, beyondMax, bufferBytes
	}
}

// WithMemoryBudget bounds the column data buffered in memory by all workers
// together: past it, the largest buffers are written to their files'
// spool (the files stay open). 0 disables the bound. The process's heap is
// larger than the budget by the writers' fixed overhead (page buffers and
// dictionaries of every open file: bound them with the writer's open-file
// limit). Default 256 MiB.
func WithMemoryBudget(n int64) Option { return func(o *options) { o.memoryBudget = n } }

// WithPublishers has every commit observed by publishers, called in
// order after each commit completes; their contract (what a publisher may
// do, and that its failure is logged and counted but never undoes or
// blocks the commit) is table.Publisher's. Default none.
func WithPublishers(p ...table.Publisher) Option {
	return func(o *options) { o.publishers = append(o.publishers, p...) }
}

// WithFailpoints arms the checkpoint's failpoints (tests only). Default none.
func WithFailpoints(s *failpoint.Set) Option { return func(o *options) { o.failpoints = s } }

// ValidateOptions reports every problem of opts (applied over the
// defaults) at once, as New would, without making a coordinator: a
// configuration loader checks its settings with the rules of the package
// that uses them. A problem of one option is an *OptionError (errors.As
// through the joined errors), which names the option, so that the loader
// names its own setting (cmd/ingestd does).
func ValidateOptions(opts ...Option) error {
	return ValidateOptionsForWorkers(0, opts...)
}

// MinMemoryBudgetPerWorker is the least memory budget (WithMemoryBudget)
// per worker that ValidateOptionsForWorkers accepts, when the budget is on.
const MinMemoryBudgetPerWorker = 1 << 20

// ValidateOptionsForWorkers is ValidateOptions for a coordinator of
// workers workers (Config.Router's parallelism; 0: unknown), with the
// rules between the options and the workers: a memory budget, when on, of
// at least MinMemoryBudgetPerWorker per worker. Below it every worker
// flushes its buffers for the budget after nearly every batch, as each
// flushes only its own. New does not apply these rules (tests and
// benchmarks run small budgets on purpose); a deployment's configuration
// should.
func ValidateOptionsForWorkers(workers int, opts ...Option) error {
	o := defaultOptions()
	for _, opt := range opts {
		opt(&o)
	}
	errs := []error{o.validate()}
	if workers > 0 && o.memoryBudget > 0 && o.memoryBudget < int64(workers)*MinMemoryBudgetPerWorker {
		errs = append(errs, optionProblem("WithMemoryBudget", "memory budget "+formatBytes(o.memoryBudget),
			fmt.Sprintf("at least %s with %d workers (%s per worker), or 0 to turn it off",
				formatBytes(int64(workers)*MinMemoryBudgetPerWorker), workers, formatBytes(MinMemoryBudgetPerWorker))))
	}
	return errors.Join(errs...)
}

// OptionError is a problem of one option. Its message names the option's
// setting as the coordinator knows it ("checkpoint interval 0s: must be
// positive"); Problem is the part after the setting and its value ("must
// be positive"), for a configuration loader that names the setting its
// own way.
type OptionError struct {
	Option  string // the option's function: "WithInterval", "WithMemoryBudget", ...
	Problem string // what is wrong, without the setting and its value
	msg     string
}

func (e *OptionError) Error() string { return e.msg }

// optionProblem is the problem of option: subject (the setting and its
// value) and what is wrong with it.
func optionProblem(option, subject, problem string) *OptionError {
	return &OptionError{Option: option, Problem: problem, msg: subject + ": " + problem}
}

// formatBytes writes n in the largest binary unit that divides it (32MiB,
// 1536KiB, 10B), as configuration files write sizes.
func formatBytes(n int64) string {
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n != 0 && n%u.mult == 0 {
			return strconv.FormatInt(n/u.mult, 10) + u.suffix
		}
	}
	return strconv.FormatInt(n, 10) + "B"
}

func (o options) validate() error {
	var errs []error
	if o.interval <= 0 {
		errs = append(errs, optionProblem("WithInterval", fmt.Sprintf("checkpoint interval %v", o.interval), "must be positive"))
	}
	if o.maxRecordBytes <= 0 {
		errs = append(errs, fmt.Errorf("max record bytes %d: must be positive", o.maxRecordBytes))
	}
	if o.maxPast < 0 || o.maxFuture < 0 {
		errs = append(errs, &OptionError{Option: "WithEventTimeBounds", Problem: "must not be negative", msg: "event time bounds must not be negative"})
	}
	if o.batchRows < 1 {
		errs = append(errs, fmt.Errorf("batch rows %d: must be at least 1", o.batchRows))
	}
	if o.retryMin <= 0 || o.retryMax < o.retryMin {
		errs = append(errs, fmt.Errorf("retry backoff %v..%v: want 0 < min <= max", o.retryMin, o.retryMax))
	}
	if o.keepInstants < 1 || o.maintainEvery < 0 {
		errs = append(errs, optionProblem("WithTimelineMaintenance", fmt.Sprintf("timeline maintenance: keep %d instants every %d checkpoints", o.keepInstants, o.maintainEvery),
			"want keep >= 1, every >= 0"))
	}
	if o.allowedLateness < 0 || o.maxLateness < 0 {
		errs = append(errs, optionProblem("WithLateData", fmt.Sprintf("allowed lateness %v, max lateness %v", o.allowedLateness, o.maxLateness), "must not be negative"))
	}
	if o.maxLateness > 0 && o.maxLateness < o.allowedLateness {
		errs = append(errs, &OptionError{Option: "WithLateData", Problem: fmt.Sprintf("below the allowed lateness %v", o.allowedLateness),
			msg: fmt.Sprintf("max lateness %v is below the allowed lateness %v", o.maxLateness, o.allowedLateness)})
	}
	if o.beyondMax != LateWrite && o.beyondMax != LateDeadLetter {
		errs = append(errs, optionProblem("WithLateData", fmt.Sprintf("late policy %d", o.beyondMax), "want LateWrite or LateDeadLetter"))
	}
	if o.lateBufferBytes < 1<<10 {
		errs = append(errs, optionProblem("WithLateData", fmt.Sprintf("late buffer %d bytes", o.lateBufferBytes), "want at least 1 KiB"))
	}
	if o.memoryBudget < 0 || (o.memoryBudget > 0 && o.memoryBudget < 1<<20) {
		errs = append(errs, optionProblem("WithMemoryBudget", fmt.Sprintf("memory budget %d bytes", o.memoryBudget), "want 0 (off) or at least 1 MiB"))
	}
	if slices.Contains(o.publishers, nil) {
		errs = append(errs, errors.New("publishers must not be nil"))
	}
	if o.logger == nil || o.now == nil {
		errs = append(errs, errors.New("logger and clock must not be nil"))
	}
	return errors.Join(errs...)
}
