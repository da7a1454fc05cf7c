package parquetfile

import (
	"github.com/parquet-go/parquet-go/deprecated"
	"github.com/parquet-go/parquet-go/encoding/thrift"
	"github.com/parquet-go/parquet-go/format"
)

// The footer's Thrift structs: parquet-go's (package format), field for
// field, but for Statistics, which there lacks is_max_value_exact and
// is_min_value_exact (fields 7 and 8 of parquet-format's Statistics). The
// byte array statistics say with them whether they were truncated
// (TestFooterTypesMirrorParquetGo checks that the rest encodes as
// parquet-go's).

type fileMetaData struct {
	Version                  int32                              `thrift:"1,required"`
	Schema                   thrift.Slice[format.SchemaElement] `thrift:"2,required"`
	NumRows                  int64                              `thrift:"3,required"`
	RowGroups                thrift.Slice[rowGroup]             `thrift:"4,required"`
	KeyValueMetadata         thrift.Slice[format.KeyValue]      `thrift:"5,optional"`
	CreatedBy                string                             `thrift:"6,optional"`
	ColumnOrders             thrift.Slice[format.ColumnOrder]   `thrift:"7,optional"`
	EncryptionAlgorithm      format.EncryptionAlgorithm         `thrift:"8,optional"`
	FooterSigningKeyMetadata []byte                             `thrift:"9,optional"`
}

type rowGroup struct {
	Columns             thrift.Slice[columnChunk]          `thrift:"1,required"`
	TotalByteSize       int64                              `thrift:"2,required"`
	NumRows             int64                              `thrift:"3,required"`
	SortingColumns      thrift.Slice[format.SortingColumn] `thrift:"4,optional"`
	FileOffset          int64                              `thrift:"5,optional"`
	TotalCompressedSize int64                              `thrift:"6,optional"`
	Ordinal             int16                              `thrift:"7,optional,writezero"`
}

type columnChunk struct {
	FilePath                string                      `thrift:"1,optional"`
	FileOffset              int64                       `thrift:"2,required"`
	MetaData                columnMetaData              `thrift:"3,optional"`
	OffsetIndexOffset       int64                       `thrift:"4,optional"`
	OffsetIndexLength       int32                       `thrift:"5,optional"`
	ColumnIndexOffset       int64                       `thrift:"6,optional"`
	ColumnIndexLength       int32                       `thrift:"7,optional"`
	CryptoMetadata          format.ColumnCryptoMetaData `thrift:"8,optional"`
	EncryptedColumnMetadata []byte                      `thrift:"9,optional"`
}

type columnMetaData struct {
	Type                  format.Type                            `thrift:"1,required"`
	Encoding              thrift.Slice[format.Encoding]          `thrift:"2,required"`
	PathInSchema          thrift.Slice[string]                   `thrift:"3,required"`
	Codec                 format.CompressionCodec                `thrift:"4,required"`
	NumValues             int64                                  `thrift:"5,required"`
	TotalUncompressedSize int64                                  `thrift:"6,required"`
	TotalCompressedSize   int64                                  `thrift:"7,required"`
	KeyValueMetadata      thrift.Slice[format.KeyValue]          `thrift:"8,optional"`
	DataPageOffset        int64                                  `thrift:"9,required"`
	IndexPageOffset       int64                                  `thrift:"10,optional"`
	DictionaryPageOffset  int64                                  `thrift:"11,optional"`
	Statistics            statistics                             `thrift:"12,optional,writezero"`
	EncodingStats         thrift.Slice[format.PageEncodingStats] `thrift:"13,optional"`
	BloomFilterOffset     int64                                  `thrift:"14,optional"`
	BloomFilterLength     int32                                  `thrift:"15,optional"`
	SizeStatistics        format.SizeStatistics                  `thrift:"16,optional"`
	GeospatialStatistics  format.GeospatialStatistics            `thrift:"17,optional"`
}

// statistics is format.Statistics with fields 7 and 8: whether max_value
// and min_value are the actual maximum and minimum (absent: not known).
type statistics struct {
	Max             []byte            `thrift:"1"`
	Min             []byte            `thrift:"2"`
	NullCount       int64             `thrift:"3,writezero"`
	DistinctCount   int64             `thrift:"4"`
	MaxValue        []byte            `thrift:"5"`
	MinValue        []byte            `thrift:"6"`
	IsMaxValueExact thrift.Null[bool] `thrift:"7,optional"`
	IsMinValueExact thrift.Null[bool] `thrift:"8,optional"`
}

// setByteArrayBounds sets the bounds of a byte array chunk, lo and hi,
// truncated to n bytes (0: not truncated), with their exactness. If hi has
// no truncated upper bound (see appendMax), neither bound is set: readers
// use a chunk's bounds only when it has both.
func (s *statistics) setByteArrayBounds(lo, hi []byte, n int) {
	max, maxExact, ok := appendMax(nil, hi, n)
	if !ok {
		return
	}
	if max == nil {
		max = []byte{} // an empty bound is written; nil is not
	}
	min, minExact := truncateMin(lo, n)
	s.MinValue, s.MaxValue = append([]byte{}, min...), max
	s.IsMinValueExact, s.IsMaxValueExact = thrift.New(minExact), thrift.New(maxExact)
}

// truncatable reports whether the bounds of a BYTE_ARRAY column of
// logical type lt (nil: none) and converted type ct may be truncated: as
// parquet-java, plain bytes and the types ordered as UTF-8 text (STRING,
// ENUM, JSON, BSON), not the others (DECIMAL, whose order is signed).
func truncatable(lt *format.LogicalType, ct *deprecated.ConvertedType) bool {
	if lt != nil && lt.Value != nil {
		switch lt.Value.(type) {
		case *format.StringType, *format.EnumType, *format.JsonType, *format.BsonType:
			return true
		}
		return false
	}
	if ct != nil {
		switch *ct {
		case deprecated.UTF8, deprecated.Enum, deprecated.Json, deprecated.Bson:
			return true
		}
		return false
	}
	return true
}
