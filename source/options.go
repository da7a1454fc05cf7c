package source

import (
	"time"

	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/lakestream/lakestream/internal/tasks"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Option configures a Reader or a DeadLetter beyond its Config.
type Option func(*options)

type options struct {
	log     *slog.Logger
	kgoOpts []kgo.Opt
	tasks   *tasks.Registry // Reader only: see WithTasks

	// Reader only: the consumer group's membership (see WithStaticMember,
	// WithGroupProtocol, WithLeaveOnClose).
	instanceID    string
	groupProtocol string
	leaveOnClose  bool

	lagRefresh time.Duration // Reader only: see WithLagRefresh
}

// The consumer group protocols of WithGroupProtocol.
const (
	// GroupProtocolClassic is the JoinGroup/SyncGroup protocol; the
	// members assign the partitions (cooperative-sticky). The default.
	GroupProtocolClassic = "classic"
	// GroupProtocolConsumer is KIP-848's protocol (Kafka 4.0 and later):
	// the group coordinator assigns the partitions, members only
	// heartbeat; a member's arrival or departure moves only the
	// partitions that must move. The session timeout and heartbeat
	// interval are the broker's (group.consumer.session.timeout.ms,
	// group.consumer.heartbeat.interval.ms); Config's are not used.
	GroupProtocolConsumer = "consumer"
)

// WithStaticMember makes the Reader a static member of its consumer group
// (Kafka's group.instance.id): a member that restarts with the same ID
// within the session timeout takes its partitions back without a
// rebalance, and a stopped member keeps its partitions, unread, until then
// (see WithLeaveOnClose). IDs are unique per group: give each replica its
// own. At most 249 characters of [A-Za-z0-9._-]. Default: "" (dynamic
// membership: every start is a new member and rebalances the group).
func WithStaticMember(instanceID string) Option {
	return func(o *options) { o.instanceID = instanceID }
}

// WithGroupProtocol chooses the consumer group protocol:
// GroupProtocolClassic (the default) or GroupProtocolConsumer.
func WithGroupProtocol(protocol string) Option {
	return func(o *options) { o.groupProtocol = protocol }
}

// WithLeaveOnClose makes Close of a static member leave the group, so that
// its partitions are assigned to the other members at once instead of after
// the session timeout (for a replica stopped for good). A dynamic member
// always leaves. Default false.
func WithLeaveOnClose(leave bool) Option {
	return func(o *options) { o.leaveOnClose = leave }
}

// validateGroup checks the group options.
func (o options) validateGroup() error {
	var errs []error
	if id := o.instanceID; id != "" {
		if len(id) > 249 {
			errs = append(errs, fmt.Errorf("source: group instance ID %q: at most 249 characters", id))
		}
		if strings.IndexFunc(id, func(r rune) bool { return !IsInstanceIDChar(r) }) >= 0 {
			errs = append(errs, fmt.Errorf("source: group instance ID %q: only A-Z, a-z, 0-9, '.', '_' and '-' are allowed", id))
		}
	}
	switch o.groupProtocol {
	case "", GroupProtocolClassic, GroupProtocolConsumer:
	default:
		errs = append(errs, fmt.Errorf("source: group protocol %q: want %s or %s", o.groupProtocol, GroupProtocolClassic, GroupProtocolConsumer))
	}
	return errors.Join(errs...)
}

// IsInstanceIDChar reports whether r may appear in a group instance ID.
func IsInstanceIDChar(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-'
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

// WithTasks registers a task per assigned partition in reg ("partition 3:
// fetching", "paused (buffered-bytes)", "caught up"), for the admin
// endpoint's /debug/tasks (Reader only). Default nil: none.
func WithTasks(reg *tasks.Registry) Option {
	return func(o *options) { o.tasks = reg }
}

// WithKgoOpts appends franz-go client options after the ones derived from the
// Config, so they win (tests use it for short heartbeats and timeouts).
func WithKgoOpts(opts ...kgo.Opt) Option {
	return func(o *options) { o.kgoOpts = append(o.kgoOpts, opts...) }
}

func buildOptions(opts []Option) options {
	o := options{log: slog.Default(), lagRefresh: DefaultLagRefresh}
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
