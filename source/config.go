package source

import (
	"crypto/tls"
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

	// maxFetchBytes is franz-go's default BrokerMaxReadBytes: a fetch
	// response larger than this is refused by the client.
	maxFetchBytes = 100 << 20
)

// ResetOffset values.
const (
	ResetEarliest = "earliest"
	ResetLatest   = "latest"
)

// SASL mechanism names accepted in SASLMechanism (case-insensitive).
const (
	SASLPlain       = "PLAIN"
	SASLScramSHA256 = "SCRAM-SHA-256"
	SASLScramSHA512 = "SCRAM-SHA-512"
)

// Config configures a Reader. Zero fields take the defaults documented on
// each field. Print it with %v or %+v only: String redacts the SASL password.
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

	// MaxPollRecords caps the records one Poll returns; default 10000.
	MaxPollRecords int

	// TLS, when set, is used for every broker connection.
	TLS *tls.Config
	// SASLMechanism is "", PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512.
	SASLMechanism string
	SASLUser      string
	SASLPassword  string
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
	if c.MaxPollRecords < 0 {
		add("max poll records %d is negative", c.MaxPollRecords)
	}
	errs = append(errs, validateSASL(c.SASLMechanism, c.SASLUser, c.SASLPassword)...)
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
	if c.MaxPollRecords == 0 {
		c.MaxPollRecords = DefaultMaxPollRecords
	}
	return c
}

// String prints the configuration with the SASL password redacted.
func (c Config) String() string {
	return fmt.Sprintf("source.Config{Brokers:%v Topic:%q Group:%q ClientID:%q ResetOffset:%q FetchMaxPartitionBytes:%d FetchMaxBytes:%d SessionTimeout:%v RebalanceTimeout:%v MaxPollRecords:%d %s}",
		c.Brokers, c.Topic, c.Group, c.ClientID, c.ResetOffset, c.FetchMaxPartitionBytes, c.FetchMaxBytes,
		c.SessionTimeout, c.RebalanceTimeout, c.MaxPollRecords, securityString(c.TLS, c.SASLMechanism, c.SASLUser, c.SASLPassword))
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

func validateSASL(mechanism, user, password string) []error {
	var errs []error
	switch strings.ToUpper(mechanism) {
	case "":
		if user != "" || password != "" {
			errs = append(errs, errors.New("source: SASL user or password set without a SASL mechanism"))
		}
		return errs
	case SASLPlain, SASLScramSHA256, SASLScramSHA512:
	default:
		errs = append(errs, fmt.Errorf("source: SASL mechanism %q: want %s, %s or %s", mechanism, SASLPlain, SASLScramSHA256, SASLScramSHA512))
	}
	if user == "" {
		errs = append(errs, errors.New("source: SASL user is required with a SASL mechanism"))
	}
	if password == "" {
		errs = append(errs, errors.New("source: SASL password is required with a SASL mechanism"))
	}
	return errs
}

func securityString(t *tls.Config, mechanism, user, password string) string {
	pw := ""
	if password != "" {
		pw = "[redacted]"
	}
	return fmt.Sprintf("TLS:%t SASLMechanism:%q SASLUser:%q SASLPassword:%q", t != nil, mechanism, user, pw)
}
