package parquetfile

import (
	"github.com/klauspost/compress/zstd"
	"github.com/parquet-go/parquet-go/format"
)

// ZstdLevel is a zstd compression level.
type ZstdLevel = zstd.EncoderLevel

// The zstd levels writers use.
const (
	ZstdFastest = zstd.SpeedFastest
	ZstdDefault = zstd.SpeedDefault // about zstd's level 3, what DuckDB and parquet-mr write
)

// Zstd compresses pages with one zstd encoder of its own, kept for its
// life. parquet-go's zstd codec pools its encoders in a sync.Pool, which
// the garbage collector empties: in a process whose heap is small (a
// running ingestd), a new encoder, and its tables, was made every few
// collections. A Zstd is not safe for concurrent use.
type Zstd struct {
	enc *zstd.Encoder
}

// NewZstd returns a Zstd of the level.
func NewZstd(level ZstdLevel) *Zstd {
	enc, err := zstd.NewWriter(nil,
		zstd.WithEncoderLevel(level),
		zstd.WithEncoderConcurrency(1),
		zstd.WithZeroFrames(true),
		zstd.WithEncoderCRC(false),
	)
	if err != nil {
		panic("parquetfile: zstd encoder: " + err.Error()) // only for options out of range
	}
	return &Zstd{enc: enc}
}

// CompressionCodec is ZSTD.
func (z *Zstd) CompressionCodec() format.CompressionCodec { return format.Zstd }

// Encode appends the zstd frame of src to dst[:0].
func (z *Zstd) Encode(dst, src []byte) ([]byte, error) { return z.enc.EncodeAll(src, dst[:0]), nil }
