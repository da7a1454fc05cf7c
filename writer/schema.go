package writer

// The schema the files are written with: the given one, with the encodings
// of the meta columns that set none.

import (
	"github.com/lakestream/lakestream/table/hudi/hudimeta"
	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/encoding"
)

// Encodings of the meta columns whose schema node sets none. The constant
// columns (one value per file) take a dictionary, which costs about nothing;
// the unique ones are PLAIN: a dictionary of unique values only costs hashing
// until it overflows. Other string columns default to a dictionary bounded
// by WithDictionaryMaxBytes (then PLAIN), as parquet-mr writes them. Only
// PLAIN, RLE and dictionary encodings are used by default, which every
// Parquet reader decodes (Spark's vectorized reader before 3.3 has no DELTA_*
// decoders).
var metaEncodings = map[string]encoding.Encoding{
	hudimeta.ColCommitTime:    &parquet.RLEDictionary,
	hudimeta.ColCommitSeqNo:   &parquet.Plain,
	hudimeta.ColRecordKey:     &parquet.Plain,
	hudimeta.ColPartitionPath: &parquet.RLEDictionary,
	hudimeta.ColFileName:      &parquet.RLEDictionary,
}

// writeSchema returns schema with the meta column encodings above applied
// to the top-level meta fields that have no encoding. The columns, their
// order, types and field IDs are unchanged: only the root's fields are
// wrapped.
func writeSchema(schema *parquet.Schema) *parquet.Schema {
	fields := schema.Fields()
	out := make([]parquet.Field, len(fields))
	changed := false
	for i, f := range fields {
		out[i] = f
		if enc, ok := metaEncodings[f.Name()]; ok && f.Leaf() && f.Encoding() == nil {
			out[i] = encodedField{Field: f, enc: enc}
			changed = true
		}
	}
	if !changed {
		return schema
	}
	return parquet.NewSchema(schema.Name(), fieldsNode{Node: schema, fields: out})
}

// encodedField is a field with an encoding.
type encodedField struct {
	parquet.Field
	enc encoding.Encoding
}

func (f encodedField) Encoding() encoding.Encoding { return f.enc }

// fieldsNode is a group node with replaced fields.
type fieldsNode struct {
	parquet.Node
	fields []parquet.Field
}

func (n fieldsNode) Fields() []parquet.Field { return n.fields }
