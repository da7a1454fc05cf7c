package parquetfile

import (
	"errors"
	"fmt"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"
)

// Defaults of the options.
const (
	DefaultPageBufferSize       = 1 << 20
	DefaultDictionaryMaxBytes   = 1 << 20
	DefaultColumnIndexSizeLimit = 64
	DefaultStatisticsSizeLimit  = 64
)

// Codec compresses pages. A Codec may keep state between calls: the writers
// sharing one must be used from one goroutine at a time. parquet-go's
// codecs (compress.Codec) are Codecs.
type Codec interface {
	CompressionCodec() format.CompressionCodec
	Encode(dst, src []byte) ([]byte, error)
}

// Option configures a Writer.
type Option func(*options)

type options struct {
	codec                Codec
	pageBufferSize       int
	dictionaryMaxBytes   int
	columnIndexSizeLimit int
	statisticsSizeLimit  int
	createdBy            string
	dictionaryKinds      [8]bool // by parquet.Kind: columns without an encoding of their own
	shared               *Shared
	validated            bool
}

func defaultOptions() options {
	o := options{
		pageBufferSize:       DefaultPageBufferSize,
		dictionaryMaxBytes:   DefaultDictionaryMaxBytes,
		columnIndexSizeLimit: DefaultColumnIndexSizeLimit,
		statisticsSizeLimit:  DefaultStatisticsSizeLimit,
	}
	o.dictionaryKinds[parquet.ByteArray] = true
	return o
}

// WithCodec sets the page compression. Default nil: uncompressed.
func WithCodec(c Codec) Option { return func(o *options) { o.codec = c } }

// WithPageBufferSize sets the size of a column's values (PLAIN bytes, or 4
// bytes per dictionary index, plus one byte per definition level) at which
// its page is cut. Default 1 MiB.
func WithPageBufferSize(n int) Option { return func(o *options) { o.pageBufferSize = n } }

// WithDictionaryMaxBytes bounds a column chunk's dictionary (its PLAIN size):
// once past it, the page being written is cut and the rest of the chunk is
// PLAIN. 0 means unbounded. Default 1 MiB.
func WithDictionaryMaxBytes(n int) Option { return func(o *options) { o.dictionaryMaxBytes = n } }

// WithColumnIndexSizeLimit truncates the byte array bounds of each page in
// the column index to n bytes, as parquet-java does (its
// columnIndexTruncateLength): the minimum to a prefix, the maximum to a
// prefix incremented so that it stays an upper bound, neither cutting a
// UTF-8 sequence. A chunk with a page whose maximum has no such bound (only
// 0xFF bytes and U+10FFFF in its first n bytes) has no column index. 0
// means no truncation. Default 64, as parquet-java.
func WithColumnIndexSizeLimit(n int) Option {
	return func(o *options) { o.columnIndexSizeLimit = n }
}

// WithStatisticsSizeLimit truncates the byte array bounds of each column
// chunk's statistics (in the footer) to n bytes as WithColumnIndexSizeLimit
// does, and marks them not exact (is_min_value_exact, is_max_value_exact);
// a chunk whose maximum has no truncated bound has no bounds. 0 means no
// truncation. Default 64 (parquet-java does not truncate by default, so a
// value of 50 MiB would be twice in the footer; see docs/format/parquet.md).
func WithStatisticsSizeLimit(n int) Option {
	return func(o *options) { o.statisticsSizeLimit = n }
}

// WithCreatedBy sets the footer's created_by. Default "".
func WithCreatedBy(s string) Option { return func(o *options) { o.createdBy = s } }

// WithShared makes the Writer share s (page scratch, dictionary tables)
// with the other Writers given it, which must all be used from one
// goroutine. Default: a Shared of its own.
func WithShared(s *Shared) Option { return func(o *options) { o.shared = s } }

// WithValidatedValues says the caller checked every value it writes (its
// kind, and that its definition level is the column's maximum unless it is
// null): the Writer then checks only nulls. A value that is not right then
// makes a corrupt file instead of a *ValueError. Default false.
func WithValidatedValues() Option { return func(o *options) { o.validated = true } }

// WithDictionary says which physical kinds get a dictionary when their
// schema node sets no encoding. Default: BYTE_ARRAY only.
func WithDictionary(kinds ...parquet.Kind) Option {
	return func(o *options) {
		o.dictionaryKinds = [8]bool{}
		for _, k := range kinds {
			if k >= 0 && int(k) < len(o.dictionaryKinds) {
				o.dictionaryKinds[k] = true
			}
		}
	}
}

// validate reports every invalid option at once.
func (o *options) validate() error {
	var errs []error
	if o.pageBufferSize <= 0 {
		errs = append(errs, fmt.Errorf("page buffer size %d: must be positive", o.pageBufferSize))
	}
	if o.pageBufferSize > maxPageSize/2 {
		errs = append(errs, fmt.Errorf("page buffer size %d: must be at most %d", o.pageBufferSize, maxPageSize/2))
	}
	if o.dictionaryMaxBytes < 0 {
		errs = append(errs, fmt.Errorf("dictionary max bytes %d: must not be negative", o.dictionaryMaxBytes))
	}
	if o.columnIndexSizeLimit < 0 {
		errs = append(errs, fmt.Errorf("column index size limit %d: must not be negative", o.columnIndexSizeLimit))
	}
	if o.statisticsSizeLimit < 0 {
		errs = append(errs, fmt.Errorf("statistics size limit %d: must not be negative", o.statisticsSizeLimit))
	}
	if len(errs) > 0 {
		return fmt.Errorf("parquetfile options: %w", errors.Join(errs...))
	}
	return nil
}
