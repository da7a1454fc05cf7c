package iceberg

import (
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// Option configures a Publisher.
type Option func(*options)

type options struct {
	enabled           bool
	stats             Stats
	logger            *slog.Logger
	maxConflicts      int
	backoffMin        time.Duration
	backoffMax        time.Duration
	keepMetadata      int
	orphanAge         time.Duration
	footerConcurrency int
	instantsPerCommit int
	mergeCount        int
	now               func() time.Time
}

func defaultOptions() options {
	return options{
		enabled:           true,
		logger:            slog.New(slog.DiscardHandler),
		maxConflicts:      100,
		backoffMin:        5 * time.Millisecond,
		backoffMax:        time.Second,
		keepMetadata:      20,
		orphanAge:         time.Hour,
		footerConcurrency: 8,
		instantsPerCommit: 32,
		mergeCount:        100,
		now:               time.Now,
	}
}

// WithEnabled switches publishing on or off for the table. A disabled
// Publisher's Publish, CatchUp and Expire do nothing and write nothing; a
// later enabled one catches up with every instant, archived ones included.
// Default: on.
func WithEnabled(on bool) Option { return func(o *options) { o.enabled = on } }

// WithStats sets where the column metrics of an instant's base files come
// from. Default: the instant's stats sidecar, else the Parquet footers
// (FooterStats, which reads every file's footer).
func WithStats(s Stats) Option { return func(o *options) { o.stats = s } }

// WithLogger sets the logger. Default: discard.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithMaxConflicts bounds how many lost races for the next metadata
// version (another publisher committed it first) one CatchUp retries
// without publishing anything itself. Default 100.
func WithMaxConflicts(n int) Option { return func(o *options) { o.maxConflicts = n } }

// WithBackoff sets the jittered wait after a lost race, doubling from min
// to max. Default 5ms to 1s.
func WithBackoff(min, max time.Duration) Option {
	return func(o *options) { o.backoffMin, o.backoffMax = min, max }
}

// WithMetadataVersionsKept sets how many previous metadata files
// (metadata/v<N>.metadata.json) stay after a commit; older ones are
// deleted (write.metadata.previous-versions-max). Default 20.
func WithMetadataVersionsKept(n int) Option { return func(o *options) { o.keepMetadata = n } }

// WithOrphanAge sets how old a manifest or manifest list that no snapshot
// references must be before Expire deletes it: younger ones may belong to
// another publisher's commit in flight. Default 1h.
func WithOrphanAge(d time.Duration) Option { return func(o *options) { o.orphanAge = d } }

// WithFooterConcurrency bounds the footers the default Stats reads at once
// for an instant without a sidecar. Default 8.
func WithFooterConcurrency(n int) Option { return func(o *options) { o.footerConcurrency = n } }

// WithInstantsPerCommit bounds how many Hudi instants one Iceberg commit
// (metadata version) publishes when several wait, as in a catch-up: each
// instant still gets a snapshot of its own, but the metadata, which lists
// every snapshot, is written once per commit instead of once per instant.
// 1 commits every instant alone. Default 32.
func WithInstantsPerCommit(n int) Option { return func(o *options) { o.instantsPerCommit = n } }

// WithManifestMergeCount sets how many manifests an append's snapshot may
// list before they are merged (commit.manifest.min-count-to-merge; each
// commit's append adds one). Default 100, Java Iceberg's.
func WithManifestMergeCount(n int) Option { return func(o *options) { o.mergeCount = n } }

// WithClock sets the clock of orphan ages. Default: time.Now.
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

// Validate reports every problem of the options at once.
func (o options) validate() error {
	var errs []error
	if o.logger == nil {
		errs = append(errs, errors.New("logger is nil"))
	}
	if o.now == nil {
		errs = append(errs, errors.New("clock is nil"))
	}
	if o.maxConflicts < 1 {
		errs = append(errs, fmt.Errorf("max conflicts %d: must be at least 1", o.maxConflicts))
	}
	if o.backoffMin <= 0 || o.backoffMax < o.backoffMin {
		errs = append(errs, fmt.Errorf("backoff %v to %v: min must be positive and max at least min", o.backoffMin, o.backoffMax))
	}
	if o.keepMetadata < 1 {
		errs = append(errs, fmt.Errorf("metadata versions kept %d: must be at least 1", o.keepMetadata))
	}
	if o.orphanAge < time.Minute {
		errs = append(errs, fmt.Errorf("orphan age %v: must be at least 1m (a slower publisher's manifests would be deleted under it)", o.orphanAge))
	}
	if o.footerConcurrency < 1 || o.footerConcurrency > 1024 {
		errs = append(errs, fmt.Errorf("footer concurrency %d: must be between 1 and 1024", o.footerConcurrency))
	}
	if o.mergeCount < 2 {
		errs = append(errs, fmt.Errorf("manifest merge count %d: must be at least 2", o.mergeCount))
	}
	if o.instantsPerCommit < 1 || o.instantsPerCommit > 1024 {
		errs = append(errs, fmt.Errorf("instants per commit %d: must be between 1 and 1024", o.instantsPerCommit))
	}
	return errors.Join(errs...)
}
