package schemas

import (
	"fmt"
	"strconv"
	"strings"
)

// maxTypeDepth bounds the nesting of types (Parquet levels are bytes, and
// deep recursion helps nobody).
const maxTypeDepth = 32

// TypeError reports a type string that ParseType cannot read. Pos is the
// byte offset of the problem (0-based).
type TypeError struct {
	Input string
	Pos   int
	Msg   string
}

func (e *TypeError) Error() string {
	return fmt.Sprintf("type %q: at offset %d: %s", e.Input, e.Pos, e.Msg)
}

// ParseType reads the compact type grammar of the table config:
//
//	bool | int32 | int64 | float32 | float64 | string | bytes | timestamp | date
//	decimal(p,s) | list<T> | map<string,T> | struct<name:T, name?:T, ...>
//
// "name?" marks an optional nested field. Blanks are allowed between tokens;
// keywords are case-insensitive. Errors are *TypeError with the offset.
// ParseType checks the syntax only: NewTableSchema checks names, decimal
// precision and scale, and field IDs.
func ParseType(s string) (Type, error) {
	p := typeParser{in: s}
	t, err := p.parseType(0)
	if err != nil {
		return Type{}, err
	}
	p.blank()
	if p.pos < len(p.in) {
		return Type{}, p.errorf("unexpected %q after the type", p.rest())
	}
	return t, nil
}

type typeParser struct {
	in  string
	pos int
}

func (p *typeParser) errorf(format string, args ...any) error {
	return &TypeError{Input: p.in, Pos: p.pos, Msg: fmt.Sprintf(format, args...)}
}

func (p *typeParser) rest() string {
	r := p.in[p.pos:]
	if len(r) > 16 {
		r = r[:16] + "..."
	}
	return r
}

func (p *typeParser) blank() {
	for p.pos < len(p.in) {
		switch p.in[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

func isIdentStart(c byte) bool {
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

func isIdentByte(c byte) bool { return isIdentStart(c) || (c >= '0' && c <= '9') }

// ident reads [A-Za-z_][A-Za-z0-9_]* after blanks.
func (p *typeParser) ident(what string) (string, error) {
	p.blank()
	start := p.pos
	if p.pos >= len(p.in) {
		return "", p.errorf("want %s, found the end", what)
	}
	if !isIdentStart(p.in[p.pos]) {
		return "", p.errorf("want %s, found %q", what, p.rest())
	}
	for p.pos < len(p.in) && isIdentByte(p.in[p.pos]) {
		p.pos++
	}
	return p.in[start:p.pos], nil
}

// expect consumes c after blanks.
func (p *typeParser) expect(c byte) error {
	p.blank()
	if p.pos >= len(p.in) {
		return p.errorf("want %q, found the end", c)
	}
	if p.in[p.pos] != c {
		return p.errorf("want %q, found %q", c, p.rest())
	}
	p.pos++
	return nil
}

// peek reports whether the next non-blank byte is c.
func (p *typeParser) peek(c byte) bool {
	p.blank()
	return p.pos < len(p.in) && p.in[p.pos] == c
}

func (p *typeParser) number(what string) (int, error) {
	p.blank()
	start := p.pos
	for p.pos < len(p.in) && p.in[p.pos] >= '0' && p.in[p.pos] <= '9' {
		p.pos++
	}
	if start == p.pos {
		p.pos = start
		return 0, p.errorf("want %s (a number), found %q", what, p.rest())
	}
	n, err := strconv.Atoi(p.in[start:p.pos])
	if err != nil || n > 1000 {
		p.pos = start
		return 0, p.errorf("%s %q is out of range", what, p.in[start:p.pos])
	}
	return n, nil
}

func primitiveKind(name string) Kind {
	for k := KindBool; k <= KindDate; k++ {
		if k.String() == name {
			return k
		}
	}
	return KindInvalid
}

const typeNames = "bool, int32, int64, float32, float64, string, bytes, timestamp, date, decimal(p,s), list<T>, map<string,T> or struct<...>"

func (p *typeParser) parseType(depth int) (Type, error) {
	if depth >= maxTypeDepth {
		return Type{}, p.errorf("types nest deeper than %d levels", maxTypeDepth)
	}
	start := p.pos
	name, err := p.ident("a type")
	if err != nil {
		return Type{}, err
	}
	kw := strings.ToLower(name)
	if k := primitiveKind(kw); k != KindInvalid {
		return Type{Kind: k}, nil
	}
	switch kw {
	case "decimal":
		if err := p.expect('('); err != nil {
			return Type{}, err
		}
		prec, err := p.number("precision")
		if err != nil {
			return Type{}, err
		}
		if err := p.expect(','); err != nil {
			return Type{}, err
		}
		scale, err := p.number("scale")
		if err != nil {
			return Type{}, err
		}
		if err := p.expect(')'); err != nil {
			return Type{}, err
		}
		return Type{Kind: KindDecimal, Precision: prec, Scale: scale}, nil
	case "list":
		if err := p.expect('<'); err != nil {
			return Type{}, err
		}
		elem, err := p.parseType(depth + 1)
		if err != nil {
			return Type{}, err
		}
		if err := p.expect('>'); err != nil {
			return Type{}, err
		}
		return Type{Kind: KindList, Elem: &elem}, nil
	case "map":
		if err := p.expect('<'); err != nil {
			return Type{}, err
		}
		keyPos := p.pos
		key, err := p.ident("the key type string")
		if err != nil {
			return Type{}, err
		}
		if strings.ToLower(key) != "string" {
			p.pos = keyPos
			p.blank()
			return Type{}, p.errorf("map keys must be string, not %q", key)
		}
		if err := p.expect(','); err != nil {
			return Type{}, err
		}
		val, err := p.parseType(depth + 1)
		if err != nil {
			return Type{}, err
		}
		if err := p.expect('>'); err != nil {
			return Type{}, err
		}
		return Type{Kind: KindMap, Value: &val}, nil
	case "struct":
		return p.parseStruct(depth)
	}
	p.pos = start
	p.blank()
	return Type{}, p.errorf("unknown type %q: want %s", name, typeNames)
}

func (p *typeParser) parseStruct(depth int) (Type, error) {
	if err := p.expect('<'); err != nil {
		return Type{}, err
	}
	t := Type{Kind: KindStruct}
	if p.peek('>') {
		return Type{}, p.errorf("a struct needs at least one field")
	}
	for {
		name, err := p.ident("a field name")
		if err != nil {
			return Type{}, err
		}
		f := Field{Name: name}
		if p.peek('?') {
			p.pos++
			f.Optional = true
		}
		if err := p.expect(':'); err != nil {
			return Type{}, err
		}
		if f.Type, err = p.parseType(depth + 1); err != nil {
			return Type{}, err
		}
		t.Fields = append(t.Fields, f)
		if p.peek('>') {
			p.pos++
			return t, nil
		}
		if err := p.expect(','); err != nil {
			return Type{}, err
		}
	}
}
