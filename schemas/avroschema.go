package schemas

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// AvroSchema is a parsed Avro schema: a writer schema from the registry.
// It is immutable and safe for concurrent use.
type AvroSchema struct {
	root *avroType
	text string
}

// String returns the schema text it was parsed from.
func (s *AvroSchema) String() string { return s.text }

type avroKind uint8

const (
	avroNull avroKind = iota
	avroBoolean
	avroInt
	avroLong
	avroFloat
	avroDouble
	avroBytes
	avroString
	avroRecord
	avroEnum
	avroArray
	avroMap
	avroUnion
	avroFixed
)

func (k avroKind) String() string {
	switch k {
	case avroNull:
		return "null"
	case avroBoolean:
		return "boolean"
	case avroInt:
		return "int"
	case avroLong:
		return "long"
	case avroFloat:
		return "float"
	case avroDouble:
		return "double"
	case avroBytes:
		return "bytes"
	case avroString:
		return "string"
	case avroRecord:
		return "record"
	case avroEnum:
		return "enum"
	case avroArray:
		return "array"
	case avroMap:
		return "map"
	case avroUnion:
		return "union"
	case avroFixed:
		return "fixed"
	}
	return "invalid"
}

func primitiveAvroKind(name string) (avroKind, bool) {
	for k := avroNull; k <= avroString; k++ {
		if k.String() == name {
			return k, true
		}
	}
	return 0, false
}

// avroType is one node of a parsed Avro schema. Named types referenced
// twice (or recursively) are the same *avroType.
type avroType struct {
	kind      avroKind
	logical   string // a valid logical type, else ""
	precision int
	scale     int
	size      int    // fixed
	name      string // full name of a record, enum or fixed
	fields    []avroField
	symbols   []string
	items     *avroType // array
	values    *avroType // map
	branches  []*avroType
}

type avroField struct {
	name string
	typ  *avroType
}

// describe names the type for errors.
func (t *avroType) describe() string {
	s := t.kind.String()
	if t.name != "" {
		s += " " + t.name
	}
	if t.logical != "" {
		s += " (" + t.logical + ")"
	}
	return s
}

// maxAvroDepth bounds the nesting of a schema document.
const maxAvroDepth = 64

// ParseAvroSchema parses an Avro schema in its JSON form. Logical types
// that do not apply are ignored, as the Avro specification says.
func ParseAvroSchema(text string) (*AvroSchema, error) {
	dec := json.NewDecoder(strings.NewReader(text))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("avro schema: %w", err)
	}
	if dec.More() {
		return nil, errors.New("avro schema: data after the schema")
	}
	p := avroParser{names: map[string]*avroType{}}
	root, err := p.parse(doc, "", 0)
	if err != nil {
		return nil, fmt.Errorf("avro schema: %w", err)
	}
	return &AvroSchema{root: root, text: text}, nil
}

type avroParser struct {
	names map[string]*avroType
}

func fullName(name, namespace string) string {
	if strings.Contains(name, ".") || namespace == "" {
		return name
	}
	return namespace + "." + name
}

func (p *avroParser) parse(doc any, namespace string, depth int) (*avroType, error) {
	if depth > maxAvroDepth {
		return nil, fmt.Errorf("nests deeper than %d levels", maxAvroDepth)
	}
	switch v := doc.(type) {
	case string:
		if k, ok := primitiveAvroKind(v); ok {
			return &avroType{kind: k}, nil
		}
		if t, ok := p.names[fullName(v, namespace)]; ok {
			return t, nil
		}
		if t, ok := p.names[v]; ok {
			return t, nil
		}
		return nil, fmt.Errorf("unknown type %q", v)
	case []any:
		u := &avroType{kind: avroUnion}
		for _, b := range v {
			t, err := p.parse(b, namespace, depth+1)
			if err != nil {
				return nil, err
			}
			if t.kind == avroUnion {
				return nil, errors.New("a union cannot hold a union")
			}
			// The spec allows one branch of each type, named types told
			// apart by name (a union's value says only its branch's index).
			for _, o := range u.branches {
				if o.kind == t.kind && o.name == t.name {
					return nil, fmt.Errorf("union holds %s twice", t.describe())
				}
			}
			u.branches = append(u.branches, t)
		}
		if len(u.branches) == 0 {
			return nil, errors.New("empty union")
		}
		return u, nil
	case map[string]any:
		return p.parseObject(v, namespace, depth)
	}
	return nil, fmt.Errorf("unexpected %T where a type belongs", doc)
}

func str(m map[string]any, key string) (string, bool) {
	s, ok := m[key].(string)
	return s, ok
}

func intAttr(m map[string]any, key string) (int, bool) {
	n, ok := m[key].(json.Number)
	if !ok {
		return 0, false
	}
	i, err := n.Int64()
	if err != nil || i < 0 || i > 1<<20 {
		return 0, false
	}
	return int(i), true
}

func (p *avroParser) parseObject(m map[string]any, namespace string, depth int) (*avroType, error) {
	typ, ok := m["type"]
	if !ok {
		return nil, errors.New(`object without "type"`)
	}
	name, ok := typ.(string)
	if !ok {
		// {"type": {...}} or {"type": [...]}: a wrapped type.
		return p.parse(typ, namespace, depth+1)
	}
	var t *avroType
	switch name {
	case "record", "error", "enum", "fixed":
		n, ok := str(m, "name")
		if !ok || n == "" {
			return nil, fmt.Errorf("%s without a name", name)
		}
		ns := namespace
		if s, ok := str(m, "namespace"); ok {
			ns = s
		}
		full := fullName(n, ns)
		if _, dup := p.names[full]; dup {
			return nil, fmt.Errorf("type %q defined twice", full)
		}
		if i := strings.LastIndexByte(full, '.'); i >= 0 {
			ns = full[:i]
		} else {
			ns = ""
		}
		t = &avroType{name: full}
		p.names[full] = t
		switch name {
		case "record", "error":
			t.kind = avroRecord
			fields, ok := m["fields"].([]any)
			if !ok {
				return nil, fmt.Errorf("record %q without fields", full)
			}
			seen := map[string]bool{}
			for _, f := range fields {
				fm, ok := f.(map[string]any)
				if !ok {
					return nil, fmt.Errorf("record %q: a field is not an object", full)
				}
				fname, ok := str(fm, "name")
				if !ok || fname == "" {
					return nil, fmt.Errorf("record %q: a field without a name", full)
				}
				if seen[fname] {
					return nil, fmt.Errorf("record %q: field %q declared twice", full, fname)
				}
				seen[fname] = true
				ftyp, ok := fm["type"]
				if !ok {
					return nil, fmt.Errorf("record %q: field %q without a type", full, fname)
				}
				ft, err := p.parse(ftyp, ns, depth+1)
				if err != nil {
					return nil, fmt.Errorf("record %q: field %q: %w", full, fname, err)
				}
				t.fields = append(t.fields, avroField{name: fname, typ: ft})
			}
		case "enum":
			t.kind = avroEnum
			syms, ok := m["symbols"].([]any)
			if !ok || len(syms) == 0 {
				return nil, fmt.Errorf("enum %q without symbols", full)
			}
			for _, s := range syms {
				sym, ok := s.(string)
				if !ok {
					return nil, fmt.Errorf("enum %q: a symbol is not a string", full)
				}
				t.symbols = append(t.symbols, sym)
			}
		case "fixed":
			t.kind = avroFixed
			size, ok := intAttr(m, "size")
			if !ok {
				return nil, fmt.Errorf("fixed %q without a valid size", full)
			}
			t.size = size
		}
	case "array":
		items, ok := m["items"]
		if !ok {
			return nil, errors.New("array without items")
		}
		it, err := p.parse(items, namespace, depth+1)
		if err != nil {
			return nil, fmt.Errorf("array items: %w", err)
		}
		t = &avroType{kind: avroArray, items: it}
	case "map":
		values, ok := m["values"]
		if !ok {
			return nil, errors.New("map without values")
		}
		vt, err := p.parse(values, namespace, depth+1)
		if err != nil {
			return nil, fmt.Errorf("map values: %w", err)
		}
		t = &avroType{kind: avroMap, values: vt}
	default:
		k, ok := primitiveAvroKind(name)
		if !ok {
			// A reference to a named type, written as an object.
			return p.parse(name, namespace, depth+1)
		}
		t = &avroType{kind: k}
	}
	if lt, ok := str(m, "logicalType"); ok {
		p.logical(t, lt, m)
	}
	return t, nil
}

// logical records a logical type that applies to t; others are ignored.
func (p *avroParser) logical(t *avroType, lt string, m map[string]any) {
	switch lt {
	case "date":
		if t.kind == avroInt {
			t.logical = lt
		}
	case "timestamp-millis", "timestamp-micros", "local-timestamp-millis", "local-timestamp-micros", "time-micros":
		if t.kind == avroLong {
			t.logical = lt
		}
	case "time-millis":
		// Kept so that a time of day is not read as a date: it goes to
		// integer columns only.
		if t.kind == avroInt {
			t.logical = lt
		}
	case "decimal":
		if t.kind != avroBytes && t.kind != avroFixed {
			return
		}
		prec, ok := intAttr(m, "precision")
		if !ok || prec < 1 {
			return
		}
		scale := 0
		if _, has := m["scale"]; has {
			if scale, ok = intAttr(m, "scale"); !ok {
				return
			}
		}
		if scale > prec {
			return
		}
		if t.kind == avroFixed && t.size < 64 && prec > maxDigitsForBytes(t.size) {
			return
		}
		t.logical, t.precision, t.scale = lt, prec, scale
	}
}

// maxDigitsForBytes is the largest precision a two's complement of n bytes
// always holds.
func maxDigitsForBytes(n int) int {
	if n == 0 {
		return 0
	}
	for p := 1; ; p++ {
		if minBytesForPrecision(p) > n {
			return p - 1
		}
	}
}
