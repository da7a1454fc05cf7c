package source

import (
	"context"
	"errors"
	"maps"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func header(rec *kgo.Record, key string) (string, bool) {
	for _, h := range rec.Headers {
		if h.Key == key {
			return string(h.Value), true
		}
	}
	return "", false
}

// EnsureTopic creates <source>.dlq with the source's partition count; Send
// keeps key, value and headers and adds the lakestream.* headers; Flush
// waits for acknowledgements; Counts are per reason.
func TestDeadLetterSendFlushConsume(t *testing.T) {
	c := newCluster(t, 3, []string{"orders"})
	dl, err := NewDeadLetter(DeadLetterConfig{SourceTopic: "orders", Brokers: c.ListenAddrs(), EnsureTopic: true},
		WithLogger(testLogger()))
	if err != nil {
		t.Fatal(err)
	}
	defer dl.Close()
	if dl.Topic() != "orders.dlq" {
		t.Fatalf("topic %q", dl.Topic())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	adm := kadm.NewClient(newClient(t, c))
	topics, err := adm.ListTopics(ctx, "orders.dlq")
	if err != nil {
		t.Fatal(err)
	}
	if d := topics["orders.dlq"]; d.Err != nil || len(d.Partitions) != 3 {
		t.Fatalf("dlq topic: err %v, %d partitions; want 3", d.Err, len(d.Partitions))
	}
	// A second instance finds the topic and does not fail.
	dl2, err := NewDeadLetter(DeadLetterConfig{SourceTopic: "orders", Brokers: c.ListenAddrs(), EnsureTopic: true}, WithLogger(testLogger()))
	if err != nil {
		t.Fatalf("ensure existing topic: %v", err)
	}
	dl2.Close()

	ts := time.UnixMilli(1_700_000_000_123)
	long := strings.Repeat("é", MaxDetailBytes) // 2 bytes per rune: cut on a rune boundary
	in := []struct {
		rec            *kgo.Record
		reason, detail string
	}{
		{&kgo.Record{Topic: "orders", Partition: 2, Offset: 41, Timestamp: ts, Key: []byte("k1"), Value: []byte("{not json"),
			Headers: []kgo.RecordHeader{{Key: "trace", Value: []byte("t-1")}}}, "decode", "unexpected end of JSON input"},
		{&kgo.Record{Topic: "orders", Partition: 0, Offset: 7, Timestamp: ts, Key: nil, Value: []byte(`{"id":"x"}`)}, "schema", long},
		{&kgo.Record{Topic: "orders", Partition: 1, Offset: 9000, Timestamp: ts, Key: []byte("k3"), Value: nil,
			Headers: []kgo.RecordHeader{{Key: "a", Value: []byte("1")}, {Key: "b", Value: nil}}}, "too-large", "value is 9 MiB"},
		{&kgo.Record{Topic: "orders", Partition: 1, Offset: 9001, Timestamp: ts, Key: []byte("k4"), Value: []byte("x")}, "decode", "again"},
	}
	for _, x := range in {
		dl.Send(x.rec, x.reason, x.detail)
	}
	if err := dl.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if got, want := dl.Counts(), map[string]int64{"decode": 2, "schema": 1, "too-large": 1}; !maps.Equal(got, want) {
		t.Errorf("counts %v, want %v", got, want)
	}

	cons := newClient(t, c, kgo.ConsumeTopics("orders.dlq"), kgo.FetchMaxWait(200*time.Millisecond))
	got := map[string]*kgo.Record{} // by source offset
	for len(got) < len(in) {
		fs := cons.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			t.Fatal(err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			off, _ := header(r, HeaderSourceOffset)
			got[off] = r
		})
	}
	for _, x := range in {
		out := got[strconv.FormatInt(x.rec.Offset, 10)]
		if out == nil {
			t.Fatalf("no dead letter for offset %d", x.rec.Offset)
		}
		if string(out.Key) != string(x.rec.Key) || (out.Key == nil) != (x.rec.Key == nil) || string(out.Value) != string(x.rec.Value) {
			t.Errorf("offset %d: key %q value %q, want %q %q", x.rec.Offset, out.Key, out.Value, x.rec.Key, x.rec.Value)
		}
		n := len(x.rec.Headers)
		if len(out.Headers) != n+6 {
			t.Fatalf("offset %d: %d headers, want %d", x.rec.Offset, len(out.Headers), n+6)
		}
		for i, h := range x.rec.Headers {
			if out.Headers[i].Key != h.Key || string(out.Headers[i].Value) != string(h.Value) {
				t.Errorf("offset %d: header %d = %v, want %v", x.rec.Offset, i, out.Headers[i], h)
			}
		}
		wantDetail := x.detail
		if len(wantDetail) > MaxDetailBytes {
			wantDetail = wantDetail[:MaxDetailBytes]
		}
		for k, v := range map[string]string{
			HeaderReason:          x.reason,
			HeaderDetail:          wantDetail,
			HeaderSourceTopic:     "orders",
			HeaderSourcePartition: strconv.Itoa(int(x.rec.Partition)),
			HeaderSourceOffset:    strconv.FormatInt(x.rec.Offset, 10),
			HeaderSourceTimestamp: "1700000000123",
		} {
			if got, ok := header(out, k); !ok || got != v {
				t.Errorf("offset %d: header %s = %q (present %t), want %q", x.rec.Offset, k, got, ok, v)
			}
		}
	}
}

// A record the broker refuses fails Flush, and every Flush after it: nothing
// is silently lost.
func TestDeadLetterFlushReportsProduceErrors(t *testing.T) {
	c := newCluster(t, 1, []string{"src", "src.dlq"})
	// Refuse every produce request with a non-retriable error.
	c.ControlKey(int16(kmsg.Produce), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		pr := req.(*kmsg.ProduceRequest)
		resp := pr.ResponseKind().(*kmsg.ProduceResponse)
		for _, rt := range pr.Topics {
			st := kmsg.NewProduceResponseTopic()
			st.Topic, st.TopicID = rt.Topic, rt.TopicID
			for _, rp := range rt.Partitions {
				sp := kmsg.NewProduceResponseTopicPartition()
				sp.Partition = rp.Partition
				sp.ErrorCode = kerr.InvalidRecord.Code
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return resp, nil, true
	})
	dl, err := NewDeadLetter(DeadLetterConfig{SourceTopic: "src", Brokers: c.ListenAddrs()}, WithLogger(testLogger()))
	if err != nil {
		t.Fatal(err)
	}
	defer dl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	dl.Send(&kgo.Record{Topic: "src", Offset: 1, Value: []byte("bad")}, "decode", "x")
	err = dl.Flush(ctx)
	if !errors.Is(err, kerr.InvalidRecord) {
		t.Fatalf("flush = %v, want InvalidRecord", err)
	}
	if err := dl.Flush(ctx); !errors.Is(err, kerr.InvalidRecord) {
		t.Fatalf("second flush = %v, want the sticky error", err)
	}
	if dl.Failed() != 1 || dl.Counts()["decode"] != 1 {
		t.Errorf("failed %d counts %v", dl.Failed(), dl.Counts())
	}
}

// Without EnsureTopic a missing dead-letter topic fails Flush (franz-go gives
// up after UnknownTopicRetries) instead of hanging or dropping the record.
func TestDeadLetterMissingTopicFailsFlush(t *testing.T) {
	c := newCluster(t, 1, []string{"src"})
	dl, err := NewDeadLetter(DeadLetterConfig{SourceTopic: "src", Brokers: c.ListenAddrs()},
		WithLogger(testLogger()), WithKgoOpts(kgo.UnknownTopicRetries(1), kgo.RetryBackoffFn(func(int) time.Duration { return 50 * time.Millisecond })))
	if err != nil {
		t.Fatal(err)
	}
	defer dl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	dl.Send(&kgo.Record{Topic: "src", Value: []byte("v")}, "decode", "")
	if err := dl.Flush(ctx); !errors.Is(err, kerr.UnknownTopicOrPartition) {
		t.Fatalf("flush = %v, want UnknownTopicOrPartition", err)
	}
}

func TestDeadLetterConfig(t *testing.T) {
	err := DeadLetterConfig{EnsureTopic: true, ReplicationFactor: -2, DeliveryTimeout: time.Millisecond, Security: Security{SASL: SASL{Mechanism: "GSSAPI"}}}.Validate()
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"broker", "topic or source topic", "ensuring the topic", "replication factor -2", "delivery timeout", "GSSAPI"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	cfg := DeadLetterConfig{SourceTopic: "s", Brokers: []string{"b:9092"}, Security: Security{SASL: SASL{Mechanism: SASLPlain, User: "u", Password: "hunter2"}}}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	if d := cfg.withDefaults(); d.Topic != "s.dlq" || d.ClientID != DefaultDeadLetterClientID || d.DeliveryTimeout != DefaultDeadLetterDeliveryTimeout {
		t.Errorf("defaults %v", d)
	}
	for _, s := range []string{cfg.String(), cfg.GoString()} {
		if strings.Contains(s, "hunter2") || !strings.Contains(s, "REDACTED") {
			t.Errorf("not redacted: %s", s)
		}
	}
}
