package iceberg

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/apache/iceberg-go"

	"github.com/lakestream/lakestream/iceberg/filestats"
	"github.com/lakestream/lakestream/table/hudi"
)

// hiveDefaultPartition stands for a null partition value in a partition
// path, as in Hive.
const hiveDefaultPartition = "__HIVE_DEFAULT_PARTITION__"

// partitionFieldIDStart is the first partition field ID (Iceberg's 1000).
const partitionFieldIDStart = iceberg.PartitionDataIDStart

// parseSchema decodes an Iceberg schema JSON (filestats.Instant.Schema).
func parseSchema(b []byte) (*iceberg.Schema, error) {
	var s iceberg.Schema
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("schema of the files: %w", err)
	}
	return &s, nil
}

// partitionSpec is the identity spec over the Hudi partition fields, each
// a column of schema (docs/format/types.md: the partition fields are
// columns of the files), with partition field IDs from firstID. ok is
// false, with the reason, when some field is not a column of a type a
// partition path can hold: the table is then published unpartitioned,
// which is always correct, only slower to prune.
func partitionSpec(schema *iceberg.Schema, fields []string, specID, firstID int) (spec iceberg.PartitionSpec, ok bool, reason string) {
	if len(fields) == 0 {
		return *iceberg.UnpartitionedSpec, true, ""
	}
	pf := make([]iceberg.PartitionField, 0, len(fields))
	for i, name := range fields {
		col, found := schema.FindFieldByName(name)
		if !found {
			return *iceberg.UnpartitionedSpec, false, fmt.Sprintf("partition field %q is not a column of the files", name)
		}
		if !partitionable(col.Type) {
			return *iceberg.UnpartitionedSpec, false, fmt.Sprintf("partition field %q is a %s column", name, col.Type)
		}
		pf = append(pf, iceberg.PartitionField{SourceIDs: []int{col.ID}, FieldID: firstID + i, Name: name,
			Transform: iceberg.IdentityTransform{}})
	}
	return iceberg.NewPartitionSpecID(specID, pf...), true, ""
}

func partitionable(t iceberg.Type) bool {
	switch t.(type) {
	case iceberg.StringType, iceberg.Int32Type, iceberg.Int64Type, iceberg.DateType, iceberg.BooleanType:
		return true
	}
	return false
}

// sameSpecFields reports whether two specs partition the same columns by
// the same names (the spec IDs and field IDs aside).
func sameSpecFields(a, b iceberg.PartitionSpec) bool {
	if a.NumFields() != b.NumFields() {
		return false
	}
	for i := range a.NumFields() {
		x, y := a.Field(i), b.Field(i)
		if x.SourceID() != y.SourceID() || x.Name != y.Name || x.Transform.String() != y.Transform.String() {
			return false
		}
	}
	return true
}

// partitionValues parses a Hudi partition path into the values of spec's
// fields, by partition field ID: hive style (dt=2026-03-14/hr=09) or by
// value only (2026-03-14/09), segments in hoodie.table.partition.fields
// order, percent-escapes undone, __HIVE_DEFAULT_PARTITION__ as null.
func partitionValues(spec iceberg.PartitionSpec, schema *iceberg.Schema, hudiFields []string, hive bool, path string) (map[int]any, error) {
	if spec.IsUnpartitioned() {
		return nil, nil
	}
	segs := strings.Split(path, "/")
	if len(segs) != len(hudiFields) {
		return nil, fmt.Errorf("partition path %q: %d segments, the table has %d partition fields", path, len(segs), len(hudiFields))
	}
	raw := make(map[string]string, len(segs))
	for i, seg := range segs {
		v := seg
		if hive {
			name, value, ok := strings.Cut(seg, "=")
			if !ok || name != hudiFields[i] {
				return nil, fmt.Errorf("partition path %q: segment %d is not %s=...", path, i+1, hudiFields[i])
			}
			v = value
		}
		raw[hudiFields[i]] = v
	}
	out := make(map[int]any, spec.NumFields())
	for i := range spec.NumFields() {
		f := spec.Field(i)
		v, ok := raw[f.Name]
		if !ok {
			return nil, fmt.Errorf("partition path %q has no value for %s", path, f.Name)
		}
		if v == hiveDefaultPartition {
			out[f.FieldID] = nil
			continue
		}
		if u, err := url.PathUnescape(v); err == nil {
			v = u
		}
		col, found := schema.FindFieldByID(f.SourceID())
		if !found {
			return nil, fmt.Errorf("partition field %s: source column %d not in the schema", f.Name, f.SourceID())
		}
		val, err := typedValue(col.Type, v)
		if err != nil {
			return nil, fmt.Errorf("partition path %q: %s: %w", path, f.Name, err)
		}
		out[f.FieldID] = val
	}
	return out, nil
}

func typedValue(t iceberg.Type, v string) (any, error) {
	switch t.(type) {
	case iceberg.StringType:
		return v, nil
	case iceberg.Int32Type:
		n, err := strconv.ParseInt(v, 10, 32)
		return int32(n), err
	case iceberg.Int64Type:
		return strconv.ParseInt(v, 10, 64)
	case iceberg.BooleanType:
		return strconv.ParseBool(v)
	case iceberg.DateType:
		d, err := time.Parse("2006-01-02", v)
		if err != nil {
			return nil, err
		}
		return iceberg.Date(d.Unix() / 86400), nil
	}
	return nil, fmt.Errorf("type %s", t)
}

// dataFile builds the manifest entry of one base file: its absolute path,
// partition values, record count and size from the commit, metrics from st.
func (p *Publisher) dataFile(spec iceberg.PartitionSpec, schema *iceberg.Schema, ws hudi.WriteStat, st *filestats.File) (iceberg.DataFile, error) {
	rel := *ws.Path
	part := ""
	if ws.PartitionPath != nil {
		part = *ws.PartitionPath
	} else if i := strings.LastIndexByte(rel, '/'); i >= 0 {
		part = rel[:i]
	}
	values, err := partitionValues(spec, schema, p.partFields, p.hive, part)
	if err != nil {
		return nil, fmt.Errorf("file %s: %w", rel, err)
	}
	records, size := ws.NumWrites, ws.FileSizeInBytes
	b, err := iceberg.NewDataFileBuilder(spec, iceberg.EntryContentData, p.location+"/"+rel, iceberg.ParquetFile,
		values, nil, nil, records, size)
	if err != nil {
		return nil, fmt.Errorf("file %s: %w", rel, err)
	}
	if st != nil && len(st.Columns) > 0 {
		sizes := make(map[int]int64, len(st.Columns))
		values := make(map[int]int64, len(st.Columns))
		nulls := make(map[int]int64, len(st.Columns))
		lower := make(map[int][]byte, len(st.Columns))
		upper := make(map[int][]byte, len(st.Columns))
		for _, c := range st.Columns {
			if _, ok := schema.FindFieldByID(c.ID); !ok {
				continue // a column the table schema does not have
			}
			sizes[c.ID] = c.Size
			values[c.ID] = c.Values
			if c.Nulls != nil {
				nulls[c.ID] = *c.Nulls
			}
			if c.Lower != nil && c.Upper != nil {
				lower[c.ID], upper[c.ID] = c.Lower, c.Upper
			}
		}
		b.ColumnSizes(sizes).ValueCounts(values).NullValueCounts(nulls)
		if len(lower) > 0 {
			b.LowerBoundValues(lower).UpperBoundValues(upper)
		}
	}
	return b.Build(), nil
}

// fileGroup identifies a Hudi file group by the relative path of one of
// its base files: partition and file ID; and returns that file's instant.
func fileGroup(rel string) (group, instant string, ok bool) {
	dir, name := "", rel
	if i := strings.LastIndexByte(rel, '/'); i >= 0 {
		dir, name = rel[:i], rel[i+1:]
	}
	fileID, _, ts, ok := hudi.ParseBaseFileName(name)
	if !ok {
		return "", "", false
	}
	return dir + "\x00" + fileID, ts, true
}
