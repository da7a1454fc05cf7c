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

// maxStoredZstd is the largest page appendZstdStored writes: a single
// segment frame's window is its content, and 8 MiB is the window of the
// frames the encoder writes (and that every decoder takes).
const maxStoredZstd = 8 << 20

// appendZstdStored appends to dst a zstd frame holding src stored, in raw
// blocks of at most 128 KiB: what the encoder writes for data it cannot
// compress, without trying to. len(src) must be at most maxStoredZstd.
func appendZstdStored(dst, src []byte) []byte {
	dst = append(dst, 0x28, 0xB5, 0x2F, 0xFD) // magic
	const single = 1 << 5                     // single segment: the content size is the window
	switch n := len(src); {
	case n < 256:
		dst = append(dst, single, byte(n))
	case n < 256+1<<16:
		dst = append(dst, single|1<<6, byte(n-256), byte((n-256)>>8))
	default:
		dst = append(dst, single|2<<6, byte(n), byte(n>>8), byte(n>>16), byte(n>>24))
	}
	for {
		k := min(len(src), 128<<10)
		h := uint32(k) << 3 // block type 0: raw
		if k == len(src) {
			h |= 1 // the last block
		}
		dst = append(dst, byte(h), byte(h>>8), byte(h>>16))
		dst = append(dst, src[:k]...)
		if src = src[k:]; len(src) == 0 {
			return dst
		}
	}
}
