// Package slowlog logs the operations that take longer than a threshold:
// one JSON-ready slog line per slow operation, with what is needed to
// understand it (the writer's uploads: bucket, rows, bytes and the time the
// file was open and took to upload; the checkpoint's commits: files, rows,
// bytes and every phase's duration), at most one line per operation kind
// per interval; the lines left out are counted in the next one
// ("suppressed").
//
// ingestd makes one Logger (slow_operation.threshold, .interval) and hands
// it to the writers (writer.WithSlowLog) and the coordinator
// (checkpoint.WithSlowLog). A nil *Logger logs nothing, so components need
// no checks. It starts no goroutine.
package slowlog

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// Defaults of New.
const (
	// DefaultThreshold: an operation that takes this long or longer is
	// slow.
	DefaultThreshold = 5 * time.Second
	// DefaultInterval: at most one line per operation kind per interval.
	DefaultInterval = 10 * time.Second
)

// Logger logs slow operations. Safe for concurrent use; a nil *Logger
// does nothing.
type Logger struct {
	log       *slog.Logger
	threshold time.Duration
	interval  time.Duration
	now       func() time.Time

	mu         sync.Mutex
	last       map[string]time.Time
	suppressed map[string]int
}

// Option configures New.
type Option func(*Logger)

// WithThreshold sets the duration from which an operation is slow.
// Default DefaultThreshold; must be positive.
func WithThreshold(d time.Duration) Option { return func(l *Logger) { l.threshold = d } }

// WithInterval sets the least time between two lines of one operation
// kind. 0 logs every slow operation. Default DefaultInterval; not
// negative.
func WithInterval(d time.Duration) Option { return func(l *Logger) { l.interval = d } }

// WithLogger sets where the lines go. Default slog.Default().
func WithLogger(log *slog.Logger) Option { return func(l *Logger) { l.log = log } }

// WithClock sets the clock of the rate limit (tests). Default time.Now.
func WithClock(now func() time.Time) Option { return func(l *Logger) { l.now = now } }

// New returns a Logger, or every problem of the options at once.
func New(opts ...Option) (*Logger, error) {
	l := &Logger{log: slog.Default(), threshold: DefaultThreshold, interval: DefaultInterval, now: time.Now,
		last: map[string]time.Time{}, suppressed: map[string]int{}}
	for _, o := range opts {
		o(l)
	}
	var errs []error
	if l.threshold <= 0 {
		errs = append(errs, fmt.Errorf("slowlog: threshold %v: must be positive", l.threshold))
	}
	if l.interval < 0 {
		errs = append(errs, fmt.Errorf("slowlog: interval %v: must not be negative", l.interval))
	}
	if l.log == nil {
		errs = append(errs, errors.New("slowlog: logger must not be nil"))
	}
	if l.now == nil {
		errs = append(errs, errors.New("slowlog: clock must not be nil"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return l, nil
}

// Slow reports whether an operation that took took is slow (false for a
// nil l).
func (l *Logger) Slow(took time.Duration) bool { return l != nil && took >= l.threshold }

// Log logs "slow <op>" at warning level, with took, the threshold, the
// lines of op suppressed since the last one and attrs, if took is slow and
// no line of op was logged within the interval (then it is counted as
// suppressed). It reports whether it logged.
func (l *Logger) Log(op string, took time.Duration, attrs ...slog.Attr) bool {
	if !l.Slow(took) {
		return false
	}
	l.mu.Lock()
	now := l.now()
	if last, ok := l.last[op]; ok && now.Sub(last) < l.interval {
		l.suppressed[op]++
		l.mu.Unlock()
		return false
	}
	suppressed := l.suppressed[op]
	l.last[op], l.suppressed[op] = now, 0
	l.mu.Unlock()
	all := append([]slog.Attr{
		slog.String("op", op),
		slog.Duration("took", took),
		slog.Duration("threshold", l.threshold),
		slog.Int("suppressed", suppressed),
	}, attrs...)
	l.log.LogAttrs(context.Background(), slog.LevelWarn, "slow "+op, all...)
	return true
}

// Phase is one phase of an operation and how long it took.
type Phase struct {
	Name string
	Took time.Duration
}

// Phases is the attribute "phases": each phase's duration, in order, as
// a group of durations (in JSON: {"begin": 1200000, "upload": ...}, in
// nanoseconds like every slog duration).
func Phases(ps []Phase) slog.Attr {
	attrs := make([]any, 0, len(ps))
	for _, p := range ps {
		attrs = append(attrs, slog.Duration(p.Name, p.Took))
	}
	return slog.Group("phases", attrs...)
}
