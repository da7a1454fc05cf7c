package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/plugin/kprom"
)

// Kafka client names: the value of the client label of the Kafka client
// metrics (KafkaClientMetrics.Hook).
const (
	KafkaClientConsumer   = "consumer"
	KafkaClientDeadLetter = "dead_letter"
)

// KafkaClientMetrics holds the franz-go clients' own metrics (franz-go's
// kprom plugin) on a registry of their own, which NewProvider serves
// beside the pipeline's through WithGatherers(k.Registry()). Every metric
// is named lakestream_kafka_* and labelled with client (the client's
// role, e.g. KafkaClientConsumer), topic (the topic ingestd reads, as on
// every lakestream metric; the dead-letter producer's too) and, but for
// the buffered gauges, node_id (the broker; "seed_N" for the Nth seed
// broker before the metadata names it):
// connects_total, connect_errors_total, disconnects_total,
// read_bytes_total, read_errors_total, write_bytes_total,
// write_errors_total, the request_duration_e2e_seconds histogram (request
// written to response read, by broker), fetch_bytes_total and
// produce_bytes_total (uncompressed) and the
// buffered_{fetch,produce}_records_total and buffered_{fetch,produce}_bytes
// gauges (records and bytes buffered in the client). docs/metrics.md
// lists them.
type KafkaClientMetrics struct {
	reg   *prometheus.Registry
	topic string
}

// NewKafkaClientMetrics makes the registry of the Kafka client metrics of
// the pipeline that reads topic.
func NewKafkaClientMetrics(topic string) *KafkaClientMetrics {
	return &KafkaClientMetrics{reg: prometheus.NewRegistry(), topic: topic}
}

// Registry is the registry the clients' metrics are on (for WithGatherers).
func (k *KafkaClientMetrics) Registry() prometheus.Gatherer { return k.reg }

// Hook returns the kgo hook (kgo.WithHooks) that records one client's
// metrics under the label client=name. Give each client its own name, and
// each name to one live client at a time: the metrics are registered
// when the client is made and unregistered when it is closed.
func (k *KafkaClientMetrics) Hook(name string) kgo.Hook {
	return kprom.NewMetrics("lakestream",
		kprom.Subsystem("kafka"),
		kprom.Registry(k.reg),
		kprom.WithStaticLabel(prometheus.Labels{"client": name, "topic": k.topic}),
		kprom.Histograms(kprom.RequestDurationE2E),
		// The topic is the constant label above: fetched and produced
		// bytes by broker only.
		kprom.FetchAndProduceDetail(kprom.ByNode, kprom.UncompressedBytes),
	)
}
