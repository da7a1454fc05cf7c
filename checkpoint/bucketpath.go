package checkpoint

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/lakestream/lakestream/bucketing"
	"github.com/lakestream/lakestream/schemas"
	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"
)

// bucketPaths makes a row's bucket (its partition path) from its event time
// and the record fields the partition template reads:
// partitioner.Path(eventTime, true, fieldValues(row)), which the intake
// calls in its per-row loop. Used by the intake only (Coordinator.mu
// held): values is reused row after row.
type bucketPaths struct {
	partitioner *bucketing.Partitioner
	fields      []templateField
	values      []bucketing.Value
}

func newBucketPaths(ts *schemas.TableSchema, t *bucketing.Template) (bucketPaths, error) {
	fields, err := templateFields(ts, t)
	if err != nil {
		return bucketPaths{}, err
	}
	return bucketPaths{partitioner: bucketing.NewPartitioner(t), fields: fields}, nil
}

// templateField is a record field a partition template reads: a top-level
// scalar leaf of the row.
type templateField struct {
	name   string
	column int
	isTime bool
	isDate bool
}

func templateFields(ts *schemas.TableSchema, t *bucketing.Template) ([]templateField, error) {
	var out []templateField
	var errs []error
	for _, name := range t.Fields() {
		leaf, ok := ts.Parquet().Lookup(name)
		if !ok || leaf.MaxRepetitionLevel > 0 || !leaf.Node.Leaf() {
			errs = append(errs, fmt.Errorf("partition template reads %q: not a top-level scalar field of the schema", name))
			continue
		}
		f := templateField{name: name, column: leaf.ColumnIndex}
		if lt := leaf.Node.Type().LogicalType(); lt != nil {
			switch lt.Value.(type) {
			case *format.TimestampType:
				f.isTime = true
			case *format.DateType:
				f.isDate = true
			}
		}
		out = append(out, f)
	}
	return out, errors.Join(errs...)
}

// fieldValues extracts the template's fields from a row.
func (b *bucketPaths) fieldValues(row parquet.Row) []bucketing.Value {
	if len(b.fields) == 0 {
		return nil
	}
	vals := b.values[:0]
	for _, f := range b.fields {
		v := bucketing.Value{IsNull: true}
		for _, pv := range row {
			if pv.Column() != f.column {
				continue
			}
			switch {
			case pv.IsNull():
			case f.isTime:
				v = bucketing.Value{Time: pv.Int64(), IsTime: true}
			case f.isDate:
				v = bucketing.Value{Bytes: time.Unix(int64(pv.Int32())*86400, 0).UTC().AppendFormat(nil, "2006-01-02")}
			case pv.Kind() == parquet.ByteArray || pv.Kind() == parquet.FixedLenByteArray:
				v = bucketing.Value{Bytes: pv.ByteArray()}
			case pv.Kind() == parquet.Int32:
				v = bucketing.Value{Int: int64(pv.Int32()), IsInt: true}
			case pv.Kind() == parquet.Int64:
				v = bucketing.Value{Int: pv.Int64(), IsInt: true}
			case pv.Kind() == parquet.Boolean:
				v = bucketing.Value{Bytes: strconv.AppendBool(nil, pv.Boolean())}
			default:
				v = bucketing.Value{Bytes: []byte(pv.String())}
			}
			break
		}
		vals = append(vals, v)
	}
	b.values = vals
	return vals
}
