package schemas

import (
	"errors"
	"fmt"

	"github.com/lakestream/lakestream/table/hudi/hudimeta"
	"github.com/parquet-go/parquet-go"
)

// TableOptions are the table-level settings around the user schema.
type TableOptions struct {
	// IncludeKafkaKey adds _kafka_key (optional bytes) after _kafka_timestamp.
	IncludeKafkaKey bool
	// EventTimeField optionally names a top-level field holding the event
	// time: a timestamp, or an int64 of epoch milliseconds. Decoders copy
	// it to Record.EventTime.
	EventTimeField string
	// PartitionColumns are the table's partition fields that are not user
	// fields (the segment names of an event-time template, dt and hr by
	// default): optional strings after the Kafka columns, holding the
	// partition path's values, which the writer sets per file. Hudi's
	// readers find every partition field among the table's columns, as in
	// the tables Spark writes (hoodie.datasource.write.drop.partition.columns
	// is false).
	PartitionColumns []string
}

// Positions of the Hudi meta columns in every row.
const (
	MetaCommitTime    = 0
	MetaSeqNo         = 1
	MetaRecordKey     = 2
	MetaPartitionPath = 3
	MetaFileName      = 4

	numMetaColumns = hudimeta.NumColumns
)

// Names of the columns lakestream adds around the user fields.
const (
	ColKafkaPartition = "_kafka_partition"
	ColKafkaOffset    = "_kafka_offset"
	ColKafkaTimestamp = "_kafka_timestamp"
	ColKafkaKey       = "_kafka_key"
)

// TableSchema is the full row of a table: the five Hudi meta columns, the
// user fields in declared order, then _kafka_partition, _kafka_offset,
// _kafka_timestamp, (with IncludeKafkaKey) _kafka_key, and the partition
// columns. Every node carries a field ID. A TableSchema is immutable and
// safe for concurrent use.
type TableSchema struct {
	user      Schema
	opts      TableOptions
	fields    []Field // the full row, IDs filled in
	root      *node
	userNodes []*node
	userRoot  *node // the user fields as a struct: what a record value holds
	leaves    []*node
	columns   [][]string
	numKafka  int
	numPart   int  // partition columns, after the Kafka columns
	repeated  bool // some column is inside a list or map
	eventTime *node
	parquet   *parquet.Schema
	raw       bool // rawValue matches parquet.Value: SetMeta and SetKafka write through it
}

// NewTableSchema validates the user schema and options and builds the full
// row. It reports every problem at once (errors.Join of *SchemaError
// values). See docs/format/types.md for the field-ID rule.
func NewTableSchema(user Schema, opts TableOptions) (*TableSchema, error) {
	errs := validateUser(user)
	if opts.EventTimeField != "" {
		var found *Field
		for i := range user.Fields {
			if user.Fields[i].Name == opts.EventTimeField {
				found = &user.Fields[i]
			}
		}
		switch {
		case found == nil:
			errs = append(errs, &SchemaError{Path: opts.EventTimeField, Problem: "event-time field is not a top-level field"})
		case found.Type.Kind != KindTimestamp && found.Type.Kind != KindInt64:
			errs = append(errs, &SchemaError{Path: opts.EventTimeField, Problem: fmt.Sprintf("event-time field is %s: want timestamp or int64 (epoch milliseconds)", found.Type.Kind)})
		}
	}
	errs = append(errs, validatePartitionColumns(user, opts.PartitionColumns)...)
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}

	str := func(name string) Field { return Field{Name: name, Type: Type{Kind: KindString}, Optional: true} }
	fields := []Field{str(hudimeta.ColCommitTime), str(hudimeta.ColCommitSeqNo), str(hudimeta.ColRecordKey), str(hudimeta.ColPartitionPath), str(hudimeta.ColFileName)}
	for i := range fields {
		fields[i].ID = int32(i + 1)
	}
	fields = append(fields, user.Fields...)
	kafka := []Field{
		{Name: ColKafkaPartition, Type: Type{Kind: KindInt32}},
		{Name: ColKafkaOffset, Type: Type{Kind: KindInt64}},
		{Name: ColKafkaTimestamp, Type: Type{Kind: KindTimestamp}},
	}
	if opts.IncludeKafkaKey {
		kafka = append(kafka, Field{Name: ColKafkaKey, Type: Type{Kind: KindBytes}, Optional: true})
	}
	fields = append(fields, kafka...)
	for _, name := range opts.PartitionColumns {
		fields = append(fields, str(name))
	}

	c := compiler{nextID: numMetaColumns + 1, used: map[int32]bool{}}
	collectIDs(user.Fields, c.used)
	root := &node{kind: KindStruct, fields: make([]*node, len(fields))}
	for i, f := range fields {
		root.fields[i] = c.field(f, "", 0, 0)
		fields[i].ID = root.fields[i].id
	}
	root.ncol = c.col

	ts := &TableSchema{
		user:      user,
		opts:      opts,
		fields:    fields,
		root:      root,
		userNodes: root.fields[numMetaColumns : numMetaColumns+len(user.Fields)],
		numKafka:  len(kafka),
		numPart:   len(opts.PartitionColumns),
	}
	ts.userRoot = &node{kind: KindStruct, fields: ts.userNodes}
	names := make([]string, len(ts.userNodes))
	for i, n := range ts.userNodes {
		names[i] = n.name
		if !n.optional {
			ts.userRoot.required = append(ts.userRoot.required, i)
		}
		if n.name == opts.EventTimeField {
			n.eventTime = true
			ts.eventTime = n
		}
	}
	ts.userRoot.lookup = newFieldLookup(names)
	for _, f := range root.fields {
		ts.leaves = f.leaves(ts.leaves)
		ts.columns = f.columnPaths(nil, ts.columns)
	}
	ts.repeated = hasRepetition(root)
	ts.parquet = parquet.NewSchema(rootName, parquetGroup(root))
	ts.raw = rawLayoutOK()
	return ts, nil
}

// rootName is the name of the Parquet schema root.
const rootName = "lakestream_record"

// hasRepetition reports whether any list or map is under n.
func hasRepetition(n *node) bool {
	switch n.kind {
	case KindList, KindMap:
		return true
	case KindStruct:
		for _, f := range n.fields {
			if hasRepetition(f) {
				return true
			}
		}
	}
	return false
}

// User returns the user schema the table was built from.
func (ts *TableSchema) User() Schema { return ts.user }

// Options returns the table options.
func (ts *TableSchema) Options() TableOptions { return ts.opts }

// Fields returns the top-level fields of the full row, in column order,
// with their field IDs. Callers must not modify the slice.
func (ts *TableSchema) Fields() []Field { return ts.fields }

// NumColumns returns the number of leaf columns.
func (ts *TableSchema) NumColumns() int { return len(ts.leaves) }

// Columns returns the Parquet path of every leaf column, in column order.
// Callers must not modify the slices.
func (ts *TableSchema) Columns() [][]string { return ts.columns }

// EventTimeField returns the name of the event-time field, or "".
func (ts *TableSchema) EventTimeField() string { return ts.opts.EventTimeField }

// NumKafkaColumns returns how many Kafka columns follow the user fields: 3,
// or 4 with the key.
func (ts *TableSchema) NumKafkaColumns() int { return ts.numKafka }

// PartitionColumns returns the names of the partition columns that end the
// row (TableOptions.PartitionColumns).
func (ts *TableSchema) PartitionColumns() []string { return ts.opts.PartitionColumns }
