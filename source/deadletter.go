package source

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Headers a dead-lettered record carries besides the original ones.
const (
	HeaderReason          = "lakestream.reason"
	HeaderDetail          = "lakestream.detail"
	HeaderSourceTopic     = "lakestream.source.topic"
	HeaderSourcePartition = "lakestream.source.partition"
	HeaderSourceOffset    = "lakestream.source.offset"
	HeaderSourceTimestamp = "lakestream.source.timestamp" // Unix milliseconds, decimal

	// MaxDetailBytes bounds the lakestream.detail header (cut at a UTF-8
	// boundary).
	MaxDetailBytes = 1024

	DefaultDeadLetterClientID        = "lakestream-ingestd-dlq"
	DefaultDeadLetterDeliveryTimeout = 2 * time.Minute
	DefaultDeadLetterMaxBuffered     = 10000
)

// DeadLetterConfig configures a DeadLetter. Print it with %v only: String
// redacts the SASL password.
type DeadLetterConfig struct {
	// SourceTopic is the topic the records come from. Required unless
	// Topic is set and EnsureTopic is off with Partitions set.
	SourceTopic string
	// Topic defaults to SourceTopic + ".dlq".
	Topic string
	// Brokers are the seed brokers (required).
	Brokers []string
	// ClientID defaults to "lakestream-ingestd-dlq".
	ClientID string

	// EnsureTopic creates Topic if it does not exist, with Partitions
	// partitions (default: as many as SourceTopic has) and
	// ReplicationFactor replicas (default: the broker's default).
	EnsureTopic       bool
	Partitions        int32
	ReplicationFactor int16

	// DeliveryTimeout bounds how long a record may stay unacknowledged;
	// after it the record fails and Flush reports it. Default 2 minutes.
	DeliveryTimeout time.Duration
	// MaxBufferedRecords bounds the records waiting for acknowledgement;
	// Send blocks while it is reached. Default 10000.
	MaxBufferedRecords int

	// Security is TLS and SASL to the brokers: the Reader's.
	Security Security
}

// Validate reports every problem of the configuration at once.
func (c DeadLetterConfig) Validate() error {
	var errs []error
	errs = append(errs, validateBrokers(c.Brokers)...)
	if strings.TrimSpace(c.Topic) == "" && strings.TrimSpace(c.SourceTopic) == "" {
		errs = append(errs, errors.New("source: dead letter: topic or source topic is required"))
	}
	if c.EnsureTopic && c.Partitions == 0 && strings.TrimSpace(c.SourceTopic) == "" {
		errs = append(errs, errors.New("source: dead letter: ensuring the topic needs partitions or a source topic to copy them from"))
	}
	if c.Partitions < 0 {
		errs = append(errs, fmt.Errorf("source: dead letter: partitions %d is negative", c.Partitions))
	}
	if c.ReplicationFactor < 0 {
		errs = append(errs, fmt.Errorf("source: dead letter: replication factor %d is negative", c.ReplicationFactor))
	}
	if c.DeliveryTimeout < 0 || (c.DeliveryTimeout > 0 && c.DeliveryTimeout < time.Second) {
		errs = append(errs, fmt.Errorf("source: dead letter: delivery timeout %v: want 0 (default) or at least 1s", c.DeliveryTimeout))
	}
	if c.MaxBufferedRecords < 0 {
		errs = append(errs, fmt.Errorf("source: dead letter: max buffered records %d is negative", c.MaxBufferedRecords))
	}
	errs = append(errs, c.Security.Validate())
	return errors.Join(errs...)
}

func (c DeadLetterConfig) withDefaults() DeadLetterConfig {
	if c.Topic == "" {
		c.Topic = c.SourceTopic + ".dlq"
	}
	if c.ClientID == "" {
		c.ClientID = DefaultDeadLetterClientID
	}
	if c.DeliveryTimeout == 0 {
		c.DeliveryTimeout = DefaultDeadLetterDeliveryTimeout
	}
	if c.MaxBufferedRecords == 0 {
		c.MaxBufferedRecords = DefaultDeadLetterMaxBuffered
	}
	return c
}

// String prints the configuration with the SASL password redacted.
func (c DeadLetterConfig) String() string {
	return fmt.Sprintf("source.DeadLetterConfig{SourceTopic:%q Topic:%q Brokers:%v ClientID:%q EnsureTopic:%t Partitions:%d ReplicationFactor:%d DeliveryTimeout:%v MaxBufferedRecords:%d %s}",
		c.SourceTopic, c.Topic, c.Brokers, c.ClientID, c.EnsureTopic, c.Partitions, c.ReplicationFactor,
		c.DeliveryTimeout, c.MaxBufferedRecords, c.Security)
}

// GoString is String, so that %#v does not print the password either.
func (c DeadLetterConfig) GoString() string { return c.String() }

// DeadLetter produces records the pipeline cannot ingest to a dead-letter
// topic: acks from all in-sync replicas, idempotent, retried until
// DeliveryTimeout. Send is asynchronous; Flush tells whether everything sent
// so far is durable. Safe for concurrent use.
type DeadLetter struct {
	cfg    DeadLetterConfig
	log    *slog.Logger
	cl     *kgo.Client
	ctx    context.Context // canceled by Close: unblocks a Send waiting for buffer space
	cancel context.CancelFunc

	mu       sync.Mutex
	counts   map[string]int64
	failed   int64
	firstErr error

	closeOnce sync.Once
}

// NewDeadLetter validates cfg, creates the topic if EnsureTopic is set and it
// is missing, and starts the producer.
func NewDeadLetter(cfg DeadLetterConfig, opts ...Option) (*DeadLetter, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	o := buildOptions(opts)
	log := o.log.With("component", "deadletter", "topic", cfg.Topic)
	kopts, err := connOpts(log, cfg.Brokers, cfg.ClientID, cfg.Security)
	if err != nil {
		return nil, err
	}
	var hook saslReadHook // tells a refused password from a broken connection
	kopts = append(kopts,
		kgo.WithHooks(&hook),
		kgo.DefaultProduceTopic(cfg.Topic),
		kgo.RequiredAcks(kgo.AllISRAcks()), // franz-go's default, with idempotence; stated for the record
		kgo.RecordDeliveryTimeout(cfg.DeliveryTimeout),
		kgo.MaxBufferedRecords(cfg.MaxBufferedRecords),
	)
	kopts = append(kopts, o.kgoOpts...)
	cl, err := kgo.NewClient(kopts...)
	if err != nil {
		return nil, fmt.Errorf("source: new dead letter: %w", err)
	}
	if cfg.EnsureTopic {
		ctx, cancel := context.WithTimeout(context.Background(), max(30*time.Second, cfg.DeliveryTimeout))
		err := ensureTopic(ctx, kadm.NewClient(cl), cfg, log)
		cancel()
		if err != nil {
			cl.Close()
			if ce := describeConnErr(err, cfg.Brokers, cfg.Security, hook.closed.Load()); ce != nil {
				return nil, ce
			}
			return nil, err
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	d := &DeadLetter{cfg: cfg, log: log, cl: cl, ctx: ctx, cancel: cancel, counts: make(map[string]int64)}
	log.Info("dead letter producer started", "config", cfg.String())
	return d, nil
}

// ensureTopic creates cfg.Topic unless it exists.
func ensureTopic(ctx context.Context, adm *kadm.Client, cfg DeadLetterConfig, log *slog.Logger) error {
	topics := []string{cfg.Topic}
	if cfg.SourceTopic != "" && cfg.SourceTopic != cfg.Topic {
		topics = append(topics, cfg.SourceTopic)
	}
	details, err := adm.ListTopics(ctx, topics...)
	if err != nil {
		return fmt.Errorf("source: dead letter: list topics: %w", err)
	}
	if d, ok := details[cfg.Topic]; ok && d.Err == nil {
		return nil
	} else if ok && !errors.Is(d.Err, kerr.UnknownTopicOrPartition) {
		return fmt.Errorf("source: dead letter: describe topic %q: %w", cfg.Topic, d.Err)
	}
	partitions := cfg.Partitions
	if partitions == 0 {
		src, ok := details[cfg.SourceTopic]
		if !ok || src.Err != nil {
			err := error(kerr.UnknownTopicOrPartition)
			if ok {
				err = src.Err
			}
			return fmt.Errorf("source: dead letter: partition count of source topic %q: %w", cfg.SourceTopic, err)
		}
		partitions = int32(len(src.Partitions))
	}
	rf := cfg.ReplicationFactor
	if rf == 0 {
		rf = -1 // broker default
	}
	_, err = adm.CreateTopic(ctx, partitions, rf, nil, cfg.Topic)
	switch {
	case errors.Is(err, kerr.TopicAlreadyExists): // another instance was first
		return nil
	case err != nil:
		return fmt.Errorf("source: dead letter: create topic %q: %w", cfg.Topic, err)
	}
	log.Info("created dead letter topic", "partitions", partitions, "replication_factor", rf)
	return nil
}

// Topic is the dead-letter topic.
func (d *DeadLetter) Topic() string { return d.cfg.Topic }

// Send produces rec to the dead-letter topic asynchronously: its key, value
// and headers, plus the lakestream.* headers (reason, detail cut to 1 KiB,
// source topic, partition, offset and timestamp). It blocks only while
// MaxBufferedRecords records are unacknowledged. A failure is reported by
// Flush.
func (d *DeadLetter) Send(rec *kgo.Record, reason string, detail string) {
	if len(detail) > MaxDetailBytes {
		cut := MaxDetailBytes
		for cut > 0 && !utf8.RuneStart(detail[cut]) {
			cut--
		}
		detail = detail[:cut]
	}
	headers := make([]kgo.RecordHeader, 0, len(rec.Headers)+6)
	headers = append(headers, rec.Headers...)
	headers = append(headers,
		kgo.RecordHeader{Key: HeaderReason, Value: []byte(reason)},
		kgo.RecordHeader{Key: HeaderDetail, Value: []byte(detail)},
		kgo.RecordHeader{Key: HeaderSourceTopic, Value: []byte(rec.Topic)},
		kgo.RecordHeader{Key: HeaderSourcePartition, Value: strconv.AppendInt(nil, int64(rec.Partition), 10)},
		kgo.RecordHeader{Key: HeaderSourceOffset, Value: strconv.AppendInt(nil, rec.Offset, 10)},
		kgo.RecordHeader{Key: HeaderSourceTimestamp, Value: strconv.AppendInt(nil, rec.Timestamp.UnixMilli(), 10)},
	)
	out := &kgo.Record{
		Topic:   d.cfg.Topic,
		Key:     rec.Key,
		Value:   rec.Value,
		Headers: headers,
	}
	d.mu.Lock()
	d.counts[reason]++
	d.mu.Unlock()

	srcTopic, srcPartition, srcOffset := rec.Topic, rec.Partition, rec.Offset
	d.cl.Produce(d.ctx, out, func(_ *kgo.Record, err error) {
		if err == nil {
			return
		}
		d.mu.Lock()
		d.failed++
		first := d.firstErr == nil
		if first {
			d.firstErr = fmt.Errorf("source: dead letter: produce record of %s/%d@%d to %q: %w", srcTopic, srcPartition, srcOffset, d.cfg.Topic, err)
		}
		d.mu.Unlock()
		d.log.Error("dead letter produce failed", "source_topic", srcTopic, "source_partition", srcPartition,
			"source_offset", srcOffset, "reason", reason, "err", err)
	})
}

// Flush waits until every record sent so far is acknowledged or failed, and
// returns the first produce error, or ctx's error if it ends first. The error
// is sticky: once a record was not durably produced every later Flush fails,
// so the pipeline cannot commit offsets past it; recover by restarting from
// the table's offsets with a new DeadLetter.
func (d *DeadLetter) Flush(ctx context.Context) error {
	if err := d.cl.Flush(ctx); err != nil {
		return fmt.Errorf("source: dead letter: flush: %w", err)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.firstErr
}

// Counts returns the records sent per reason.
func (d *DeadLetter) Counts() map[string]int64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return maps.Clone(d.counts)
}

// Failed returns how many sent records were not produced.
func (d *DeadLetter) Failed() int64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.failed
}

// Close flushes for at most 10 s (or DeliveryTimeout if shorter), then
// closes the producer; records still unacknowledged then fail. Call Flush
// first to know. It is idempotent; Send after Close fails the record.
func (d *DeadLetter) Close() {
	d.closeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), min(10*time.Second, d.cfg.DeliveryTimeout))
		if err := d.Flush(ctx); err != nil {
			d.log.Warn("closing dead letter producer with records not produced", "err", err)
		}
		cancel()
		d.cancel()
		d.cl.Close()
	})
}
