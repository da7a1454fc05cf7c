package schemas

import "github.com/parquet-go/parquet-go"

// Record is the decoded form of one Kafka record value.
type Record struct {
	// Row is the full table row, as parquet.Writer.WriteRows wants it. It is
	// reused between records: Decode truncates and refills it, with the meta
	// columns null (see TableSchema.SetMeta) and the Kafka columns holding
	// placeholders (see TableSchema.SetKafka).
	Row parquet.Row
	// EventTime is the event-time field in microseconds since the epoch
	// (UTC); valid if HasEventTime.
	EventTime    int64
	HasEventTime bool
}

// Decoder turns a Kafka record value into a table row. A Decoder is not
// safe for concurrent use: give each goroutine its own.
//
// Ownership: after Decode returns, byte values in rec.Row (strings, bytes,
// wide decimals) either alias value or point into memory that the decoder
// never writes again. So the row stays valid, even handed to another
// goroutine, for as long as value is alive and unmodified: the caller must
// not reuse or modify the value buffer while rows from it are pending.
// Copying rec.Row's Values (not the bytes) before the next Decode is enough.
//
// On error rec.Row is empty and the error is a *DecodeError.
type Decoder interface {
	Decode(value []byte, rec *Record) error
}
