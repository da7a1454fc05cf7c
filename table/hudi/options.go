package hudi

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/lakestream/lakestream/internal/failpoint"
)

// Option configures a Table.
type Option func(*options)

type options struct {
	now               func() time.Time
	logger            *slog.Logger
	heartbeatInterval time.Duration
	heartbeatMisses   int
	readConcurrency   int
	reqConcurrency    int
	failpoints        *failpoint.Set
}

func defaultOptions() options {
	return options{
		now:               time.Now,
		logger:            slog.New(slog.DiscardHandler),
		heartbeatInterval: 10 * time.Second,
		heartbeatMisses:   3,
		readConcurrency:   8,
		reqConcurrency:    16,
	}
}

// WithClock sets the clock used for instant times and heartbeat expiry.
// Default: time.Now.
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

// WithLogger sets the logger. Default: discard.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithHeartbeat sets how often a writer refreshes the heartbeat of its open
// instant, and how many intervals may pass without one before other writers
// may roll the instant back. Default: every 10s, expired after 3 misses
// (30s).
func WithHeartbeat(interval time.Duration, misses int) Option {
	return func(o *options) { o.heartbeatInterval, o.heartbeatMisses = interval, misses }
}

// WithReadConcurrency bounds concurrent reads of commit files. Default 8.
func WithReadConcurrency(n int) Option { return func(o *options) { o.readConcurrency = n } }

// WithRequestConcurrency bounds the concurrent requests of a commit: the
// stats of its base files and the partition metadata files of its
// partitions. A checkpoint of 100,000 buckets makes 100,000 of each, and
// each waits on the store (an fsync, an S3 round trip). Default 16.
func WithRequestConcurrency(n int) Option { return func(o *options) { o.reqConcurrency = n } }

// WithFailpoints arms failpoints of the commit path (tests only). Default
// none.
func WithFailpoints(s *failpoint.Set) Option { return func(o *options) { o.failpoints = s } }

func (o options) validate() error {
	var errs []error
	if o.now == nil {
		errs = append(errs, errors.New("clock is nil"))
	}
	if o.logger == nil {
		errs = append(errs, errors.New("logger is nil"))
	}
	if o.heartbeatInterval <= 0 {
		errs = append(errs, fmt.Errorf("heartbeat interval %v: must be positive", o.heartbeatInterval))
	}
	if o.heartbeatMisses < 1 {
		errs = append(errs, fmt.Errorf("heartbeat misses %d: must be at least 1", o.heartbeatMisses))
	}
	if o.readConcurrency < 1 || o.readConcurrency > maxConcurrency {
		errs = append(errs, fmt.Errorf("read concurrency %d: must be between 1 and %d", o.readConcurrency, maxConcurrency))
	}
	if o.reqConcurrency < 1 || o.reqConcurrency > maxConcurrency {
		errs = append(errs, fmt.Errorf("request concurrency %d: must be between 1 and %d", o.reqConcurrency, maxConcurrency))
	}
	return errors.Join(errs...)
}

// maxConcurrency bounds the concurrency options: more requests at once
// than this only queue in the store's client.
const maxConcurrency = 1024

func (o options) heartbeatExpiry() time.Duration {
	return o.heartbeatInterval * time.Duration(o.heartbeatMisses)
}
