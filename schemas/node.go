package schemas

import "github.com/parquet-go/parquet-go"

// node is one compiled node of the row tree: a column, a nested field, a
// list element, a map key or value. The decoders walk it; Parquet and Avro
// render it.
type node struct {
	name     string
	path     string // dotted, for errors
	kind     Kind
	id       int32
	optional bool  // may be null: an optional field, a list element, a map value
	def      uint8 // definition level of a non-null value of this node
	elemRep  uint8 // list and map: repetition level of entries after the first
	col      int   // first leaf column
	ncol     int   // number of leaf columns under this node

	precision, scale int
	decimal          decimalLayout

	fields   []*node     // struct
	required []int       // struct: indices of required fields
	lookup   fieldLookup // struct: name -> index
	elem     *node       // list
	key, val *node       // map

	eventTime bool // the top-level event-time field

	phys parquet.Kind // leaf: physical kind of its values
	meta uint64       // leaf: rawMeta of a non-null value at repetition level 0
}

// nullDef is the definition level of a null at this node.
func (n *node) nullDef() uint8 { return n.def - 1 }

// compiler turns a Schema into the node tree: it assigns leaf columns,
// definition and repetition levels, and field IDs.
type compiler struct {
	col    int
	nextID int32
	used   map[int32]bool
}

func (c *compiler) id(explicit int32) int32 {
	if explicit > 0 {
		return explicit
	}
	for c.used[c.nextID] {
		c.nextID++
	}
	id := c.nextID
	c.nextID++
	return id
}

// collectIDs records every explicit field ID so that assigned IDs skip them.
func collectIDs(fields []Field, used map[int32]bool) {
	for _, f := range fields {
		if f.ID > 0 {
			used[f.ID] = true
		}
		t := f.Type
		for t.Kind == KindList || t.Kind == KindMap {
			if t.Kind == KindList {
				t = *t.Elem
			} else {
				t = *t.Value
			}
		}
		if t.Kind == KindStruct {
			collectIDs(t.Fields, used)
		}
	}
}

// field compiles a field whose parent has definition level parentDef and
// repetition depth rep.
func (c *compiler) field(f Field, parentPath string, parentDef, rep uint8) *node {
	n := &node{name: f.Name, path: join(parentPath, f.Name), optional: f.Optional, id: c.id(f.ID)}
	c.typ(n, f.Type, parentDef, rep)
	return n
}

// typ fills n (name, path, optional and id already set) for type t.
func (c *compiler) typ(n *node, t Type, parentDef, rep uint8) {
	n.kind = t.Kind
	n.def = parentDef
	if n.optional {
		n.def++
	}
	n.col = c.col
	switch t.Kind {
	case KindStruct:
		n.fields = make([]*node, len(t.Fields))
		names := make([]string, len(t.Fields))
		for i, f := range t.Fields {
			n.fields[i] = c.field(f, n.path, n.def, rep)
			names[i] = f.Name
			if !f.Optional {
				n.required = append(n.required, i)
			}
		}
		n.lookup = newFieldLookup(names)
	case KindList:
		// <name> (LIST) { repeated group list { optional <element> } }
		n.elemRep = rep + 1
		n.elem = &node{name: "element", path: n.path + "[]", optional: true, id: c.id(0)}
		c.typ(n.elem, *t.Elem, n.def+1, rep+1)
	case KindMap:
		// <name> (MAP) { repeated group key_value { required key; optional value } }
		n.elemRep = rep + 1
		n.key = &node{name: "key", path: n.path + "{key}", id: c.id(0)}
		c.typ(n.key, Type{Kind: KindString}, n.def+1, rep+1)
		n.val = &node{name: "value", path: n.path + "{}", optional: true, id: c.id(0)}
		c.typ(n.val, *t.Value, n.def+1, rep+1)
	case KindDecimal:
		n.precision, n.scale = t.Precision, t.Scale
		n.decimal = layoutFor(t.Precision)
		c.col++
	default:
		c.col++
	}
	n.ncol = c.col - n.col
	if n.kind.primitive() {
		n.phys = physicalKind(n)
		n.meta = rawMeta(n.phys, false, n.def, 0, n.col)
	}
}

// leaves appends the leaf nodes under n in column order.
func (n *node) leaves(dst []*node) []*node {
	switch n.kind {
	case KindStruct:
		for _, f := range n.fields {
			dst = f.leaves(dst)
		}
	case KindList:
		dst = n.elem.leaves(dst)
	case KindMap:
		dst = n.key.leaves(dst)
		dst = n.val.leaves(dst)
	default:
		dst = append(dst, n)
	}
	return dst
}

// columnPaths appends the Parquet paths of the leaf columns under n.
func (n *node) columnPaths(prefix []string, dst [][]string) [][]string {
	path := append(prefix[:len(prefix):len(prefix)], n.name)
	switch n.kind {
	case KindStruct:
		for _, f := range n.fields {
			dst = f.columnPaths(path, dst)
		}
	case KindList:
		dst = n.elem.columnPaths(append(path, "list"), dst)
	case KindMap:
		kv := append(path, "key_value")
		dst = n.key.columnPaths(kv, dst)
		dst = n.val.columnPaths(kv, dst)
	default:
		dst = append(dst, path)
	}
	return dst
}
