package parquetfile

import (
	"encoding/binary"

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

// zstdStoredContent returns the content of frame if it is a zstd frame of
// one raw block (what appendZstdStored writes for a page of up to 128 KiB,
// and what the encoder writes for a page it cannot compress), where it is
// in frame; false for any other frame (a decoder decodes it), one with a
// checksum or a dictionary, or bytes after it.
func zstdStoredContent(frame []byte) ([]byte, bool) {
	if len(frame) < 5 || frame[0] != 0x28 || frame[1] != 0xB5 || frame[2] != 0x2F || frame[3] != 0xFD {
		return nil, false
	}
	fhd := frame[4]
	if fhd&(1<<3|1<<2|3) != 0 { // reserved bit, checksum, dictionary ID
		return nil, false
	}
	single := fhd&(1<<5) != 0
	at := 5
	window := int64(-1) // the content size, with single
	if !single {
		if at >= len(frame) {
			return nil, false
		}
		wd := frame[at]
		base := int64(1) << (10 + wd>>3)
		window = base + base/8*int64(wd&7)
		if window > maxStoredZstd {
			return nil, false // a decoder may refuse it
		}
		at++
	}
	size := int64(-1) // the content size, if given
	switch fhd >> 6 {
	case 0:
		if single {
			if at+1 > len(frame) {
				return nil, false
			}
			size = int64(frame[at])
			at++
		}
	case 1:
		if at+2 > len(frame) {
			return nil, false
		}
		size = int64(binary.LittleEndian.Uint16(frame[at:])) + 256
		at += 2
	case 2:
		if at+4 > len(frame) {
			return nil, false
		}
		size = int64(binary.LittleEndian.Uint32(frame[at:]))
		at += 4
	default:
		return nil, false
	}
	if at+3 > len(frame) {
		return nil, false
	}
	h := uint32(frame[at]) | uint32(frame[at+1])<<8 | uint32(frame[at+2])<<16
	at += 3
	n := int(h >> 3)
	switch {
	case h&1 == 0 || h>>1&3 != 0: // not one raw block
		return nil, false
	case n > 128<<10 || window >= 0 && int64(n) > window: // past the block size
		return nil, false
	case at+n != len(frame) || size >= 0 && size != int64(n):
		return nil, false
	}
	return frame[at:], true
}
