package source

import (
	"context"
	"log/slog"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Option configures a Reader or a DeadLetter beyond its Config.
type Option func(*options)

type options struct {
	log     *slog.Logger
	kgoOpts []kgo.Opt
}

// WithLogger sets the logger; franz-go's own log lines go to it too (at the
// levels the logger's handler enables). Default: slog.Default().
func WithLogger(l *slog.Logger) Option {
	return func(o *options) {
		if l != nil {
			o.log = l
		}
	}
}

// WithKgoOpts appends franz-go client options after the ones derived from the
// Config, so they win (tests use it for short heartbeats and timeouts).
func WithKgoOpts(opts ...kgo.Opt) Option {
	return func(o *options) { o.kgoOpts = append(o.kgoOpts, opts...) }
}

func buildOptions(opts []Option) options {
	o := options{log: slog.Default()}
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	return o
}

// connOpts are the client options shared by the Reader, the DeadLetter and
// Check: brokers, client ID, TLS, SASL (sec, validated) and logging. Secrets
// only go into the SASL mechanism, never into a log line.
func connOpts(log *slog.Logger, brokers []string, clientID string, sec Security) ([]kgo.Opt, error) {
	opts := []kgo.Opt{
		kgo.SeedBrokers(brokers...),
		kgo.ClientID(clientID),
		kgo.WithLogger(kgoLogger{log}),
	}
	secOpts, err := sec.kgoOpts(log)
	if err != nil {
		return nil, err
	}
	return append(opts, secOpts...), nil
}

// kgoLogger sends franz-go's log lines to slog. franz-go's "info" is chatty
// (every group session, every flush), so it maps to slog's debug level;
// franz-go's warnings and errors keep their level.
type kgoLogger struct{ l *slog.Logger }

func (k kgoLogger) Level() kgo.LogLevel {
	ctx := context.Background()
	switch {
	case k.l.Enabled(ctx, slog.LevelDebug):
		return kgo.LogLevelInfo // kgo's debug level is far too verbose for ingestd
	case k.l.Enabled(ctx, slog.LevelWarn):
		return kgo.LogLevelWarn
	case k.l.Enabled(ctx, slog.LevelError):
		return kgo.LogLevelError
	default:
		return kgo.LogLevelNone
	}
}

func (k kgoLogger) Log(level kgo.LogLevel, msg string, keyvals ...any) {
	var l slog.Level
	switch level {
	case kgo.LogLevelError:
		l = slog.LevelError
	case kgo.LogLevelWarn:
		l = slog.LevelWarn
	default:
		l = slog.LevelDebug
	}
	k.l.Log(context.Background(), l, "kgo: "+msg, keyvals...)
}
