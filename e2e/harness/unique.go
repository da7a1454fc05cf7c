package harness

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// StartKafkaWith is StartKafka with extra kfake options (e.g.
// kfake.GroupMinSessionTimeout for consumers with short sessions).
func StartKafkaWith(brokers, partitions int, opts []kfake.Opt, topics ...string) (*Kafka, error) {
	all := append([]kfake.Opt{kfake.NumBrokers(brokers), kfake.SeedTopics(int32(partitions), topics...)}, opts...)
	c, err := kfake.NewCluster(all...)
	if err != nil {
		return nil, fmt.Errorf("start kfake: %w", err)
	}
	return &Kafka{Kind: KindKfake, Cluster: c, Brokers: c.ListenAddrs()}, nil
}

// UniquePageview is the event of unique ID id: userId is id, every other
// field derives from (seed, id), with event times in the two hours before
// base (truncated to the millisecond).
func UniquePageview(seed uint64, base time.Time, id int64) Pageview {
	h := splitmix(seed ^ uint64(id)*0x9e3779b97f4a7c15)
	pv := Pageview{
		UserID:        id,
		SessionNumber: int32(h % 50),
		PageNumber:    int32(h >> 8 % 30),
		URL:           "https://shop.example.com" + fill(pages[h>>16%uint64(len(pages))], int(h>>24%10_000)),
		EventTime:     base.Add(-time.Duration(h>>32%uint64(2*time.Hour/time.Millisecond)) * time.Millisecond).UTC().Truncate(time.Millisecond),
	}
	if h>>40%3 > 0 {
		r := fill(referrers[h>>44%uint64(len(referrers))], int(h>>48%1000))
		pv.Referrer = &r
	}
	return pv
}

func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}

// RowChecksum is the content checksum of one event: FNV-1a 64 of its JSON.
// The checksum of a set of rows is the wrapping sum of theirs, so that it
// does not depend on order and a duplicate or a lost row changes it.
func RowChecksum(p Pageview) uint64 {
	h := fnv.New64a()
	h.Write(p.JSON())
	return h.Sum64()
}

// RecordPos is where Kafka stored a record.
type RecordPos struct {
	Partition int32
	Offset    int64
}

// UniqueProducer produces UniquePageview events with IDs 0, 1, 2... at a
// bounded rate, round-robin over the partitions, until it has produced
// total or Stop is called. Every batch is produced synchronously, so that
// what it reports is exactly what Kafka acknowledged.
type UniqueProducer struct {
	seed       uint64
	base       time.Time
	topic      string
	partitions int
	rate       int
	total      int
	cl         *kgo.Client

	stop chan struct{}
	done chan struct{}

	mu       sync.Mutex
	acked    map[int64]RecordPos
	checksum uint64
	err      error
}

// ProduceUnique starts a UniqueProducer of rate records per second.
func (k *Kafka) ProduceUnique(topic string, partitions int, seed uint64, base time.Time, rate, total int) (*UniqueProducer, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(k.Brokers...), kgo.ProducerLinger(0),
		kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.RequiredAcks(kgo.AllISRAcks()))
	if err != nil {
		return nil, err
	}
	p := &UniqueProducer{seed: seed, base: base, topic: topic, partitions: partitions, rate: rate, total: total, cl: cl,
		stop: make(chan struct{}), done: make(chan struct{}), acked: map[int64]RecordPos{}}
	go p.run()
	return p, nil
}

const produceTick = 50 * time.Millisecond

func (p *UniqueProducer) run() {
	defer close(p.done)
	defer p.cl.Close()
	perTick := max(1, p.rate*int(produceTick)/int(time.Second))
	tick := time.NewTicker(produceTick)
	defer tick.Stop()
	next := int64(0)
	for int(next) < p.total {
		select {
		case <-p.stop:
			return
		case <-tick.C:
		}
		n := min(perTick, p.total-int(next))
		recs := make([]*kgo.Record, n)
		for i := range recs {
			id := next + int64(i)
			recs[i] = &kgo.Record{Topic: p.topic, Partition: int32(id % int64(p.partitions)),
				Key: fmt.Appendf(nil, "u%d", id), Value: UniquePageview(p.seed, p.base, id).JSON()}
		}
		// Never cancelled half-way: an interrupted batch would leave
		// records in Kafka that were never acknowledged.
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		res := p.cl.ProduceSync(ctx, recs...)
		cancel()
		p.mu.Lock()
		for _, r := range res {
			if r.Err != nil {
				if p.err == nil {
					p.err = fmt.Errorf("produce record %s: %w", r.Record.Key, r.Err)
				}
				continue
			}
			var pv Pageview
			if err := json.Unmarshal(r.Record.Value, &pv); err != nil {
				panic(err)
			}
			p.acked[pv.UserID] = RecordPos{Partition: r.Record.Partition, Offset: r.Record.Offset}
			p.checksum += RowChecksum(pv)
		}
		failed := p.err != nil
		p.mu.Unlock()
		if failed {
			return
		}
		next += int64(n)
	}
}

// Stop stops producing after the batch in flight and waits. It returns the
// first produce error. Stop is idempotent.
func (p *UniqueProducer) Stop() error {
	select {
	case <-p.stop:
	default:
		close(p.stop)
	}
	<-p.done
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

// Produced is the number of records acknowledged so far.
func (p *UniqueProducer) Produced() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.acked)
}

// Acked returns where each acknowledged ID was stored, and the checksum
// (see RowChecksum) of the acknowledged events.
func (p *UniqueProducer) Acked() (map[int64]RecordPos, uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[int64]RecordPos, len(p.acked))
	for id, pos := range p.acked {
		out[id] = pos
	}
	return out, p.checksum
}

// DescribeGroup renders a consumer group's state, members and their
// assignments, for diagnosing stalls.
func (k *Kafka) DescribeGroup(ctx context.Context, group string) string {
	cl, err := kgo.NewClient(kgo.SeedBrokers(k.Brokers...))
	if err != nil {
		return err.Error()
	}
	defer cl.Close()
	gs, err := kadm.NewClient(cl).DescribeGroups(ctx, group)
	if err != nil {
		return err.Error()
	}
	g, ok := gs[group]
	if !ok {
		return "group " + group + " not found"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "group %s: state %s, protocol %s, %d members (err %v)", group, g.State, g.Protocol, len(g.Members), g.Err)
	for _, m := range g.Members {
		var parts []int32
		if c, ok := m.Assigned.AsConsumer(); ok {
			for _, t := range c.Topics {
				parts = append(parts, t.Partitions...)
			}
		}
		fmt.Fprintf(&b, "; member %s (%s) assigned %v", m.MemberID, m.ClientHost, parts)
	}
	return b.String()
}
