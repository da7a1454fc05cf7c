package source

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestConfigValidateReportsEveryProblem(t *testing.T) {
	err := Config{
		Brokers:                []string{"ok:9092", " "},
		ResetOffset:            "middle",
		FetchMaxPartitionBytes: 2 << 20,
		FetchMaxBytes:          1 << 20,
		SessionTimeout:         time.Millisecond,
		RebalanceTimeout:       -time.Second,
		MaxPollRecords:         -1,
		MaxPartitionRecords:    -1,
		MaxPartitionBytes:      -1,
		PartitionBufferBytes:   -1,
		MaxEventTimeSkew:       time.Microsecond,
		IdleTimeout:            -time.Second,
		OutOfOrderness:         -time.Second,
		Security:               Security{SASL: SASL{User: "u"}},
	}.Validate()
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"broker 1 is empty", "topic is required", "group is required", `reset offset "middle"`,
		"above fetch max bytes", "session timeout", "rebalance timeout", "max poll records", "SASL.User: set without a SASL mechanism",
		"max partition records", "max partition bytes", "partition buffer bytes", "max event time skew", "idle timeout", "out of orderness"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %q:\n%v", want, err)
		}
	}
	if err := (Config{}).Validate(); err == nil || !strings.Contains(err.Error(), "at least one broker") {
		t.Errorf("empty config: %v", err)
	}
	if err := (Config{Brokers: []string{"b"}, Topic: "t", Group: "g", FetchMaxBytes: 200 << 20}).Validate(); err == nil {
		t.Error("fetch max bytes above 100 MiB accepted")
	}
}

func TestConfigDefaults(t *testing.T) {
	c := Config{Brokers: []string{"b:9092"}, Topic: "t", Group: "g"}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	d := c.withDefaults()
	if d.ClientID != "lakestream-ingestd" || d.ResetOffset != ResetEarliest || d.FetchMaxPartitionBytes != 1<<20 ||
		d.FetchMaxBytes != 50<<20 || d.MaxPollRecords != 10000 || d.MaxPartitionRecords != 1000 || d.MaxPartitionBytes != 1<<20 ||
		d.PartitionBufferBytes != 4<<20 || d.MaxEventTimeSkew != 0 || d.IdleTimeout != time.Minute || d.OutOfOrderness != 0 {
		t.Errorf("defaults: %v", d)
	}
	// A small FetchMaxBytes pulls the default partition limit down with it.
	if d := (Config{FetchMaxBytes: 1000}).withDefaults(); d.FetchMaxPartitionBytes != 1000 {
		t.Errorf("partition bytes %d, want 1000", d.FetchMaxPartitionBytes)
	}
}

func TestConfigStringRedactsPassword(t *testing.T) {
	c := Config{Brokers: []string{"b:9092"}, Topic: "t", Group: "g",
		Security: Security{SASL: SASL{Mechanism: SASLScramSHA512, User: "ingest", Password: "hunter2"}}}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{c.String(), fmt.Sprint(c), fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", c), fmt.Sprint(&c),
		fmt.Sprintf("%+v %#v %x %q %s %d", c.Security, c.Security.SASL, c.Security.SASL.Password, c.Security.SASL.Password, c.Security.SASL.Password, c.Security.SASL.Password)} {
		if strings.Contains(s, "hunter2") || strings.Contains(s, fmt.Sprintf("%x", "hunter2")) {
			t.Errorf("password printed: %s", s)
		}
		if !strings.Contains(s, "REDACTED") {
			t.Errorf("unexpected: %s", s)
		}
	}
	if s := c.String(); !strings.Contains(s, `User:"ingest"`) || !strings.Contains(s, `Mechanism:"SCRAM-SHA-512"`) {
		t.Errorf("unexpected: %s", s)
	}
}
