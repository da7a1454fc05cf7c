package harness

import (
	"os"
	"testing"
)

// BenchmarkApacheKafkaStart formats and starts an Apache Kafka cluster of
// one node (…/1) and of three (…/3), waits until every node serves, and
// kills it: the cost the e2e tests pay per cluster. Needs `make kafka`.
//
//	go test -run '^$' -bench ApacheKafkaStart -benchtime 5x ./e2e/harness
func BenchmarkApacheKafkaStart(b *testing.B) {
	if _, err := KafkaHome(); err != nil {
		b.Skip(err)
	}
	for _, nodes := range []int{1, 3} {
		b.Run(map[int]string{1: "1", 3: "3"}[nodes], func(b *testing.B) {
			var format int64
			for b.Loop() {
				dir, err := os.MkdirTemp("", "lakestream-kafka-bench-")
				if err != nil {
					b.Fatal(err)
				}
				c, err := StartApacheKafka(ApacheKafkaOptions{Nodes: nodes, DataDir: dir})
				if err != nil {
					b.Fatal(err)
				}
				format += c.FormatTime.Nanoseconds()
				c.Close()
				os.RemoveAll(dir)
			}
			b.ReportMetric(float64(format)/float64(b.N)/1e9, "format-s/op")
		})
	}
}
