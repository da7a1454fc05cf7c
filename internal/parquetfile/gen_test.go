package parquetfile

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"math"
	"math/rand/v2"
	"strconv"
	"unicode/utf8"

	"github.com/parquet-go/parquet-go"
)

// A generated flat schema and rows for it: every supported type, optional
// and required, nested structs, each encoding.

// genLeaf makes the values of one leaf column.
type genLeaf struct {
	name string
	kind parquet.Kind
	gen  func(r *rand.Rand) parquet.Value // a non-null value, levels unset
}

// genNode is a node of a generated schema.
type genNode struct {
	name     string
	node     parquet.Node
	optional bool
	leaf     *genLeaf
	children []*genNode
}

// orderedGroup keeps its fields in the given order (parquet.Group sorts them
// by name), as the schemas package builds groups.
type orderedGroup struct {
	parquet.Group
	fields []parquet.Field
}

func (g orderedGroup) Fields() []parquet.Field { return g.fields }

func newOrderedGroup(names []string, nodes []parquet.Node) orderedGroup {
	g := parquet.Group{}
	for i, n := range names {
		g[n] = nodes[i]
	}
	byName := map[string]parquet.Field{}
	for _, f := range g.Fields() {
		byName[f.Name()] = f
	}
	og := orderedGroup{Group: g}
	for _, n := range names {
		og.fields = append(og.fields, byName[n])
	}
	return og
}

// leafKinds are the generators of every supported leaf type.
var leafKinds = []func(r *rand.Rand) (parquet.Node, *genLeaf){
	func(r *rand.Rand) (parquet.Node, *genLeaf) {
		return parquet.Leaf(parquet.BooleanType), &genLeaf{kind: parquet.Boolean, gen: func(r *rand.Rand) parquet.Value { return parquet.BooleanValue(r.IntN(2) == 0) }}
	},
	func(r *rand.Rand) (parquet.Node, *genLeaf) {
		span := pickSpan(r)
		return parquet.Int(32), &genLeaf{kind: parquet.Int32, gen: func(r *rand.Rand) parquet.Value { return parquet.Int32Value(int32(genInt(r, span))) }}
	},
	func(r *rand.Rand) (parquet.Node, *genLeaf) {
		span := pickSpan(r)
		return parquet.Int(64), &genLeaf{kind: parquet.Int64, gen: func(r *rand.Rand) parquet.Value { return parquet.Int64Value(genInt(r, span)) }}
	},
	func(r *rand.Rand) (parquet.Node, *genLeaf) {
		return parquet.Uint(32), &genLeaf{kind: parquet.Int32, gen: func(r *rand.Rand) parquet.Value { return parquet.Int32Value(int32(r.Uint32())) }}
	},
	func(r *rand.Rand) (parquet.Node, *genLeaf) {
		return parquet.Uint(64), &genLeaf{kind: parquet.Int64, gen: func(r *rand.Rand) parquet.Value { return parquet.Int64Value(int64(r.Uint64())) }}
	},
	func(r *rand.Rand) (parquet.Node, *genLeaf) {
		return parquet.Leaf(parquet.FloatType), &genLeaf{kind: parquet.Float, gen: func(r *rand.Rand) parquet.Value { return parquet.FloatValue(float32(genFloat(r))) }}
	},
	func(r *rand.Rand) (parquet.Node, *genLeaf) {
		return parquet.Leaf(parquet.DoubleType), &genLeaf{kind: parquet.Double, gen: func(r *rand.Rand) parquet.Value { return parquet.DoubleValue(genFloat(r)) }}
	},
	func(r *rand.Rand) (parquet.Node, *genLeaf) {
		pool := genStrings(r, true)
		return parquet.String(), &genLeaf{kind: parquet.ByteArray, gen: func(r *rand.Rand) parquet.Value { return parquet.ByteArrayValue(pool(r)) }}
	},
	func(r *rand.Rand) (parquet.Node, *genLeaf) {
		pool := genStrings(r, false)
		return parquet.Leaf(parquet.ByteArrayType), &genLeaf{kind: parquet.ByteArray, gen: func(r *rand.Rand) parquet.Value { return parquet.ByteArrayValue(pool(r)) }}
	},
	func(r *rand.Rand) (parquet.Node, *genLeaf) {
		return parquet.Timestamp(parquet.Microsecond), &genLeaf{kind: parquet.Int64, gen: func(r *rand.Rand) parquet.Value {
			return parquet.Int64Value(1_700_000_000_000_000 + r.Int64N(1e12) - 5e11)
		}}
	},
	func(r *rand.Rand) (parquet.Node, *genLeaf) {
		return parquet.Date(), &genLeaf{kind: parquet.Int32, gen: func(r *rand.Rand) parquet.Value { return parquet.Int32Value(int32(r.IntN(40000) - 20000)) }}
	},
	func(r *rand.Rand) (parquet.Node, *genLeaf) {
		return parquet.Decimal(2, 9, parquet.Int32Type), &genLeaf{kind: parquet.Int32, gen: func(r *rand.Rand) parquet.Value { return parquet.Int32Value(int32(r.IntN(2e9) - 1e9)) }}
	},
	func(r *rand.Rand) (parquet.Node, *genLeaf) {
		return parquet.Decimal(4, 18, parquet.Int64Type), &genLeaf{kind: parquet.Int64, gen: func(r *rand.Rand) parquet.Value { return parquet.Int64Value(r.Int64() >> 4) }}
	},
	func(r *rand.Rand) (parquet.Node, *genLeaf) {
		return parquet.Decimal(6, 38, parquet.FixedLenByteArrayType(16)), &genLeaf{kind: parquet.FixedLenByteArray, gen: func(r *rand.Rand) parquet.Value {
			var b [16]byte
			v := r.Int64N(1e12) - 5e11 // small values, both signs: two's complement, big endian
			binary.BigEndian.PutUint64(b[8:], uint64(v))
			if v < 0 {
				binary.BigEndian.PutUint64(b[:8], math.MaxUint64)
			}
			return parquet.FixedLenByteArrayValue(b[:])
		}}
	},
	func(r *rand.Rand) (parquet.Node, *genLeaf) {
		return parquet.UUID(), &genLeaf{kind: parquet.FixedLenByteArray, gen: func(r *rand.Rand) parquet.Value {
			var b [16]byte
			binary.LittleEndian.PutUint64(b[:8], r.Uint64())
			binary.LittleEndian.PutUint64(b[8:], r.Uint64())
			return parquet.FixedLenByteArrayValue(b[:])
		}}
	},
}

// pickSpan picks how many distinct values an integer column has: few
// (dictionaries pay), many, or the whole range.
func pickSpan(r *rand.Rand) int64 {
	return []int64{1, 7, 1000, 0}[r.IntN(4)]
}

func genInt(r *rand.Rand, span int64) int64 {
	if span == 0 {
		return r.Int64()
	}
	return r.Int64N(span) - span/2
}

func genFloat(r *rand.Rand) float64 {
	switch r.IntN(20) {
	case 0:
		return math.NaN()
	case 1:
		return math.Copysign(0, -1)
	case 2:
		return 0
	case 3:
		return math.Inf(1 - 2*r.IntN(2))
	}
	return r.NormFloat64() * 1000
}

// genStrings returns a generator of byte strings: a small pool, a large one,
// or fresh random bytes, with empty, long and 0xFF-led values (which test the
// truncation of the column index's bounds; for UTF-8 strings, the largest
// code point stands for 0xFF), and characters of every UTF-8 length,
// those whose successor is longer among them (or, not text, bytes from
// 0x7E up).
func genStrings(r *rand.Rand, text bool) func(r *rand.Rand) []byte {
	top := []byte{0xFF}
	if text {
		top = []byte("\U0010FFFF")
	}
	edges := []rune{'a', 0x7F, 0x80, 'é', 0x7FF, 0x800, '中', 0xD7FF, 0xE000, 0xFFFF, 0x10000, '😀', 0x10FFFF}
	fresh := func(r *rand.Rand) []byte {
		switch r.IntN(10) {
		case 0:
			return nil
		case 1:
			return bytes.Repeat(top, 10+r.IntN(20))
		case 2:
			return append(bytes.Repeat(top, 17), byte('a'+r.IntN(26)))
		case 3:
			var b []byte
			for range r.IntN(30) {
				if text {
					b = utf8.AppendRune(b, edges[r.IntN(len(edges))])
				} else {
					b = append(b, byte(0x7E+r.IntN(0x82)))
				}
			}
			return b
		}
		b := make([]byte, r.IntN(40))
		for i := range b {
			b[i] = byte('a' + r.IntN(26))
		}
		return b
	}
	var size int
	switch r.IntN(3) {
	case 0:
		return fresh
	case 1:
		size = 1 + r.IntN(5)
	default:
		size = 500
	}
	pool := make([][]byte, size)
	for i := range pool {
		pool[i] = fresh(r)
	}
	return func(r *rand.Rand) []byte { return pool[r.IntN(len(pool))] }
}

// genSchema makes a flat schema of n top-level fields, some of them structs.
func genSchema(r *rand.Rand, n int) (*parquet.Schema, []*genNode) {
	var fields []*genNode
	id := 0
	for i := range n {
		fields = append(fields, genField(r, "f"+strconv.Itoa(i), 0, &id))
	}
	names := make([]string, len(fields))
	nodes := make([]parquet.Node, len(fields))
	for i, f := range fields {
		names[i], nodes[i] = f.name, f.node
	}
	return parquet.NewSchema("gen", newOrderedGroup(names, nodes)), fields
}

func genField(r *rand.Rand, name string, depth int, id *int) *genNode {
	g := &genNode{name: name, optional: r.IntN(3) > 0}
	if depth < 2 && r.IntN(6) == 0 {
		k := 1 + r.IntN(3)
		names := make([]string, k)
		nodes := make([]parquet.Node, k)
		for i := range k {
			c := genField(r, name+"_"+strconv.Itoa(i), depth+1, id)
			g.children = append(g.children, c)
			names[i], nodes[i] = c.name, c.node
		}
		g.node = newOrderedGroup(names, nodes)
	} else {
		node, l := leafKinds[r.IntN(len(leafKinds))](r)
		l.name = name
		g.leaf = l
		switch r.IntN(3) {
		case 1:
			node = parquet.Encoded(node, &parquet.Plain)
		case 2:
			if l.kind != parquet.Boolean {
				node = parquet.Encoded(node, &parquet.RLEDictionary)
			}
		}
		g.node = node
	}
	if g.optional {
		g.node = parquet.Optional(g.node)
	}
	*id++
	g.node = parquet.FieldID(g.node, *id)
	return g
}

// genRow appends a row of the schema's fields to row.
func genRow(r *rand.Rand, fields []*genNode, row parquet.Row) parquet.Row {
	for _, f := range fields {
		row = genValues(r, f, 0, false, row)
	}
	return row
}

func genValues(r *rand.Rand, g *genNode, def int, null bool, row parquet.Row) parquet.Row {
	if !null && g.optional {
		if r.IntN(5) == 0 {
			null = true
		} else {
			def++
		}
	}
	if g.leaf != nil {
		if null {
			return append(row, parquet.Value{}.Level(0, def, len(row)))
		}
		return append(row, g.leaf.gen(r).Level(0, def, len(row)))
	}
	for _, c := range g.children {
		row = genValues(r, c, def, null, row)
	}
	return row
}

// compareValues compares two non-null values of a leaf in the order the
// Parquet spec defines for its type (the test's own, independent of the
// package's).
func compareValues(l *leaf, a, b parquet.Value) int {
	switch l.kind {
	case parquet.Boolean:
		return cmpBool(a.Boolean(), b.Boolean())
	case parquet.Int32:
		if l.order == orderUnsigned {
			return cmp.Compare(uint64(a.Uint32()), uint64(b.Uint32()))
		}
		return cmp.Compare(int64(a.Int32()), int64(b.Int32()))
	case parquet.Int64:
		if l.order == orderUnsigned {
			return cmp.Compare(a.Uint64(), b.Uint64())
		}
		return cmp.Compare(a.Int64(), b.Int64())
	case parquet.Float:
		return cmp.Compare(float64(a.Float()), float64(b.Float()))
	case parquet.Double:
		return cmp.Compare(a.Double(), b.Double())
	case parquet.FixedLenByteArray:
		if l.order == orderDecimal {
			x, y := a.ByteArray(), b.ByteArray()
			if int8(x[0]) != int8(y[0]) {
				return cmp.Compare(int64(int8(x[0])), int64(int8(y[0])))
			}
			return bytes.Compare(x, y)
		}
	}
	return bytes.Compare(a.ByteArray(), b.ByteArray())
}

func cmpBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case !a:
		return -1
	}
	return 1
}
