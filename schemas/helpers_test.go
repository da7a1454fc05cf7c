package schemas_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"testing"

	"github.com/lakestream/lakestream/schemas"
	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"
)

// mustTable builds a table schema from "name: type" specs (all optional
// unless the name ends in "!").
func mustTable(tb testing.TB, opts schemas.TableOptions, specs ...[2]string) *schemas.TableSchema {
	tb.Helper()
	var fs []schemas.FieldSpec
	for _, s := range specs {
		name, opt := s[0], true
		if name[len(name)-1] == '!' {
			name, opt = name[:len(name)-1], false
		}
		fs = append(fs, schemas.FieldSpec{Name: name, Type: s[1], Optional: &opt})
	}
	user, err := schemas.SchemaFromSpecs(fs)
	if err != nil {
		tb.Fatal(err)
	}
	ts, err := schemas.NewTableSchema(user, opts)
	if err != nil {
		tb.Fatal(err)
	}
	return ts
}

// writeParquet writes rows with the table's Parquet schema and returns the
// file.
func writeParquet(tb testing.TB, ts *schemas.TableSchema, rows []parquet.Row) []byte {
	tb.Helper()
	var buf bytes.Buffer
	w := parquet.NewWriter(&buf, ts.Parquet())
	if _, err := w.WriteRows(rows); err != nil {
		tb.Fatal(err)
	}
	if err := w.Close(); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// readBack reads a Parquet file with parquet-go and assembles every row
// into JSON-like Go values (an assembler independent of the decoders:
// it walks the file's schema).
func readBack(tb testing.TB, file []byte) []map[string]any {
	tb.Helper()
	pf, err := parquet.OpenFile(bytes.NewReader(file), int64(len(file)))
	if err != nil {
		tb.Fatal(err)
	}
	var out []map[string]any
	for _, rg := range pf.RowGroups() {
		rows := rg.Rows()
		buf := make([]parquet.Row, 16)
		for {
			n, err := rows.ReadRows(buf)
			for _, row := range buf[:n] {
				out = append(out, assembleRow(pf.Schema(), row))
			}
			if err != nil {
				break
			}
		}
		rows.Close()
	}
	return out
}

type assembler struct {
	cols [][]parquet.Value
	pos  []int
}

func assembleRow(schema *parquet.Schema, row parquet.Row) map[string]any {
	a := &assembler{cols: make([][]parquet.Value, len(schema.Columns())), pos: make([]int, len(schema.Columns()))}
	row.Range(func(col int, vs []parquet.Value) bool {
		a.cols[col] = vs
		return true
	})
	out := map[string]any{}
	col := 0
	for _, f := range schema.Fields() {
		out[f.Name()] = a.field(f, col, 0, 0)
		col += leafCount(f)
	}
	return out
}

func leafCount(n parquet.Node) int {
	if n.Leaf() {
		return 1
	}
	c := 0
	for _, f := range n.Fields() {
		c += leafCount(f)
	}
	return c
}

func (a *assembler) peek(col int) parquet.Value { return a.cols[col][a.pos[col]] }

// skip consumes one value from every leaf column of n.
func (a *assembler) skip(n parquet.Node, col int) {
	for c := col; c < col+leafCount(n); c++ {
		a.pos[c]++
	}
}

// field reads the value of a non-repeated field n whose parent has
// definition level d and repetition depth r.
func (a *assembler) field(n parquet.Node, col, d, r int) any {
	if n.Optional() {
		d++
		if int(a.peek(col).DefinitionLevel()) < d {
			a.skip(n, col)
			return nil
		}
	}
	isList, isMap := false, false
	if !n.Leaf() {
		if lt := n.Type().LogicalType(); lt != nil {
			_, isList = lt.Value.(*format.ListType)
			_, isMap = lt.Value.(*format.MapType)
		}
	}
	switch {
	case n.Leaf():
		v := a.peek(col)
		a.pos[col]++
		return leafValue(n, v)
	case isList || isMap:
		rep := n.Fields()[0] // the repeated group
		if int(a.peek(col).DefinitionLevel()) == d {
			a.skip(n, col)
			if isMap {
				return map[string]any{}
			}
			return []any{}
		}
		var list []any
		m := map[string]any{}
		for {
			if isList {
				list = append(list, a.field(rep.Fields()[0], col, d+1, r+1))
			} else {
				k := a.field(rep.Fields()[0], col, d+1, r+1)
				v := a.field(rep.Fields()[1], col+1, d+1, r+1)
				m[k.(string)] = v
			}
			if a.pos[col] >= len(a.cols[col]) || int(a.peek(col).RepetitionLevel()) != r+1 {
				break
			}
		}
		if isMap {
			return m
		}
		return list
	default:
		out := map[string]any{}
		c := col
		for _, f := range n.Fields() {
			out[f.Name()] = a.field(f, c, d, r)
			c += leafCount(f)
		}
		return out
	}
}

func leafValue(n parquet.Node, v parquet.Value) any {
	var lv format.LogicalTypeValue
	if lt := n.Type().LogicalType(); lt != nil {
		lv = lt.Value
	}
	if dec, ok := lv.(*format.DecimalType); ok {
		var unscaled *big.Int
		switch v.Kind() {
		case parquet.Int32:
			unscaled = big.NewInt(int64(v.Int32()))
		case parquet.Int64:
			unscaled = big.NewInt(v.Int64())
		default:
			b := v.ByteArray()
			unscaled = new(big.Int).SetBytes(b)
			if len(b) > 0 && b[0]&0x80 != 0 {
				unscaled.Sub(unscaled, new(big.Int).Lsh(big.NewInt(1), uint(8*len(b))))
			}
		}
		return new(big.Rat).SetFrac(unscaled, new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(dec.Scale)), nil)).FloatString(int(dec.Scale))
	}
	switch v.Kind() {
	case parquet.Boolean:
		return v.Boolean()
	case parquet.Int32:
		return float64(v.Int32())
	case parquet.Int64:
		return float64(v.Int64())
	case parquet.Float:
		return float64(v.Float())
	case parquet.Double:
		return v.Double()
	}
	if _, ok := lv.(*format.StringType); ok {
		return string(v.ByteArray())
	}
	return "b64:" + base64.StdEncoding.EncodeToString(v.ByteArray())
}

// userJSON renders the user fields of an assembled row as JSON with sorted
// keys (meta and Kafka columns dropped).
func userJSON(tb testing.TB, row map[string]any) string {
	tb.Helper()
	m := map[string]any{}
	for k, v := range row {
		if len(k) > 7 && (k[:8] == "_hoodie_" || k[:7] == "_kafka_") {
			continue
		}
		m[k] = v
	}
	b, err := json.Marshal(m)
	if err != nil {
		tb.Fatal(err)
	}
	return string(b)
}

// canonical re-renders JSON with sorted keys.
func canonical(tb testing.TB, s string) string {
	tb.Helper()
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		tb.Fatalf("bad expected JSON %s: %v", s, err)
	}
	b, _ := json.Marshal(v)
	return string(b)
}
