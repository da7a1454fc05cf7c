package schemas

import (
	"encoding/json"
	"strconv"
	"strings"
)

// Avro returns the Avro schema (JSON) of the rows as Hudi writes it in
// commit metadata (extraMetadata.schema) and hoodie.properties
// (hoodie.table.create.schema): every column but the five _hoodie_* meta
// columns, which Hudi's readers add themselves (Hudi 0.15's incremental
// query failed with "the column _hoodie_commit_seqno already exists" when
// they were listed). A record name in namespace, optional fields as
// ["null", T] with "default": null, timestamps as timestamp-micros longs,
// dates as date ints, decimals as fixed with the decimal logical type, and
// nested records named after their field in the namespace of the enclosing
// record (Spark's SchemaConverters rule).
func (ts *TableSchema) Avro(name, namespace string) string {
	return ts.avro(name, namespace, numMetaColumns)
}

// FileAvro is the Avro schema of the full row, meta columns included, as
// Hudi writes it in a base file's footer (parquet.avro.schema).
func (ts *TableSchema) FileAvro(name, namespace string) string {
	return ts.avro(name, namespace, 0)
}

// avro writes the schema of the row's columns from the first'th on.
func (ts *TableSchema) avro(name, namespace string, first int) string {
	var b strings.Builder
	b.WriteString(`{"type":"record","name":`)
	writeJSONString(&b, name)
	if namespace != "" {
		b.WriteString(`,"namespace":`)
		writeJSONString(&b, namespace)
	}
	b.WriteString(`,"fields":[`)
	full := joinNamespace(namespace, name)
	for i, f := range ts.root.fields[first:] {
		if i > 0 {
			b.WriteByte(',')
		}
		writeAvroField(&b, f, full, first+i < numMetaColumns)
	}
	b.WriteString(`]}`)
	return b.String()
}

func joinNamespace(ns, name string) string {
	if ns == "" {
		return name
	}
	return ns + "." + name
}

func writeJSONString(b *strings.Builder, s string) {
	q, _ := json.Marshal(s)
	b.Write(q)
}

// writeAvroField writes field n of the record whose full name is ns.
func writeAvroField(b *strings.Builder, n *node, ns string, meta bool) {
	b.WriteString(`{"name":`)
	writeJSONString(b, n.name)
	b.WriteString(`,"type":`)
	writeAvroNullable(b, n, n.name, ns)
	if meta {
		b.WriteString(`,"doc":""`)
	}
	if n.optional {
		b.WriteString(`,"default":null`)
	}
	b.WriteByte('}')
}

func writeAvroNullable(b *strings.Builder, n *node, recordName, ns string) {
	if n.optional {
		b.WriteString(`["null",`)
		writeAvroType(b, n, recordName, ns)
		b.WriteByte(']')
		return
	}
	writeAvroType(b, n, recordName, ns)
}

// writeAvroType writes the (non-null) type of n; recordName and ns name the
// records and fixed types it defines.
func writeAvroType(b *strings.Builder, n *node, recordName, ns string) {
	switch n.kind {
	case KindBool:
		b.WriteString(`"boolean"`)
	case KindInt32:
		b.WriteString(`"int"`)
	case KindInt64:
		b.WriteString(`"long"`)
	case KindFloat32:
		b.WriteString(`"float"`)
	case KindFloat64:
		b.WriteString(`"double"`)
	case KindString:
		b.WriteString(`"string"`)
	case KindBytes:
		b.WriteString(`"bytes"`)
	case KindTimestamp:
		b.WriteString(`{"type":"long","logicalType":"timestamp-micros"}`)
	case KindDate:
		b.WriteString(`{"type":"int","logicalType":"date"}`)
	case KindDecimal:
		b.WriteString(`{"type":"fixed","name":"fixed","namespace":`)
		writeJSONString(b, joinNamespace(ns, recordName))
		b.WriteString(`,"size":` + strconv.Itoa(n.decimal.size))
		b.WriteString(`,"logicalType":"decimal","precision":` + strconv.Itoa(n.precision))
		b.WriteString(`,"scale":` + strconv.Itoa(n.scale) + `}`)
	case KindStruct:
		b.WriteString(`{"type":"record","name":`)
		writeJSONString(b, recordName)
		if ns != "" {
			b.WriteString(`,"namespace":`)
			writeJSONString(b, ns)
		}
		b.WriteString(`,"fields":[`)
		child := joinNamespace(ns, recordName)
		for i, f := range n.fields {
			if i > 0 {
				b.WriteByte(',')
			}
			writeAvroField(b, f, child, false)
		}
		b.WriteString(`]}`)
	case KindList:
		b.WriteString(`{"type":"array","items":`)
		writeAvroNullable(b, n.elem, recordName, ns)
		b.WriteByte('}')
	case KindMap:
		b.WriteString(`{"type":"map","values":`)
		writeAvroNullable(b, n.val, recordName, ns)
		b.WriteByte('}')
	}
}
