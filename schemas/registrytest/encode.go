package registrytest

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"reflect"
	"strings"
	"time"
)

// EncodeConfluent encodes value with the Avro schema schemaJSON in the
// Confluent wire format (magic byte 0, big-endian id, Avro binary).
//
// Go values by Avro type: null nil; boolean bool; int and long any Go
// integer, or time.Time for the date (int) and timestamp-millis/-micros
// (long) logical types; float and double float32, float64 or an integer;
// string string; bytes []byte or string; fixed []byte of the size; enum
// the symbol as a string; decimal (bytes or fixed) a decimal string such
// as "-12.50"; array any slice; map map[string]V; record map[string]any
// (absent fields are null when the field's type allows null). A union
// takes the first branch that accepts the value.
func EncodeConfluent(id uint32, schemaJSON string, value map[string]any) ([]byte, error) {
	var doc any
	if err := json.Unmarshal([]byte(schemaJSON), &doc); err != nil {
		return nil, fmt.Errorf("schema: %w", err)
	}
	e := encoder{names: map[string]map[string]any{}}
	out := []byte{0, 0, 0, 0, 0}
	binary.BigEndian.PutUint32(out[1:], id)
	out, err := e.encode(out, doc, "", value)
	if err != nil {
		return nil, err
	}
	return out, nil
}

type encoder struct {
	names map[string]map[string]any
}

func appendLong(b []byte, v int64) []byte {
	u := uint64(v<<1) ^ uint64(v>>63)
	for u >= 0x80 {
		b = append(b, byte(u)|0x80)
		u >>= 7
	}
	return append(b, byte(u))
}

func appendBytes(b []byte, p []byte) []byte {
	b = appendLong(b, int64(len(p)))
	return append(b, p...)
}

func fullName(name, ns string) string {
	if strings.Contains(name, ".") || ns == "" {
		return name
	}
	return ns + "." + name
}

func toInt(v any) (int64, bool) {
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return rv.Int(), true
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		if rv.Uint() > math.MaxInt64 {
			return 0, false
		}
		return int64(rv.Uint()), true
	}
	return 0, false
}

func (e *encoder) encode(b []byte, schema any, ns string, v any) ([]byte, error) {
	switch s := schema.(type) {
	case string:
		if named, ok := e.names[fullName(s, ns)]; ok {
			return e.encodeObject(b, named, ns, v)
		}
		if named, ok := e.names[s]; ok {
			return e.encodeObject(b, named, ns, v)
		}
		return e.encodeObject(b, map[string]any{"type": s}, ns, v)
	case []any:
		for i, branch := range s {
			head := appendLong(b[:len(b):len(b)], int64(i))
			if out, err := e.encode(head, branch, ns, v); err == nil {
				return out, nil
			}
		}
		return nil, fmt.Errorf("no union branch accepts %T", v)
	case map[string]any:
		return e.encodeObject(b, s, ns, v)
	}
	return nil, fmt.Errorf("bad schema node %T", schema)
}

func (e *encoder) encodeObject(b []byte, s map[string]any, ns string, v any) ([]byte, error) {
	typ, _ := s["type"].(string)
	if typ == "" {
		return e.encode(b, s["type"], ns, v)
	}
	logical, _ := s["logicalType"].(string)
	switch typ {
	case "record", "enum", "fixed":
		name, _ := s["name"].(string)
		if n, ok := s["namespace"].(string); ok {
			ns = n
		}
		full := fullName(name, ns)
		e.names[full] = s
		if i := strings.LastIndexByte(full, '.'); i >= 0 {
			ns = full[:i]
		} else {
			ns = ""
		}
	}
	switch typ {
	case "null":
		if v != nil {
			return nil, errors.New("null wants nil")
		}
		return b, nil
	case "boolean":
		x, ok := v.(bool)
		if !ok {
			return nil, fmt.Errorf("boolean wants bool, got %T", v)
		}
		if x {
			return append(b, 1), nil
		}
		return append(b, 0), nil
	case "int", "long":
		if t, ok := v.(time.Time); ok {
			switch logical {
			case "date":
				return appendLong(b, int64(math.Floor(float64(t.Unix())/86400))), nil
			case "timestamp-millis", "local-timestamp-millis":
				return appendLong(b, t.UnixMilli()), nil
			case "timestamp-micros", "local-timestamp-micros":
				return appendLong(b, t.UnixMicro()), nil
			}
			return nil, fmt.Errorf("%s without a time logical type wants an integer", typ)
		}
		x, ok := toInt(v)
		if !ok {
			return nil, fmt.Errorf("%s wants an integer, got %T", typ, v)
		}
		if typ == "int" && (x < math.MinInt32 || x > math.MaxInt32) {
			return nil, fmt.Errorf("int out of range: %d", x)
		}
		return appendLong(b, x), nil
	case "float", "double":
		var f float64
		switch x := v.(type) {
		case float32:
			f = float64(x)
		case float64:
			f = x
		default:
			i, ok := toInt(v)
			if !ok {
				return nil, fmt.Errorf("%s wants a number, got %T", typ, v)
			}
			f = float64(i)
		}
		if typ == "float" {
			return binary.LittleEndian.AppendUint32(b, math.Float32bits(float32(f))), nil
		}
		return binary.LittleEndian.AppendUint64(b, math.Float64bits(f)), nil
	case "string":
		x, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("string wants string, got %T", v)
		}
		return appendBytes(b, []byte(x)), nil
	case "bytes":
		if logical == "decimal" {
			p, err := decimalBytes(s, v, 0)
			if err != nil {
				return nil, err
			}
			return appendBytes(b, p), nil
		}
		switch x := v.(type) {
		case []byte:
			return appendBytes(b, x), nil
		case string:
			return appendBytes(b, []byte(x)), nil
		}
		return nil, fmt.Errorf("bytes wants []byte, got %T", v)
	case "fixed":
		size := jsonInt(s["size"])
		if logical == "decimal" {
			p, err := decimalBytes(s, v, size)
			if err != nil {
				return nil, err
			}
			return append(b, p...), nil
		}
		x, ok := v.([]byte)
		if !ok || len(x) != size {
			return nil, fmt.Errorf("fixed(%d) wants %d bytes", size, size)
		}
		return append(b, x...), nil
	case "enum":
		x, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("enum wants a string, got %T", v)
		}
		syms, _ := s["symbols"].([]any)
		for i, sym := range syms {
			if sym == x {
				return appendLong(b, int64(i)), nil
			}
		}
		return nil, fmt.Errorf("enum has no symbol %q", x)
	case "array":
		rv := reflect.ValueOf(v)
		if rv.Kind() != reflect.Slice {
			return nil, fmt.Errorf("array wants a slice, got %T", v)
		}
		if rv.Len() > 0 {
			b = appendLong(b, int64(rv.Len()))
			for i := range rv.Len() {
				var err error
				if b, err = e.encode(b, s["items"], ns, rv.Index(i).Interface()); err != nil {
					return nil, fmt.Errorf("array item %d: %w", i, err)
				}
			}
		}
		return appendLong(b, 0), nil
	case "map":
		rv := reflect.ValueOf(v)
		if rv.Kind() != reflect.Map || rv.Type().Key().Kind() != reflect.String {
			return nil, fmt.Errorf("map wants map[string]V, got %T", v)
		}
		if rv.Len() > 0 {
			b = appendLong(b, int64(rv.Len()))
			keys := rv.MapKeys()
			for _, k := range sortedKeys(keys) {
				b = appendBytes(b, []byte(k))
				var err error
				if b, err = e.encode(b, s["values"], ns, rv.MapIndex(reflect.ValueOf(k).Convert(rv.Type().Key())).Interface()); err != nil {
					return nil, fmt.Errorf("map value %q: %w", k, err)
				}
			}
		}
		return appendLong(b, 0), nil
	case "record", "error":
		m, ok := v.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("record wants map[string]any, got %T", v)
		}
		fields, _ := s["fields"].([]any)
		for _, f := range fields {
			fm, _ := f.(map[string]any)
			name, _ := fm["name"].(string)
			var err error
			if b, err = e.encode(b, fm["type"], ns, m[name]); err != nil {
				return nil, fmt.Errorf("field %q: %w", name, err)
			}
		}
		return b, nil
	}
	// A named type referenced in an object, or unknown.
	if named, ok := e.names[fullName(typ, ns)]; ok {
		return e.encodeObject(b, named, ns, v)
	}
	if named, ok := e.names[typ]; ok {
		return e.encodeObject(b, named, ns, v)
	}
	return nil, fmt.Errorf("unknown type %q", typ)
}

func sortedKeys(keys []reflect.Value) []string {
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = k.String()
	}
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j] < out[j-1]; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

func jsonInt(v any) int {
	f, _ := v.(float64)
	return int(f)
}

// decimalBytes renders a decimal string as the two's complement unscaled
// value: minimal for bytes (size 0), sign-extended to size for fixed.
func decimalBytes(s map[string]any, v any, size int) ([]byte, error) {
	str, ok := v.(string)
	if !ok {
		return nil, fmt.Errorf("decimal wants a string, got %T", v)
	}
	r, ok := new(big.Rat).SetString(str)
	if !ok {
		return nil, fmt.Errorf("decimal %q does not parse", str)
	}
	scale := jsonInt(s["scale"])
	r.Mul(r, new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(scale)), nil)))
	if !r.IsInt() {
		return nil, fmt.Errorf("decimal %q has more than %d fraction digits", str, scale)
	}
	u := r.Num()
	// Two's complement, big-endian, minimal.
	bitsNeeded := u.BitLen()
	if u.Sign() < 0 {
		bitsNeeded = new(big.Int).Sub(new(big.Int).Neg(u), big.NewInt(1)).BitLen()
	}
	n := (bitsNeeded + 8) / 8
	if size > 0 {
		if n > size {
			return nil, fmt.Errorf("decimal %q does not fit %d bytes", str, size)
		}
		n = size
	}
	out := make([]byte, n)
	if u.Sign() >= 0 {
		u.FillBytes(out)
		return out, nil
	}
	// -x = 2^(8n) - x
	mod := new(big.Int).Lsh(big.NewInt(1), uint(8*n))
	mod.Add(mod, u)
	mod.FillBytes(out)
	return out, nil
}
