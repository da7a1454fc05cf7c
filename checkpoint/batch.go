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
	rows    []parquet.Row // views of the rows, built by rowViews
}

func (b *rowBatch) reset() {
	b.values = b.values[:0]
	b.ends = b.ends[:0]
	b.buckets = b.buckets[:0]
	b.times = b.times[:0]
	b.arena = b.arena[:0]
	b.rows = b.rows[:0]
}

func (b *rowBatch) len() int { return len(b.ends) }

func (b *rowBatch) add(row parquet.Row, bucket string, eventTime int64) {
	b.values = append(b.values, row...)
	b.ends = append(b.ends, len(b.values))
	b.buckets = append(b.buckets, bucket)
	b.times = append(b.times, eventTime)
}

// rowViews returns the rows of the batch, row i being
// values[ends[i-1]:ends[i]]. The views are valid until reset.
func (b *rowBatch) rowViews() []parquet.Row {
	b.rows = b.rows[:0]
	start := 0
	for _, end := range b.ends {
		b.rows = append(b.rows, b.values[start:end:end])
		start = end
	}
	return b.rows
}
