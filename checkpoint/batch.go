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

// spare returns the batch's room for the next row: empty, with capacity
// for n values at least, in the batch's values.
func (b *rowBatch) spare(n int) []parquet.Value {
	if cap(b.values)-len(b.values) < n {
		grown := make([]parquet.Value, len(b.values), max(2*cap(b.values), len(b.values)+n))
		copy(grown, b.values)
		b.values = grown
	}
	return b.values[len(b.values):len(b.values)]
}

// inSpare reports whether row lies at the start of the batch's spare room
// (a decoder wrote it there, and did not have to move it).
func (b *rowBatch) inSpare(row []parquet.Value) bool {
	return len(row) > 0 && len(row) <= cap(b.values)-len(b.values) &&
		&row[0] == &b.values[len(b.values):cap(b.values)][0]
}

// commit adds the row written in the spare room, without copying it.
func (b *rowBatch) commit(row parquet.Row, bucket string, eventTime int64) {
	b.values = b.values[:len(b.values)+len(row)]
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
