package schemas

import (
	"errors"
	"fmt"
	"strings"

	"github.com/parquet-go/parquet-go"
)

// SchemaError is one problem with a schema: Path names the field (dotted
// for nested fields, "[]" for a list element, "{}" for a map value).
type SchemaError struct {
	Path    string
	Problem string
}

func (e *SchemaError) Error() string {
	if e.Path == "" {
		return "schema: " + e.Problem
	}
	return fmt.Sprintf("field %q: %s", e.Path, e.Problem)
}

// Reserved name prefixes: the Hudi meta columns and the Kafka columns.
const (
	hoodiePrefix = "_hoodie_"
	kafkaPrefix  = "_kafka_"
)

// validName reports whether name is [A-Za-z_][A-Za-z0-9_]*.
func validName(name string) bool {
	if name == "" || !isIdentStart(name[0]) {
		return false
	}
	for i := 1; i < len(name); i++ {
		if !isIdentByte(name[i]) {
			return false
		}
	}
	return true
}

// validateUser checks the user schema on its own: names, reserved names,
// types and explicit field IDs. It returns every problem.
func validateUser(s Schema) []error {
	v := validator{ids: map[int32]string{}}
	v.fields("", s.Fields, 0, true)
	if n := v.columns + numMetaColumns + 4; n > parquet.MaxColumnIndex {
		v.add("", fmt.Sprintf("%d leaf columns, more than Parquet's %d", n, parquet.MaxColumnIndex))
	}
	return v.errs
}

// CheckPartitionColumns reports every problem with names as the partition
// columns of a table of user fields (TableOptions.PartitionColumns), as
// NewTableSchema would.
func CheckPartitionColumns(user Schema, names []string) error {
	return errors.Join(validatePartitionColumns(user, names)...)
}

// validatePartitionColumns checks the partition column names: valid,
// unique, and neither a user field nor a reserved name.
func validatePartitionColumns(user Schema, names []string) []error {
	var errs []error
	seen := map[string]bool{}
	for _, f := range user.Fields {
		seen[f.Name] = true
	}
	for _, name := range names {
		switch {
		case !validName(name):
			errs = append(errs, &SchemaError{Path: name, Problem: "partition column name must match [A-Za-z_][A-Za-z0-9_]*"})
		case strings.HasPrefix(strings.ToLower(name), hoodiePrefix) || strings.HasPrefix(strings.ToLower(name), kafkaPrefix):
			errs = append(errs, &SchemaError{Path: name, Problem: "partition column names starting with _hoodie_ or _kafka_ are reserved for lakestream's columns"})
		case seen[name]:
			errs = append(errs, &SchemaError{Path: name, Problem: "partition column is also a field of the schema (or named twice)"})
		}
		seen[name] = true
	}
	return errs
}

type validator struct {
	errs    []error
	ids     map[int32]string
	columns int
}

func (v *validator) add(path, problem string) {
	v.errs = append(v.errs, &SchemaError{Path: path, Problem: problem})
}

func join(prefix, name string) string {
	if prefix == "" {
		return name
	}
	return prefix + "." + name
}

func (v *validator) fields(prefix string, fields []Field, depth int, top bool) {
	seen := make(map[string]string, len(fields))
	for _, f := range fields {
		path := join(prefix, f.Name)
		switch {
		case !validName(f.Name):
			v.add(path, "name must match [A-Za-z_][A-Za-z0-9_]*")
		case top && (strings.HasPrefix(strings.ToLower(f.Name), hoodiePrefix) || strings.HasPrefix(strings.ToLower(f.Name), kafkaPrefix)):
			v.add(path, "names starting with _hoodie_ or _kafka_ are reserved for lakestream's columns")
		}
		lower := strings.ToLower(f.Name)
		if other, dup := seen[lower]; dup {
			if other == f.Name {
				v.add(path, "declared twice")
			} else {
				v.add(path, fmt.Sprintf("differs from field %q only in case (Spark, Trino and DuckDB ignore case)", join(prefix, other)))
			}
		} else {
			seen[lower] = f.Name
		}
		switch {
		case f.ID < 0:
			v.add(path, fmt.Sprintf("field id %d is negative", f.ID))
		case f.ID > 0 && f.ID <= numMetaColumns:
			v.add(path, fmt.Sprintf("field id %d is reserved for the Hudi meta columns (1..%d)", f.ID, numMetaColumns))
		case f.ID > 0:
			if other, dup := v.ids[f.ID]; dup {
				v.add(path, fmt.Sprintf("field id %d is also the id of %q", f.ID, other))
			} else {
				v.ids[f.ID] = path
			}
		}
		v.typ(path, f.Type, depth+1)
	}
}

func (v *validator) typ(path string, t Type, depth int) {
	if depth > maxTypeDepth {
		v.add(path, fmt.Sprintf("types nest deeper than %d levels", maxTypeDepth))
		return
	}
	switch t.Kind {
	case KindBool, KindInt32, KindInt64, KindFloat32, KindFloat64, KindString, KindBytes, KindTimestamp, KindDate:
		v.columns++
	case KindDecimal:
		v.columns++
		if t.Precision < 1 || t.Precision > 38 {
			v.add(path, fmt.Sprintf("decimal precision %d: must be 1..38", t.Precision))
		}
		if t.Scale < 0 || t.Scale > t.Precision {
			v.add(path, fmt.Sprintf("decimal scale %d: must be 0..precision (%d)", t.Scale, t.Precision))
		}
	case KindStruct:
		if len(t.Fields) == 0 {
			v.add(path, "a struct needs at least one field")
		}
		v.fields(path, t.Fields, depth, false)
	case KindList:
		if t.Elem == nil {
			v.add(path, "list without an element type")
			return
		}
		v.typ(path+"[]", *t.Elem, depth+1)
	case KindMap:
		if t.Value == nil {
			v.add(path, "map without a value type")
			return
		}
		v.columns++ // the key
		v.typ(path+"{}", *t.Value, depth+1)
	default:
		v.add(path, fmt.Sprintf("invalid kind %d", t.Kind))
	}
}
