package harness

import (
	"context"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Kafka is a Kafka cluster on 127.0.0.1: in process (kfake), or Apache
// Kafka brokers (JVMs, see ApacheKafka). Broker i has node ID i.
type Kafka struct {
	Kind    string         // KindKfake or KindKafka
	Cluster *kfake.Cluster // kfake's cluster (KindKfake)
	Apache  *ApacheKafka   // the brokers' processes (KindKafka)
	Brokers []string       // the brokers' addresses, by node ID
	// TopicsTime is how long NewKafka took to create the topics and see
	// their replicas in sync (Apache Kafka).
	TopicsTime time.Duration
}

// StartKafka starts brokers kfake brokers with the topics seeded, each
// with partitions partitions.
func StartKafka(brokers, partitions int, topics ...string) (*Kafka, error) {
	return StartKafkaWith(brokers, partitions, nil, topics...)
}

// KafkaOptions configures NewKafka.
type KafkaOptions struct {
	Brokers    int
	Partitions int
	// Topics are created with Partitions partitions each, replicated on
	// min(3, Brokers) brokers.
	Topics []string
	// MinSessionTimeout is the shortest group session timeout the brokers
	// accept (default the broker's: 6 s on Apache Kafka).
	MinSessionTimeout time.Duration
	// DataDir holds Apache Kafka's data and configuration (required for
	// KindKafka); LogDir its brokers' logs (default DataDir).
	DataDir, LogDir string
	// Kfake are extra kfake options.
	Kfake []kfake.Opt
}

// NewKafka starts a cluster of the given kind (KindKfake or KindKafka)
// with the topics created.
func NewKafka(kind string, o KafkaOptions) (*Kafka, error) {
	switch kind {
	case KindKfake:
		opts := o.Kfake
		if o.MinSessionTimeout > 0 {
			opts = append([]kfake.Opt{kfake.GroupMinSessionTimeout(o.MinSessionTimeout)}, opts...)
		}
		return StartKafkaWith(o.Brokers, o.Partitions, opts, o.Topics...)
	case KindKafka:
		c, err := StartApacheKafka(ApacheKafkaOptions{Nodes: o.Brokers, DataDir: o.DataDir, LogDir: o.LogDir, MinSessionTimeout: o.MinSessionTimeout})
		if err != nil {
			return nil, err
		}
		k := &Kafka{Kind: KindKafka, Apache: c, Brokers: c.Addrs()}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		begin := time.Now()
		if err := k.CreateTopics(ctx, o.Partitions, o.Topics...); err != nil {
			k.Close()
			return nil, err
		}
		k.TopicsTime = time.Since(begin)
		return k, nil
	default:
		return nil, fmt.Errorf("kafka kind %q: want %s or %s", kind, KindKfake, KindKafka)
	}
}

// Close stops the cluster.
func (k *Kafka) Close() {
	if k.Cluster != nil {
		k.Cluster.Close()
	}
	if k.Apache != nil {
		k.Apache.Close()
	}
}

// CreateTopics creates topics with partitions partitions, replicated on
// min(3, brokers) brokers, and waits until every partition has its
// replicas in sync.
func (k *Kafka) CreateTopics(ctx context.Context, partitions int, topics ...string) error {
	if len(topics) == 0 {
		return nil
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(k.Brokers...))
	if err != nil {
		return err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	res, err := adm.CreateTopics(ctx, int32(partitions), int16(min(3, len(k.Brokers))), nil, topics...)
	if err != nil {
		return fmt.Errorf("create topics %v: %w", topics, err)
	}
	if err := res.Error(); err != nil {
		return fmt.Errorf("create topics %v: %w", topics, err)
	}
	return k.WaitInSync(ctx, topics...)
}

// WaitInSync waits until every partition of topics has a leader and all
// its replicas in sync.
func (k *Kafka) WaitInSync(ctx context.Context, topics ...string) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(k.Brokers...))
	if err != nil {
		return err
	}
	defer cl.Close()
	var last string
	for {
		m, err := Metadata(ctx, cl, topics...)
		last = fmt.Sprint(err)
		if err == nil {
			last = inSync(m, topics)
			if last == "" {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for the replicas of %v: %w (%s)", topics, ctx.Err(), last)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Metadata asks a broker for the cluster's brokers and the topics'
// partitions (no topics: none), bypassing the client's metadata cache
// (kadm's Metadata may answer from it, up to 5 s old).
func Metadata(ctx context.Context, cl *kgo.Client, topics ...string) (kadm.Metadata, error) {
	req := kmsg.NewPtrMetadataRequest()
	req.Topics = []kmsg.MetadataRequestTopic{}
	for _, t := range topics {
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr(t)
		req.Topics = append(req.Topics, rt)
	}
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return kadm.Metadata{}, err
	}
	m := kadm.Metadata{Topics: kadm.TopicDetails{}}
	for _, b := range resp.Brokers {
		m.Brokers = append(m.Brokers, kadm.BrokerDetail{NodeID: b.NodeID, Host: b.Host, Port: b.Port, Rack: b.Rack})
	}
	for _, t := range resp.Topics {
		if t.Topic == nil {
			continue
		}
		td := kadm.TopicDetail{Topic: *t.Topic, Partitions: kadm.PartitionDetails{}, Err: kerr.ErrorForCode(t.ErrorCode)}
		for _, p := range t.Partitions {
			td.Partitions[p.Partition] = kadm.PartitionDetail{Topic: *t.Topic, Partition: p.Partition, Leader: p.Leader, LeaderEpoch: p.LeaderEpoch,
				Replicas: p.Replicas, ISR: p.ISR, OfflineReplicas: p.OfflineReplicas, Err: kerr.ErrorForCode(p.ErrorCode)}
		}
		m.Topics[*t.Topic] = td
	}
	return m, nil
}

// inSync describes the first partition of topics without a leader or
// with replicas out of sync, "" if none.
func inSync(m kadm.Metadata, topics []string) string {
	for _, topic := range topics {
		td, ok := m.Topics[topic]
		if !ok || td.Err != nil || len(td.Partitions) == 0 {
			return fmt.Sprintf("topic %s: not listed (%v)", topic, td.Err)
		}
		for _, p := range td.Partitions {
			if p.Err != nil || p.Leader < 0 || len(p.ISR) < len(p.Replicas) {
				return fmt.Sprintf("%s/%d: leader %d, replicas %v, in sync %v (%v)", topic, p.Partition, p.Leader, p.Replicas, p.ISR, p.Err)
			}
		}
	}
	return ""
}

// Leader returns the node ID of the leader of partition p of topic.
func (k *Kafka) Leader(ctx context.Context, topic string, p int32) (int32, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(k.Brokers...))
	if err != nil {
		return -1, err
	}
	defer cl.Close()
	m, err := Metadata(ctx, cl, topic)
	if err != nil {
		return -1, err
	}
	pd, ok := m.Topics[topic].Partitions[p]
	if !ok || pd.Err != nil || pd.Leader < 0 {
		return -1, fmt.Errorf("%s/%d: no leader (%v)", topic, p, pd.Err)
	}
	return pd.Leader, nil
}

// Produce writes records synchronously (acks from all replicas).
func (k *Kafka) Produce(ctx context.Context, recs []*kgo.Record) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(k.Brokers...), kgo.ProducerLinger(0), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		return err
	}
	defer cl.Close()
	const chunk = 5000
	for len(recs) > 0 {
		n := min(chunk, len(recs))
		if err := cl.ProduceSync(ctx, recs[:n]...).FirstErr(); err != nil {
			return fmt.Errorf("produce: %w", err)
		}
		recs = recs[n:]
	}
	return nil
}

// EndOffsets returns the next offset to be written of every partition of
// topic.
func (k *Kafka) EndOffsets(ctx context.Context, topic string) (map[int32]int64, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(k.Brokers...))
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	return endOffsets(ctx, cl, topic)
}

// Consume reads every record of topic from the start up to its end offsets.
func (k *Kafka) Consume(ctx context.Context, topic string) ([]*kgo.Record, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(k.Brokers...), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	ends, err := endOffsets(ctx, cl, topic)
	if err != nil {
		return nil, err
	}
	remaining := 0
	for _, e := range ends {
		remaining += int(e)
	}
	var out []*kgo.Record
	for remaining > 0 {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return out, err
		}
		fs.EachRecord(func(r *kgo.Record) {
			out = append(out, r)
			remaining--
		})
	}
	return out, nil
}
