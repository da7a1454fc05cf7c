package checkpoint

import (
	"github.com/parquet-go/parquet-go"
)

// rowBatch carries rows from the intake to one worker. Rows are stored flat:
// row i is values[ends[i-1]:ends[i]]. Byte values point into the Kafka
// records or into arena (record keys); a batch is reused once its worker has
// written it, and the writer copies what it keeps.
type rowBatch struct {
	values  []parquet.Value
	ends    []int
	buckets []string
	times   []int64
	arena   []byte
}

func (b *rowBatch) reset() {
	b.values = b.values[:0]
	b.ends = b.ends[:0]
	b.buckets = b.buckets[:0]
	b.times = b.times[:0]
	b.arena = b.arena[:0]
}

func (b *rowBatch) len() int { return len(b.ends) }

func (b *rowBatch) add(row parquet.Row, bucket string, eventTime int64) {
	b.values = append(b.values, row...)
	b.ends = append(b.ends, len(b.values))
	b.buckets = append(b.buckets, bucket)
	b.times = append(b.times, eventTime)
}

func (b *rowBatch) row(i int) parquet.Row {
	start := 0
	if i > 0 {
		start = b.ends[i-1]
	}
	return b.values[start:b.ends[i]]
}
