package schemas

import (
	"bytes"
	"encoding/base64"
	"math"
	"strconv"
	"unicode/utf8"
	"unsafe"
)

// The JSON forms of leaf values: see docs/format/types.md.

// wrongType reports a value of the wrong JSON type, after checking that
// it is at least valid JSON (invalid JSON wins).
func (d *jsonDecoder) wrongType(n *node, want string) *DecodeError {
	start := d.s.pos
	if !d.s.skip(0) {
		return d.scanFailed(n)
	}
	d.s.pos = start
	return d.mismatch(n, "want "+want)
}

// text reads a string value at pos as UTF-8 bytes: the input itself
// unless it holds escapes.
func (d *jsonDecoder) text(n *node) ([]byte, *DecodeError) {
	s := &d.s
	start, end, flags, ok := s.str()
	if !ok {
		return nil, d.scanFailed(n)
	}
	raw := s.data[start:end]
	if flags&strEscaped != 0 {
		buf := d.b.alloc(len(raw))
		k, bad := unescape(buf, raw)
		if bad != "" {
			return nil, d.syntax(n, bad)
		}
		raw = d.b.shrink(buf, k)
		flags |= strNonASCII // \u escapes may have made anything
	}
	if flags&strNonASCII != 0 && !utf8.Valid(raw) {
		return nil, d.syntax(n, "invalid UTF-8 in string")
	}
	return raw, nil
}

// stringToken reads a string at pos for a typed value (timestamp, date,
// decimal, float): its raw contents, unescaped when needed.
func (d *jsonDecoder) stringToken(n *node) ([]byte, *DecodeError) {
	s := &d.s
	start, end, flags, ok := s.str()
	if !ok {
		return nil, d.scanFailed(n)
	}
	raw := s.data[start:end]
	if flags&strEscaped != 0 {
		if cap(d.key) < len(raw) {
			d.key = make([]byte, len(raw))
		}
		k, bad := unescape(d.key[:len(raw)], raw)
		if bad != "" {
			return nil, d.syntax(n, bad)
		}
		raw = d.key[:k]
	}
	return raw, nil
}

func (d *jsonDecoder) integer(n *node) (int64, *DecodeError) {
	s := &d.s
	if v, end, ok := shortInt(s.data, s.pos); ok {
		s.pos = end
		return v, nil
	}
	c := s.data[s.pos]
	if c != '-' && (c < '0' || c > '9') {
		return 0, d.wrongType(n, "an integer")
	}
	start, end, isInt, ok := s.number()
	if !ok {
		return 0, d.scanFailed(n)
	}
	if !isInt {
		s.pos = start
		return 0, d.mismatch(n, "want an integer, got "+strconv.Quote(string(s.data[start:end])))
	}
	v, ok := parseInt(s.data[start:end])
	if !ok {
		s.pos = start
		return 0, d.mismatch(n, "integer out of int64 range")
	}
	return v, nil
}

func (d *jsonDecoder) float(n *node) (float64, *DecodeError) {
	s := &d.s
	c := s.data[s.pos]
	bitSize := 64
	if n.kind == KindFloat32 {
		bitSize = 32
	}
	if c == '"' {
		raw, err := d.stringToken(n)
		if err != nil {
			return 0, err
		}
		switch string(raw) {
		case "NaN":
			return math.NaN(), nil
		case "Infinity", "+Infinity":
			return math.Inf(1), nil
		case "-Infinity":
			return math.Inf(-1), nil
		}
		return 0, d.mismatch(n, "want a number (or \"NaN\", \"Infinity\", \"-Infinity\")")
	}
	if c != '-' && (c < '0' || c > '9') {
		return 0, d.wrongType(n, "a number")
	}
	start, end, _, ok := s.number()
	if !ok {
		return 0, d.scanFailed(n)
	}
	tok := s.data[start:end]
	f, err := strconv.ParseFloat(unsafe.String(unsafe.SliceData(tok), len(tok)), bitSize)
	if err != nil {
		return 0, d.mismatch(n, "number out of "+n.kind.String()+" range")
	}
	return f, nil
}

func (d *jsonDecoder) timestamp(n *node, c byte, rep uint8) *DecodeError {
	s := &d.s
	var micros int64
	switch {
	case c == '"':
		raw, err := d.stringToken(n)
		if err != nil {
			return err
		}
		v, ok := parseTimestamp(raw)
		if !ok {
			return d.badTime(n, "want an RFC 3339 timestamp, got "+strconv.Quote(string(raw)))
		}
		micros = v
	case c == '-' || (c >= '0' && c <= '9'):
		start, end, isInt, ok := s.number()
		if !ok {
			return d.scanFailed(n)
		}
		ms, ok := parseInt(s.data[start:end])
		if !isInt || !ok || ms > math.MaxInt64/1000 || ms < math.MinInt64/1000 {
			return d.badTime(n, "want integer epoch milliseconds, got "+strconv.Quote(string(s.data[start:end])))
		}
		micros = ms * 1000
	default:
		return d.wrongType(n, "an RFC 3339 string or epoch milliseconds")
	}
	if n.eventTime {
		d.rec.EventTime, d.rec.HasEventTime = micros, true
	}
	d.b.int64(n, micros, rep)
	return nil
}

// badTime is bad-timestamp for the event-time field, schema-mismatch for
// other timestamps.
func (d *jsonDecoder) badTime(n *node, msg string) *DecodeError {
	if n.eventTime {
		return decodeErr(ReasonBadTimestamp, n.path, "%s", msg)
	}
	return decodeErr(ReasonSchemaMismatch, n.path, "%s", msg)
}

func (d *jsonDecoder) date(n *node, c byte, rep uint8) *DecodeError {
	var days int64
	switch {
	case c == '"':
		raw, err := d.stringToken(n)
		if err != nil {
			return err
		}
		v, ok := parseDate(raw)
		if !ok {
			return d.mismatch(n, "want a YYYY-MM-DD date, got "+strconv.Quote(string(raw)))
		}
		days = v
	case c == '-' || (c >= '0' && c <= '9'):
		v, err := d.integer(n)
		if err != nil {
			return err
		}
		if v < math.MinInt32 || v > math.MaxInt32 {
			return d.mismatch(n, "days out of int32 range")
		}
		days = v
	default:
		return d.wrongType(n, "a YYYY-MM-DD string or days since the epoch")
	}
	d.b.int32(n, int32(days), rep)
	return nil
}

func (d *jsonDecoder) decimal(n *node, c byte, rep uint8) *DecodeError {
	s := &d.s
	var tok []byte
	switch {
	case c == '"':
		raw, err := d.stringToken(n)
		if err != nil {
			return err
		}
		tok = raw
	case c == '-' || (c >= '0' && c <= '9'):
		start, end, _, ok := s.number()
		if !ok {
			return d.scanFailed(n)
		}
		tok = s.data[start:end]
	default:
		return d.wrongType(n, "a number or a numeric string")
	}
	mag, neg, e := parseDecimal(tok, n.scale, n.decimal.limit)
	if e != decimalOK {
		return d.mismatch(n, strconv.Quote(string(tok))+": "+e.String()+" decimal("+strconv.Itoa(n.precision)+","+strconv.Itoa(n.scale)+")")
	}
	d.b.decimal(n, mag, neg, rep)
	return nil
}

func (d *jsonDecoder) bytes(n *node, rep uint8) *DecodeError {
	raw, err := d.stringToken(n)
	if err != nil {
		return err
	}
	// Strict: one text per value. Go's decoder skips line breaks and
	// ignores the unused bits of the last character ("QR" would be "QQ").
	if bytes.ContainsAny(raw, "\r\n") {
		return d.mismatch(n, "invalid base64: a line break")
	}
	enc := base64.StdEncoding.Strict()
	if len(raw)%4 != 0 {
		enc = base64.RawStdEncoding.Strict()
	}
	buf := d.b.alloc(enc.DecodedLen(len(raw)))
	k, berr := enc.Decode(buf, raw)
	if berr != nil {
		return d.mismatch(n, "invalid base64")
	}
	d.b.bytes(n, d.b.shrink(buf, k), rep)
	return nil
}
