package harness

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Kafka is an in-process Kafka cluster (kfake listens on 127.0.0.1 only).
type Kafka struct {
	Cluster *kfake.Cluster
	Brokers []string
}

// StartKafka starts brokers brokers with the topics seeded, each with
// partitions partitions.
func StartKafka(brokers, partitions int, topics ...string) (*Kafka, error) {
	c, err := kfake.NewCluster(kfake.NumBrokers(brokers), kfake.SeedTopics(int32(partitions), topics...))
	if err != nil {
		return nil, fmt.Errorf("start kfake: %w", err)
	}
	return &Kafka{Cluster: c, Brokers: c.ListenAddrs()}, nil
}

// Close stops the cluster.
func (k *Kafka) Close() { k.Cluster.Close() }

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
