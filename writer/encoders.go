package writer

// The encoder choice: which Parquet encoder a Set's files get (parquetfile's
// for flat schemas, parquet-go's for schemas with lists or maps), configured
// from the options, and the encoders of closed files kept for reuse.

import (
	"fmt"
	"io"
	"runtime/debug"
	"strings"

	"github.com/lakestream/lakestream/internal/parquetfile"
	"github.com/parquet-go/parquet-go"
)

// encoders makes the encoders of a Set's files.
type encoders struct {
	flat   bool                // parquetfile's encoder (flat schemas)
	shared *parquetfile.Shared // what the parquetfile encoders share (nil: parquet-go)
	make   func() (encoder, error)
	free   []encoder // encoders of closed files, for reuse
	keep   int       // most encoders kept in free
}

// newEncoders picks the files' encoder: parquetfile's if it supports the
// schema (no lists or maps), else parquet-go's. Both write data page v1
// with PLAIN, RLE and dictionary encodings only (see writeSchema), byte
// arrays with a dictionary bounded by DictionaryMaxBytes then PLAIN, as
// parquet-mr writes them (parquet-go's default, DELTA_LENGTH_BYTE_ARRAY, is
// not read by Spark's vectorized reader before 3.3), no statistics in data
// page headers (doc.go), and a page index.
func newEncoders(schema *parquet.Schema, o *options) (*encoders, error) {
	schema = writeSchema(schema)
	if parquetfile.Supports(schema) == nil {
		shared := parquetfile.NewShared()
		var codec parquetfile.Codec
		switch o.compression {
		case "zstd":
			codec = parquetfile.NewZstd(parquetfile.ZstdDefault)
		case "zstd-fast":
			codec = parquetfile.NewZstd(parquetfile.ZstdFastest)
		case "none":
		default:
			codec, _ = codecOf(o.compression)
		}
		opts := []parquetfile.Option{
			parquetfile.WithCodec(codec),
			parquetfile.WithPageBufferSize(o.pageBufferSize),
			parquetfile.WithDictionaryMaxBytes(o.dictionaryMaxBytes),
			// Byte arrays start with a dictionary, kept while it pays (see
			// parquetfile.Shared.judgeDictionary). Numbers are PLAIN: zstd
			// compresses ascending offsets and timestamps better that way
			// than their dictionary indexes (measured: 0.22 against 0.57
			// bytes an offset, 0.55 against 0.75 a timestamp), and faster.
			parquetfile.WithDictionary(parquet.ByteArray),
			parquetfile.WithCreatedBy(createdByString()),
			parquetfile.WithShared(shared),    // one goroutine uses the Set
			parquetfile.WithValidatedValues(), // rowShape.check checks every row first
		}
		if _, err := parquetfile.NewWriter(schema, opts...); err != nil {
			return nil, fmt.Errorf("writer: parquet config: %w", err)
		}
		return &encoders{flat: true, shared: shared, make: func() (encoder, error) {
			w, err := parquetfile.NewWriter(schema, opts...)
			return flatEncoder{w}, err
		}}, nil
	}
	codec, _ := codecOf(o.compression)
	pwOpts := []parquet.WriterOption{
		schema,
		parquet.Compression(codec),
		parquet.PageBufferSize(o.pageBufferSize),
		parquet.WriteBufferSize(0),        // the spool file has its own buffer; see countingWriter
		parquet.DataPageVersion(1),        // what parquet-mr (Hudi's writer) writes; every reader has it
		parquet.DataPageStatistics(false), // the page index has them; see doc.go
		parquet.DictionaryMaxBytes(int64(o.dictionaryMaxBytes)),
		parquet.DefaultEncodingFor(parquet.ByteArray, &parquet.RLEDictionary),
		// The page index's bounds whole: the BoundsRewriter truncates them
		// (and the chunk statistics) as parquetfile does; see goEncoder.
		parquet.ColumnIndexSizeLimit(func([]string) int { return 0 }),
		createdBy(createdByString()),
	}
	if _, err := parquet.NewWriterConfig(pwOpts...); err != nil {
		return nil, fmt.Errorf("writer: parquet config: %w", err)
	}
	return &encoders{make: func() (encoder, error) {
		b, err := parquetfile.NewBoundsRewriter(parquetfile.DefaultColumnIndexSizeLimit, parquetfile.DefaultStatisticsSizeLimit)
		if err != nil {
			return nil, err
		}
		return goEncoder{parquet.NewWriter(io.Discard, pwOpts...), b}, nil
	}}, nil
}

// maxOpen is the most files a Set keeps open: MaxOpenFiles, lowered by
// WithWriterMemory for parquet-go's encoder, which reserves a page buffer
// per required column of an open writer, whatever it holds. parquetfile's
// reserves nothing: its memory is in BufferedBytes, which the memory budget
// bounds.
func (e *encoders) maxOpen(o *options, sh *rowShape) int {
	if o.writerMemory == 0 || e.flat {
		return o.maxOpenFiles
	}
	perWriter := int64(o.pageBufferSize) * int64(max(sh.requiredColumns(), 1))
	return int(min(int64(o.maxOpenFiles), max(1, o.writerMemory/perWriter)))
}

// get returns an encoder of a closed file, or a new one.
func (e *encoders) get() (encoder, error) {
	if n := len(e.free); n > 0 {
		enc := e.free[n-1]
		e.free = e.free[:n-1]
		return enc, nil
	}
	return e.make()
}

// put keeps the encoder of a closed file for reuse, if fewer than keep are.
// The encoders of dropped files are not put back: reset would do, but one
// that failed may be in any state.
func (e *encoders) put(enc encoder) {
	if len(e.free) < e.keep {
		e.free = append(e.free, enc)
	}
}

// createdBy sets the footer's created_by verbatim.
type createdBy string

func (c createdBy) ConfigureWriter(config *parquet.WriterConfig) { config.CreatedBy = string(c) }

// createdByString is "lakestream version <v> (build <rev>)", the form
// parquet-mr parses: it ignores the statistics of byte array columns of
// files whose created_by it cannot parse.
func createdByString() string {
	version, build := "dev", "unknown"
	if bi, ok := debug.ReadBuildInfo(); ok {
		if v := bi.Main.Version; strings.HasPrefix(v, "v") && !strings.ContainsAny(v, "() ") {
			version = strings.TrimPrefix(v, "v")
		}
		for _, kv := range bi.Settings {
			if kv.Key == "vcs.revision" && kv.Value != "" {
				build = kv.Value
				if len(build) > 12 {
					build = build[:12]
				}
			}
		}
	}
	return "lakestream version " + version + " (build " + build + ")"
}
