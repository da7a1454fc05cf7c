package schemas

import (
	"math"
)

// NewJSONDecoder returns a Decoder for JSON object values. Object fields
// match schema fields by exact name; unknown fields are skipped (see
// WithRejectUnknownFields); absent or null optional fields are null. The
// JSON forms each type accepts are listed in docs/format/types.md.
func NewJSONDecoder(ts *TableSchema, opts ...DecoderOption) Decoder {
	o := defaultDecoderOptions()
	for _, opt := range opts {
		opt(&o)
	}
	d := &jsonDecoder{ts: ts, opts: o}
	d.b.init(ts)
	return d
}

type jsonDecoder struct {
	ts   *TableSchema
	opts decoderOptions
	s    jsonScanner
	b    rowBuilder
	rec  *Record
	key  []byte // scratch for escaped field names
}

// Decode implements Decoder.
func (d *jsonDecoder) Decode(value []byte, rec *Record) error {
	d.s = jsonScanner{data: value}
	d.rec = rec
	rec.EventTime, rec.HasEventTime = 0, false
	d.b.begin(rec.Row)
	var err *DecodeError
	switch d.s.peek() {
	case '{':
		err = d.object(d.ts.userRoot, 0, 0)
	case 0:
		err = d.notJSON(value)
	default:
		err = d.syntax(nil, "the value is not a JSON object")
	}
	if err == nil {
		// peek answers 0 at the end, which a NUL byte would fake: compare
		// positions instead.
		if d.s.ws(); d.s.pos != len(d.s.data) {
			err = d.syntax(nil, "data after the object")
		}
	}
	if err != nil {
		rec.Row = d.b.abort()
		rec.EventTime, rec.HasEventTime = 0, false
		return err
	}
	rec.Row = d.b.finish()
	return nil
}

// notJSON explains a value that does not start a JSON value: empty, or a
// NUL byte first. A NUL first byte followed by at least a schema ID is the
// Confluent Schema Registry wire format (magic byte 0, a 4-byte schema ID,
// then the Avro, Protobuf or JSON Schema payload): the topic's producer
// uses a registry serializer, and the table wants format.type avro.
func (d *jsonDecoder) notJSON(value []byte) *DecodeError {
	switch {
	case len(value) == 0:
		return d.syntax(nil, "empty value")
	case value[0] == 0 && len(value) >= 5:
		return decodeErr(ReasonInvalidJSON, "", "at offset 0: byte 0x00 then schema id %d: this looks like a Schema Registry framed record (Confluent wire format), not JSON; is the topic's format avro?",
			uint32(value[1])<<24|uint32(value[2])<<16|uint32(value[3])<<8|uint32(value[4]))
	default:
		return d.syntax(nil, "the value is not a JSON object")
	}
}

func (d *jsonDecoder) syntax(n *node, msg string) *DecodeError {
	return decodeErr(ReasonInvalidJSON, pathOf(n), "at offset %d: %s", d.s.pos, msg)
}

func (d *jsonDecoder) scanFailed(n *node) *DecodeError { return d.syntax(n, d.s.msg) }

func (d *jsonDecoder) mismatch(n *node, want string) *DecodeError {
	return decodeErr(ReasonSchemaMismatch, pathOf(n), "at offset %d: %s", d.s.pos, want)
}

func pathOf(n *node) string {
	if n == nil {
		return ""
	}
	return n.path
}

// object decodes the object at pos into struct n.
func (d *jsonDecoder) object(n *node, rep uint8, depth int) *DecodeError {
	s := &d.s
	s.pos++ // '{'
	off := d.b.pushSeen(len(n.fields))
	hint, seen := 0, 0
	if s.peek() == '}' {
		s.pos++
	} else {
		for {
			if s.peek() != '"' {
				return d.syntax(n, "want a field name")
			}
			var key []byte
			i := hint
			if end, ok := n.lookup.quotedAt(s.data, s.pos, hint); ok {
				s.pos = end // the expected field, written plainly
			} else {
				start, end, flags, ok := s.str()
				if !ok {
					return d.scanFailed(n)
				}
				key = s.data[start:end]
				if flags&strEscaped != 0 {
					if cap(d.key) < len(key) {
						d.key = make([]byte, len(key))
					}
					k, bad := unescape(d.key[:len(key)], key)
					if bad != "" {
						return d.syntax(n, bad+" in a field name")
					}
					key = d.key[:k]
				}
				i = n.lookup.find(key, hint)
			}
			if s.peek() != ':' {
				return d.syntax(n, "want ':'")
			}
			s.pos++
			s.ws()
			if i < 0 {
				if d.opts.rejectUnknown {
					return decodeErr(ReasonSchemaMismatch, join(pathOf(n), string(key)), "field not in the table schema")
				}
				if !s.skip(depth) {
					return d.scanFailed(n)
				}
			} else {
				if d.b.markSeen(off, i) {
					return decodeErr(ReasonInvalidJSON, n.fields[i].path, "field appears twice")
				}
				hint, seen = i+1, seen+1
				if err := d.value(n.fields[i], rep, depth+1); err != nil {
					return err
				}
			}
			switch s.peek() {
			case ',':
				s.pos++
				continue
			case '}':
				s.pos++
			default:
				return d.syntax(n, "want ',' or '}'")
			}
			break
		}
	}
	if seen < len(n.fields) {
		if err := d.absentFields(n, off, rep); err != nil {
			return err
		}
	}
	d.b.popSeen(off)
	return nil
}

// absentFields writes nulls for the fields of struct n that the object did
// not hold, or fails on the first required one.
func (d *jsonDecoder) absentFields(n *node, off int, rep uint8) *DecodeError {
	for i, f := range n.fields {
		if d.b.isSeen(off, i) {
			continue
		}
		if !f.optional {
			return decodeErr(ReasonMissingField, f.path, "required field is absent")
		}
		d.b.nulls(f, rep, f.nullDef())
	}
	return nil
}

// value decodes the value at pos (blanks skipped) into n.
func (d *jsonDecoder) value(n *node, rep uint8, depth int) *DecodeError {
	err := d.typedValue(n, rep, depth)
	if err != nil && n.eventTime && err.Reason == ReasonSchemaMismatch {
		err.Reason = ReasonBadTimestamp // the event-time field of the wrong type
	}
	return err
}

func (d *jsonDecoder) typedValue(n *node, rep uint8, depth int) *DecodeError {
	s := &d.s
	if s.pos >= len(s.data) {
		return d.syntax(n, "unexpected end of input")
	}
	c := s.data[s.pos]
	if c == 'n' {
		if !s.literal("null") {
			return d.scanFailed(n)
		}
		if !n.optional {
			return decodeErr(ReasonMissingField, n.path, "required field is null")
		}
		d.b.nulls(n, rep, n.nullDef())
		return nil
	}
	switch n.kind {
	case KindString:
		if c != '"' {
			return d.wrongType(n, "a string")
		}
		b, err := d.text(n)
		if err != nil {
			return err
		}
		d.b.bytes(n, b, rep)
	case KindInt64, KindInt32:
		v, err := d.integer(n)
		if err != nil {
			return err
		}
		if n.kind == KindInt32 {
			if v < math.MinInt32 || v > math.MaxInt32 {
				return d.mismatch(n, "out of int32 range")
			}
			d.b.int32(n, int32(v), rep)
			return nil
		}
		if n.eventTime {
			if v > math.MaxInt64/1000 || v < math.MinInt64/1000 {
				return decodeErr(ReasonBadTimestamp, n.path, "epoch milliseconds %d out of range", v)
			}
			d.rec.EventTime, d.rec.HasEventTime = v*1000, true
		}
		d.b.int64(n, v, rep)
	case KindBool:
		switch c {
		case 't':
			if !s.literal("true") {
				return d.scanFailed(n)
			}
			d.b.bool(n, true, rep)
		case 'f':
			if !s.literal("false") {
				return d.scanFailed(n)
			}
			d.b.bool(n, false, rep)
		default:
			return d.wrongType(n, "true or false")
		}
	case KindFloat64, KindFloat32:
		f, err := d.float(n)
		if err != nil {
			return err
		}
		if n.kind == KindFloat32 {
			d.b.float32(n, float32(f), rep)
		} else {
			d.b.float64(n, f, rep)
		}
	case KindTimestamp:
		return d.timestamp(n, c, rep)
	case KindDate:
		return d.date(n, c, rep)
	case KindDecimal:
		return d.decimal(n, c, rep)
	case KindBytes:
		if c != '"' {
			return d.wrongType(n, "a base64 string")
		}
		return d.bytes(n, rep)
	case KindStruct:
		if c != '{' {
			return d.wrongType(n, "an object")
		}
		return d.object(n, rep, depth)
	case KindList:
		if c != '[' {
			return d.wrongType(n, "an array")
		}
		return d.list(n, rep, depth)
	case KindMap:
		if c != '{' {
			return d.wrongType(n, "an object")
		}
		return d.mapping(n, rep, depth)
	}
	return nil
}

// list decodes the array at pos into list n.
func (d *jsonDecoder) list(n *node, rep uint8, depth int) *DecodeError {
	s := &d.s
	s.pos++ // '['
	if s.peek() == ']' {
		s.pos++
		d.b.nulls(n, rep, n.def) // an empty list
		return nil
	}
	erep := rep
	for {
		s.ws()
		if err := d.value(n.elem, erep, depth+1); err != nil {
			return err
		}
		erep = n.elemRep
		switch s.peek() {
		case ',':
			s.pos++
		case ']':
			s.pos++
			return nil
		default:
			return d.syntax(n, "want ',' or ']'")
		}
	}
}

// mapping decodes the object at pos into map n.
func (d *jsonDecoder) mapping(n *node, rep uint8, depth int) *DecodeError {
	s := &d.s
	s.pos++ // '{'
	if s.peek() == '}' {
		s.pos++
		d.b.nulls(n, rep, n.def) // an empty map
		return nil
	}
	erep := rep
	for {
		if s.peek() != '"' {
			return d.syntax(n, "want a key")
		}
		key, err := d.text(n.key)
		if err != nil {
			return err
		}
		if s.peek() != ':' {
			return d.syntax(n, "want ':'")
		}
		s.pos++
		s.ws()
		d.b.bytes(n.key, key, erep)
		if err := d.value(n.val, erep, depth+1); err != nil {
			return err
		}
		erep = n.elemRep
		switch s.peek() {
		case ',':
			s.pos++
		case '}':
			s.pos++
			return nil
		default:
			return d.syntax(n, "want ',' or '}'")
		}
	}
}
