package writer

// The row shape: the schema's leaf column facts, and the check of a row
// against them before anything is written (the encoders trust their input:
// a bad row would corrupt, or panic, the file and lose every row buffered in
// it). Write checks each row here before writing or staging it.

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/lakestream/lakestream/table/hudi/hudimeta"
	"github.com/parquet-go/parquet-go"
)

// rowShape is what a Set knows of its schema's leaf columns.
type rowShape struct {
	numColumns int
	kinds      []parquet.Kind
	maxDef     []int
	maxRep     []int
	flat       bool   // no repeated column: value i of a row is column i
	metaIdx    [5]int // leaf column index of each meta column (Hudi order)
	partCols   []int  // leaf column index of each partition column (WithPartitionColumns)
	filled     []bool // by leaf column: a column the Set fills (meta columns but the record key, partition columns)
}

// keyCol is the leaf column index of the record key.
func (sh *rowShape) keyCol() int { return sh.metaIdx[2] }

// newRowShape checks the meta columns and the partition columns of schema
// and records the leaf column facts used to check rows. hasValues says
// whether a function gives the partition columns' values.
func newRowShape(schema *parquet.Schema, partitionColumns []string, hasValues bool) (rowShape, error) {
	var sh rowShape
	if schema == nil {
		return sh, errors.New("writer: nil schema")
	}
	cols := schema.Columns()
	sh.numColumns = len(cols)
	if sh.numColumns < len(hudimeta.Columns) {
		return sh, fmt.Errorf("writer: schema has %d leaf columns, want the %d Hudi meta columns first", sh.numColumns, len(hudimeta.Columns))
	}
	sh.kinds = make([]parquet.Kind, sh.numColumns)
	sh.maxDef = make([]int, sh.numColumns)
	sh.maxRep = make([]int, sh.numColumns)
	for _, path := range cols {
		leaf, ok := schema.Lookup(path...)
		if !ok {
			return sh, fmt.Errorf("writer: schema column %s: lookup failed", strings.Join(path, "."))
		}
		sh.kinds[leaf.ColumnIndex] = leaf.Node.Type().Kind()
		sh.maxDef[leaf.ColumnIndex] = leaf.MaxDefinitionLevel
		sh.maxRep[leaf.ColumnIndex] = leaf.MaxRepetitionLevel
	}
	sh.flat = !slices.ContainsFunc(sh.maxRep, func(r int) bool { return r > 0 })
	sh.filled = make([]bool, sh.numColumns)
	var errs []error
	for i, name := range hudimeta.Columns {
		leaf, ok := schema.Lookup(name)
		switch {
		case !ok:
			errs = append(errs, fmt.Errorf("writer: schema has no top-level column %s", name))
			continue
		case leaf.ColumnIndex >= len(hudimeta.Columns):
			errs = append(errs, fmt.Errorf("writer: meta column %s is leaf column %d, want one of the first %d", name, leaf.ColumnIndex, len(hudimeta.Columns)))
		case leaf.Node.Type().Kind() != parquet.ByteArray || !leaf.Node.Optional() || leaf.MaxDefinitionLevel != 1 || leaf.MaxRepetitionLevel != 0:
			errs = append(errs, fmt.Errorf("writer: meta column %s must be an optional top-level string", name))
		}
		sh.metaIdx[i] = leaf.ColumnIndex
		sh.filled[leaf.ColumnIndex] = name != hudimeta.ColRecordKey
	}
	if len(partitionColumns) > 0 && !hasValues {
		errs = append(errs, errors.New("writer: partition columns without a function for their values"))
	}
	for _, name := range partitionColumns {
		leaf, ok := schema.Lookup(name)
		switch {
		case !ok:
			errs = append(errs, fmt.Errorf("writer: schema has no top-level partition column %s", name))
			continue
		case leaf.Node.Type().Kind() != parquet.ByteArray || !leaf.Node.Optional() || leaf.MaxDefinitionLevel != 1 || leaf.MaxRepetitionLevel != 0:
			errs = append(errs, fmt.Errorf("writer: partition column %s must be an optional top-level string", name))
		}
		sh.partCols = append(sh.partCols, leaf.ColumnIndex)
		sh.filled[leaf.ColumnIndex] = true
	}
	for i, c := range sh.partCols {
		if want := sh.numColumns - len(sh.partCols) + i; c != want {
			errs = append(errs, fmt.Errorf("writer: partition column %s is leaf column %d, want %d: the partition columns end the row, in order", partitionColumns[i], c, want))
		}
	}
	if len(errs) > 0 {
		return sh, errors.Join(errs...)
	}
	return sh, nil
}

// requiredColumns counts the required leaf columns (for WithWriterMemory).
func (sh *rowShape) requiredColumns() int {
	n := 0
	for _, d := range sh.maxDef {
		if d == 0 {
			n++
		}
	}
	return n
}

// check validates the shape of a row against the schema.
func (sh *rowShape) check(row parquet.Row) error {
	if sh.flat && len(row) == sh.numColumns && sh.flatRowOK(row) {
		return nil
	}
	return sh.checkAny(row)
}

// flatRowOK is check's fast path for a flat schema's row of one value per
// column: it reports whether the row is valid; checkAny says why one is
// not.
func (sh *rowShape) flatRowOK(row parquet.Row) bool {
	for c := range row {
		v := &row[c]
		switch {
		case v.Column() != c:
			return false
		case sh.filled[c]:
		case v.IsNull():
			if v.DefinitionLevel() >= sh.maxDef[c] {
				return false
			}
		case v.DefinitionLevel() != sh.maxDef[c] || v.Kind() != sh.kinds[c]:
			return false
		}
	}
	return !row[sh.metaIdx[2]].IsNull()
}

// checkAny is check for every schema.
func (sh *rowShape) checkAny(row parquet.Row) error {
	if len(row) < sh.numColumns {
		return fmt.Errorf("writer: row has %d values for %d columns", len(row), sh.numColumns)
	}
	col := -1
	for i := range row {
		v := &row[i]
		c := v.Column()
		if c != col {
			if c != col+1 || c >= sh.numColumns {
				return fmt.Errorf("writer: row value %d is of column %d after column %d: want every column of %d, in order", i, c, col, sh.numColumns)
			}
			col = c
		} else if sh.maxRep[c] == 0 {
			return fmt.Errorf("writer: row has several values for non-repeated column %d", c)
		}
		if c < len(hudimeta.Columns) && c != sh.metaIdx[2] {
			continue // filled by Write
		}
		def := v.DefinitionLevel()
		if v.IsNull() {
			if def >= sh.maxDef[c] {
				return fmt.Errorf("writer: row has a null for column %d at definition level %d (max %d): column is required", c, def, sh.maxDef[c])
			}
		} else {
			if def != sh.maxDef[c] {
				return fmt.Errorf("writer: row value for column %d has definition level %d, want %d", c, def, sh.maxDef[c])
			}
			if v.Kind() != sh.kinds[c] {
				return fmt.Errorf("writer: row value for column %d is %s, want %s", c, v.Kind(), sh.kinds[c])
			}
		}
	}
	if col != sh.numColumns-1 {
		return fmt.Errorf("writer: row ends at column %d, want %d columns", col, sh.numColumns)
	}
	if row[sh.metaIdx[2]].IsNull() {
		return fmt.Errorf("writer: row has no record key (%s)", hudimeta.ColRecordKey)
	}
	return nil
}
