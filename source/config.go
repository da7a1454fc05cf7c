package source

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Defaults applied by NewReader to zero Config fields.
const (
	DefaultClientID               = "lakestream-ingestd"
	DefaultResetOffset            = ResetEarliest
	DefaultFetchMaxPartitionBytes = 1 << 20
	DefaultFetchMaxBytes          = 50 << 20
	DefaultMaxPollRecords         = 10000
	DefaultMaxPartitionRecords    = 1000
	DefaultMaxPartitionBytes      = 1 << 20
	DefaultPartitionBufferBytes   = 4 << 20
	DefaultIdleTimeout            = time.Minute

	// maxFetchBytes is franz-go's default BrokerMaxReadBytes: a fetch
	// response larger than this is refused by the client.
	maxFetchBytes = 100 << 20
)

// ResetOffset values.
const (
	ResetEarliest = "earliest"
	ResetLatest   = "latest"
)

// Config configures a Reader. Zero fields take the defaults documented on
// each field. Print it with %v only: String redacts the SASL password.
type Config struct {
	// Brokers are the seed brokers, host:port (required).
	Brokers []string
	// Topic is the one topic read (required).
	Topic string
	// Group is the consumer group (required). It balances partitions
	// between ingestd instances and receives CommitGroupOffsets; it never
	// decides where a partition starts.
	Group string
	// ClientID defaults to "lakestream-ingestd".
	ClientID string

	// ResetOffset is where a partition with no offset in the table starts:
	// "earliest" (default) or "latest". "latest" is the last stable offset,
	// so a transaction open at assignment time is not skipped.
	ResetOffset string

	// FetchMaxPartitionBytes defaults to 1 MiB.
	FetchMaxPartitionBytes int32
	// FetchMaxBytes (per broker request) defaults to 50 MiB; at most 100 MiB.
	FetchMaxBytes int32

	// SessionTimeout and RebalanceTimeout default to franz-go's (45 s and
	// 60 s). A Reader's pipeline must call AllowRebalance well within the
	// rebalance timeout.
	SessionTimeout   time.Duration
	RebalanceTimeout time.Duration

	// GroupCommitTimeout bounds one background commit of offsets to the
	// consumer group (QueueGroupOffsets); default 5 s. A commit that times
	// out is logged and superseded by the next one.
	GroupCommitTimeout time.Duration

	// MaxPollRecords caps the records one Poll returns; default 10000.
	MaxPollRecords int

	// MaxPartitionRecords and MaxPartitionBytes are the quota of one
	// partition in one Poll: a Poll takes records round-robin from the
	// partitions that have some, each within its quota, then stops at
	// MaxPollRecords. Defaults 1000 records and 1 MiB (key, value and
	// headers). A single record larger than MaxPartitionBytes is still
	// returned, alone in its partition's share of that Poll.
	MaxPartitionRecords int
	MaxPartitionBytes   int

	// PartitionBufferBytes bounds what the Reader holds fetched but not
	// yet returned, per partition: fetching of a partition is paused once
	// more than this is queued, and resumed when less than half is.
	// Default 4 MiB. Bytes are counted uncompressed (key, value and
	// headers). A partition may overshoot by one fetch: up to
	// FetchMaxPartitionBytes of record batches, or one batch if larger,
	// decompressed. The Reader's memory is about that per owned
	// partition, plus franz-go's buffered fetches.
	PartitionBufferBytes int

	// MaxEventTimeSkew, when positive, pauses a partition whose event time
	// (see Reader.ObserveEventTime) is ahead of the slowest active (not
	// idle) partition's by more than this; its queued records are held
	// back too. It resumes when it is no more than half of this ahead. An
	// active partition with records to read but no event time observed
	// yet (just assigned) counts as behind every other. Skew is checked
	// once per Poll, so a partition may overshoot by what one Poll gives
	// it (MaxPartitionRecords). Default 0: off. Example: 10m.
	MaxEventTimeSkew time.Duration

	// IdleTimeout: a partition that is caught up (nothing queued, its
	// position at its last stable offset) and had no record returned by
	// Poll for this long is idle: it no longer holds back the Watermark or
	// the event-time skew of the others. A partition with records left to
	// read is never idle. Default 1m.
	IdleTimeout time.Duration

	// OutOfOrderness is subtracted from the minimum event time of the
	// active partitions to give the Watermark. Default 0.
	OutOfOrderness time.Duration

	// Security is TLS and SASL to the brokers (default: plaintext, no
	// authentication); give the DeadLetter the same.
	Security Security
}

// Validate reports every problem of the configuration at once. Zero values
// that have a default are valid.
func (c Config) Validate() error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf("source: "+format, args...)) }

	errs = append(errs, validateBrokers(c.Brokers)...)
	if strings.TrimSpace(c.Topic) == "" {
		add("topic is required")
	}
	if strings.TrimSpace(c.Group) == "" {
		add("group is required")
	}
	switch c.ResetOffset {
	case "", ResetEarliest, ResetLatest:
	default:
		add("reset offset %q: want %q or %q", c.ResetOffset, ResetEarliest, ResetLatest)
	}
	if c.FetchMaxPartitionBytes < 0 {
		add("fetch max partition bytes %d is negative", c.FetchMaxPartitionBytes)
	}
	if c.FetchMaxBytes < 0 {
		add("fetch max bytes %d is negative", c.FetchMaxBytes)
	}
	if c.FetchMaxBytes > maxFetchBytes {
		add("fetch max bytes %d is above %d", c.FetchMaxBytes, maxFetchBytes)
	}
	if c.FetchMaxPartitionBytes > 0 && c.FetchMaxBytes > 0 && c.FetchMaxPartitionBytes > c.FetchMaxBytes {
		add("fetch max partition bytes %d is above fetch max bytes %d", c.FetchMaxPartitionBytes, c.FetchMaxBytes)
	}
	if c.SessionTimeout < 0 || (c.SessionTimeout > 0 && c.SessionTimeout < 100*time.Millisecond) {
		add("session timeout %v: want 0 (default) or at least 100ms", c.SessionTimeout)
	}
	if c.RebalanceTimeout < 0 || (c.RebalanceTimeout > 0 && c.RebalanceTimeout < 100*time.Millisecond) {
		add("rebalance timeout %v: want 0 (default) or at least 100ms", c.RebalanceTimeout)
	}
	if c.GroupCommitTimeout < 0 || (c.GroupCommitTimeout > 0 && c.GroupCommitTimeout < 10*time.Millisecond) {
		add("group commit timeout %v: want 0 (default) or at least 10ms", c.GroupCommitTimeout)
	}
	if c.MaxPollRecords < 0 {
		add("max poll records %d is negative", c.MaxPollRecords)
	}
	if c.MaxPartitionRecords < 0 {
		add("max partition records %d is negative", c.MaxPartitionRecords)
	}
	if c.MaxPartitionBytes < 0 {
		add("max partition bytes %d is negative", c.MaxPartitionBytes)
	}
	if c.PartitionBufferBytes < 0 {
		add("partition buffer bytes %d is negative", c.PartitionBufferBytes)
	}
	if c.MaxEventTimeSkew < 0 || (c.MaxEventTimeSkew > 0 && c.MaxEventTimeSkew < time.Millisecond) {
		add("max event time skew %v: want 0 (off) or at least 1ms", c.MaxEventTimeSkew)
	}
	if c.IdleTimeout < 0 || (c.IdleTimeout > 0 && c.IdleTimeout < 10*time.Millisecond) {
		add("idle timeout %v: want 0 (default) or at least 10ms", c.IdleTimeout)
	}
	if c.OutOfOrderness < 0 {
		add("out of orderness %v is negative", c.OutOfOrderness)
	}
	errs = append(errs, c.Security.Validate())
	return errors.Join(errs...)
}

// withDefaults returns c with defaults filled in.
func (c Config) withDefaults() Config {
	if c.ClientID == "" {
		c.ClientID = DefaultClientID
	}
	if c.ResetOffset == "" {
		c.ResetOffset = DefaultResetOffset
	}
	if c.FetchMaxPartitionBytes == 0 {
		c.FetchMaxPartitionBytes = DefaultFetchMaxPartitionBytes
	}
	if c.FetchMaxBytes == 0 {
		c.FetchMaxBytes = DefaultFetchMaxBytes
	}
	if c.FetchMaxPartitionBytes > c.FetchMaxBytes {
		c.FetchMaxPartitionBytes = c.FetchMaxBytes
	}
	if c.GroupCommitTimeout == 0 {
		c.GroupCommitTimeout = DefaultGroupCommitTimeout
	}
	if c.MaxPollRecords == 0 {
		c.MaxPollRecords = DefaultMaxPollRecords
	}
	if c.MaxPartitionRecords == 0 {
		c.MaxPartitionRecords = DefaultMaxPartitionRecords
	}
	if c.MaxPartitionBytes == 0 {
		c.MaxPartitionBytes = DefaultMaxPartitionBytes
	}
	if c.PartitionBufferBytes == 0 {
		c.PartitionBufferBytes = DefaultPartitionBufferBytes
	}
	if c.IdleTimeout == 0 {
		c.IdleTimeout = DefaultIdleTimeout
	}
	return c
}

// String prints the configuration with the SASL password redacted.
func (c Config) String() string {
	return fmt.Sprintf("source.Config{Brokers:%v Topic:%q Group:%q ClientID:%q ResetOffset:%q FetchMaxPartitionBytes:%d FetchMaxBytes:%d SessionTimeout:%v RebalanceTimeout:%v MaxPollRecords:%d "+
		"MaxPartitionRecords:%d MaxPartitionBytes:%d PartitionBufferBytes:%d MaxEventTimeSkew:%v IdleTimeout:%v OutOfOrderness:%v %s}",
		c.Brokers, c.Topic, c.Group, c.ClientID, c.ResetOffset, c.FetchMaxPartitionBytes, c.FetchMaxBytes,
		c.SessionTimeout, c.RebalanceTimeout, c.MaxPollRecords,
		c.MaxPartitionRecords, c.MaxPartitionBytes, c.PartitionBufferBytes, c.MaxEventTimeSkew, c.IdleTimeout, c.OutOfOrderness,
		c.Security)
}

// GoString is String, so that %#v does not print the password either.
func (c Config) GoString() string { return c.String() }

func validateBrokers(brokers []string) []error {
	if len(brokers) == 0 {
		return []error{errors.New("source: at least one broker is required")}
	}
	var errs []error
	for i, b := range brokers {
		if strings.TrimSpace(b) == "" {
			errs = append(errs, fmt.Errorf("source: broker %d is empty", i))
		}
	}
	return errs
}
