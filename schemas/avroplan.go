package schemas

import "fmt"

// opcode is one step of an Avro decoding plan.
type opcode uint8

const (
	// Reads into a column.
	opNull         opcode = iota // writer null: a null of an optional target
	opNullRequired               // writer null into a required target: missing-field
	opMismatch                   // the writer type cannot be read as the target: schema-mismatch
	opBool
	opIntToInt32
	opIntToInt64 // int or long
	opLongToInt64
	opIntToFloat32
	opLongToFloat32
	opFloatToFloat32
	opIntToFloat64
	opLongToFloat64
	opFloatToFloat64
	opDoubleToFloat64
	opString     // string or bytes into a string column: UTF-8 checked
	opBytes      // bytes or string into a bytes column
	opEnumString // enum symbol into a string column
	opFixedBytes // fixed into a bytes column
	opTimeMillis // long timestamp-millis into a timestamp column
	opTimeMicros // long timestamp-micros into a timestamp column
	opDate       // int (date) into a date column
	opDecimalBytes
	opDecimalFixed
	opRecord
	opArray
	opMap
	opUnion

	// Skips of writer data the table has no column for.
	opSkipNull
	opSkipBool
	opSkipVarint // int, long, enum
	opSkipFloat
	opSkipDouble
	opSkipBytes // bytes, string
	opSkipFixed
	opSkipRecord
	opSkipArray
	opSkipMap
	opSkipUnion
)

// avroOp decodes one writer type into one target node (or skips it).
type avroOp struct {
	code   opcode
	target *node
	size   int // fixed size
	scale  int // writer decimal scale
	msg    string
	fields []*avroOp // record: in writer order
	// missing are the optional target fields the writer record lacks.
	missing  []*node
	items    *avroOp // array items, map values
	branches []*avroOp
	symbols  [][]byte // enum
}

// avroPlan is the compiled decoding of one writer schema into a table.
type avroPlan struct {
	root *avroOp
	err  *DecodeError // the writer schema cannot feed the table at all
}

type planCompiler struct {
	skips    map[*avroType]*avroOp
	resolved map[resolveKey]*avroOp
}

// resolveKey is a writer type read into a table node. The ops compiled
// for one are shared by every place it occurs (ops are not changed once
// made): a union of recursive records resolves each branch against the
// same node, and without sharing a plan grew as branches^depth.
type resolveKey struct {
	w *avroType
	n *node
}

// compilePlan resolves writer schema w against the table's user fields.
func compilePlan(w *AvroSchema, ts *TableSchema) *avroPlan {
	c := planCompiler{skips: map[*avroType]*avroOp{}, resolved: map[resolveKey]*avroOp{}}
	root := w.root
	if root.kind != avroRecord {
		return &avroPlan{err: decodeErr(ReasonSchemaMismatch, "", "writer schema is %s, not a record", root.describe())}
	}
	return &avroPlan{root: c.record(root, ts.userRoot)}
}

func mismatch(w *avroType, n *node) *avroOp {
	return &avroOp{code: opMismatch, target: n, msg: fmt.Sprintf("writer type %s cannot be read as %s", w.describe(), n.kind)}
}

// resolve compiles reading writer type w into target n, once per (w, n).
// It cannot loop: every recursion goes one table level down, but for a
// union's branches, which are not unions.
func (c *planCompiler) resolve(w *avroType, n *node) *avroOp {
	key := resolveKey{w, n}
	if op, ok := c.resolved[key]; ok {
		return op
	}
	op := c.compile(w, n)
	c.resolved[key] = op
	return op
}

// compile is resolve without the sharing.
func (c *planCompiler) compile(w *avroType, n *node) *avroOp {
	op := &avroOp{target: n}
	switch w.kind {
	case avroUnion:
		op.code = opUnion
		for _, b := range w.branches {
			op.branches = append(op.branches, c.resolve(b, n))
		}
		return op
	case avroNull:
		if n.optional {
			op.code = opNull
		} else {
			op.code = opNullRequired
		}
		return op
	}
	switch n.kind {
	case KindBool:
		if w.kind == avroBoolean {
			op.code = opBool
		}
	case KindInt32:
		if w.kind == avroInt && (w.logical == "" || w.logical == "time-millis") {
			op.code = opIntToInt32
		}
	case KindInt64:
		switch {
		case w.kind == avroInt && (w.logical == "" || w.logical == "time-millis"):
			op.code = opIntToInt64
		case w.kind == avroLong && (w.logical == "" || w.logical == "time-micros"):
			op.code = opLongToInt64
		}
	case KindFloat32:
		switch w.kind {
		case avroInt:
			op.code = opIntToFloat32
		case avroLong:
			op.code = opLongToFloat32
		case avroFloat:
			op.code = opFloatToFloat32
		}
	case KindFloat64:
		switch w.kind {
		case avroInt:
			op.code = opIntToFloat64
		case avroLong:
			op.code = opLongToFloat64
		case avroFloat:
			op.code = opFloatToFloat64
		case avroDouble:
			op.code = opDoubleToFloat64
		}
	case KindString:
		switch {
		case w.kind == avroString, w.kind == avroBytes && w.logical == "":
			op.code = opString
		case w.kind == avroEnum:
			op.code = opEnumString
			for _, s := range w.symbols {
				op.symbols = append(op.symbols, []byte(s))
			}
		}
	case KindBytes:
		switch {
		case w.kind == avroBytes && w.logical == "", w.kind == avroString:
			op.code = opBytes
		case w.kind == avroFixed && w.logical == "":
			op.code, op.size = opFixedBytes, w.size
		}
	case KindTimestamp:
		switch w.logical {
		case "timestamp-millis", "local-timestamp-millis":
			op.code = opTimeMillis
		case "timestamp-micros", "local-timestamp-micros":
			op.code = opTimeMicros
		}
	case KindDate:
		if w.kind == avroInt && (w.logical == "date" || w.logical == "") {
			op.code = opDate
		}
	case KindDecimal:
		if w.logical == "decimal" {
			op.scale = w.scale
			if w.kind == avroFixed {
				op.code, op.size = opDecimalFixed, w.size
			} else {
				op.code = opDecimalBytes
			}
		}
	case KindStruct:
		if w.kind == avroRecord {
			return c.record(w, n)
		}
	case KindList:
		if w.kind == avroArray {
			op.code = opArray
			op.items = c.resolve(w.items, n.elem)
		}
	case KindMap:
		if w.kind == avroMap {
			op.code = opMap
			op.items = c.resolve(w.values, n.val)
		}
	}
	if op.code == opNull { // no match above: opNull is the zero opcode
		return mismatch(w, n)
	}
	return op
}

// record resolves writer record w against struct n by field name.
func (c *planCompiler) record(w *avroType, n *node) *avroOp {
	op := &avroOp{code: opRecord, target: n}
	found := make([]bool, len(n.fields))
	for _, wf := range w.fields {
		i := n.lookup.find([]byte(wf.name), -1)
		if i < 0 {
			op.fields = append(op.fields, c.skip(wf.typ))
			continue
		}
		found[i] = true
		op.fields = append(op.fields, c.resolve(wf.typ, n.fields[i]))
	}
	for i, f := range n.fields {
		if found[i] {
			continue
		}
		if !f.optional {
			return &avroOp{code: opMismatch, target: f, msg: fmt.Sprintf("required field is not in writer schema record %s", w.name)}
		}
		op.missing = append(op.missing, f)
	}
	return op
}

// skip compiles skipping writer type w. Recursive types give cyclic ops.
func (c *planCompiler) skip(w *avroType) *avroOp {
	if op, ok := c.skips[w]; ok {
		return op
	}
	op := &avroOp{}
	c.skips[w] = op
	switch w.kind {
	case avroNull:
		op.code = opSkipNull
	case avroBoolean:
		op.code = opSkipBool
	case avroInt, avroLong, avroEnum:
		op.code = opSkipVarint
	case avroFloat:
		op.code = opSkipFloat
	case avroDouble:
		op.code = opSkipDouble
	case avroBytes, avroString:
		op.code = opSkipBytes
	case avroFixed:
		op.code, op.size = opSkipFixed, w.size
	case avroRecord:
		op.code = opSkipRecord
		for _, f := range w.fields {
			op.fields = append(op.fields, c.skip(f.typ))
		}
	case avroArray:
		op.code = opSkipArray
		op.items = c.skip(w.items)
	case avroMap:
		op.code = opSkipMap
		op.items = c.skip(w.values)
	case avroUnion:
		op.code = opSkipUnion
		for _, b := range w.branches {
			op.branches = append(op.branches, c.skip(b))
		}
	}
	return op
}
